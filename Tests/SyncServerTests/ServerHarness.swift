import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import ReplicaStore
import SyncProtocol
import SyncServer

/// A server on a temporary SQLite file, with an admin token, driven over real HTTP on 127.0.0.1.
struct ServerHarness {
    let folder: URL
    let storage: SQLiteChangeStorage
    let adminToken: String
    let configuration: ServerConfiguration
    let now: @Sendable () -> Int64

    static let baseTime: Int64 = 1_795_428_000_000

    init(
        configuration: ServerConfiguration = ServerConfiguration(port: 0),
        now: Int64 = ServerHarness.baseTime
    ) async throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("server-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        storage = try SQLiteChangeStorage(path: folder.appendingPathComponent("crm-sync.sqlite").path)
        let issued = Tokens.generate()
        try await storage.addUser(User(name: "it-admin", role: .admin, territories: []), tokenHash: issued.hash)
        adminToken = issued.token
        self.configuration = configuration
        self.now = { now }
    }

    func run(_ test: @escaping @Sendable (Client) async throws -> Void) async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let app = buildApplication(
            configuration: configuration,
            storage: storage,
            logger: Logger(label: "test"),
            now: now
        )
        try await app.test(.live) { client in try await test(Client(client: client, adminToken: adminToken)) }
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
