import Foundation
import GRDB
public import SyncProtocol

/// A local change the server refused, with its reason. It stays in the log (never pushed again) until the rep
/// discards it.
public struct RejectedChange: Hashable, Sendable {
    public var change: Change
    public var rejection: ChangeRejection

    public init(change: Change, rejection: ChangeRejection) {
        self.change = change
        self.rejection = rejection
    }
}

extension Replica {
    /// Local changes not yet acknowledged by the server, oldest first (in dot order, as the server requires).
    public func pendingChanges(limit: Int = 1000) async throws -> [Change] {
        try await read { db in
            try Data.fetchAll(
                db,
                sql: "SELECT change FROM change_log WHERE status = 'pending' ORDER BY counter LIMIT ?",
                arguments: [limit]
            ).map { try Change(binary: [UInt8]($0)) }
        }
    }

    /// How many local changes wait for the server.
    public func pendingCount() async throws -> Int {
        try await read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM change_log WHERE status = 'pending'") ?? 0
        }
    }

    /// Records the server's answer to a push. Only the changes named in `results` change state: an edit made while
    /// the push was in flight has another dot and stays pending, and so does a change refused with `sequence_gap`
    /// (the server did not process it).
    public func acknowledge(_ results: [ChangeResult]) async throws {
        try await write { db, writer in
            let replicaID = writer.replicaID
            var clockRefused = false
            for result in results where result.dot.replica == replicaID {
                let counter = Int64(bitPattern: result.dot.counter)
                switch result.status {
                case .accepted, .duplicate:
                    try db.cachedStatement(
                        sql:
                            "UPDATE change_log SET status = 'acked' WHERE replica = ? AND counter = ? AND status = 'pending'"
                    ).execute(arguments: [replicaID.rawValue, counter])
                case .rejected
                where [.sequenceGap, .dotReused, .awaitingRestore].contains(result.rejection?.code):
                    // Not processed by the server (it misses an earlier counter, or the dot is another copy's):
                    // still to be sent, in order (a reused dot under a new ID, ``restamp(from:as:)``).
                    continue
                case .rejected:
                    if result.rejection?.code == .clockSkew { clockRefused = true }
                    try db.cachedStatement(
                        sql: """
                            UPDATE change_log SET status = 'rejected', reject_code = ?, reject_reason = ?
                            WHERE replica = ? AND counter = ? AND status = 'pending'
                            """
                    ).execute(arguments: [
                        result.rejection?.code.rawValue ?? "rejected",
                        result.rejection?.reason ?? "rejected by the server",
                        replicaID.rawValue, counter,
                    ])
                }
            }
            if clockRefused {
                // The refused stamps no longer count for the clock (see ``Replica/loadWriterState``).
                writer.clock = try Self.loadWriterState(db).clock
            }
        }
    }

    /// Puts this laptop's changes above `counter` back into the outbox, the server having said it holds this
    /// replica's changes up to `counter` only (it was restored from a backup, and lost the rest): the changes it had
    /// accepted or refused go out again, in order, and the server decides them afresh. Returns how many.
    @discardableResult
    public func resend(after counter: UInt64) async throws -> Int {
        try await write { db, writer in
            try db.execute(
                sql: """
                    UPDATE change_log SET status = 'pending', reject_code = NULL, reject_reason = NULL
                    WHERE replica = ? AND origin = 'local' AND counter > ? AND status IN ('acked', 'rejected')
                    """,
                arguments: [writer.replicaID.rawValue, Int64(bitPattern: counter)]
            )
            return db.changesCount
        }
    }

    /// Local changes the server refused, newest first.
    public func rejectedChanges() async throws -> [RejectedChange] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT change, reject_code, reject_reason FROM change_log
                    WHERE status = 'rejected' AND origin = 'local' ORDER BY seq DESC
                    """
            ).map { row in
                RejectedChange(
                    change: try Change(binary: [UInt8](row[0] as Data)),
                    rejection: ChangeRejection(.init(rawValue: row[1] ?? "rejected"), row[2] ?? "")
                )
            }
        }
    }
}
