import Foundation
import GRDB
public import SyncProtocol

/// What the replica knows of a deal's stages: when it entered the current one, and every stage it was ever at.
public struct DealStageFacts: Hashable, Sendable {
    /// The wall time (ms) of the write that set the current stage: the start of the days in stage.
    public var entered: Int64?
    /// The stages its history shows (the current one included). A laptop set up from a snapshot knows the
    /// history from there on.
    public var stages: Set<String>

    public init(entered: Int64?, stages: Set<String>) {
        self.entered = entered
        self.stages = stages
    }
}

/// The reads behind the manager's reports: whole entities in id order (the same order on every laptop), the
/// interactions of a time range, the sale lines, and the deals' stage facts.
extension Replica {
    /// Every live record of an entity, in id order.
    public func allRecords(_ entity: EntityKind) async throws -> [StoredRecord] {
        var all: [StoredRecord] = []
        try await forEachRecord(entity) { all += $0 }
        return all
    }

    /// Interactions that happened in `[from, until)` (ISO 8601 UTC), in time order then id.
    public func activities(occurredFrom from: String, until: String) async throws -> [StoredRecord] {
        try await read { db in
            try Self.records(
                db,
                .activity,
                where: "occurred_at >= ? AND occurred_at < ?",
                orderBy: "occurred_at, id",
                arguments: [from, until]
            )
        }
    }

    /// Sale lines (interactions with a part number: `stock sell --account`), in time order then id; of one
    /// time range when given.
    public func saleLines(from: String? = nil, until: String? = nil) async throws -> [StoredRecord] {
        guard CRMSchema.activity.fieldsByName["part_number"] != nil else { return [] }
        return try await read { db in
            try Self.records(
                db,
                .activity,
                // `+occurred_at`: the time range must not pick the index of every interaction over the partial one
                // of the sale lines (a territory has a million interactions and few sale lines).
                where: "part_number IS NOT NULL AND +occurred_at >= ? AND +occurred_at < ?",
                orderBy: "+occurred_at, id",
                arguments: [from ?? "", until ?? "~"]
            )
        }
    }

    /// Stage facts from each deal's state (a replica of a profile without `deal_stage_since`).
    static func decodedFacts(_ db: Database, open: String, into facts: inout [RecordID: DealStageFacts]) throws {
        for row in try Row.fetchAll(db, sql: "SELECT id, stage, _state FROM deal WHERE _deleted = 0\(open)") {
            let id = RecordID(row[0] as String)
            let state = try RecordState(binary: [UInt8](row[2] as Data))
            let entered = state.winner(of: "stage", schema: CRMSchema.deal)?.timestamp.wallMilliseconds
            facts[id] = DealStageFacts(entered: entered, stages: (row[1] as String?).map { [$0] } ?? [])
        }
    }

    /// The condition "stuck" on `deal_stage_since`: a live deal in a stage of `norms` for more whole days than its
    /// norm at `now`, i.e. `since <= now − (days + 1) × 1 day`.
    static func stuckCondition(_ norms: [String: Int64], now: Int64) -> (String, StatementArguments) {
        var terms: [String] = []
        var arguments: StatementArguments = []
        for (stage, days) in norms.sorted(by: { $0.key < $1.key }) where !["won", "lost"].contains(stage) {
            terms.append("(stage = ? AND since <= ?)")
            arguments += [stage, now - (days + 1) * 86_400_000]
        }
        return (terms.isEmpty ? "0" : terms.joined(separator: " OR "), arguments)
    }

    /// How many live deals are stuck, per stage (one query).
    public func stuckCounts(norms: [String: Int64], now: Int64) async throws -> [String: Int] {
        guard RecordStorage.keepsStageSince, !norms.isEmpty else { return [:] }
        let (condition, arguments) = Self.stuckCondition(norms, now: now)
        return try await read { db in
            var counts: [String: Int] = [:]
            for row in try Row.fetchAll(
                db,
                sql: "SELECT stage, COUNT(*) FROM deal_stage_since WHERE \(condition) GROUP BY stage",
                arguments: arguments
            ) {
                counts[row[0] as String] = row[1] as Int
            }
            return counts
        }
    }

    /// The stuck live deals with when their stage began (id order).
    public func stuckDeals(norms: [String: Int64], now: Int64) async throws -> [(deal: StoredRecord, since: Int64)] {
        guard RecordStorage.keepsStageSince, !norms.isEmpty else { return [] }
        let (condition, arguments) = Self.stuckCondition(norms, now: now)
        return try await read { db in
            var since: [String: Int64] = [:]
            for row in try Row.fetchAll(
                db,
                sql: "SELECT id, since FROM deal_stage_since WHERE \(condition)",
                arguments: arguments
            ) {
                since[row[0] as String] = row[1] as Int64
            }
            let deals = try Self.records(
                db,
                .deal,
                where: "id IN (SELECT value FROM json_each(?))",
                orderBy: "id",
                arguments: [RecordStorage.jsonArray(since.keys.map(RecordID.init))]
            )
            return deals.map { ($0, since[$0.id.rawValue] ?? 0) }
        }
    }

    /// The names and owners of these live accounts, by id (what reports attribute figures with).
    public func accountDirectory(ids: [RecordID]) async throws -> [RecordID: (name: String, owner: String?)] {
        guard !ids.isEmpty else { return [:] }
        let list = RecordStorage.jsonArray(ids)
        return try await read { db in
            var directory: [RecordID: (name: String, owner: String?)] = [:]
            for row in try Row.fetchAll(
                db,
                sql:
                    "SELECT id, name, owner FROM account WHERE id IN (SELECT value FROM json_each(?)) AND _deleted = 0",
                arguments: [list]
            ) {
                directory[RecordID(row[0] as String)] = (row[1] as String? ?? "", row[2] as String?)
            }
            return directory
        }
    }

    /// The owners of live accounts (an index scan).
    public func accountOwners() async throws -> Set<String> {
        try await read { db in
            Set(
                try String.fetchAll(
                    db,
                    sql: "SELECT DISTINCT owner FROM account WHERE _deleted = 0 AND owner IS NOT NULL AND owner != ''"
                )
            )
        }
    }

    /// The owners named by live deals.
    public func dealOwners() async throws -> Set<String> {
        guard CRMSchema.deal.fieldsByName["owner"] != nil else { return [] }
        return try await read { db in
            Set(
                try String.fetchAll(db, sql: "SELECT DISTINCT owner FROM deal WHERE _deleted = 0 AND owner IS NOT NULL")
            )
        }
    }

    /// The stage facts of live deals: of the open ones only (when their stage began: what "stuck" needs), or with
    /// `history` of every deal with the stages its history shows (what conversion needs).
    public func dealStageFacts(history: Bool = true) async throws -> [RecordID: DealStageFacts] {
        try await read { db in
            var facts: [RecordID: DealStageFacts] = [:]
            let open = history ? "" : " AND deal.stage NOT IN ('won', 'lost')"
            if RecordStorage.keepsStageSince {
                // The stage starts kept beside the deals: no state is decoded.
                for row in try Row.fetchAll(
                    db,
                    sql: """
                        SELECT deal.id, deal.stage, deal_stage_since.since FROM deal
                        LEFT JOIN deal_stage_since ON deal_stage_since.id = deal.id
                        WHERE deal._deleted = 0\(open)
                        """
                ) {
                    facts[RecordID(row[0] as String)] = DealStageFacts(
                        entered: row[2] as Int64?,
                        stages: (row[1] as String?).map { [$0] } ?? []
                    )
                }
            } else {
                try Self.decodedFacts(db, open: open, into: &facts)
            }
            guard history else { return facts }
            for row in try Row.fetchAll(
                db,
                sql:
                    "SELECT record_id, change FROM change_log WHERE entity = 'deal' AND (status IS NULL OR status != 'rejected')"
            ) {
                let id = RecordID(row[0] as String)
                guard facts[id] != nil else { continue }
                let change = try Change(binary: [UInt8](row[1] as Data))
                if let stage = change.operation.fields["stage"]?.stringValue { facts[id]?.stages.insert(stage) }
            }
            return facts
        }
    }
}

extension Replica {
    /// The live contacts of an account, by last and first name.
    public func contacts(ofAccount account: RecordID) async throws -> [StoredRecord] {
        try await read { db in
            try Self.records(
                db,
                .contact,
                where: "account_id = ?",
                orderBy: "last_name COLLATE NOCASE, first_name COLLATE NOCASE, id",
                arguments: [account.rawValue]
            )
        }
    }

    /// Live deals created or closed in `[from, until)` (ISO 8601 UTC): what one day's report counts.
    public func deals(createdOrClosedFrom from: String, until: String) async throws -> [StoredRecord] {
        try await read { db in
            try Self.records(
                db,
                .deal,
                where: "id IN (SELECT id FROM deal WHERE created_at >= ?1 AND created_at < ?2 AND _deleted = 0 "
                    + "UNION SELECT id FROM deal WHERE closed_at >= ?1 AND closed_at < ?2 AND _deleted = 0)",
                orderBy: "id",
                arguments: [from, until]
            )
        }
    }

    /// Live deals closed in `[from, until)` (ISO 8601 UTC).
    public func deals(closedFrom from: String, until: String) async throws -> [StoredRecord] {
        try await read { db in
            try Self.records(
                db,
                .deal,
                where: "closed_at IS NOT NULL AND closed_at >= ? AND closed_at < ?",
                orderBy: "id",
                arguments: [from, until]
            )
        }
    }

    /// The billing contacts of these accounts, by name.
    public func billingContacts(ofAccounts accounts: [RecordID]) async throws -> [StoredRecord] {
        guard !accounts.isEmpty else { return [] }
        let list = RecordStorage.jsonArray(accounts)
        return try await read { db in
            try Self.records(
                db,
                .contact,
                where: "role = 'billing' AND account_id IN (SELECT value FROM json_each(?))",
                orderBy: "last_name COLLATE NOCASE, first_name COLLATE NOCASE, id",
                arguments: [list]
            )
        }
    }

    /// Invoices issued in `[from, until)` (ISO 8601 UTC), by issue time then id.
    public func invoices(issuedFrom from: String, until: String) async throws -> [StoredRecord] {
        try await read { db in
            try Self.records(
                db,
                .invoice,
                where: "issued_at >= ? AND issued_at < ?",
                orderBy: "issued_at, id",
                arguments: [from, until]
            )
        }
    }

    /// Unpaid invoices due before a time (ISO 8601), by due date: what receivables lists.
    public func unpaidInvoices(dueBefore: String) async throws -> [StoredRecord] {
        try await read { db in
            try Self.records(
                db,
                .invoice,
                where: "paid_at IS NULL AND due_at < ?",
                orderBy: "due_at, id",
                arguments: [dueBefore]
            )
        }
    }
}
