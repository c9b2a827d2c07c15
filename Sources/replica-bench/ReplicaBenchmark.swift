import Foundation
import GRDBSQLite
import ReplicaStore
import SyncProtocol

/// Prints the replica's figures, each against raw SQLite (sqlite3_* calls, prepared statements) on the same schema
/// in the same run. `replica-bench [local|bulk|apply|card|all] [--synchronous FULL|NORMAL]`; run `apply` on its own
/// for a meaningful peak RSS.
@main
struct ReplicaBenchmark {
    static let arguments = CommandLine.arguments
    static let synchronous: ReplicaConfiguration.Synchronous =
        arguments.contains("NORMAL") ? .normal : .full
    static let folder = FileManager.default.temporaryDirectory.appendingPathComponent("replica-bench-\(getpid())")

    static func main() async throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let which = arguments.dropFirst().first { !$0.hasPrefix("-") && $0 != "FULL" && $0 != "NORMAL" } ?? "all"
        print("replica-bench: release build, synchronous=\(synchronous.rawValue), WAL")
        if which == "local" || which == "all" { try await localWrites(count: 1_000) }
        if which == "bulk" || which == "all" {
            try await bulkWrites(count: Int(ProcessInfo.processInfo.environment["BULK_COUNT"] ?? "") ?? 100_000)
        }
        if which == "card" || which == "all" { try await accountCard() }
        if which == "apply" || which == "all" {
            try await applyRemote(
                records: Int(ProcessInfo.processInfo.environment["APPLY_RECORDS"] ?? "") ?? 100_000,
                perRecord: 10
            )
        }
    }

    // MARK: - Local writes

    static func makeReplica(_ name: String) throws -> Replica {
        try Replica(
            path: folder.appendingPathComponent("\(name).sqlite").path,
            configuration: ReplicaConfiguration(synchronous: synchronous, applyBatchSize: 10_000)
        )
    }

    /// Creates `count` accounts in one transaction; returns their IDs.
    static func seedAccounts(_ replica: Replica, count: Int) async throws -> [RecordID] {
        let ids = (0..<count).map { RecordID("acc-\($0)") }
        var start = 0
        while start < count {
            let end = min(start + 20_000, count)
            try await replica.writeBatch(
                ids[start..<end].map { .init(.account, id: $0, .create(["name": "Account", "territory": "north"])) }
            )
            start = end
        }
        return ids
    }

    static func localWrites(count: Int) async throws {
        let ours = try makeReplica("local-ours")
        let ids = try await seedAccounts(ours, count: count)
        let rawReplica = try makeReplica("local-raw")
        _ = try await seedAccounts(rawReplica, count: count)
        try rawReplica.close()

        let oursTime = try await measureAsync {
            for (index, id) in ids.enumerated() {
                try await ours.update(.account, id: id, fields: ["phone": .string("+49 \(index)")])
            }
        }
        let raw = try RawSQLite(path: rawReplica.path, synchronous: synchronous.rawValue)
        let update = try raw.prepare("UPDATE account SET phone = ? WHERE id = ?")
        let rawTime = try measure {
            for (index, id) in ids.enumerated() {
                try raw.execute("BEGIN")
                try raw.run(update, ["+49 \(index)", id.rawValue])
                try raw.execute("COMMIT")
            }
        }
        report("local write + change capture, 1 per transaction", count, ours: oursTime, raw: rawTime, goal: "<= 1.3x")
    }

    static func bulkWrites(count: Int) async throws {
        let ours = try makeReplica("bulk-ours")
        let ids = try await seedAccounts(ours, count: count)
        let rawReplica = try makeReplica("bulk-raw")
        _ = try await seedAccounts(rawReplica, count: count)
        try rawReplica.close()
        let edits = ids.enumerated().map { Replica.Edit(.account, id: $1, .set(["phone": .string("+49 \($0)")])) }
        let oursTime = try await measureAsync { try await ours.writeBatch(edits) }
        let raw = try RawSQLite(path: rawReplica.path, synchronous: synchronous.rawValue)
        let update = try raw.prepare("UPDATE account SET phone = ? WHERE id = ?")
        let rawTime = try measure {
            try raw.execute("BEGIN")
            for (index, id) in ids.enumerated() { try raw.run(update, ["+49 \(index)", id.rawValue]) }
            try raw.execute("COMMIT")
        }
        report(
            "local write + change capture, \(count) in 1 transaction",
            count,
            ours: oursTime,
            raw: rawTime,
            goal: "<= 2.0x"
        )
        #if DEBUG
        print("(debug build: figures are not meaningful)")
        #endif
    }

    // MARK: - Remote apply

    static let fields = ["phone", "website", "email", "industry", "region", "address"]

    /// Round `round` of the workload: one change per record, round 0 creates, later rounds set one field, from
    /// three laptops in turn, each change having seen all the record's earlier ones.
    static func page(round: Int, records: Range<Int>) -> [Change] {
        records.map { record in
            let writer = (record + round) % 3
            let origin = ReplicaID(unchecked: "laptop-\(writer)")
            // Counters rise per origin in delivery order: round-major, then record.
            let counter = UInt64(round * 100_000_000 + record + 1)
            // The record's clock at the writer: it has seen every earlier round (sequential edits, no conflicts).
            var context = VectorClock()
            for earlier in max(0, round - 3)..<round {
                context.record(
                    Dot(
                        replica: ReplicaID(unchecked: "laptop-\((record + earlier) % 3)"),
                        counter: UInt64(earlier * 100_000_000 + record + 1)
                    )
                )
            }
            return Change(
                dot: Dot(replica: origin, counter: counter),
                context: context,
                timestamp: HybridTimestamp(wallMilliseconds: 1_795_428_000_000 + Int64(round * 1000)),
                author: "rep-\(writer)",
                entity: .account,
                recordID: RecordID("acc-\(record)"),
                operation: round == 0
                    ? .create(["name": .string("Account \(record)"), "territory": "north"])
                    : .set([fields[round % fields.count]: .string("value \(round)")])
            )
        }
    }

    static func applyRemote(records: Int, perRecord: Int) async throws {
        let pageSize = 10_000
        let ours = try makeReplica("apply-ours")
        var oursTime = Duration.zero
        for round in 0..<perRecord {
            for start in stride(from: 0, to: records, by: pageSize) {
                let changes = page(round: round, records: start..<min(start + pageSize, records))
                oursTime += try await measureAsync { try await ours.applyRemote(changes) }
            }
        }
        let peak = peakResidentMegabytes()
        let rawReplica = try makeReplica("apply-raw")
        try rawReplica.close()
        let raw = try RawSQLite(path: rawReplica.path, synchronous: synchronous.rawValue)
        let upserts = try fields.map { field in
            try raw.prepare(
                "INSERT INTO account (id, \(field), _state) VALUES (?, ?, x'') ON CONFLICT (id) DO UPDATE SET \(field) = excluded.\(field)"
            )
        }
        let create = try raw.prepare(
            "INSERT INTO account (id, name, territory, _state) VALUES (?, ?, ?, x'') ON CONFLICT (id) DO UPDATE SET name = excluded.name, territory = excluded.territory"
        )
        var rawTime = Duration.zero
        for round in 0..<perRecord {
            for start in stride(from: 0, to: records, by: pageSize) {
                let changes = page(round: round, records: start..<min(start + pageSize, records))
                rawTime += try measure {
                    try raw.execute("BEGIN")
                    for change in changes {
                        switch change.operation {
                        case .create:
                            try raw.run(create, [change.recordID.rawValue, "Account", "north"])
                        default:
                            let (name, value) = change.operation.fields.first!
                            try raw.run(
                                upserts[fields.firstIndex(of: name)!],
                                [change.recordID.rawValue, value.description]
                            )
                        }
                    }
                    try raw.execute("COMMIT")
                }
            }
        }
        let total = records * perRecord
        let oursRate = Double(total) / seconds(oursTime)
        let rawRate = Double(total) / seconds(rawTime)
        print(
            pad("apply \(total) remote field changes, pages of \(pageSize)")
                + "ours \(format(oursRate / 1000))k/s, raw upsert "
                + "\(format(rawRate / 1000))k/s: \(format(100 * oursRate / rawRate))% of raw (goal >= 50%); peak RSS "
                + "\(peak) MB during ours (goal < 200 MB)"
        )
    }

    // MARK: - Account card

    static func accountCard() async throws {
        let replica = try makeReplica("card")
        let account = try await replica.create(.account, fields: ["name": "Acme", "territory": "north"])
        let accountID = FieldValue.string(account.id.rawValue)
        var edits: [Replica.Edit] = (0..<1_000).map { index in
            let day = 1 + index % 28
            return .init(
                .activity,
                id: RecordID("act-\(index)"),
                .append([
                    "account_id": accountID, "kind": "call", "subject": .string("Call \(index)"),
                    "body": "Discussed the offer, prices and delivery dates.",
                    "occurred_at": .string(
                        "2026-10-\(day < 10 ? "0" : "")\(day)T10:\(index % 60 < 10 ? "0" : "")\(index % 60):00Z"
                    ),
                ])
            )
        }
        for index in 0..<20 {
            edits.append(
                .init(
                    .contact,
                    id: RecordID("con-\(index)"),
                    .create(["account_id": accountID, "last_name": .string("Person \(index)")])
                )
            )
            edits.append(
                .init(
                    .deal,
                    id: RecordID("deal-\(index)"),
                    .create(["account_id": accountID, "title": "Deal", "stage": "new"])
                )
            )
            edits.append(
                .init(
                    .task,
                    id: RecordID("task-\(index)"),
                    .create(["account_id": accountID, "title": "Task", "status": "open"])
                )
            )
        }
        try await replica.writeBatch(edits)
        var times: [Double] = []
        var interactions = 0
        for _ in 0..<200 {
            let time = try await measureAsync {
                interactions = try await replica.accountCard(id: account.id).interactions.count
            }
            times.append(seconds(time) * 1000)
        }
        times.sort()
        print(
            pad("account card, \(interactions) interactions + 20 contacts/deals/tasks")
                + "median \(format(times[100])) ms, "
                + "p95 \(format(times[190])) ms (goal < 5 ms)"
        )
    }

    // MARK: - Measuring

    static func measureAsync(_ body: () async throws -> Void) async rethrows -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        try await body()
        return clock.now - start
    }

    static func measure(_ body: () throws -> Void) rethrows -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        try body()
        return clock.now - start
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func report(_ name: String, _ count: Int, ours: Duration, raw: Duration, goal: String) {
        let oursMicros = seconds(ours) * 1e6 / Double(count)
        let rawMicros = seconds(raw) * 1e6 / Double(count)
        print(
            pad(name) + "ours \(format(oursMicros)) us, raw \(format(rawMicros)) us per write: "
                + "\(format(oursMicros / rawMicros))x (goal \(goal))"
        )
    }

    static func pad(_ text: String) -> String { text + String(repeating: " ", count: max(1, 62 - text.count)) }

    static func format(_ value: Double) -> String { String((value * 100).rounded() / 100) }

    static func peakResidentMegabytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss / 1024
    }
}

/// The baseline: sqlite3_* calls with prepared statements, no wrapper.
final class RawSQLite {
    private var db: OpaquePointer?

    init(path: String, synchronous: String) throws {
        guard sqlite3_open(path, &db) == SQLITE_OK else { throw RawError.failed("open") }
        try execute("PRAGMA journal_mode = WAL")
        try execute("PRAGMA synchronous = \(synchronous)")
    }

    deinit { sqlite3_close(db) }

    enum RawError: Error { case failed(String) }

    func execute(_ sql: String) throws {
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else {
            throw RawError.failed(String(cString: sqlite3_errmsg(db)))
        }
    }

    func prepare(_ sql: String) throws -> OpaquePointer {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw RawError.failed(String(cString: sqlite3_errmsg(db)))
        }
        return statement
    }

    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    func run(_ statement: OpaquePointer, _ texts: [String]) throws {
        for (index, text) in texts.enumerated() {
            sqlite3_bind_text(statement, Int32(index + 1), text, -1, Self.transient)
        }
        guard sqlite3_step(statement) == SQLITE_DONE else { throw RawError.failed(String(cString: sqlite3_errmsg(db))) }
        sqlite3_reset(statement)
    }
}
