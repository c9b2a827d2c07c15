import Foundation
import Hummingbird
import ReplicaStore
import SyncClient
import SyncProtocol
import SyncServer
import Testing

@Suite("Sync server over HTTP on loopback")
struct SyncRouteTests {
    @Test("health, authentication and revocation", arguments: Backend.available)
    func authentication(backend: Backend) async throws {
        let harness = try await ServerHarness(backend: backend)
        try await harness.run { client in
            let health = try await client.send(.get, "/healthz", token: nil)
            #expect(health.status == .ok && health.json["status"] as? String == "ok")
            let missing = try await client.send(.get, "/v1/handshake", token: nil)
            #expect(missing.status == .unauthorized && missing.errorCode == "unauthorized")
            let wrong = try await client.send(.get, "/v1/handshake", token: "crm_not-a-token")
            #expect(wrong.status == .unauthorized)

            let token = try await client.addUser("alice", territories: ["north"])
            let handshake = try await client.send(.get, "/v1/handshake", token: token)
            #expect(handshake.status == .ok)
            let decoded = try WireCoding.decode(HandshakeResponse.self, from: handshake.body)
            #expect(decoded.user == "alice" && decoded.territories == ["north"] && decoded.protocolVersions == [1])
            #expect(decoded.serverTime == "2026-11-23T10:00:00.000Z")
            #expect(decoded.serverVersion == ServerVersion.current)

            let forbidden = try await client.send(.get, "/v1/admin/users", token: token)
            #expect(forbidden.status == .forbidden && forbidden.errorCode == "forbidden")

            try await client.send(.post, "/v1/admin/users/alice/revoke", token: client.adminToken)
            let revoked = try await client.send(.get, "/v1/handshake", token: token)
            #expect(revoked.status == .unauthorized, "revocation takes effect on the next request")
            let renewed = try await client.send(.post, "/v1/admin/users/alice/token", token: client.adminToken)
            let newToken = try #require(renewed.json["token"] as? String)
            #expect(try await client.send(.get, "/v1/handshake", token: newToken).status == .ok)
            #expect(try await client.send(.get, "/v1/handshake", token: token).status == .unauthorized)
        }
    }

    @Test(
        "two reps in one territory exchange changes; a rep of another territory sees and changes nothing",
        arguments: Backend.available
    )
    func scope(backend: Backend) async throws {
        let harness = try await ServerHarness(backend: backend)
        try await harness.run { client in
            let aliceToken = try await client.addUser("alice", territories: ["north"])
            let bobToken = try await client.addUser("bob", territories: ["north"])
            let carolToken = try await client.addUser("carol", territories: ["south"])
            let alice = try await makeReplica(user: "alice", territories: ["north"])
            let bob = try await makeReplica(user: "bob", territories: ["north"])
            let carol = try await makeReplica(user: "carol", territories: ["south"])

            let account = try await alice.create(
                .account,
                fields: ["name": "Acme", "territory": "north", "owner": "alice"]
            )
            _ = try await alice.create(
                .contact,
                fields: ["account_id": .string(account.id.rawValue), "last_name": "Lovelace"]
            )
            let pushed = try await client.sync(alice, token: aliceToken)
            #expect(pushed.accepted == 2 && pushed.rejected.isEmpty)
            #expect(try await alice.pendingCount() == 0)

            #expect(try await client.sync(bob, token: bobToken).received == 2)
            #expect(try await bob.record(.account, id: account.id)?["name"] == "Acme")
            #expect(try await client.sync(carol, token: carolToken).received == 0)

            // Carol reaches into the north (hand-made changes from another laptop of hers): refused like an unknown
            // id, and nothing leaks.
            let otherLaptop = ReplicaID(unchecked: "carol-other-laptop")
            let foreign = Change(
                dot: Dot(replica: otherLaptop, counter: 1),
                context: VectorClock(),
                timestamp: HybridTimestamp(wallMilliseconds: ServerHarness.baseTime),
                author: "carol",
                entity: .account,
                recordID: account.id,
                operation: .set(["phone": "0"])
            )
            var unknown = foreign
            unknown.dot.counter = 2
            unknown.recordID = RecordID("no-such-account")
            let (_, response) = try await client.push([foreign, unknown], replica: otherLaptop, token: carolToken)
            let results = try #require(response?.results)
            #expect(results.map(\.rejection?.code) == [.outOfScope, .outOfScope])
            #expect(
                results[0].rejection?.reason == results[1].rejection?.reason,
                "foreign and unknown get the same answer"
            )
            // Creating an account in someone else's territory is refused too.
            _ = try await carol.create(.account, fields: ["name": "Mine", "territory": "north", "owner": "carol"])
            let carolSync = try await client.sync(carol, token: carolToken)
            #expect(carolSync.rejected.first?.rejection.code == .outOfScope)
            #expect(try await carol.rejectedChanges().count == 1, "the rejected change is kept on the laptop")
            #expect(try await client.sync(bob, token: bobToken).received == 0, "nothing rejected reaches others")
        }
    }

    @Test(
        "a retried push applies nothing twice and returns the same results; gaps and skew are refused",
        arguments: Backend.available
    )
    func exactlyOnce(backend: Backend) async throws {
        let harness = try await ServerHarness(backend: backend)
        try await harness.run { client in
            let token = try await client.addUser("alice", territories: ["north"])
            let alice = try await makeReplica(user: "alice", territories: ["north"])
            let account = try await alice.create(.account, fields: ["name": "Acme", "territory": "north"])
            try await alice.update(.account, id: account.id, fields: ["phone": "1"])
            let pending = try await alice.pendingChanges()
            let (first, firstResponse) = try await client.push(pending, replica: alice.replicaID, token: token)
            #expect(first.status == .ok)
            #expect(firstResponse?.results.map(\.status) == [.accepted, .accepted])
            // The response was "lost": the same batch again, twice in parallel.
            async let again1 = client.push(pending, replica: alice.replicaID, token: token)
            async let again2 = client.push(pending, replica: alice.replicaID, token: token)
            for (_, response) in [try await again1, try await again2] {
                #expect(response?.results.map(\.status) == [.duplicate, .duplicate])
            }
            #expect(try await harness.storage.stats().changes == 2, "nothing applied twice")

            var gap = pending[1]
            gap.dot.counter = 5
            let (_, gapResponse) = try await client.push([gap], replica: alice.replicaID, token: token)
            #expect(gapResponse?.results.first?.rejection?.code == .sequenceGap)

            var ahead = pending[1]
            ahead.dot.counter = 3
            ahead.timestamp = HybridTimestamp(wallMilliseconds: ServerHarness.baseTime + 365 * 86_400_000)
            let (_, aheadResponse) = try await client.push([ahead], replica: alice.replicaID, token: token)
            let skew = try #require(aheadResponse?.results.first?.rejection)
            #expect(skew.code == .clockSkew && skew.reason.contains("365 days ahead"))
            // The rejected change still used its counter: the next one follows it.
            var next = pending[1]
            next.dot.counter = 4
            next.operation = .set(["phone": "2"])
            let (_, nextResponse) = try await client.push([next], replica: alice.replicaID, token: token)
            #expect(nextResponse?.results.first?.status == .accepted)
            // Retrying the refused change gets the same refusal.
            let (_, retried) = try await client.push([ahead], replica: alice.replicaID, token: token)
            #expect(retried?.results.first?.rejection?.code == .clockSkew)
        }
    }

    @Test(
        "concurrent edits and sales through the server: fields merge, the loser is kept, 6 units come off",
        arguments: Backend.available
    )
    func mergeThroughServer(backend: Backend) async throws {
        let harness = try await ServerHarness(backend: backend)
        try await harness.run { client in
            let aliceToken = try await client.addUser("alice", territories: ["north"])
            let bobToken = try await client.addUser("bob", territories: ["north"])
            let alice = try await makeReplica(user: "alice", territories: ["north"])
            let bob = try await makeReplica(user: "bob", territories: ["north"], now: ServerHarness.baseTime + 1_000)
            let account = try await alice.create(.account, fields: ["name": "Acme", "territory": "north"])
            _ = try await client.sync(alice, token: aliceToken)
            _ = try await client.sync(bob, token: bobToken)
            try await alice.update(.account, id: account.id, fields: ["phone": "alice", "website": "acme.example"])
            try await bob.update(.account, id: account.id, fields: ["phone": "bob", "email": "info@acme.example"])
            _ = try await client.sync(alice, token: aliceToken)
            _ = try await client.sync(bob, token: bobToken)
            _ = try await client.sync(alice, token: aliceToken)
            for replica in [alice, bob] {
                let record = try #require(try await replica.record(.account, id: account.id))
                #expect(
                    record["phone"] == "bob" && record["website"] == "acme.example"
                        && record["email"] == "info@acme.example"
                )
                #expect(try await replica.openConflicts().map(\.loser.value) == ["alice"])
            }
            #expect(try await harness.storage.stats().recordsWithOpenConflicts == 1)
        }
    }

    @Test("bad input gets a clear JSON error with the right status, never a 500", arguments: Backend.available)
    func badInput(backend: Backend) async throws {
        let harness = try await ServerHarness(
            backend: backend,
            configuration: ServerConfiguration(port: 0, maxBodyBytes: 4_096, maxChangesPerPush: 3)
        )
        try await harness.run { client in
            let token = try await client.addUser("alice", territories: ["north"])
            let cases: [(String, HTTPRequest.Method, String, Data?, HTTPResponse.Status, String)] = [
                ("not JSON", .post, "/v1/push", Data("{nope".utf8), .badRequest, "malformed_payload"),
                (
                    "wrong version", .post, "/v1/push",
                    Data(#"{"protocol_version":9,"replica_id":"a","changes":[]}"#.utf8), .conflict,
                    "unsupported_version"
                ),
                (
                    "float money", .post, "/v1/push",
                    Data(
                        #"{"protocol_version":1,"replica_id":"a","changes":[{"dot":{"replica":"a","counter":1},"context":{},"hlc":"2026-11-23T10:00:00.000Z/0","author":"alice","entity":"deal","record_id":"d","op":"set","fields":{"amount":12.5}}]}"#
                            .utf8
                    ), .badRequest, "invalid_value"
                ),
                (
                    "too large", .post, "/v1/push", Data(repeating: 0x20, count: 10_000), .contentTooLarge,
                    "payload_too_large"
                ),
                ("unknown route", .get, "/v1/nothing", nil, .notFound, "not_found"),
                ("wrong method", .delete, "/v1/push", nil, .methodNotAllowed, "method_not_allowed"),
                ("undeclared method", .trace, "/v1/admin/users", nil, .methodNotAllowed, "method_not_allowed"),
                ("bad cursor", .get, "/v1/pull?replica_id=a&cursor=abc", nil, .badRequest, "unknown_cursor"),
                ("no replica", .get, "/v1/pull", nil, .badRequest, "malformed_payload"),
            ]
            for (name, method, uri, body, status, code) in cases {
                let reply = try await client.send(method, uri, token: token, body: body)
                #expect(reply.status == status, "\(name): \(reply.status)")
                #expect(reply.errorCode == code, "\(name): \(String(decoding: reply.body, as: UTF8.self))")
                #expect(!(reply.errorMessage ?? "").isEmpty, "\(name) has a message")
            }
            // 405 says what is allowed.
            #expect(try await client.send(.delete, "/v1/push", token: token).headers[.allow] == "POST")
            #expect(try await client.send(.put, "/v1/admin/users", token: token).headers[.allow] == "GET, POST")
            #expect(try await client.send(.get, "/v1/admin/users/bob/revoke", token: token).headers[.allow] == "POST")
            let many = (1...4).map { counter in
                Change(
                    dot: Dot(replica: ReplicaID(unchecked: "a"), counter: UInt64(counter)),
                    context: VectorClock(),
                    timestamp: HybridTimestamp(wallMilliseconds: ServerHarness.baseTime),
                    author: "alice",
                    entity: .account,
                    recordID: RecordID("x\(counter)"),
                    operation: .create(["name": "A", "territory": "north"])
                )
            }
            let (tooMany, _) = try await client.push(many, replica: ReplicaID(unchecked: "a"), token: token)
            #expect(tooMany.status == .tooManyRequests && tooMany.errorCode == "too_many_changes")
        }
    }
}
