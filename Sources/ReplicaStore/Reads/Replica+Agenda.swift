import Foundation
import GRDB
public import SyncProtocol

/// Which appointments a calendar read shows.
public struct AppointmentFilter: Hashable, Sendable {
    /// Starting at or after this time (ISO 8601), and before `until`.
    public var from: String?
    public var until: String?
    public var assignee: String?
    public var account: RecordID?
    public var deal: RecordID?
    /// Only this status; nil: every status.
    public var status: String?

    public init(
        from: String? = nil,
        until: String? = nil,
        assignee: String? = nil,
        account: RecordID? = nil,
        deal: RecordID? = nil,
        status: String? = nil
    ) {
        self.from = from
        self.until = until
        self.assignee = assignee
        self.account = account
        self.deal = deal
        self.status = status
    }
}

/// The reads behind the rep's day: ids as people type them, the calendar, reminders, a deal's card.
extension Replica {
    /// Live records whose id starts with `prefix`, ignoring case (at most `limit`, id order): what a typed short
    /// id stands for. Three range scans of the primary key (as typed, upper and lower case), never a table scan.
    public func records(_ entity: EntityKind, idPrefix prefix: String, limit: Int = 10) async throws -> [StoredRecord] {
        guard !prefix.isEmpty else { return [] }
        let variants = Array(Set([prefix, prefix.uppercased(), prefix.lowercased()])).sorted()
        let folded = prefix.lowercased()
        return try await read { db in
            var found: [RecordID: StoredRecord] = [:]
            for variant in variants {
                for record in try Self.records(
                    db,
                    entity,
                    where: "id >= ? AND id < ?",
                    orderBy: "id",
                    limit: limit + 1,
                    arguments: [variant, variant + "\u{10FFFF}"]
                ) where record.id.rawValue.lowercased().hasPrefix(folded) {
                    found[record.id] = record
                }
            }
            return found.values.sorted { $0.id.rawValue < $1.id.rawValue }.prefix(limit + 1).map { $0 }
        }
    }

    /// Appointments by start time.
    public func appointments(_ filter: AppointmentFilter, limit: Int? = nil) async throws -> RecordPage {
        try await read { db in
            var condition = Condition()
            if let from = filter.from { condition.add("starts_at >= ?", from) }
            if let until = filter.until { condition.add("starts_at < ?", until) }
            if let assignee = filter.assignee { condition.add("assignee = ?", assignee) }
            if let account = filter.account { condition.add("account_id = ?", account.rawValue) }
            if let deal = filter.deal { condition.add("deal_id = ?", deal.rawValue) }
            if let status = filter.status { condition.add("status = ?", status) }
            return try Self.page(db, .appointment, condition, orderBy: "starts_at, rowid", limit: limit)
        }
    }

    /// The winning write of one field of a record (its value, author and stamp): when a deal entered its stage.
    public func winningEntry(_ entity: EntityKind, id: RecordID, field: String) async throws -> FieldEntry? {
        try await read { db in
            try RecordStorage.loadState(db, entity, id)?.winner(of: field, schema: CRMSchema.schema(for: entity))
        }
    }

    /// Open tasks whose reminder time has come (`remind_at` before `before`), of one assignee or every one.
    public func tasksToRemind(before: String, assignee: String?) async throws -> [StoredRecord] {
        try await read { db in
            var condition = Condition()
            condition.add("status = 'open'")
            condition.add("remind_at IS NOT NULL AND remind_at < ?", before)
            if let assignee { condition.add("assignee = ?", assignee) }
            return try Self.records(
                db,
                .task,
                where: condition.text,
                orderBy: "remind_at, rowid",
                arguments: condition.statementArguments
            )
        }
    }

    /// The parts of a deal's card that hang off it: its tasks, appointments and interactions (newest first).
    public func dealParts(
        _ deal: RecordID
    ) async throws -> (
        tasks: [StoredRecord], appointments: [StoredRecord], interactions: [StoredRecord]
    ) {
        try await read { db in
            let id: StatementArguments = [deal.rawValue]
            return (
                try Self.records(db, .task, where: "deal_id = ?", orderBy: "due_at IS NULL, due_at", arguments: id),
                try Self.records(db, .appointment, where: "deal_id = ?", orderBy: "starts_at", arguments: id),
                try Self.records(db, .activity, where: "deal_id = ?", orderBy: "occurred_at DESC", arguments: id)
            )
        }
    }

    /// Accounts with this name, ignoring case (a new account's duplicate check).
    public func accounts(named name: String) async throws -> [StoredRecord] {
        try await read { db in
            try Self.records(
                db,
                .account,
                where: "name = ? COLLATE NOCASE",
                orderBy: "name COLLATE NOCASE, id",
                limit: 20,
                arguments: [name]
            )
        }
    }

    /// Accounts whose phone, or a contact's phone or mobile, holds these digits in this order, whatever the
    /// spaces, dashes, dots, slashes and brackets between them (`+49 30 1234` finds `+49301234`).
    public func accounts(phoneDigits digits: String, limit: Int = 50) async throws -> [StoredRecord] {
        guard !digits.isEmpty else { return [] }
        func stripped(_ column: String) -> String {
            var sql = column
            for character in [" ", "-", ".", "/", "(", ")", "+"] { sql = "REPLACE(\(sql), '\(character)', '')" }
            return sql
        }
        let pattern = "%" + digits + "%"
        let condition = """
            \(stripped("phone")) LIKE ?1 OR id IN (SELECT account_id FROM contact WHERE _deleted = 0 AND
            (\(stripped("phone")) LIKE ?1 OR \(stripped("mobile")) LIKE ?1))
            """
        return try await read { db in
            try Self.records(
                db,
                .account,
                where: condition,
                orderBy: "name COLLATE NOCASE, id",
                limit: limit,
                arguments: [pattern]
            )
        }
    }
}
