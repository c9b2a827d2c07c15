import Foundation
import GRDB
public import SyncProtocol

extension Replica {
    /// When this replica was set up from the server's snapshot (milliseconds since 1970), nil when it was not (or
    /// by an earlier release). Such a replica holds its records' states but not the changes made before.
    public func setUpFromSnapshotAt() async throws -> Int64? {
        try await read { db in
            try String.fetchOne(db, sql: "SELECT value FROM sync_state WHERE key = 'set_up_at'").flatMap { Int64($0) }
        }
    }

    /// Whether the server's history of this account was added here (``backfillHistory(account:changes:)``).
    public func hasServerHistory(account: RecordID) async throws -> Bool {
        try await read { db in
            try String.fetchOne(
                db,
                sql: "SELECT value FROM sync_state WHERE key = ?",
                arguments: ["history:" + account.rawValue]
            ) != nil
        }
    }

    /// Adds the server's log of an account (``GET /v1/history``, in log order) to this replica's change history:
    /// each change it does not hold yet is logged as remote, with the old values a replay of that log gives, so
    /// `history --changes` shows who changed what before this laptop was set up. Records are not touched: their
    /// states already hold these changes. Returns how many changes were added.
    @discardableResult
    public func backfillHistory(account: RecordID, changes: [Change]) async throws -> Int {
        let now = configuration.now
        return try await write { db, writer in
            var current: [String: [String: FieldValue]] = [:]
            var added = 0
            var moved = Set<ReplicaID>()
            // Only what the records here already hold: the server's log may run past this laptop's cursor, and
            // those changes must come with the pull (applied), not as history of a state that lacks them.
            var states: [String: RecordState] = [:]
            for (entity, group) in Dictionary(grouping: changes, by: \.entity) {
                for (id, state) in try RecordStorage.loadStates(db, entity, Array(Set(group.map(\.recordID)))) {
                    states[entity.rawValue + "/" + id.rawValue] = state
                }
            }
            for change in changes {
                let key = change.entity.rawValue + "/" + change.recordID.rawValue
                let fields = change.operation.fields
                var old: [String: FieldValue] = [:]
                for name in fields.keys { if let value = current[key]?[name], !value.isNull { old[name] = value } }
                for (name, value) in fields { current[key, default: [:]][name] = value }
                guard change.dot.replica != writer.replicaID, states[key]?.clock.contains(change.dot) == true,
                    !(try Self.isLogged(db, change.dot))
                else { continue }
                _ = try RecordStorage.log(
                    db,
                    change,
                    origin: "remote",
                    status: nil,
                    oldValues: old,
                    now: change.timestamp.wallMilliseconds
                )
                added += 1
                // A later pull may bring these changes again: above the highest applied dot of their origin they
                // would count as new, so the mark moves up and they are looked up (and skipped) instead.
                if change.dot.counter > writer.appliedMax[change.dot.replica] ?? 0 {
                    writer.appliedMax[change.dot.replica] = change.dot.counter
                    moved.insert(change.dot.replica)
                }
            }
            try Self.saveAppliedMarks(db, moved, writer)
            try Self.setState(db, ["history:" + account.rawValue: String(now())])
            return added
        }
    }
}
