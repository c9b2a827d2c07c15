import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PostgresNIO
import ReplicaStore
import SyncClient
import SyncProtocol
import SyncServer
import SyncTestSupport
import Testing

/// The storage backends the server tests run against: the in-memory twin and SQLite always, PostgreSQL when
/// `POSTGRES_URL` names a server (the README's test command starts one).
enum Backend: String, Sendable, CaseIterable, CustomStringConvertible {
    case memory, sqlite, postgres

    static var available: [Backend] {
        PostgresForTests.runs ? [.memory, .sqlite, .postgres] : [.memory, .sqlite]
    }

    var description: String { rawValue }

    /// Fresh, empty storage of this kind: in memory, a SQLite file in `folder`, or a new PostgreSQL database (its
    /// pool not yet running: an application runs it, or the caller does).
    func makeStorage(in folder: URL) async throws -> any ChangeStorage {
        switch self {
        case .memory: MemoryChangeStorage()
        case .sqlite: try SQLiteChangeStorage(path: folder.appendingPathComponent("crm-sync.sqlite").path)
        case .postgres:
            try PostgresChangeStorage(url: try await ServerHarness.freshDatabase(), logger: ServerHarness.logger)
        }
    }
}

/// A server on fresh storage (a temporary SQLite file, or a new PostgreSQL database), with an admin token, driven
/// over real HTTP on 127.0.0.1.
struct ServerHarness {
    let backend: Backend
    let folder: URL
    let storage: any ChangeStorage
    let adminToken: String
    let adminTokenHash: String
    let configuration: ServerConfiguration
    let now: @Sendable () -> Int64

    static let baseTime: Int64 = 1_795_428_000_000
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    init(
        backend: Backend = .sqlite,
        configuration: ServerConfiguration = ServerConfiguration(port: 0),
        now: Int64 = ServerHarness.baseTime
    ) async throws {
        self.backend = backend
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("server-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        storage = try await backend.makeStorage(in: folder)
        let issued = Tokens.generate()
        adminToken = issued.token
        adminTokenHash = issued.hash
        self.configuration = configuration
        self.now = { now }
    }

    /// A new, empty database on the test PostgreSQL server.
    static func freshDatabase() async throws -> String {
        let admin = try PostgresForTests.requireURL()
        let name = "crm_test_\(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: ""))"
        let storage = try PostgresChangeStorage(url: admin, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await storage.run() }
            try await storage.client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
            group.cancelAll()
        }
        var components = try #require(URLComponents(string: admin))
        components.path = "/" + name
        return try #require(components.string)
    }

    /// Runs `test` against the live server. The application runs the storage (PostgreSQL's pool is one of its
    /// services) and prepares it before serving, so the admin is added once it is up.
    func run(_ test: @escaping @Sendable (Client) async throws -> Void) async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let app = try buildApplication(configuration: configuration, storage: storage, logger: Self.logger, now: now)
        let (adminToken, adminTokenHash, storage) = (adminToken, adminTokenHash, storage)
        try await app.test(.live) { client in
            try await storage.addUser(User(name: "it-admin", role: .admin, territories: []), tokenHash: adminTokenHash)
            try await test(Client(client: client, adminToken: adminToken))
        }
    }

    /// A thin JSON client over the test client.
    struct Client: Sendable {
        let client: any TestClientProtocol
        let adminToken: String

        struct Reply: Sendable {
            var status: HTTPResponse.Status
            var headers: HTTPFields = [:]
            var body: Data
            var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body) as? [String: Any]) ?? [:] }
            var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
            var errorMessage: String? { (json["error"] as? [String: Any])?["message"] as? String }
        }

        @discardableResult
        func send(
            _ method: HTTPRequest.Method,
            _ uri: String,
            token: String?,
            body: Data? = nil,
            headers extra: HTTPFields = [:]
        ) async throws -> Reply {
            var headers = extra
            if let token { headers[.authorization] = "Bearer \(token)" }
            // The import route takes a CSV file; every other body is JSON.
            if headers[.contentType] == nil {
                headers[.contentType] = uri.contains("/v1/admin/import/") ? "text/csv" : "application/json"
            }
            let response = try await client.execute(
                uri: uri,
                method: method,
                headers: headers,
                body: body.map { ByteBuffer(bytes: $0) }
            )
            return Reply(
                status: response.status,
                headers: response.headers,
                body: Data(response.body.readableBytesView)
            )
        }

        /// Creates a user through the admin API; returns the token.
        func addUser(_ name: String, role: String = "rep", territories: [String]) async throws -> String {
            let body = try JSONSerialization.data(withJSONObject: [
                "name": name, "role": role, "territories": territories,
            ])
            let reply = try await send(.post, "/v1/admin/users", token: adminToken, body: body)
            guard reply.status == .created, let token = reply.json["token"] as? String else {
                throw SyncServerError(
                    .internalError,
                    "could not add \(name): \(String(decoding: reply.body, as: UTF8.self))"
                )
            }
            return token
        }

        func push(_ changes: [Change], replica: ReplicaID, token: String) async throws -> (Reply, PushResponse?) {
            let reply = try await send(
                .post,
                "/v1/push",
                token: token,
                body: try WireCoding.encode(PushRequest(replicaID: replica, changes: changes))
            )
            return (reply, try? WireCoding.decode(PushResponse.self, from: reply.body))
        }

        /// Pushes a replica's outbox and pulls until caught up: one `crm-field sync` run, through the engine the
        /// laptop uses (``SyncEngine``) over this client.
        @discardableResult
        func sync(_ replica: Replica, token: String) async throws -> SyncSummary {
            let engine = SyncEngine(
                replica: replica,
                transport: RouterTransport(client: client, token: token),
                options: SyncOptions(pushBatch: 5_000, pageSize: 500, snapshotPageSize: 500, retries: 0),
                now: { ServerHarness.baseTime }
            )
            return try await engine.sync()
        }
    }
}

/// A replica in a temporary folder for a given user.
func makeReplica(user: String, territories: [String], now: Int64 = ServerHarness.baseTime) async throws -> Replica {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("laptop-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let replica = try Replica(
        path: folder.appendingPathComponent("crm.sqlite").path,
        configuration: ReplicaConfiguration(now: { now }, synchronous: .normal)
    )
    try await replica.register(server: "http://127.0.0.1", user: user, territories: territories)
    // A laptop that replays the log from its start (no snapshot first), as the server tests expect.
    try await replica.saveCursor("0")
    return replica
}

/// Reports, as a skipped test, that the PostgreSQL cases were left out (no `POSTGRES_URL`, not required), so a run
/// without PostgreSQL says so instead of passing silently with fewer cases.
@Suite("PostgreSQL backend")
struct PostgreSQLSkipReport {
    @Test(
        "the PostgreSQL cases run (POSTGRES_URL is set, or CRM_REQUIRE_POSTGRES=1 makes its absence a failure)",
        .enabled(if: PostgresForTests.runs, "POSTGRES_URL is not set: every PostgreSQL case is skipped")
    )
    func postgresCasesRun() throws {
        let url = try PostgresForTests.requireURL()
        #expect(URLComponents(string: url)?.scheme?.hasPrefix("postgres") == true, "POSTGRES_URL: \(url)")
    }
}
