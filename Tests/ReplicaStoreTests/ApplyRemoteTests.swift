import Foundation
import ReplicaStore
import SyncProtocol
import SyncTestSupport
import Testing

@Suite("Applying remote changes")
struct ApplyRemoteTests {
    @Test("remote changes are applied, logged as remote, and never enter the outbox")
    func appliesRemote() async throws {
        let alice = try await TestReplica(user: "alice")
        let bob = try await TestReplica(user: "bob")
        let account = try await alice.replica.create(.account, fields: ["name": "Acme", "territory": "north"])
        try await deliver(from: alice.replica, to: [bob.replica])
        #expect(try await bob.replica.record(.account, id: account.id)?["name"] == "Acme")
        #expect(try await bob.replica.pendingCount() == 0)
        #expect(try await bob.replica.history(.account, id: account.id).allSatisfy { $0.origin == "remote" })
        try await expectIntact(bob.replica)
    }

    @Test("applying the same batch twice changes nothing")
    func idempotent() async throws {
        let alice = try await TestReplica(user: "alice")
        let bob = try await TestReplica(user: "bob")
        let account = try await alice.replica.create(.account, fields: ["name": "Acme", "territory": "north"])
        try await alice.replica.update(.account, id: account.id, fields: ["phone": "1"])
        let changes = try await alice.replica.pendingChanges()
        let first = try await bob.replica.applyRemote(changes)
        let second = try await bob.replica.applyRemote(changes + changes)
        #expect(first.applied == 2 && first.duplicates == 0)
        #expect(second.applied == 0 && second.duplicates == 4)
        #expect(try await bob.replica.history(.account, id: account.id).count == 3)
    }

    @Test("a third concurrent write that wins: the conflict list shows what the record shows, and keep keeps it")
    func thirdWriterWins() async throws {
        let alice = try await TestReplica(user: "alice")
        let bob = try await TestReplica(user: "bob", now: TestReplica.baseTime + 5_000)
        let carol = try await TestReplica(user: "carol", now: TestReplica.baseTime + 10_000)
        let account = try await alice.replica.create(.account, fields: ["name": "Acme", "territory": "north"])
        try await deliver(from: alice.replica, to: [bob.replica, carol.replica])
        try await alice.replica.update(.account, id: account.id, fields: ["phone": "alice-phone"])
        try await bob.replica.update(.account, id: account.id, fields: ["phone": "bob-phone"])
        try await carol.replica.update(.account, id: account.id, fields: ["phone": "carol-phone"])
        // Alice hears of Bob first (Bob's value shows), then of Carol, whose later stamp wins over both.
        try await deliver(from: bob.replica, to: [alice.replica])
        #expect(try await alice.replica.openConflicts().map(\.winner.value) == ["bob-phone"])
        try await deliver(from: carol.replica, to: [alice.replica])
        #expect(try await alice.replica.record(.account, id: account.id)?["phone"] == "carol-phone")
        let conflicts = try await alice.replica.openConflicts()
        #expect(conflicts.count == 2)
        #expect(conflicts.allSatisfy { $0.winner.value == "carol-phone" }, "\(conflicts.map(\.winner.value))")
        #expect(Set(conflicts.map(\.loser.value)) == ["alice-phone", "bob-phone"])

        // "Keep the value shown now" keeps Carol's, and closes both.
        let conflictID = try #require(conflicts.first { $0.loser.value == "alice-phone" }?.id)
        try await alice.replica.resolveConflict(id: conflictID, .keep)
        #expect(try await alice.replica.record(.account, id: account.id)?["phone"] == "carol-phone")
        #expect(try await alice.replica.openConflicts().isEmpty)
    }

    @Test("concurrent edits: different fields both survive, the same field keeps the loser as a conflict")
    func concurrentEdits() async throws {
        let alice = try await TestReplica(user: "alice")
        let bob = try await TestReplica(user: "bob", now: TestReplica.baseTime + 5_000)
        let account = try await alice.replica.create(.account, fields: ["name": "Acme", "territory": "north"])
        try await deliver(from: alice.replica, to: [bob.replica])
        // Offline, both edit.
        try await alice.replica.update(
            .account,
            id: account.id,
            fields: ["phone": "alice-phone", "website": "acme.example"]
        )
        try await bob.replica.update(
            .account,
            id: account.id,
            fields: ["phone": "bob-phone", "email": "info@acme.example"]
        )
        try await deliver(from: alice.replica, to: [bob.replica])
        try await deliver(from: bob.replica, to: [alice.replica])
        for replica in [alice.replica, bob.replica] {
            let record = try #require(try await replica.record(.account, id: account.id))
            #expect(record["phone"] == "bob-phone", "later stamp wins")
            #expect(record["website"] == "acme.example" && record["email"] == "info@acme.example")
            let conflicts = try await replica.openConflicts()
            #expect(conflicts.count == 1)
            #expect(conflicts.first?.loser.value == "alice-phone" && conflicts.first?.loser.author == "alice")
            try await expectIntact(replica)
        }
        // Alice resolves by taking her value: a normal change that syncs and closes the conflict everywhere.
        let conflictID = try #require(try await alice.replica.openConflicts().first?.id)
        try await alice.replica.resolveConflict(id: conflictID, .takeOther)
        try await deliver(from: alice.replica, to: [bob.replica])
        for replica in [alice.replica, bob.replica] {
            #expect(try await replica.record(.account, id: account.id)?["phone"] == "alice-phone")
            #expect(try await replica.openConflicts().isEmpty)
        }
        #expect(
            try await bob.replica.history(.account, id: account.id).contains {
                $0.newValue == "alice-phone" && $0.oldValue == "bob-phone"
            }
        )
    }

    @Test("stock: two reps each sell 3 and 6 come off; a recount keeps sales it had not seen")
    func stockCounter() async throws {
        let alice = try await TestReplica(user: "alice")
        let bob = try await TestReplica(user: "bob")
        let id = RecordID.stock(partNumber: "P-100", warehouse: "main")
        let server = ReplicaID.server
        func serverChange(_ counter: UInt64, _ context: VectorClock, _ operation: Change.Operation) -> Change {
            Change(
                dot: Dot(replica: server, counter: counter),
                context: context,
                timestamp: HybridTimestamp(wallMilliseconds: TestReplica.baseTime + Int64(counter)),
                author: "it-admin",
                entity: .stock,
                recordID: id,
                operation: operation
            )
        }
        let setup = [
            serverChange(1, VectorClock(), .create(["part_number": "P-100", "warehouse": "main"])),
            serverChange(2, VectorClock([(server, UInt64(1))]), .counterReset(10)),
        ]
        for replica in [alice.replica, bob.replica] { try await replica.applyRemote(setup) }
        try await alice.replica.adjustCounter(.stock, id: id, by: -3)
        try await bob.replica.adjustCounter(.stock, id: id, by: -3)
        let aliceSale = try await alice.replica.pendingChanges()
        try await deliver(from: alice.replica, to: [bob.replica])
        try await deliver(from: bob.replica, to: [alice.replica])
        for replica in [alice.replica, bob.replica] {
            #expect(try await replica.stock(partNumber: "P-100").first?["quantity"] == 4)
        }
        // Accounting's recount of 20 had seen Alice's sale but not Bob's.
        var seen = VectorClock([(server, UInt64(2))])
        seen.record(aliceSale[0].dot)
        try await alice.replica.applyRemote([serverChange(3, seen, .counterReset(20))])
        #expect(try await alice.replica.stock(partNumber: "P-100").first?["quantity"] == 17)
    }

    @Test("fields and entities of a newer server are kept")
    func unknownDataKept() async throws {
        let test = try await TestReplica()
        let account = try await test.replica.create(.account, fields: ["name": "Acme", "territory": "north"])
        let context = try #require(try await test.replica.pendingChanges().first).dot
        let newer = [
            Change(
                dot: Dot(replica: .server, counter: 1),
                context: VectorClock([(context.replica, context.counter)]),
                timestamp: HybridTimestamp(wallMilliseconds: TestReplica.baseTime),
                author: "it-admin",
                entity: .account,
                recordID: account.id,
                operation: .set(["loyalty_tier": "gold"])
            ),
            Change(
                dot: Dot(replica: .server, counter: 2),
                context: VectorClock(),
                timestamp: HybridTimestamp(wallMilliseconds: TestReplica.baseTime),
                author: "it-admin",
                entity: EntityKind("campaign"),
                recordID: RecordID("cmp-1"),
                operation: .create(["title": "Spring"])
            ),
        ]
        #expect(try await test.replica.applyRemote(newer).applied == 2)
        #expect(try await test.replica.record(.account, id: account.id)?["loyalty_tier"] == "gold")
        #expect(try await test.replica.record(EntityKind("campaign"), id: RecordID("cmp-1"))?["title"] == "Spring")
        try await test.replica.update(.account, id: account.id, fields: ["phone": "1"])
        #expect(
            try await test.replica.record(.account, id: account.id)?["loyalty_tier"] == "gold",
            "kept across a local edit"
        )
    }

    @Test("an append-only record of an entity this build does not know is kept with its values, not refused empty")
    func unknownAppendOnlyKept() async throws {
        let test = try await TestReplica()
        let note = Change(
            dot: Dot(replica: .server, counter: 1),
            context: VectorClock(),
            timestamp: HybridTimestamp(wallMilliseconds: TestReplica.baseTime),
            author: "it-admin",
            entity: EntityKind("visit_report"),
            recordID: RecordID("vr-1"),
            operation: .append(["summary": "The boiler room was measured", "minutes": 45])
        )
        #expect(try await test.replica.applyRemote([note]).applied == 1)
        let kept = try await test.replica.record(EntityKind("visit_report"), id: RecordID("vr-1"))
        #expect(kept?["summary"] == "The boiler room was measured")
        #expect(kept?["minutes"] == 45)
    }

    @Test("records that leave the scope are dropped; their unsynced edits are reported and kept")
    func leavesScope() async throws {
        let test = try await TestReplica()
        let account = try await test.replica.create(.account, fields: ["name": "Acme", "territory": "north"])
        let pending = try await test.replica.removeFromScope([ScopeNotice(entity: .account, recordID: account.id)])
        #expect(pending.count == 1)
        #expect(try await test.replica.record(.account, id: account.id) == nil)
        #expect(try await test.replica.pendingCount() == 1)
    }

    /// The seeds of the convergence test: `CRM_APPLY_SEED=N` replays one (a failure names its seed).
    static let convergenceSeeds: [UInt64] = {
        if let text = ProcessInfo.processInfo.environment["CRM_APPLY_SEED"], let seed = UInt64(text) { return [seed] }
        return Array(1...8)
    }()

    @Test(
        "three replicas with random offline edits and partial exchanges converge",
        arguments: convergenceSeeds
    )
    func convergence(seed: UInt64) async throws {
        let replicas = [
            try await TestReplica(user: "a"), try await TestReplica(user: "b"), try await TestReplica(user: "c"),
        ]
        let account = try await replicas[0].replica.create(.account, fields: ["name": "Acme", "territory": "north"])
        try await deliver(from: replicas[0].replica, to: replicas.dropFirst().map(\.replica))
        var rng = SeededGenerator(seed: seed)
        var log: [[Change]] = [[], [], []]
        for round in 0..<30 {
            let writer = Int.random(in: 0..<3, using: &rng)
            let field = ["phone", "website", "email"].randomElement(using: &rng)!
            try await replicas[writer].replica.update(.account, id: account.id, fields: [field: .string("\(round)")])
            if Int.random(in: 0..<3, using: &rng) == 0 {
                // Someone syncs: everything pending goes to everyone (as the server would forward it).
                for source in 0..<3 {
                    let pending = try await replicas[source].replica.pendingChanges()
                    log[source] += pending
                    for target in 0..<3 where target != source {
                        try await replicas[target].replica.applyRemote(pending)
                    }
                    try await replicas[source].replica.acknowledge(
                        pending.map { ChangeResult(dot: $0.dot, status: .accepted) }
                    )
                }
            }
        }
        for source in 0..<3 {
            try await deliver(
                from: replicas[source].replica,
                to: replicas.indices.filter { $0 != source }.map { replicas[$0].replica }
            )
        }
        let records = try await replicas.asyncMap { try await $0.replica.record(.account, id: account.id) }
        let conflicts = try await replicas.asyncMap { try await $0.replica.openConflicts().map(\.id).sorted() }
        #expect(records[0] == records[1] && records[1] == records[2], "seed \(seed) (CRM_APPLY_SEED=\(seed))")
        #expect(
            conflicts[0] == conflicts[1] && conflicts[1] == conflicts[2],
            "seed \(seed) (CRM_APPLY_SEED=\(seed))"
        )
    }
}
