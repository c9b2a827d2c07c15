import Foundation
import Hummingbird
public import HummingbirdTesting
import NIOCore
public import SyncClient
public import SyncProtocol

/// The sync protocol through HummingbirdTesting's client: in process through the real server's router (`.router`:
/// the same middleware, JSON coding, auth, scope checks and storage as over HTTP, without sockets) or over
/// loopback (`.live`). The server tests, the simulation and the conformance runner drive `SyncEngine` through it.
public struct RouterTransport: SyncTransport {
    public let client: any TestClientProtocol
    public let token: String

    public init(client: any TestClientProtocol, token: String) {
        self.client = client
        self.token = token
    }

    private func send(_ method: HTTPRequest.Method, _ uri: String, body: Data? = nil) async throws -> Data {
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(token)"
        headers[.contentType] = "application/json"
        let response = try await client.execute(
            uri: uri,
            method: method,
            headers: headers,
            body: body.map { ByteBuffer(bytes: $0) }
        )
        let data = Data(response.body.readableBytesView)
        guard response.status == .ok || response.status == .created else {
            // The server's error code when it sent one, as HTTPSyncTransport reports it.
            let code = (try? JSONDecoder().decode(ErrorResponse.self, from: data))?.error.code
            throw SyncClientError(
                SyncClientError.Code(code ?? "http_\(response.status.code)"),
                "\(uri): \(response.status.code) \(String(decoding: data, as: UTF8.self))",
                status: Int(response.status.code)
            )
        }
        return data
    }

    public func handshake(replicaID: ReplicaID?) async throws -> HandshakeResponse {
        let query = replicaID.map { "?replica_id=\($0.rawValue)" } ?? ""
        return try WireCoding.decodeMessage(HandshakeResponse.self, from: try await send(.get, "/v1/handshake" + query))
    }

    public func push(_ request: PushRequest) async throws -> PushResponse {
        try WireCoding.decodeMessage(
            PushResponse.self,
            from: try await send(.post, "/v1/push", body: try WireCoding.encode(request))
        )
    }

    public func pull(replicaID: ReplicaID, cursor: String?, limit: Int) async throws -> PullResponse {
        let uri = "/v1/pull?replica_id=\(replicaID)&limit=\(limit)" + (cursor.map { "&cursor=\($0)" } ?? "")
        return try WireCoding.decodeMessage(PullResponse.self, from: try await send(.get, uri))
    }

    public func snapshot(
        replicaID: ReplicaID,
        after: String?,
        cursor: String?,
        limit: Int
    ) async throws -> SnapshotResponse {
        var uri = "/v1/snapshot?replica_id=\(replicaID)&limit=\(limit)"
        if let after { uri += "&after=\(after)" }
        if let cursor { uri += "&cursor=\(cursor)" }
        return try WireCoding.decodeMessage(SnapshotResponse.self, from: try await send(.get, uri))
    }
}
