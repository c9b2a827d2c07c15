import Foundation
import Logging
import SyncProtocol
import SyncServer
import Testing

/// The storage contract: the same cases through ``SyncService`` on every backend (in memory, SQLite, and
/// PostgreSQL when `POSTGRES_URL` names a server). A backend that passes behaves like the others for every sync
/// operation.
@Suite("Storage contract")
struct StorageContractTests {
    static let now = ServerHarness.baseTime
    static let north = User(name: "alice", role: .rep, territories: ["north"])
    static let northToo = User(name: "bob", role: .rep, territories: ["north"])
    static let south = User(name: "carol", role: .rep, territories: ["south"])

    /// The users the cases push as (a push always comes from a stored user).
    static let users =
        [north, northToo, south] + (0..<3).map { User(name: "rep\($0)", role: .rep, territories: ["north"]) }

    /// Runs `body` with a fresh, prepared storage of `backend` (PostgreSQL: its pool running) holding ``users``.
    static func withStorage(
        _ backend: Backend,
        _ body: @Sendable (SyncService) async throws -> Void
    ) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("contract-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let storage = try await backend.makeStorage(in: folder)
        try await withThrowingTaskGroup(of: Void.self) { group in
            if let postgres = storage as? PostgresChangeStorage { group.addTask { await postgres.run() } }
            defer { group.cancelAll() }
            try await storage.prepare()
            for user in users { try await storage.addUser(user, tokenHash: Tokens.generate().hash) }
            try await body(SyncService(storage: storage))
        }
    }

    /// A change of `user` on `replica`.
    static func change(
        _ user: User,
        _ replica: String,
        _ counter: UInt64,
        _ entity: EntityKind = .account,
        _ id: String,
        _ operation: Change.Operation
    ) -> Change {
        Change(
            dot: Dot(replica: ReplicaID(unchecked: replica), counter: counter),
            context: VectorClock(),
            timestamp: HybridTimestamp(wallMilliseconds: now, logical: UInt32(counter)),
            author: user.name,
            entity: entity,
            recordID: RecordID(id),
            operation: operation
        )
    }

    static func createAccount(
        _ user: User,
        _ replica: String,
        _ counter: UInt64,
        _ id: String,
        territory: String
    )
        -> Change
    {
        change(user, replica, counter, .account, id, .create(["name": "Acme", "territory": .string(territory)]))
    }

    static func push(_ service: SyncService, _ changes: [Change], as user: User) async throws -> [ChangeResult] {
        try await service.push(
            changes,
            replica: changes[0].dot.replica,
            user: user,
            now: now,
            maxClockAhead: 60_000
        ).results
    }

    /// Every change `user` pulls from `cursor` in pages of `limit`, decoded, and the final cursor.
    static func pullAll(
        _ service: SyncService,
        _ user: User,
        replica: String = "reader",
        from cursor: Int64 = 0,
        limit: Int = 1000
    )
        async throws -> (changes: [Change], removed: [ScopeNotice], cursor: Int64)
    {
        var cursor = cursor
        var changes: [Change] = []
        var removed: [ScopeNotice] = []
        while true {
            let page = try await service.pull(
                user: user,
                replica: ReplicaID(unchecked: replica),
                after: cursor,
                limit: limit
            )
            let response = try WireCoding.decodeMessage(PullResponse.self, from: Data(try page.responseJSON()))
            changes += response.changes
            removed += response.removed
            #expect(page.cursor >= cursor, "cursors never go back")
            cursor = page.cursor
            if !page.hasMore { return (changes, removed, cursor) }
        }
    }

    @Test(
        "a batch sent twice applies once and answers the same; a gap is refused and not stored",
        arguments: Backend.available
    )
    func exactlyOnce(backend: Backend) async throws {
        try await Self.withStorage(backend) { service in
            let batch = [
                Self.createAccount(Self.north, "a", 1, "acc-1", territory: "north"),
                Self.change(Self.north, "a", 2, .account, "acc-1", .set(["phone": "1"])),
                Self.change(Self.north, "a", 3, .account, "acc-1", .set(["territory": "south"])),
            ]
            let first = try await Self.push(service, batch, as: Self.north)
            #expect(first.map(\.status) == [.accepted, .accepted, .rejected])
            let again = try await Self.push(service, batch, as: Self.north)
            #expect(again.map(\.status) == [.duplicate, .duplicate, .rejected])
            #expect(again[2] == first[2], "a rejected change gets the same rejection")
            #expect(try await service.storage.stats().changes == 2)

            let gap = try await Self.push(
                service,
                [Self.change(Self.north, "a", 5, .account, "acc-1", .set(["phone": "5"]))],
                as: Self.north
            )
            #expect(gap.first?.rejection?.code == .sequenceGap)
            let inOrder = try await Self.push(
                service,
                [4, 5].map { Self.change(Self.north, "a", $0, .account, "acc-1", .set(["phone": .string("\($0)")])) },
                as: Self.north
            )
            #expect(inOrder.map(\.status) == [.accepted, .accepted])
            let pulled = try await Self.pullAll(service, Self.northToo)
            #expect(pulled.changes.map(\.dot.counter) == [1, 2, 4, 5])

            // A replica belongs to the user it is bound to: another user's push under it is refused whole, and
            // stores nothing.
            await #expect {
                _ = try await Self.push(
                    service,
                    [Self.change(Self.northToo, "a", 6, .account, "acc-1", .set(["phone": "x"]))],
                    as: Self.northToo
                )
            } throws: { ($0 as? SyncServerError)?.code == .foreignReplica }
            #expect(try await service.storage.stats().changes == 4)
        }
    }

    @Test(
        "a counter reused for another change (a restored or copied laptop) is refused dot_reused, never dropped",
        arguments: Backend.available
    )
    func reusedDot(backend: Backend) async throws {
        try await Self.withStorage(backend) { service in
            let first = [
                Self.createAccount(Self.north, "a", 1, "acc-1", territory: "north"),
                Self.change(Self.north, "a", 2, .account, "acc-1", .set(["phone": "from the laptop"])),
            ]
            #expect(try await Self.push(service, first, as: Self.north).map(\.status) == [.accepted, .accepted])
            // The copy of the laptop made before counter 2 writes something else under counter 2, and goes on to 3.
            let copy = [
                Self.change(Self.north, "a", 2, .account, "acc-1", .set(["phone": "from the copy"])),
                Self.change(Self.north, "a", 3, .account, "acc-1", .set(["email": "copy@example.com"])),
            ]
            let answer = try await Self.push(service, copy, as: Self.north)
            // Counter 3 follows the reused dot in the same batch: it is the copy's too, and refused with it (taking it
            // would mix the two copies' changes under one ID). The copy re-sends both under a new ID.
            #expect(answer.map { $0.rejection?.code } == [.dotReused, .dotReused])
            // The original's retry of counter 2 is still a duplicate, and the copy's refusal is not stored.
            #expect(try await Self.push(service, [first[1]], as: Self.north).map(\.status) == [.duplicate])
            #expect(try await Self.push(service, [copy[0]], as: Self.north).first?.rejection?.code == .dotReused)
            let pulled = try await Self.pullAll(service, Self.northToo)
            #expect(pulled.changes.map(\.dot.counter) == [1, 2])
            #expect(pulled.changes.contains { $0.operation.fields["phone"] == "from the laptop" })
            #expect(!pulled.changes.contains { $0.operation.fields["phone"] == "from the copy" })
        }
    }

    @Test(
        "a rep sees only their territory in pulls and snapshots; foreign and unknown ids get one answer",
        arguments: Backend.available
    )
    func scope(backend: Backend) async throws {
        try await Self.withStorage(backend) { service in
            _ = try await Self.push(
                service,
                [Self.createAccount(Self.north, "a", 1, "acc-n", territory: "north")],
                as: Self.north
            )
            _ = try await Self.push(
                service,
                [Self.createAccount(Self.south, "c", 1, "acc-s", territory: "south")],
                as: Self.south
            )
            #expect(try await Self.pullAll(service, Self.northToo).changes.map(\.recordID) == [RecordID("acc-n")])
            #expect(try await Self.pullAll(service, Self.south, replica: "c").changes.isEmpty, "not its own changes")
            let snapshot = try await service.snapshot(user: Self.northToo, after: nil, limit: 100)
            #expect(snapshot.records.map(\.id) == [RecordID("acc-n")])
            let results = try await Self.push(
                service,
                [
                    Self.change(Self.south, "c", 2, .account, "acc-n", .set(["phone": "0"])),
                    Self.change(Self.south, "c", 3, .account, "no-such", .set(["phone": "0"])),
                ],
                as: Self.south
            )
            #expect(results.map(\.rejection?.code) == [.outOfScope, .outOfScope])
            #expect(results[0].rejection?.reason == results[1].rejection?.reason)
        }
    }

    @Test(
        "a territory move gives the joining rep the history and the leaving rep removal notices",
        arguments: Backend.available
    )
    func territoryMove(backend: Backend) async throws {
        try await Self.withStorage(backend) { service in
            _ = try await Self.push(
                service,
                [
                    Self.createAccount(Self.north, "a", 1, "acc-1", territory: "north"),
                    Self.change(
                        Self.north,
                        "a",
                        2,
                        .contact,
                        "con-1",
                        .create(["account_id": "acc-1", "last_name": "Lovelace"])
                    ),
                ],
                as: Self.north
            )
            let southBefore = try await Self.pullAll(service, Self.south, replica: "c")
            let northBefore = try await Self.pullAll(service, Self.northToo)
            #expect(southBefore.changes.isEmpty && northBefore.changes.count == 2)
            try await service.assignTerritory(account: RecordID("acc-1"), territory: "south", now: Self.now)

            let south = try await Self.pullAll(service, Self.south, replica: "c", from: southBefore.cursor)
            #expect(south.changes.map(\.recordID.rawValue) == ["acc-1", "con-1", "acc-1"], "history, then the move")
            let north = try await Self.pullAll(service, Self.northToo, from: northBefore.cursor)
            #expect(
                north.removed.map(\.recordID.rawValue) == ["con-1", "acc-1"],
                "what hangs off it, the account last"
            )
            #expect(north.changes.isEmpty)
            let snapshot = try await service.snapshot(user: Self.south, after: nil, limit: 100)
            #expect(Set(snapshot.records.map(\.id.rawValue)) == ["acc-1", "con-1"])
        }
    }

    @Test("pull and snapshot pages cover everything once, in order", arguments: Backend.available)
    func paging(backend: Backend) async throws {
        try await Self.withStorage(backend) { service in
            let creates = (1...25).map {
                Self.createAccount(Self.north, "a", UInt64($0), String(format: "acc-%02d", $0), territory: "north")
            }
            _ = try await Self.push(service, creates, as: Self.north)
            for limit in [1, 7, 25, 100] {
                let pulled = try await Self.pullAll(service, Self.northToo, limit: limit)
                #expect(pulled.changes.map(\.dot.counter) == Array(1...25), "limit \(limit)")
                var after: String?
                var seen: [String] = []
                repeat {
                    let page = try await service.snapshot(user: Self.northToo, after: after, limit: limit)
                    seen += page.records.map(\.id.rawValue)
                    after = page.next
                } while after != nil
                #expect(seen == creates.map(\.recordID.rawValue), "limit \(limit)")
            }
        }
    }

    @Test("pulls while pushes commit miss nothing and repeat nothing", arguments: Backend.available)
    func concurrentPushAndPull(backend: Backend) async throws {
        try await Self.withStorage(backend) { service in
            let pushers = 3
            let perPusher = 200
            let done = Flag()
            let pulled = try await withThrowingTaskGroup(of: [Dot].self) { group in
                for pusher in 0..<pushers {
                    group.addTask {
                        let replica = "p\(pusher)"
                        let user = User(name: "rep\(pusher)", role: .rep, territories: ["north"])
                        _ = try await Self.push(
                            service,
                            [Self.createAccount(user, replica, 1, "acc-\(pusher)", territory: "north")],
                            as: user
                        )
                        for start in stride(from: 2, through: perPusher, by: 5) {
                            let batch = (start..<min(start + 5, perPusher + 1)).map {
                                Self.change(
                                    user,
                                    replica,
                                    UInt64($0),
                                    .account,
                                    "acc-\(pusher)",
                                    .set(["phone": .string("\($0)")])
                                )
                            }
                            _ = try await Self.push(service, batch, as: user)
                        }
                        return []
                    }
                }
                group.addTask {
                    var cursor: Int64 = 0
                    var dots: [Dot] = []
                    while true {
                        let finalPass = done.isSet
                        let page = try await service.pull(
                            user: Self.northToo,
                            replica: ReplicaID(unchecked: "reader"),
                            after: cursor,
                            limit: 7
                        )
                        let response = try WireCoding.decodeMessage(
                            PullResponse.self,
                            from: Data(try page.responseJSON())
                        )
                        dots += response.changes.map(\.dot)
                        cursor = page.cursor
                        if finalPass, !page.hasMore { return dots }
                    }
                }
                var pulled: [Dot] = []
                var finished = 0
                for try await dots in group {
                    if dots.isEmpty {
                        finished += 1
                        if finished == pushers { done.set() }
                    } else {
                        pulled = dots
                    }
                }
                return pulled
            }
            let expected = Set(
                (0..<pushers).flatMap { pusher in
                    (1...perPusher).map { Dot(replica: ReplicaID(unchecked: "p\(pusher)"), counter: UInt64($0)) }
                }
            )
            #expect(Set(pulled) == expected, "missing \(expected.subtracting(pulled).count)")
            #expect(pulled.count == expected.count, "nothing twice")
        }
    }

    @Test(
        "documents are saved, read by key or whole space, replaced and removed; audit entries chain, and roll back",
        arguments: Backend.available
    )
    func documentsAndAudit(backend: Backend) async throws {
        try await Self.withStorage(backend) { service in
            let storage = service.storage
            try await storage.withWriteTransaction { transaction in
                try await transaction.saveDocuments("space", ["a": "1", "b": "2", "ü": "{\"x\":\"ß\"}"])
                #expect(try await transaction.documents("space", keys: ["a", "missing"]) == ["a": "1"])
                try await transaction.saveDocuments("space", ["a": "3"])
                try await transaction.deleteDocuments("space", keys: ["b"])
                #expect(try await transaction.documents("other", keys: nil).isEmpty)
            }
            let all = try await storage.withReadTransaction { try await $0.documents("space", keys: nil) }
            #expect(all == ["a": "3", "ü": "{\"x\":\"ß\"}"])

            for number in 1...3 {
                try await service.audit(
                    actor: "cli:it",
                    action: "test.\(number)",
                    target: "t",
                    detail: ["n": String(number)],
                    now: Self.now + Int64(number)
                )
            }
            // A transaction that fails leaves no entry behind.
            await #expect(throws: SyncServerError.self) {
                try await storage.withWriteTransaction { transaction in
                    try await transaction.audit(actor: "cli:it", action: "lost", target: "t", at: Self.now)
                    throw SyncServerError(.conflict, "rolled back")
                }
            }
            let entries = try await storage.withReadTransaction { try await $0.audit(after: 0, limit: 10) }
            #expect(entries.map(\.seq) == [1, 2, 3] && entries.map(\.action) == ["test.1", "test.2", "test.3"])
            #expect(entries[0].previousHash == AuditLog.genesis && entries[1].previousHash == entries[0].hash)
            #expect(entries[2].detail == ["n": "3"] && entries[2].at == Self.now + 3)
            let latest = try await storage.withReadTransaction { try await $0.latestAudit(limit: 2) }
            #expect(latest.map(\.seq) == [3, 2])
            let verified = try await AuditLog.verify(storage)
            #expect(verified.entries == 3 && verified.broken == nil && verified.head == entries[2].hash)
        }
    }

    @Test("an import creates, updates only what differs, and recounts stock", arguments: Backend.available)
    func imports(backend: Backend) async throws {
        try await Self.withStorage(backend) { service in
            let products = CSVImport.rows(.products, csv: "part_number,name\nP-1,Pump\nP-2,Valve\n").rows
            #expect(try await service.importRows(.products, rows: products, now: Self.now).created == 2)
            let (rows, rejected) = CSVImport.rows(
                .stock,
                csv: "part_number,warehouse,quantity\nP-1,main,10\nP-2,main,4\n"
            )
            #expect(rejected.isEmpty)
            var report = try await service.importRows(.stock, rows: rows, now: Self.now)
            #expect((report.created, report.updated, report.unchanged) == (2, 0, 0))
            report = try await service.importRows(.stock, rows: rows, now: Self.now)
            #expect((report.created, report.updated, report.unchanged) == (0, 0, 2))
            let changed = CSVImport.rows(.stock, csv: "part_number,warehouse,quantity\nP-1,main,9\n").rows
            report = try await service.importRows(.stock, rows: changed, now: Self.now)
            #expect(report.updated == 1)
            let pulled = try await Self.pullAll(service, Self.south, replica: "c")
            #expect(pulled.changes.map(\.dot.counter) == Array(1...7), "server counters follow one another")
        }
    }

    @Test("a write transaction cancelled halfway leaves nothing and the next one works", arguments: Backend.available)
    func cancelledTransaction(backend: Backend) async throws {
        try await Self.withStorage(backend) { service in
            let task = Task {
                try await service.storage.withWriteTransaction { transaction in
                    try await transaction.append([
                        LogAppend(
                            change: Self.createAccount(Self.north, "a", 1, "acc-1", territory: "north"),
                            scope: ScopeTag(account: RecordID("acc-1"), owner: nil),
                            json: Array("{}".utf8)
                        )
                    ])
                    withUnsafeCurrentTask { $0?.cancel() }
                    try Task.checkCancellation()
                }
            }
            await #expect(throws: (any Error).self) { try await task.value }
            #expect(try await service.storage.stats().changes == 0, "the first append was rolled back")
            let results = try await Self.push(
                service,
                [Self.createAccount(Self.north, "a", 1, "acc-1", territory: "north")],
                as: Self.north
            )
            #expect(results.map(\.status) == [.accepted])
        }
    }
}
