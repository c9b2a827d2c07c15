import Foundation
import GRDB
public import SyncProtocol

/// One page of a list: the records shown and how many match in all.
public struct RecordPage: Hashable, Sendable {
    public var records: [StoredRecord]
    /// Every record that matches, beyond the page's limit too (counted up to ``RecordPage/countLimit``).
    public var total: Int
    /// More match than ``total`` says: counting stopped at ``RecordPage/countLimit``.
    public var totalIsAtLeast: Bool

    /// How far a list counts what it does not show: a screen needs "200 of more than 10,000", not the exact
    /// number of a hundred thousand rows, and counting stops costing anything past it.
    public static let countLimit = 10_000

    public init(records: [StoredRecord], total: Int, totalIsAtLeast: Bool = false) {
        self.records = records
        self.total = total
        self.totalIsAtLeast = totalIsAtLeast
    }
}

/// Which tasks a task list shows.
public struct TaskFilter: Hashable, Sendable {
    /// Only tasks with this status; nil: every status.
    public var status: String?
    /// Only tasks due before this time (ISO 8601): the overdue ones when it is now.
    public var dueBefore: String?
    public var account: RecordID?
    public var assignee: String?

    public init(status: String? = "open", dueBefore: String? = nil, account: RecordID? = nil, assignee: String? = nil) {
        self.status = status
        self.dueBefore = dueBefore
        self.account = account
        self.assignee = assignee
    }
}

/// Which invoices an invoice list shows.
public struct InvoiceFilter: Hashable, Sendable {
    /// Only unpaid invoices due before this time (ISO 8601): the overdue ones when it is now.
    public var unpaidDueBefore: String?
    public var account: RecordID?

    public init(unpaidDueBefore: String? = nil, account: RecordID? = nil) {
        self.unpaidDueBefore = unpaidDueBefore
        self.account = account
    }
}

/// Every list the commands show is one of these named reads: each is an indexed query that reads only the page it
/// shows (and counts the rest with the same index), so a list costs the same on 1,000 records as on a million.
extension Replica {
    /// A condition on a list's columns and its arguments.
    struct Condition {
        var sql: [String] = []
        var arguments: [(any DatabaseValueConvertible)?] = []

        mutating func add(_ clause: String, _ values: (any DatabaseValueConvertible)?...) {
            sql.append(clause)
            arguments += values
        }

        var text: String { sql.isEmpty ? "1" : sql.joined(separator: " AND ") }
        var statementArguments: StatementArguments { StatementArguments(arguments) }
    }

    /// A page of live records matching `condition`, in `orderBy` order, and the count of all that match.
    static func page(
        _ db: Database,
        _ entity: EntityKind,
        _ condition: Condition,
        orderBy: String,
        limit: Int?
    ) throws -> RecordPage {
        let records = try Self.records(
            db,
            entity,
            where: condition.text,
            orderBy: orderBy,
            limit: limit ?? -1,
            arguments: condition.statementArguments
        )
        guard let limit, records.count >= limit else { return RecordPage(records: records, total: records.count) }
        let cap = max(limit, RecordPage.countLimit)
        let counted =
            try Int.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT COUNT(*) FROM (SELECT 1 FROM \(entity.rawValue) WHERE _deleted = 0 AND (\(condition.text))
                        LIMIT \(cap + 1))
                        """
                ),
                arguments: condition.statementArguments
            ) ?? records.count
        return RecordPage(records: records, total: min(counted, cap), totalIsAtLeast: counted > cap)
    }

    /// Tasks, those with a due time soonest first, then those without one (newest first).
    public func tasks(_ filter: TaskFilter, limit: Int? = nil) async throws -> RecordPage {
        try await read { db in
            var condition = Condition()
            if let status = filter.status { condition.add("status = ?", status) }
            if let account = filter.account { condition.add("account_id = ?", account.rawValue) }
            if let assignee = filter.assignee { condition.add("assignee = ?", assignee) }
            var dated = condition
            if let before = filter.dueBefore {
                dated.add("due_at < ?", before)
                return try Self.page(db, .task, dated, orderBy: "due_at, rowid", limit: limit)
            }
            dated.add("due_at IS NOT NULL")
            var first = try Self.page(db, .task, dated, orderBy: "due_at, rowid", limit: limit)
            var undated = condition
            undated.add("due_at IS NULL")
            let remaining = limit.map { max(0, $0 - first.records.count) }
            let rest = try Self.page(db, .task, undated, orderBy: "rowid DESC", limit: remaining.map { max($0, 1) })
            first.records += rest.records.prefix(remaining ?? Int.max)
            first.total += rest.total
            first.totalIsAtLeast = first.totalIsAtLeast || rest.totalIsAtLeast
            return first
        }
    }

    /// Deals, optionally of one stage or one account, by expected close date (undated last).
    public func deals(
        stage: String? = nil,
        account: RecordID? = nil,
        mine owner: String? = nil,
        limit: Int? = nil
    ) async throws -> RecordPage {
        try await read { db in
            var condition = Condition()
            if let stage { condition.add("stage = ?", stage) }
            if let account { condition.add("account_id = ?", account.rawValue) }
            // A rep's deals: those they own, and owner-less ones (made before deals had owners) of their accounts.
            if let owner, CRMSchema.profile.isNewest {
                condition.add(
                    "(owner = ? OR (owner IS NULL AND account_id IN (SELECT id FROM account WHERE owner = ?)))",
                    owner,
                    owner
                )
            }
            return try Self.page(
                db,
                .deal,
                condition,
                orderBy: "expected_close IS NULL, expected_close, rowid",
                limit: limit
            )
        }
    }

    /// Invoices by due date: unpaid ones due before a time (overdue), or all, of one account or every one.
    public func invoices(_ filter: InvoiceFilter, limit: Int? = nil) async throws -> RecordPage {
        try await read { db in
            var condition = Condition()
            if let before = filter.unpaidDueBefore {
                condition.add("paid_at IS NULL")
                condition.add("due_at < ?", before)
            }
            if let account = filter.account { condition.add("account_id = ?", account.rawValue) }
            return try Self.page(db, .invoice, condition, orderBy: "due_at, rowid", limit: limit)
        }
    }

    /// Accounts by name (ignoring case).
    public func accounts(limit: Int? = nil) async throws -> RecordPage {
        try await read { db in
            try Self.page(db, .account, Condition(), orderBy: "name COLLATE NOCASE, id", limit: limit)
        }
    }

    /// Products whose part number or name contains every word of `text` anywhere (ignoring case), those whose
    /// part number starts with the text first. Words of three characters or more use the trigram index; shorter
    /// ones are matched by LIKE among those (or, alone, over the catalog).
    public func products(containing text: String, limit: Int = 100) async throws -> [StoredRecord] {
        let needle = text.trimmingCharacters(in: .whitespaces)
        guard !needle.isEmpty else { return [] }
        let words = needle.split(whereSeparator: \.isWhitespace).map(String.init)
        let long = words.filter { $0.unicodeScalars.count >= 3 }
        let short = words.filter { $0.unicodeScalars.count < 3 }
        return try await read { db in
            var found = try Self.products(db, partNumberPrefix: needle, limit: limit)
            var condition = Condition()
            if !long.isEmpty {
                let phrases = long.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
                condition.add(
                    "rowid IN (SELECT rowid FROM product_search WHERE product_search MATCH ?)",
                    phrases.joined(separator: " ")
                )
            }
            for word in short {
                let escaped = word.replacingOccurrences(of: "\\", with: "\\\\")
                    .replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
                condition.add(
                    "(name LIKE ? ESCAPE '\\' OR part_number LIKE ? ESCAPE '\\')",
                    "%" + escaped + "%",
                    "%" + escaped + "%"
                )
            }
            found += try Self.records(
                db,
                .product,
                where: condition.text,
                orderBy: "part_number",
                limit: limit,
                arguments: condition.statementArguments
            )
            var seen = Set<RecordID>()
            return Array(found.filter { seen.insert($0.id).inserted }.prefix(limit))
        }
    }

    /// Stock rows of many parts at once, by part number (a product list with its stock).
    public func stock(partNumbers: [String]) async throws -> [String: [StoredRecord]] {
        guard !partNumbers.isEmpty else { return [:] }
        let ids = RecordStorage.jsonArray(partNumbers.map(RecordID.init))
        return try await read { db in
            let rows = try Self.records(
                db,
                .stock,
                where: "part_number IN (SELECT value FROM json_each(?))",
                orderBy: "part_number, warehouse",
                arguments: [ids]
            )
            return Dictionary(grouping: rows) { $0["part_number"]?.stringValue ?? "" }
        }
    }

    /// Live records of these ids (account names for a list's customer column, one query).
    public func records(_ entity: EntityKind, ids: [RecordID]) async throws -> [RecordID: StoredRecord] {
        guard !ids.isEmpty else { return [:] }
        let list = RecordStorage.jsonArray(Array(Set(ids)))
        return try await read { db in
            let rows = try Self.records(
                db,
                entity,
                where: "id IN (SELECT value FROM json_each(?))",
                arguments: [list]
            )
            return Dictionary(rows.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        }
    }

    /// Live records per entity, kept by triggers (no table is counted).
    public func recordCounts() async throws -> [String: Int] {
        try await read { db in
            var counts: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT entity, live FROM record_count") { counts[row[0]] = row[1] }
            return counts
        }
    }

    /// Visits every live record of an entity in id order, a page at a time (an export streams through it).
    public func forEachRecord(
        _ entity: EntityKind,
        pageSize: Int = 2_000,
        _ body: ([StoredRecord]) throws -> Void
    ) async throws {
        var after = ""
        while true {
            let start = after
            let page = try await read { db in
                try Self.records(db, entity, where: "id > ?", orderBy: "id", limit: pageSize, arguments: [start])
            }
            guard let last = page.last else { return }
            try body(page)
            after = last.id.rawValue
            if page.count < pageSize { return }
        }
    }
}
