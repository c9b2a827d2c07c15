import CompressNIO
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import ReplicaStore
import SyncProtocol
import SyncServer
import Testing

@Suite("Compression and metrics")
struct TransportTests {
    static func gzip(_ data: Data) throws -> Data {
        var buffer = ByteBuffer(bytes: data)
        let compressed = try buffer.compress(with: .gzip)
        return Data(compressed.readableBytesView)
    }

    @Test(
        "gzip request bodies are inflated with a cap; a gzip bomb gets 413; responses are gzipped on request",
        arguments: Backend.available
    )
    func gzip(backend: Backend) async throws {
        let harness = try await ServerHarness(
            backend: backend,
            configuration: ServerConfiguration(port: 0, maxBodyBytes: 1_000_000)
        )
        try await harness.run { client in
            let token = try await client.addUser("alice", territories: ["north"])
            let alice = try await makeReplica(user: "alice", territories: ["north"])
            for index in 0..<30 {
                _ = try await alice.create(
                    .account,
                    fields: ["name": .string("Account \(index)"), "territory": "north"]
                )
            }
            let body = try WireCoding.encode(
                PushRequest(replicaID: alice.replicaID, changes: try await alice.pendingChanges())
            )
            let compressed = try Self.gzip(body)
            #expect(compressed.count < body.count / 3)
            let reply = try await client.send(
                .post,
                "/v1/push",
                token: token,
                body: compressed,
                headers: [.contentEncoding: "gzip"]
            )
            #expect(reply.status == .ok)
            #expect(
                try WireCoding.decode(PushResponse.self, from: reply.body).results.allSatisfy { $0.status == .accepted }
            )

            let bomb = try Self.gzip(Data(count: 50_000_000))
            #expect(bomb.count < 1_000_000, "small on the wire")
            let bombed = try await client.send(
                .post,
                "/v1/push",
                token: token,
                body: bomb,
                headers: [.contentEncoding: "gzip"]
            )
            #expect(bombed.status == .contentTooLarge && bombed.errorCode == "payload_too_large")
            let damaged = try await client.send(
                .post,
                "/v1/push",
                token: token,
                body: Data("not gzip".utf8),
                headers: [.contentEncoding: "gzip"]
            )
            #expect(damaged.status == .badRequest)
            let brotli = try await client.send(
                .post,
                "/v1/push",
                token: token,
                body: body,
                headers: [.contentEncoding: "br"]
            )
            #expect(brotli.status == .badRequest && brotli.errorMessage?.contains("gzip") == true)

            let bob = try await makeReplica(user: "alice", territories: ["north"])
            let pull = try await client.client.execute(
                uri: "/v1/pull?replica_id=\(bob.replicaID)",
                method: .get,
                headers: [.authorization: "Bearer \(token)", .acceptEncoding: "gzip"]
            )
            #expect(pull.headers[.contentEncoding] == "gzip")
            var zipped = pull.body
            let inflated = try zipped.decompress(with: .gzip)
            let page = try WireCoding.decodeMessage(PullResponse.self, from: Data(inflated.readableBytesView))
            #expect(page.changes.count == 30)
        }
    }

    @Test(
        "/metrics counts requests by route and status, changes in and out, rejections and conflicts",
        arguments: Backend.available
    )
    func metrics(backend: Backend) async throws {
        let harness = try await ServerHarness(backend: backend)
        try await harness.run { client in
            let token = try await client.addUser("alice", territories: ["north"])
            let alice = try await makeReplica(user: "alice", territories: ["north"])
            _ = try await alice.create(.account, fields: ["name": "Acme", "territory": "north"])
            _ = try await alice.create(.account, fields: ["name": "Elsewhere", "territory": "south"])
            _ = try await client.sync(alice, token: token)
            _ = try await client.send(.get, "/v1/handshake", token: nil)
            let metrics = try await client.send(.get, "/metrics", token: nil)
            #expect(metrics.status == .ok)
            let text = String(decoding: metrics.body, as: UTF8.self)
            #expect(
                text.contains(#"crm_sync_http_requests_total{route="/v1/push",method="POST",status="200"} 1"#),
                "\(text)"
            )
            #expect(text.contains(#"status="401""#))
            #expect(text.contains(#"crm_sync_changes_pushed_total{result="accepted"} 1"#))
            #expect(text.contains(#"crm_sync_rejections_total{code="out_of_scope"} 1"#))
            #expect(text.contains("crm_sync_http_request_duration_seconds_bucket"))
            #expect(!text.contains("Acme"), "no customer data in metrics")
        }
    }
}
