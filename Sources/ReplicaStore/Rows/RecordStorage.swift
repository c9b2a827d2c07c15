import Foundation
import GRDB
import SyncProtocol

/// Reading and writing record states: the typed row and its binary merge state, in one statement each.
enum RecordStorage {
    static func loadState(_ db: Database, _ entity: EntityKind, _ id: RecordID) throws -> RecordState? {
        let blob: Data?
        if let table = EntityTable.of(entity) {
            blob = try Data.fetchOne(
                db.cachedStatement(sql: "SELECT _state FROM \(table.name) WHERE id = ?"),
                arguments: [id.rawValue]
            )
        } else {
            blob = try Data.fetchOne(
                db.cachedStatement(sql: "SELECT _state FROM other_record WHERE entity = ? AND id = ?"),
                arguments: [entity.rawValue, id.rawValue]
            )
        }
        return try blob.map { try RecordState(binary: [UInt8]($0)) }
    }

    static func save(_ db: Database, _ state: RecordState) throws {
        if let table = EntityTable.of(state.entity) {
            try db.cachedStatement(sql: table.upsertSQL).execute(arguments: table.upsertArguments(state))
        } else {
            try db.cachedStatement(
                sql: "INSERT INTO other_record (entity, id, _state) VALUES (?, ?, ?) "
                    + "ON CONFLICT (entity, id) DO UPDATE SET _state = excluded._state"
            ).execute(arguments: [state.entity.rawValue, state.id.rawValue, Data(state.binaryEncoded)])
        }
    }

    /// Removes a record that left the rep's scope (its history stays in the change log).
    static func remove(_ db: Database, _ entity: EntityKind, _ id: RecordID) throws {
        if let table = EntityTable.of(entity) {
            try db.execute(sql: "DELETE FROM \(table.name) WHERE id = ?", arguments: [id.rawValue])
        } else {
            try db.execute(
                sql: "DELETE FROM other_record WHERE entity = ? AND id = ?",
                arguments: [entity.rawValue, id.rawValue]
            )
        }
    }

    /// Appends a change to the log; returns its sequence number.
    static func log(
        _ db: Database,
        _ change: Change,
        origin: String,
        status: String?,
        rejection: ChangeRejection? = nil,
        oldValues: [String: FieldValue]?,
        now: Int64
    ) throws -> Int64 {
        var oldBlob: Data?
        if let oldValues, !oldValues.isEmpty {
            var writer = BinaryWriter()
            writer.fieldMap(oldValues)
            oldBlob = Data(writer.bytes)
        }
        try db.cachedStatement(
            sql: """
                INSERT INTO change_log (replica, counter, entity, record_id, origin, status, reject_code,
                    reject_reason, applied_at, change, old_values)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            change.dot.replica.rawValue, Int64(bitPattern: change.dot.counter), change.entity.rawValue,
            change.recordID.rawValue, origin, status, rejection?.code.rawValue, rejection?.reason, now,
            Data(change.binaryEncoded), oldBlob,
        ])
        return db.lastInsertedRowID
    }

    /// Brings the conflict table in line with a record's open conflicts: new ones open, vanished ones resolved.
    static func syncConflicts(
        _ db: Database,
        before: [Conflict],
        after: [Conflict],
        seq: Int64
    ) throws {
        let beforeIDs = Set(before.map(\.id))
        let afterIDs = Set(after.map(\.id))
        for conflict in before where !afterIDs.contains(conflict.id) {
            try db.cachedStatement(
                sql: "UPDATE conflict SET status = 'resolved', resolved_seq = ? WHERE id = ? AND status = 'open'"
            ).execute(arguments: [seq, conflict.id])
        }
        for conflict in after where !beforeIDs.contains(conflict.id) {
            let body = String(decoding: try WireCoding.encode(conflict), as: UTF8.self)
            try db.cachedStatement(
                sql: """
                    INSERT INTO conflict (id, entity, record_id, field, status, detected_seq, body)
                    VALUES (?, ?, ?, ?, 'open', ?, ?)
                    ON CONFLICT (id) DO UPDATE SET status = 'open', resolved_seq = NULL, body = excluded.body
                    """
            ).execute(arguments: [
                conflict.id, conflict.entity.rawValue, conflict.recordID.rawValue, conflict.field, seq, body,
            ])
        }
    }
}

extension BinaryReader {
    /// Reads a field map written by ``BinaryWriter/fieldMap(_:)`` (old values in the change log).
    static func fieldMap(_ data: Data) -> [String: FieldValue] {
        guard var reader = try? BinaryReader([UInt8](data)) else { return [:] }
        return (try? reader.fieldMap()) ?? [:]
    }
}
