import Foundation
import GRDB
public import SyncProtocol

/// Everything about one customer, for one screen.
public struct AccountCard: Hashable, Sendable {
    public var account: StoredRecord
    public var contacts: [StoredRecord]
    public var deals: [StoredRecord]
    public var openTasks: [StoredRecord]
    public var overdueInvoices: [StoredRecord]
    /// Calls, meetings, visits, emails and notes, newest first (at most the limit asked for).
    public var interactions: [StoredRecord]
    /// All of the account's interactions, also those beyond the limit.
    public var interactionTotal: Int
}

/// One field change in a record's history: who changed what, when, from what to what.
public struct HistoryEntry: Hashable, Sendable {
    public var dot: Dot
    public var author: String
    public var timestamp: HybridTimestamp
    /// `create`, `set`, `delete`, `counter_delta`, `counter_reset` or `append`.
    public var operation: String
    /// The field, or nil for a delete or counter movement.
    public var field: String?
    public var oldValue: FieldValue?
    public var newValue: FieldValue?
    /// `local` (made here) or `remote`.
    public var origin: String
    /// For local changes: `pending`, `acked` or `rejected`.
    public var status: String?
    /// The causal context the change was made in (what its author had seen): the old value a person reads is the
    /// one this context knew, not the one that happened to arrive before it.
    public var context = VectorClock()
}

/// One stage of the sales funnel.
public struct PipelineStage: Hashable, Sendable {
    public var stage: String
    public var count: Int
    /// The sum of the deals' amounts, in minor units (deals of mixed currencies are summed per currency).
    public var amount: Int64
    public var currency: String?
}

extension Replica {
    /// One record, or nil (deleted records too, with `isDeleted` set).
    public func record(_ entity: EntityKind, id: RecordID) async throws -> StoredRecord? {
        try await read { db in
            if let table = EntityTable.of(entity) {
                return try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT \(table.selectColumns) FROM \(table.name) WHERE id = ?"),
                    arguments: [id.rawValue]
                ).map(table.record(from:))
            }
            let state = try RecordStorage.loadState(db, entity, id)
            let schema = CRMSchema.schema(for: entity)
            return state.map {
                StoredRecord(
                    entity: entity,
                    id: id,
                    values: $0.values(schema: schema),
                    isDeleted: $0.isDeleted(schema: schema)
                )
            }
        }
    }

    /// Live records of an entity matching an SQL condition on its columns (for the reads below).
    static func records(
        _ db: Database,
        _ entity: EntityKind,
        where condition: String = "1",
        orderBy: String = "rowid",
        limit: Int = -1,
        arguments: StatementArguments = []
    ) throws -> [StoredRecord] {
        guard let table = EntityTable.of(entity) else { return [] }
        return try Row.fetchAll(
            db.cachedStatement(
                sql: "SELECT \(table.selectColumns) FROM \(table.name) WHERE _deleted = 0 AND (\(condition)) "
                    + "ORDER BY \(orderBy) LIMIT \(limit)"
            ),
            arguments: arguments
        ).map(table.record(from:))
    }

    /// Live records of one entity, in creation order.
    public func records(_ entity: EntityKind, limit: Int = 10_000) async throws -> [StoredRecord] {
        try await read { db in try Self.records(db, entity, limit: limit) }
    }

    /// The account card: the record, its contacts, deals, open tasks, overdue invoices and interactions (newest
    /// first, at most `interactionLimit`). Each part is one indexed query.
    public func accountCard(id: RecordID, now: Int64? = nil, interactionLimit: Int = 10_000) async throws -> AccountCard
    {
        let today = ISO8601.format(millisecondsSince1970: now ?? configuration.now())
        return try await read { db in
            guard let table = EntityTable.of(.account),
                let account = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT \(table.selectColumns) FROM account WHERE id = ?"),
                    arguments: [id.rawValue]
                ).map(table.record(from:)), !account.isDeleted
            else { throw ReplicaError(.notFound, "no account with id \(id)") }
            let byAccount: StatementArguments = [id.rawValue]
            return AccountCard(
                account: account,
                contacts: try Self.records(
                    db,
                    .contact,
                    where: "account_id = ?",
                    orderBy: "last_name, first_name",
                    arguments: byAccount
                ),
                deals: try Self.records(
                    db,
                    .deal,
                    where: "account_id = ?",
                    orderBy: "expected_close",
                    arguments: byAccount
                ),
                openTasks: try Self.records(
                    db,
                    .task,
                    where: "account_id = ? AND status = 'open'",
                    orderBy: "due_at IS NULL, due_at",
                    arguments: byAccount
                ),
                overdueInvoices: try Self.records(
                    db,
                    .invoice,
                    where: "account_id = ? AND paid_at IS NULL AND due_at < ?",
                    orderBy: "due_at",
                    arguments: [id.rawValue, today]
                ),
                interactions: try Self.records(
                    db,
                    .activity,
                    where: "account_id = ?",
                    orderBy: "occurred_at DESC",
                    limit: interactionLimit,
                    arguments: byAccount
                ),
                interactionTotal: try Int.fetchOne(
                    db.cachedStatement(sql: "SELECT COUNT(*) FROM activity WHERE account_id = ? AND _deleted = 0"),
                    arguments: byAccount
                ) ?? 0
            )
        }
    }

    /// The immutable change history of a record, oldest first: one entry per field changed.
    public func history(_ entity: EntityKind, id: RecordID) async throws -> [HistoryEntry] {
        try await read { db in
            var entries: [HistoryEntry] = []
            for row in try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT change, old_values, origin, status FROM change_log
                        WHERE entity = ? AND record_id = ? ORDER BY seq
                        """
                ),
                arguments: [entity.rawValue, id.rawValue]
            ) {
                let change = try Change(binary: [UInt8](row[0] as Data))
                let old = (row[1] as Data?).map(BinaryReader.fieldMap) ?? [:]
                var entry = HistoryEntry(
                    dot: change.dot,
                    author: change.author,
                    timestamp: change.timestamp,
                    operation: change.operation.name,
                    origin: row[2],
                    status: row[3],
                    context: change.context
                )
                switch change.operation {
                case .create(let fields), .set(let fields), .append(let fields):
                    for name in fields.keys.sorted() {
                        entry.field = name
                        entry.oldValue = old[name]
                        entry.newValue = fields[name]
                        entries.append(entry)
                    }
                case .delete:
                    entries.append(entry)
                case .counterDelta(let delta):
                    entry.newValue = .integer(delta)
                    entries.append(entry)
                case .counterReset(let quantity):
                    entry.newValue = .integer(quantity)
                    entries.append(entry)
                }
            }
            return entries
        }
    }

    /// Open tasks due before `dueBefore` (ISO 8601), overdue ones (due before now) first.
    public func openTasks(
        dueBefore: String,
        now: Int64? = nil
    ) async throws -> (overdue: [StoredRecord], due: [StoredRecord]) {
        let nowText = ISO8601.format(millisecondsSince1970: now ?? configuration.now())
        return try await read { db in
            let overdue = try Self.records(
                db,
                .task,
                where: "status = 'open' AND due_at < ?",
                orderBy: "due_at",
                arguments: [nowText]
            )
            let due = try Self.records(
                db,
                .task,
                where: "status = 'open' AND due_at >= ? AND due_at < ?",
                orderBy: "due_at",
                arguments: [nowText, dueBefore]
            )
            return (overdue, due)
        }
    }

    /// Count and sum of live deals by stage, in funnel order.
    public func pipeline() async throws -> [PipelineStage] {
        try await read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT stage, currency, COUNT(*), COALESCE(SUM(amount), 0) FROM deal
                    WHERE _deleted = 0 GROUP BY stage, currency
                    """
            )
            let order = Dictionary(uniqueKeysWithValues: CRMSchema.dealStages.enumerated().map { ($1, $0) })
            return rows.map { row in
                PipelineStage(stage: row[0] ?? "", count: row[2], amount: row[3], currency: row[1])
            }.sorted { (order[$0.stage] ?? 99, $0.currency ?? "") < (order[$1.stage] ?? 99, $1.currency ?? "") }
        }
    }

    /// Products whose part number starts with `prefix` (case-sensitive, as part numbers are).
    public func products(partNumberPrefix prefix: String, limit: Int = 100) async throws -> [StoredRecord] {
        try await read { db in try Self.products(db, partNumberPrefix: prefix, limit: limit) }
    }

    /// Products whose part number starts with `prefix`, by part number (the part-number index's range).
    static func products(_ db: Database, partNumberPrefix prefix: String, limit: Int) throws -> [StoredRecord] {
        try Self.records(
            db,
            .product,
            where: "part_number >= ? AND part_number < ?",
            orderBy: "part_number",
            limit: limit,
            arguments: [prefix, prefix + "\u{10FFFF}"]
        )
    }

    /// Products whose name starts with `prefix`, ignoring case.
    public func products(namePrefix prefix: String, limit: Int = 100) async throws -> [StoredRecord] {
        let pattern = prefix.replacingOccurrences(of: "%", with: "").replacingOccurrences(of: "_", with: "") + "%"
        return try await read { db in
            try Self.records(
                db,
                .product,
                where: "name LIKE ?",
                orderBy: "name COLLATE NOCASE",
                limit: limit,
                arguments: [pattern]
            )
        }
    }

    /// Stock rows of one part, one per warehouse (quantity below zero: oversold).
    public func stock(partNumber: String) async throws -> [StoredRecord] {
        try await read { db in
            try Self.records(db, .stock, where: "part_number = ?", orderBy: "warehouse", arguments: [partNumber])
        }
    }

    /// Open conflicts, oldest first.
    public func openConflicts() async throws -> [Conflict] {
        try await read { db in
            try String.fetchAll(db, sql: "SELECT body FROM conflict WHERE status = 'open' ORDER BY detected_seq, id")
                .map { try WireCoding.decode(Conflict.self, from: Data($0.utf8)) }
        }
    }

    /// Accounts and contacts whose name matches every word of `text` (word prefixes, accents ignored): at most
    /// `limit` of each, in name order among the first `4 × limit` matches the index gives (a common name in a big
    /// territory matches thousands; reading them all to sort them would cost more than the screen shows).
    public func search(_ text: String, limit: Int = 50) async throws -> [StoredRecord] {
        let words = text.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map { "\"\($0)\"*" }
        guard !words.isEmpty else { return [] }
        let query = words.joined(separator: " ")
        return try await read { db in
            let accounts = try Self.records(
                db,
                .account,
                where: "rowid IN (SELECT rowid FROM account_search WHERE account_search MATCH ? LIMIT \(limit * 4))",
                orderBy: "name",
                limit: limit,
                arguments: [query]
            )
            let contacts = try Self.records(
                db,
                .contact,
                where: "rowid IN (SELECT rowid FROM contact_search WHERE contact_search MATCH ? LIMIT \(limit * 4))",
                orderBy: "last_name, first_name",
                limit: limit,
                arguments: [query]
            )
            return accounts + contacts
        }
    }
}
