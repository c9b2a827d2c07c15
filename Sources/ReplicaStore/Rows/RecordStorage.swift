import Foundation
import GRDB
import SyncProtocol

/// Reading and writing record states: the typed row and its binary merge state, in one statement each.
enum RecordStorage {
    static func loadState(_ db: Database, _ entity: EntityKind, _ id: RecordID) throws -> RecordState? {
        let statement: RawStatement
        if let table = EntityTable.of(entity) {
            statement = try RawStatement(db, "SELECT _state FROM \(table.name) WHERE id = ?")
            statement.bind(1, id.rawValue)
        } else {
            statement = try RawStatement(db, "SELECT _state FROM other_record WHERE entity = ? AND id = ?")
            statement.bind(1, entity.rawValue)
            statement.bind(2, id.rawValue)
        }
        defer { statement.reset() }
        guard try statement.step() else { return nil }
        return try RecordState(binary: statement.blob(0))
    }

    /// The states of many records of one entity with one query (a JSON array of the ids, read by `json_each`), so
    /// a page of remote changes costs one statement per entity rather than one per change.
    static func loadStates(_ db: Database, _ entity: EntityKind, _ ids: [RecordID]) throws -> [RecordID: RecordState] {
        guard !ids.isEmpty else { return [:] }
        var states: [RecordID: RecordState] = [:]
        states.reserveCapacity(ids.count)
        let statement: RawStatement
        if let table = EntityTable.of(entity) {
            statement = try RawStatement(
                db,
                "SELECT id, _state FROM \(table.name) WHERE id IN (SELECT value FROM json_each(?))"
            )
            statement.bind(1, jsonArray(ids))
        } else {
            statement = try RawStatement(
                db,
                "SELECT id, _state FROM other_record WHERE entity = ? AND id IN (SELECT value FROM json_each(?))"
            )
            statement.bind(1, entity.rawValue)
            statement.bind(2, jsonArray(ids))
        }
        defer { statement.reset() }
        while try statement.step() {
            states[RecordID(statement.text(0))] = try RecordState(binary: statement.blob(1))
        }
        return states
    }

    /// A JSON array of strings (the ids of ``loadStates(_:_:_:)``).
    static func jsonArray(_ ids: [RecordID]) -> String {
        var text = "["
        text.reserveCapacity(ids.count * 30)
        for (index, id) in ids.enumerated() {
            if index > 0 { text += "," }
            text += "\""
            for scalar in id.rawValue.unicodeScalars {
                switch scalar {
                case "\"": text += "\\\""
                case "\\": text += "\\\\"
                case _ where scalar.value < 0x20: text += String(format: "\\u%04x", scalar.value)
                default: text.unicodeScalars.append(scalar)
                }
            }
            text += "\""
        }
        return text + "]"
    }

    /// Inserts a record from a snapshot unless the replica has it already; true when it was inserted.
    static func insertIfAbsent(_ db: Database, _ state: RecordState) throws -> Bool {
        guard let table = EntityTable.of(state.entity) else {
            let statement = try RawStatement(
                db,
                "INSERT INTO other_record (entity, id, _state) VALUES (?, ?, ?) ON CONFLICT (entity, id) DO NOTHING"
            )
            statement.bind(1, state.entity.rawValue)
            statement.bind(2, state.id.rawValue)
            statement.bind(3, state.binaryEncoded)
            try statement.run()
            return db.changesCount > 0
        }
        let values = state.values(schema: table.schema)
        let unknown = values.filter { name, _ in table.columnIndex[name] == nil }
        let statement = try RawStatement(db, table.insertIfAbsentSQL)
        statement.bind(1, state.id.rawValue)
        for (index, column) in table.columns.enumerated() { statement.bind(Int32(index + 2), values[column.name]) }
        let next = Int32(table.columns.count + 2)
        statement.bind(next, state.isDeleted(schema: table.schema) ? 1 : 0)
        if unknown.isEmpty {
            statement.bindNull(next + 1)
        } else {
            statement.bind(next + 1, ExtraFields.encode(unknown))
        }
        statement.bind(next + 2, state.binaryEncoded)
        try statement.run()
        let inserted = db.changesCount > 0
        if inserted { try saveStageSince(db, state) }
        return inserted
    }

    /// Whether this replica keeps `deal_stage_since` (0.17's migration made it).
    static let keepsStageSince = CRMSchema.profile.speaks("0.17")

    /// A deal's stage and its start (the wall time of its winning `stage` write; the stage is null while the deal
    /// is deleted) in `deal_stage_since`, so the stuck deals are one query of an index of its own instead of a
    /// decode of every deal's state.
    static func saveStageSince(_ db: Database, _ state: RecordState) throws {
        guard state.entity == .deal, keepsStageSince else { return }
        let statement = try RawStatement(
            db,
            "INSERT INTO deal_stage_since (id, stage, since) VALUES (?, ?, ?) "
                + "ON CONFLICT (id) DO UPDATE SET stage = excluded.stage, since = excluded.since"
        )
        statement.bind(1, state.id.rawValue)
        let winner = state.winner(of: "stage", schema: CRMSchema.deal)
        if !state.isDeleted(schema: CRMSchema.deal), let stage = winner?.value.stringValue {
            statement.bind(2, stage)
        } else {
            statement.bindNull(2)
        }
        if let since = winner?.timestamp.wallMilliseconds { statement.bind(3, since) } else { statement.bindNull(3) }
        try statement.run()
    }

    /// Writes a record state and its typed row. `previous` is the row's values as loaded (nil for a new row): only
    /// the columns whose value changed are written, so unchanged indexed columns cost nothing.
    static func save(_ db: Database, _ state: RecordState, previous: [String: FieldValue]?) throws {
        guard let table = EntityTable.of(state.entity) else {
            let statement = try RawStatement(
                db,
                "INSERT INTO other_record (entity, id, _state) VALUES (?, ?, ?) "
                    + "ON CONFLICT (entity, id) DO UPDATE SET _state = excluded._state"
            )
            statement.bind(1, state.entity.rawValue)
            statement.bind(2, state.id.rawValue)
            statement.bind(3, state.binaryEncoded)
            return try statement.run()
        }
        let values = state.values(schema: table.schema)
        let isDeleted: Int64 = state.isDeleted(schema: table.schema) ? 1 : 0
        let unknown = values.filter { name, _ in table.columnIndex[name] == nil }
        let extra: String? = unknown.isEmpty ? nil : ExtraFields.encode(unknown)
        guard let previous else {
            let statement = try RawStatement(db, table.upsertSQL)
            statement.bind(1, state.id.rawValue)
            for (index, column) in table.columns.enumerated() { statement.bind(Int32(index + 2), values[column.name]) }
            let next = Int32(table.columns.count + 2)
            statement.bind(next, isDeleted)
            if let extra { statement.bind(next + 1, extra) } else { statement.bindNull(next + 1) }
            statement.bind(next + 2, state.binaryEncoded)
            try statement.run()
            return try saveStageSince(db, state)
        }
        let changed = table.columns.filter { values[$0.name] != previous[$0.name] }.map(\.name)
        let assignments = (changed + ["_deleted", "_extra", "_state"]).map { "\($0) = ?" }.joined(separator: ", ")
        let statement = try RawStatement(db, "UPDATE \(table.name) SET \(assignments) WHERE id = ?")
        var index: Int32 = 1
        for name in changed {
            statement.bind(index, values[name])
            index += 1
        }
        statement.bind(index, isDeleted)
        if let extra { statement.bind(index + 1, extra) } else { statement.bindNull(index + 1) }
        statement.bind(index + 2, state.binaryEncoded)
        statement.bind(index + 3, state.id.rawValue)
        try statement.run()
        try saveStageSince(db, state)
    }

    /// Removes a record that left the rep's scope (its history stays in the change log).
    static func remove(_ db: Database, _ entity: EntityKind, _ id: RecordID) throws {
        if let table = EntityTable.of(entity) {
            try db.execute(sql: "DELETE FROM \(table.name) WHERE id = ?", arguments: [id.rawValue])
            if entity == .deal, keepsStageSince {
                try db.execute(sql: "DELETE FROM deal_stage_since WHERE id = ?", arguments: [id.rawValue])
            }
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
        let statement = try RawStatement(
            db,
            """
            INSERT INTO change_log (replica, counter, entity, record_id, origin, status, reject_code,
                reject_reason, applied_at, change, old_values)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """
        )
        statement.bind(1, change.dot.replica.rawValue)
        statement.bind(2, Int64(bitPattern: change.dot.counter))
        statement.bind(3, change.entity.rawValue)
        statement.bind(4, change.recordID.rawValue)
        statement.bind(5, origin)
        if let status { statement.bind(6, status) }
        if let rejection {
            statement.bind(7, rejection.code.rawValue)
            statement.bind(8, rejection.reason)
        }
        statement.bind(9, now)
        statement.bind(10, change.binaryEncoded)
        if let oldValues, !oldValues.isEmpty {
            var writer = BinaryWriter()
            writer.fieldMap(oldValues)
            statement.bind(11, writer.bytes)
        }
        try statement.run()
        return db.lastInsertedRowID
    }

    /// Brings the conflict table in line with a record's open conflicts: new ones open, vanished ones resolved.
    static func syncConflicts(
        _ db: Database,
        before: [Conflict],
        after: [Conflict],
        seq: Int64?
    ) throws {
        let beforeByID = Dictionary(before.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let afterIDs = Set(after.map(\.id))
        for conflict in before where !afterIDs.contains(conflict.id) {
            try db.cachedStatement(
                sql: "UPDATE conflict SET status = 'resolved', resolved_seq = ? WHERE id = ? AND status = 'open'"
            ).execute(arguments: [seq, conflict.id])
        }
        // New conflicts open; one that stays open with another winner (a third concurrent write now shows) gets
        // its new body, so the list shows what the record shows.
        for conflict in after where beforeByID[conflict.id] != conflict {
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
