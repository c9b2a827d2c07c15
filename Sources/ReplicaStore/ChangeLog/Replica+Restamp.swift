import Foundation
import GRDB
public import SyncProtocol
import Synchronization

/// What ``Replica/restamp(from:as:)`` did.
public struct RestampReport: Hashable, Sendable {
    public var oldID: ReplicaID
    public var newID: ReplicaID
    /// Local changes now stamped under the new ID (same content, new dots), waiting to be sent.
    public var restamped: Int
    /// Records whose state named the old dots.
    public var records: Int
}

extension Replica {
    /// Takes a new replica ID and moves this laptop's own changes from counter `from` on under it: same content,
    /// new dots (1, 2, … of `newID`), contexts renamed to match, all waiting to be sent; the records that held them
    /// are renamed the same way (``RecordState/renamed(dot:clock:)``) and the next pull starts at the beginning of
    /// the server's log.
    ///
    /// This is how a laptop restored from a backup, or whose file was copied to a second laptop, carries on
    /// (PROTOCOL.md §9, "A copied or restored laptop"): the server holds other changes under the old ID from
    /// `from` on (it answered `dot_reused`, or its handshake names a counter this laptop never made). Those come to
    /// this laptop as another replica's once it pulls under the new ID; nothing of either copy is lost.
    ///
    /// Changes below `from` stay as they are: the server holds them as they are here. One transaction.
    @discardableResult
    public func restamp(from: UInt64, as newID: ReplicaID) async throws -> RestampReport {
        try await write { db, writer in
            let oldID = writer.replicaID
            guard newID != oldID else { throw ReplicaError(.invalidChange, "the new replica ID is the current one") }
            guard
                try Int.fetchOne(
                    db,
                    sql: "SELECT COUNT(*) FROM change_log WHERE replica = ?",
                    arguments: [newID.rawValue]
                )
                    == 0
            else { throw ReplicaError(.invalidChange, "replica ID \(newID) already has changes in this file") }
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT seq, counter, change FROM change_log
                    WHERE replica = ? AND counter >= ? AND origin = 'local' ORDER BY counter
                    """,
                arguments: [oldID.rawValue, Int64(bitPattern: from)]
            )
            var renumbered: [UInt64: UInt64] = [:]
            var changes: [(seq: Int64, change: Change)] = []
            for (index, row) in rows.enumerated() {
                let change = try Change(binary: [UInt8](row["change"] as Data))
                renumbered[change.dot.counter] = UInt64(index + 1)
                changes.append((row["seq"], change))
            }
            // Per record: the highest counter of the old ID the server holds for it, and the old and new counters of
            // the changes that move, in order.
            var renamings: [RecordKey: Renaming] = [:]
            for (_, change) in changes {
                let key = RecordKey(entity: change.entity, id: change.recordID)
                if renamings[key] == nil {
                    let kept = try UInt64.fetchOne(
                        db,
                        sql: """
                            SELECT MAX(counter) FROM change_log
                            WHERE replica = ? AND counter < ? AND entity = ? AND record_id = ?
                            """,
                        arguments: [
                            oldID.rawValue, Int64(bitPattern: from), change.entity.rawValue, change.recordID.rawValue,
                        ]
                    )
                    renamings[key] = Renaming(oldID: oldID, newID: newID, from: from, kept: kept ?? 0)
                }
                renamings[key]!.moved.append((change.dot.counter, renumbered[change.dot.counter]!))
            }
            for (seq, change) in changes {
                let renaming = renamings[RecordKey(entity: change.entity, id: change.recordID)]!
                var moved = change
                moved.dot = renaming.dot(change.dot)
                moved.context = renaming.clock(change.context)
                try db.execute(
                    sql: """
                        UPDATE change_log SET replica = ?, counter = ?, change = ?, status = 'pending',
                        reject_code = NULL, reject_reason = NULL WHERE seq = ?
                        """,
                    arguments: [newID.rawValue, Int64(bitPattern: moved.dot.counter), Data(moved.binaryEncoded), seq]
                )
            }
            for (key, renaming) in renamings {
                guard let state = try RecordStorage.loadState(db, key.entity, key.id) else { continue }
                let schema = CRMSchema.schema(for: key.entity)
                let renamed = state.renamed(dot: renaming.dot, clock: renaming.clock)
                try RecordStorage.save(db, renamed, previous: state.values(schema: schema))
                // A conflict's ID names its losing dot: the open ones are written again under the new dots.
                try db.execute(
                    sql: "DELETE FROM conflict WHERE entity = ? AND record_id = ? AND status = 'open'",
                    arguments: [key.entity.rawValue, key.id.rawValue]
                )
                try RecordStorage.syncConflicts(db, before: [], after: renamed.conflicts(schema: schema), seq: nil)
            }
            let previous = try String.fetchOne(
                db,
                sql: "SELECT value FROM sync_state WHERE key = 'previous_replica_ids'"
            )
            try Self.setState(
                db,
                [
                    "replica_id": newID.rawValue,
                    "previous_replica_ids": [previous, oldID.rawValue].compactMap { $0 }.joined(separator: "\n"),
                    "pull_from_start": "1",
                    // The old ID is now another replica's: its changes from `from` on are new to this laptop.
                    "applied:\(oldID.rawValue)": String(from - 1),
                ]
            )
            writer.appliedMax[oldID] = from - 1
            writer.replicaID = newID
            writer.counter = UInt64(changes.count)
            return RestampReport(oldID: oldID, newID: newID, restamped: changes.count, records: renamings.count)
        }
    }

    /// A random replica ID of the form laptops use, for a server that does not register IDs.
    public static func makeReplicaID() -> ReplicaID {
        ReplicaID(unchecked: RecordIDGenerator.replicaID())
    }

    /// The highest counter this laptop has used under its current ID (0 before its first change).
    public func lastCounter() async throws -> UInt64 {
        writer.withLock { $0.counter }
    }

    static func setState(_ db: Database, _ values: [String: String]) throws {
        for (key, value) in values {
            try db.execute(
                sql:
                    "INSERT INTO sync_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                arguments: [key, value]
            )
        }
    }
}

private struct RecordKey: Hashable {
    var entity: EntityKind
    var id: RecordID
}

/// The renaming of one record's dots: the old ID's counters from `from` on move to the new ID.
private struct Renaming {
    let oldID: ReplicaID
    let newID: ReplicaID
    let from: UInt64
    /// The highest counter below `from` of the old ID among this record's changes (0 for none).
    let kept: UInt64
    /// (old counter, new counter) of this record's changes that move, in order.
    var moved: [(UInt64, UInt64)] = []

    init(oldID: ReplicaID, newID: ReplicaID, from: UInt64, kept: UInt64) {
        self.oldID = oldID
        self.newID = newID
        self.from = from
        self.kept = kept
    }

    func dot(_ dot: Dot) -> Dot {
        guard dot.replica == oldID, dot.counter >= from,
            let moved = moved.first(where: { $0.0 == dot.counter })
        else { return dot }
        return Dot(replica: newID, counter: moved.1)
    }

    /// A clock that has seen the old ID up to `x ≥ from` has seen this record's kept changes and those of its moved
    /// ones up to `x`: the old entry drops to `kept`, the new ID's entry is the last moved change up to `x`.
    func clock(_ clock: VectorClock) -> VectorClock {
        let seen = clock[oldID]
        guard seen >= from else { return clock }
        var pairs = clock.entries.filter { $0.replica != oldID }.map { ($0.replica, $0.counter) }
        pairs.append((oldID, kept))
        if let last = moved.last(where: { $0.0 <= seen }) { pairs.append((newID, last.1)) }
        return VectorClock(pairs)
    }
}
