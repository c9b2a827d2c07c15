import Foundation
import GRDB
import SyncProtocol

/// How one entity is stored: a table with a typed column per field, beside the merge state.
///
/// Every entity table has `id TEXT PRIMARY KEY`, one column per field of the schema (TEXT, or INTEGER for integers
/// and booleans), `_deleted` (0/1), `_extra` (JSON of fields this build does not know, kept and passed on) and
/// `_state` (the record's ``RecordState`` in binary: per-field values with their dot, context, hybrid timestamp and
/// author, the record clock, counters and tombstones).
struct EntityTable: Sendable {
    let schema: EntitySchema
    let name: String
    /// Field columns, in schema order; for a counter entity its counter field comes last.
    let columns: [Column]
    /// Position of each field column in ``columns``.
    let columnIndex: [String: Int]

    struct Column: Sendable {
        let name: String
        let isInteger: Bool
        let isBool: Bool
    }

    init(_ schema: EntitySchema) {
        self.schema = schema
        name = schema.entity.rawValue
        var columns = schema.fields.map { field -> Column in
            switch field.type {
            case .integer, .nonNegativeInteger: Column(name: field.name, isInteger: true, isBool: false)
            case .bool: Column(name: field.name, isInteger: true, isBool: true)
            case .text, .enumeration, .timestamp, .date, .currency, .reference, .digest:
                Column(name: field.name, isInteger: false, isBool: false)
            }
        }
        if case .counter(let field) = schema.kind {
            columns.append(Column(name: field, isInteger: true, isBool: false))
        }
        self.columns = columns
        columnIndex = Dictionary(uniqueKeysWithValues: columns.enumerated().map { ($1.name, $0) })
        upsertSQL = Self.makeUpsertSQL(name, columns)
        insertIfAbsentSQL = Self.makeInsertSQL(name, columns) + " ON CONFLICT(id) DO NOTHING"
        selectColumns = (["id"] + columns.map(\.name) + ["_deleted", "_extra"]).joined(separator: ", ")
    }

    static let all: [EntityKind: EntityTable] = Dictionary(
        uniqueKeysWithValues: CRMSchema.entities.values.map { ($0.entity, EntityTable($0)) }
    )

    /// The table of a known entity; nil for an entity this build does not know (stored in `other_record`).
    static func of(_ entity: EntityKind) -> EntityTable? {
        switch entity.rawValue {
        case "account", "contact", "activity", "task", "deal", "product", "stock", "invoice": all[entity]
        case "appointment", "plan", "stage_norm", "document", "document_version": all[entity]
        default: nil
        }
    }

    var createSQL: String {
        let fieldColumns = columns.map { "\($0.name) \($0.isInteger ? "INTEGER" : "TEXT")" }.joined(separator: ", ")
        return """
            CREATE TABLE \(name) (
                id TEXT PRIMARY KEY NOT NULL, \(fieldColumns),
                _deleted INTEGER NOT NULL DEFAULT 0, _extra TEXT, _state BLOB NOT NULL
            )
            """
    }

    /// `INSERT … ON CONFLICT(id) DO UPDATE` of every column.
    let upsertSQL: String

    /// `INSERT … ON CONFLICT(id) DO NOTHING` of every column (a snapshot's records).
    let insertIfAbsentSQL: String

    static func makeInsertSQL(_ name: String, _ columns: [Column]) -> String {
        let names = ["id"] + columns.map(\.name) + ["_deleted", "_extra", "_state"]
        return
            "INSERT INTO \(name) (\(names.joined(separator: ", "))) VALUES (\(names.map { _ in "?" }.joined(separator: ", ")))"
    }

    static func makeUpsertSQL(_ name: String, _ columns: [Column]) -> String {
        let names = ["_deleted", "_extra", "_state"]
        let updates = (columns.map(\.name) + names).map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
        return makeInsertSQL(name, columns) + " ON CONFLICT(id) DO UPDATE SET \(updates)"
    }

    /// The columns a read selects, in this order: `id`, the field columns, `_deleted`, `_extra`.
    let selectColumns: String

    /// A ``StoredRecord`` from a row selected with ``selectColumns``.
    func record(from row: Row) -> StoredRecord {
        var values: [String: FieldValue] = [:]
        for (index, column) in columns.enumerated() {
            let stored = row[index + 1] as DatabaseValue
            switch stored.storage {
            case .null: continue
            case .int64(let number): values[column.name] = column.isBool ? .bool(number != 0) : .integer(number)
            case .string(let text): values[column.name] = .string(text)
            case .double, .blob: continue
            }
        }
        if let extra = row[columns.count + 2] as String? {
            for (name, value) in ExtraFields.decode(extra) where values[name] == nil { values[name] = value }
        }
        return StoredRecord(
            entity: schema.entity,
            id: RecordID(row[0] as String),
            values: values,
            isDeleted: (row[columns.count + 1] as Int64) != 0
        )
    }
}

/// Fields this build does not know, as a JSON object (rare: written only when a newer server sends new fields).
enum ExtraFields {
    static func encode(_ values: [String: FieldValue]) -> String {
        (try? String(decoding: WireCoding.encode(values), as: UTF8.self)) ?? "{}"
    }

    static func decode(_ text: String) -> [String: FieldValue] {
        (try? WireCoding.decode([String: FieldValue].self, from: Data(text.utf8))) ?? [:]
    }
}
