import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PostgresNIO
import ReplicaStore
import SyncProtocol
import SyncServer
import Testing

/// The storage backends the server tests run against: SQLite always, PostgreSQL when `POSTGRES_URL` names a
/// server (the README's test command starts one).
enum Backend: String, Sendable, CaseIterable, CustomStringConvertible {
    case sqlite, postgres

    static var available: [Backend] {
        ProcessInfo.processInfo.environment["POSTGRES_URL"] == nil ? [.sqlite] : [.sqlite, .postgres]
    }

    var description: String { rawValue }
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
        switch backend {
        case .sqlite:
            storage = try SQLiteChangeStorage(path: folder.appendingPathComponent("crm-sync.sqlite").path)
        case .postgres:
            storage = try PostgresChangeStorage(url: try await Self.freshDatabase(), logger: Self.logger)
        }
        let issued = Tokens.generate()
        adminToken = issued.token
        adminTokenHash = issued.hash
        self.configuration = configuration
        self.now = { now }
    }

    /// A new, empty database on the test PostgreSQL server.
    static func freshDatabase() async throws -> String {
        let admin = try #require(ProcessInfo.processInfo.environment["POSTGRES_URL"])
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

    /// Runs `body` with the storage ready (PostgreSQL: its pool running and its schema created). A PostgreSQL
    /// client runs once, so call this once per harness.
    private func withRunningStorage<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        guard let postgres = storage as? PostgresChangeStorage else { return try await body() }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                await postgres.run()
                return nil
            }
            defer { group.cancelAll() }
            try await postgres.migrate()
            return try await body()
        }
    }

    func run(_ test: @escaping @Sendable (Client) async throws -> Void) async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let app = try buildApplication(configuration: configuration, storage: storage, logger: Self.logger, now: now)
        let (adminToken, adminTokenHash, storage) = (adminToken, adminTokenHash, storage)
        try await withRunningStorage {
            try await storage.addUser(User(name: "it-admin", role: .admin, territories: []), tokenHash: adminTokenHash)
            try await app.test(.live) { client in try await test(Client(client: client, adminToken: adminToken)) }
        }
    }

    /// A thin JSON client over the test client.
    struct Client: Sendable {
        let client: any TestClientProtocol
        let adminToken: String

        struct Reply: Sendable {
            var status: HTTPResponse.Status
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
            headers[.contentType] = "application/json"
            let response = try await client.execute(
                uri: uri,
                method: method,
                headers: headers,
                body: body.map { ByteBuffer(bytes: $0) }
            )
            return Reply(status: response.status, body: Data(response.body.readableBytesView))
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

        /// Pushes a replica's outbox and pulls until caught up, as `crm-field sync` will.
        func sync(_ replica: Replica, token: String) async throws -> (pushed: [ChangeResult], pulled: Int) {
            let pending = try await replica.pendingChanges(limit: 5_000)
            var results: [ChangeResult] = []
            if !pending.isEmpty {
                let (reply, response) = try await push(pending, replica: replica.replicaID, token: token)
                guard let response else {
                    throw SyncServerError(.internalError, "push failed: \(String(decoding: reply.body, as: UTF8.self))")
                }
                try await replica.acknowledge(response.results)
                results = response.results
            }
            var pulled = 0
            while true {
                let cursor = try await replica.syncInfo().cursor ?? ""
                let reply = try await send(
                    .get,
                    "/v1/pull?replica_id=\(replica.replicaID)&cursor=\(cursor)&limit=500",
                    token: token
                )
                let page = try WireCoding.decodeMessage(PullResponse.self, from: reply.body)
                try await replica.applyRemote(page.changes)
                try await replica.removeFromScope(page.removed)
                try await replica.saveCursor(page.cursor)
                pulled += page.changes.count
                if !page.hasMore { break }
            }
            return (results, pulled)
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
    return replica
}
