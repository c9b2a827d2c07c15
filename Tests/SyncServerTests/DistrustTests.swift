import CompressNIO
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import ReplicaStore
import SyncClient
import SyncProtocol
import SyncServer
import Testing

/// The server trusts nothing a laptop claims (issue 12): each attack a second client made through a rep's token,
/// over HTTP, on every backend. Every one is refused with a 4xx and a code, and nothing of a colleague's is lost.
@Suite("The server trusts nothing a laptop claims")
struct DistrustTests {
    static let now = ServerHarness.baseTime

    /// A hand-made change, as a second client would send it.
    static func change(
        _ author: String,
        _ replica: String,
        _ counter: UInt64,
        _ entity: EntityKind = .account,
        _ id: String,
        _ operation: Change.Operation,
        context: VectorClock = VectorClock()
    ) -> Change {
        Change(
            dot: Dot(replica: ReplicaID(unchecked: replica), counter: counter),
            context: context,
            timestamp: HybridTimestamp(wallMilliseconds: now, logical: UInt32(counter)),
            author: author,
            entity: entity,
            recordID: RecordID(id),
            operation: operation
        )
    }

    /// Registers a replica for the token's user and returns its id.
    static func register(_ client: ServerHarness.Client, token: String) async throws -> String {
        let reply = try await client.send(
            .post,
            "/v1/replicas",
            token: token,
            body: Data(#"{"protocol_version":1}"#.utf8)
        )
        #expect(reply.status == .created)
        return try #require(reply.json["replica_id"] as? String)
    }

    static func statuses(_ response: PushResponse?) -> [String] {
        (response?.results ?? []).map { result in
            result.status == .rejected ? "rejected:\(result.rejection?.code.rawValue ?? "?")" : result.status.rawValue
        }
    }

    @Test(
        "a rep may not delete an account or a colleague's contact: not_permitted, audited by code, counted per replica",
        arguments: Backend.available
    )
    func deletesByRole(backend: Backend) async throws {
        let harness = try await ServerHarness(backend: backend)
        let storage = harness.storage
        try await harness.run { client in
            let annaToken = try await client.addUser("anna", territories: ["north"])
            let benToken = try await client.addUser("ben", territories: ["north"])
            let anna = try await Self.register(client, token: annaToken)
            let ben = try await Self.register(client, token: benToken)
            let account = Self.change(
                "anna",
                anna,
                1,
                .account,
                "acc-1",
                .create(["name": "Müller GmbH", "territory": "north", "owner": "anna"])
            )
            let own = Self.change(
                "anna",
                anna,
                2,
                .contact,
                "c-1",
                .create(["account_id": "acc-1", "first_name": "Lena"])
            )
            _ = try await client.push([account, own], replica: ReplicaID(unchecked: anna), token: annaToken)
            let colleagues = Self.change(
                "ben",
                ben,
                1,
                .contact,
                "c-2",
                .create(["account_id": "acc-1", "first_name": "Tom"])
            )
            _ = try await client.push([colleagues], replica: ReplicaID(unchecked: ben), token: benToken)

            let deletes = [
                Self.change("anna", anna, 3, .account, "acc-1", .delete),
                Self.change("anna", anna, 4, .contact, "c-2", .delete),
            ]
            let (_, answer) = try await client.push(deletes, replica: ReplicaID(unchecked: anna), token: annaToken)
            #expect(Self.statuses(answer) == ["rejected:not_permitted", "rejected:not_permitted"])
            #expect(answer?.results.first?.rejection?.reason.contains("status to passive") == true)

            let audit = try await storage.withReadTransaction { try await $0.latestAudit(limit: 5) }
            let refused = try #require(audit.first { $0.action == "push.refused" })
            #expect(refused.actor == "anna" && refused.detail["not_permitted"] == "2", "\(refused)")
            #expect(refused.detail["replica"] == anna)
            let stats = try await SyncService(storage: storage).stats()
            #expect(stats.replicas.first { $0.replica == anna }?.rejected == 2)
            #expect(stats.replicas.first { $0.replica == anna }?.lastPush != nil)
        }
    }

    @Test("a second create of an existing account cannot move it or change its owner", arguments: Backend.available)
    func createCannotSteal(backend: Backend) async throws {
        let harness = try await ServerHarness(backend: backend)
        try await harness.run { client in
            let annaToken = try await client.addUser("anna", territories: ["north"])
            let malloryToken = try await client.addUser("mallory", territories: ["north", "west"])
            let anna = try await Self.register(client, token: annaToken)
            let mallory = try await Self.register(client, token: malloryToken)
            let create = Self.change(
                "anna",
                anna,
                1,
                .account,
                "acc-1",
                .create(["name": "Müller GmbH", "territory": "north", "owner": "anna"])
            )
            #expect(
                Self.statuses(try await client.push([create], replica: ReplicaID(unchecked: anna), token: annaToken).1)
                    == ["accepted"]
            )

            let steal = Self.change(
                "mallory",
                mallory,
                1,
                .account,
                "acc-1",
                .create(["name": "Müller GmbH", "territory": "west", "owner": "mallory"])
            )
            let (_, answer) = try await client.push(
                [steal],
                replica: ReplicaID(unchecked: mallory),
                token: malloryToken
            )
            #expect(Self.statuses(answer) == ["rejected:server_owned"])
            // A create of an existing record that names no server-owned field merges like a set (a create always
            // names its required fields).
            let rename = Self.change(
                "mallory",
                mallory,
                2,
                .account,
                "acc-1",
                .create(["name": "Müller GmbH", "phone": "+49 30 1"])
            )
            #expect(
                Self.statuses(
                    try await client.push([rename], replica: ReplicaID(unchecked: mallory), token: malloryToken).1
                )
                    == ["accepted"]
            )

            let pulled = try await client.send(
                .get,
                "/v1/pull?replica_id=\(anna)&limit=100&cursor=",
                token: annaToken
            )
            let page = try WireCoding.decode(PullResponse.self, from: pulled.body)
            #expect(page.removed.isEmpty, "anna keeps her customer")
            let state = try await harness.storage.withReadTransaction {
                try await $0.states(after: nil, visibleTo: User(name: "x", role: .admin, territories: []), limit: 10)
            }
            let values = try #require(state.first).values(schema: CRMSchema.account)
            #expect(values["territory"] == "north" && values["owner"] == "anna" && values["phone"] == "+49 30 1")
        }
    }

    @Test(
        "the replica id 'server' is refused with 403, and a colleague's replica id cannot be used",
        arguments: Backend.available
    )
    func replicaIDs(backend: Backend) async throws {
        let harness = try await ServerHarness(backend: backend)
        try await harness.run { client in
            let annaToken = try await client.addUser("anna", territories: ["north"])
            let malloryToken = try await client.addUser("mallory", territories: ["north"])
            let create = Self.change(
                "mallory",
                "server",
                1,
                .account,
                "acc-1",
                .create(["name": "x", "territory": "north"])
            )
            for counter: UInt64 in [1, 2, 3] {
                var change = create
                change.dot = Dot(replica: .server, counter: counter)
                let (reply, _) = try await client.push([change], replica: .server, token: malloryToken)
                #expect(reply.status == .forbidden && reply.errorCode == "reserved_replica")
            }
            let pullAsServer = try await client.send(.get, "/v1/pull?replica_id=server", token: malloryToken)
            #expect(pullAsServer.status == .forbidden && pullAsServer.errorCode == "reserved_replica")

            // A new laptop's id comes from the server, bound to anna from the start: mallory cannot push under it,
            // pull under it or take its snapshot, and anna's laptop works.
            let anna = try await Self.register(client, token: annaToken)
            let squat = Self.change(
                "mallory",
                anna,
                1,
                .account,
                "acc-2",
                .create(["name": "x", "territory": "north"])
            )
            let (squatted, _) = try await client.push([squat], replica: ReplicaID(unchecked: anna), token: malloryToken)
            #expect(squatted.status == .forbidden && squatted.errorCode == "foreign_replica")
            for path in ["/v1/pull?replica_id=\(anna)", "/v1/snapshot?replica_id=\(anna)"] {
                let reply = try await client.send(.get, path, token: malloryToken)
                #expect(reply.status == .forbidden && reply.errorCode == "foreign_replica", "\(path)")
            }
            let own = Self.change("anna", anna, 1, .account, "acc-2", .create(["name": "x", "territory": "north"]))
            #expect(
                Self.statuses(try await client.push([own], replica: ReplicaID(unchecked: anna), token: annaToken).1)
                    == ["accepted"]
            )
            // A laptop of an earlier release picks its own id: it is bound at its first request (the snapshot of
            // its init), before a colleague could learn it.
            let legacy = try await client.send(.get, "/v1/snapshot?replica_id=legacy-laptop-1", token: annaToken)
            #expect(legacy.status == .ok)
            let late = Self.change(
                "mallory",
                "legacy-laptop-1",
                1,
                .account,
                "acc-3",
                .create(["name": "x", "territory": "north"])
            )
            let (lateReply, _) = try await client.push(
                [late],
                replica: ReplicaID(unchecked: "legacy-laptop-1"),
                token: malloryToken
            )
            #expect(lateReply.status == .forbidden && lateReply.errorCode == "foreign_replica")
        }
    }

    @Test(
        "a context that claims changes the server never accepted is refused, so a colleague's edit stays a conflict",
        arguments: Backend.available
    )
    func inflatedContext(backend: Backend) async throws {
        let harness = try await ServerHarness(backend: backend)
        try await harness.run { client in
            let annaToken = try await client.addUser("anna", territories: ["north"])
            let benToken = try await client.addUser("ben", territories: ["north"])
            let anna = try await Self.register(client, token: annaToken)
            let ben = try await Self.register(client, token: benToken)
            let create = Self.change("anna", anna, 1, .account, "acc-1", .create(["name": "x", "territory": "north"]))
            _ = try await client.push([create], replica: ReplicaID(unchecked: anna), token: annaToken)
            let seen = VectorClock([(ReplicaID(unchecked: anna), UInt64(1))])

            let forged = Self.change(
                "anna",
                anna,
                2,
                .account,
                "acc-1",
                .set(["phone": "+1 forged"]),
                context: VectorClock([
                    (ReplicaID(unchecked: anna), UInt64(1)), (ReplicaID.server, UInt64(1_000_000_000_000)),
                    (ReplicaID(unchecked: ben), UInt64(1_000_000_000)),
                ])
            )
            let ownAhead = Self.change(
                "anna",
                anna,
                3,
                .account,
                "acc-1",
                .set(["phone": "+1 own"]),
                context: VectorClock([(ReplicaID(unchecked: anna), UInt64(3))])
            )
            let (_, answer) = try await client.push(
                [forged, ownAhead],
                replica: ReplicaID(unchecked: anna),
                token: annaToken
            )
            #expect(Self.statuses(answer) == ["rejected:context_ahead", "rejected:context_ahead"])

            // Anna's honest edit and Ben's concurrent one: both kept, one a conflict.
            let honest = Self.change("anna", anna, 4, .account, "acc-1", .set(["phone": "+1 anna"]), context: seen)
            _ = try await client.push([honest], replica: ReplicaID(unchecked: anna), token: annaToken)
            let benEdit = Self.change("ben", ben, 1, .account, "acc-1", .set(["phone": "+2 ben"]), context: seen)
            #expect(
                Self.statuses(try await client.push([benEdit], replica: ReplicaID(unchecked: ben), token: benToken).1)
                    == ["accepted"]
            )
            let state = try await harness.storage.withReadTransaction {
                try await $0.states(after: nil, visibleTo: User(name: "x", role: .admin, territories: []), limit: 10)
            }
            #expect(try #require(state.first).conflicts(schema: CRMSchema.account).count == 1)
        }
    }

    @Test(
        "a 10,000-entry context is refused, a longer one is refused before it is read, snapshots still answer",
        arguments: [Backend.sqlite]
    )
    func hugeContext(backend: Backend) async throws {
        let harness = try await ServerHarness(backend: backend)
        try await harness.run { client in
            let annaToken = try await client.addUser("anna", territories: ["north"])
            let anna = try await Self.register(client, token: annaToken)
            let create = Self.change("anna", anna, 1, .account, "acc-1", .create(["name": "x", "territory": "north"]))
            _ = try await client.push([create], replica: ReplicaID(unchecked: anna), token: annaToken)
            let big = VectorClock((0..<10_000).map { (ReplicaID(unchecked: "r\($0)"), UInt64(1)) })
            let forged = Self.change("anna", anna, 2, .account, "acc-1", .set(["phone": "+1"]), context: big)
            let (_, answer) = try await client.push([forged], replica: ReplicaID(unchecked: anna), token: annaToken)
            #expect(Self.statuses(answer) == ["rejected:context_ahead"])
            let tooBig = VectorClock((0..<10_001).map { (ReplicaID(unchecked: "r\($0)"), UInt64(1)) })
            let refused = Self.change("anna", anna, 3, .account, "acc-1", .set(["phone": "+1"]), context: tooBig)
            let (reply, _) = try await client.push([refused], replica: ReplicaID(unchecked: anna), token: annaToken)
            #expect(reply.status == .badRequest && reply.errorMessage?.contains("at most 10000 entries") == true)
            let snapshot = try await client.send(.get, "/v1/snapshot?replica_id=\(anna)", token: annaToken)
            #expect(snapshot.status == .ok)
        }
    }

    @Test(
        "cursors the server did not issue are refused with unknown_cursor, never echoed",
        arguments: Backend.available
    )
    func cursors(backend: Backend) async throws {
        let harness = try await ServerHarness(backend: backend)
        try await harness.run { client in
            let annaToken = try await client.addUser("anna", territories: ["north"])
            let anna = try await Self.register(client, token: annaToken)
            let create = Self.change("anna", anna, 1, .account, "acc-1", .create(["name": "x", "territory": "north"]))
            _ = try await client.push([create], replica: ReplicaID(unchecked: anna), token: annaToken)
            let first = try await client.send(.get, "/v1/pull?replica_id=\(anna)", token: annaToken)
            let issued = try #require(first.json["cursor"] as? String)
            #expect(issued.hasSuffix(".1"), "\(issued)")
            let again = try await client.send(.get, "/v1/pull?replica_id=\(anna)&cursor=\(issued)", token: annaToken)
            #expect(again.status == .ok && again.json["cursor"] as? String == issued)
            #expect(
                try await client.send(.get, "/v1/pull?replica_id=\(anna)&cursor=1", token: annaToken).status == .ok,
                "a bare cursor of an earlier server release, within the log"
            )

            let logID = issued.split(separator: ".")[0]
            for bad in ["99999999", "\(logID).99999999", "0123456789abcdef.1", "x", "-1", "\(logID).x", "1.5"] {
                let pull = try await client.send(.get, "/v1/pull?replica_id=\(anna)&cursor=\(bad)", token: annaToken)
                #expect(pull.status == .badRequest && pull.errorCode == "unknown_cursor", "pull cursor \(bad)")
                let snapshot = try await client.send(
                    .get,
                    "/v1/snapshot?replica_id=\(anna)&after=account/acc-0&cursor=\(bad)",
                    token: annaToken
                )
                #expect(
                    snapshot.status == .badRequest && snapshot.errorCode == "unknown_cursor",
                    "snapshot cursor \(bad)"
                )
            }
        }
    }

    @Test(
        "a laptop whose cursor the server did not issue pulls the log from its start and misses nothing",
        arguments: Backend.available
    )
    func cursorRepair(backend: Backend) async throws {
        let harness = try await ServerHarness(backend: backend)
        try await harness.run { client in
            let annaToken = try await client.addUser("anna", territories: ["north"])
            let benToken = try await client.addUser("ben", territories: ["north"])
            let anna = try await makeReplica(user: "anna", territories: ["north"])
            let ben = try await makeReplica(user: "ben", territories: ["north"])
            let account = try await anna.create(.account, fields: ["name": "Acme", "territory": "north"])
            try await client.sync(anna, token: annaToken)
            // Ben's laptop holds a cursor of another server's log (say, IT replaced the server's database).
            try await ben.saveCursor("0123456789abcdef.99")
            let summary = try await client.sync(ben, token: benToken)
            #expect(summary.pulledFromStart)
            #expect(try await ben.record(.account, id: account.id)?["name"] == "Acme")
            let cursor = try #require(try await ben.syncInfo().cursor)
            #expect(!cursor.hasPrefix("0123456789abcdef."), "the foreign cursor is not kept")
            #expect(try await client.sync(ben, token: benToken).pulledFromStart == false)
        }
    }

    @Test(
        "numbers must be integer literals, duplicate keys and truncated gzip are refused",
        arguments: [Backend.memory]
    )
    func numbersKeysAndGzip(backend: Backend) async throws {
        let harness = try await ServerHarness(backend: backend)
        try await harness.run { client in
            let annaToken = try await client.addUser("anna", territories: ["north"])
            let anna = try await Self.register(client, token: annaToken)
            func body(_ delta: String) -> Data {
                Data(
                    (#"{"protocol_version":1,"replica_id":"\#(anna)","changes":[{"dot":{"replica":"\#(anna)","counter":1},"#
                        + #""context":{},"hlc":"2026-11-23T10:00:00.000Z/0","author":"anna","entity":"stock","#
                        + #""record_id":"P@W","op":"counter_delta",\#(delta)}]}"#).utf8
                )
            }
            for literal in ["1500.0", "1e3", "-0.0", "9223372036854775808", "1E400", "1500.5"] {
                let reply = try await client.send(
                    .post,
                    "/v1/push",
                    token: annaToken,
                    body: body(#""delta":\#(literal)"#)
                )
                #expect(reply.status == .badRequest && reply.errorCode == "invalid_value", "\(literal)")
                #expect(reply.errorMessage?.hasPrefix("changes[0].delta: a number must be an integer literal") == true)
            }
            let twice = try await client.send(
                .post,
                "/v1/push",
                token: annaToken,
                body: body(#""delta":-1,"delta":-40"#)
            )
            #expect(twice.status == .badRequest && twice.errorCode == "malformed_payload")
            #expect(twice.errorMessage?.contains("appears twice") == true)

            var buffer = ByteBuffer(bytes: body(#""delta":-1"#))
            let zipped = try buffer.compress(with: .gzip)
            let truncated = Data(zipped.readableBytesView.dropLast(8))
            let cut = try await client.send(
                .post,
                "/v1/push",
                token: annaToken,
                body: truncated,
                headers: [.contentEncoding: "gzip"]
            )
            #expect(cut.status == .badRequest && cut.errorCode == "malformed_payload", "\(cut.status)")
            let whole = try await client.send(
                .post,
                "/v1/push",
                token: annaToken,
                body: Data(zipped.readableBytesView),
                headers: [.contentEncoding: "gzip"]
            )
            #expect(whole.status == .ok)
        }
    }

    @Test("a body that stalls gets 408 with a JSON error before the idle timeout closes the connection")
    func stalledBody() async throws {
        // The default body deadline (60 s) is longer than the default idle timeout (30 s), which closed such a
        // connection without an answer; the stall watchdog (1 s here, 10 s by default) answers first.
        let harness = try await ServerHarness(configuration: ServerConfiguration(port: 0, bodyStallSeconds: 1))
        try await harness.run { client in
            let token = try await client.addUser("alice", territories: ["north"])
            let port = try #require(client.client.port)
            let reply = try await withCheckedThrowingContinuation { continuation in
                DispatchQueue.global().async {
                    continuation.resume(with: Result { try AdminTests.trickle(port: port, token: token) })
                }
            }
            #expect(reply.hasPrefix("HTTP/1.1 408"), "\(reply.prefix(60))")
            #expect(reply.contains(#""code":"request_timeout""#))
        }
    }
}
