import Foundation
public import SyncProtocol

/// What accounting exports, and how a row becomes a record: the entity, its natural key, and typed values.
public enum ImportKind: String, Sendable, CaseIterable {
    case products, stock, invoices, accounts

    var entity: EntityKind {
        switch self {
        case .products: .product
        case .stock: .stock
        case .invoices: .invoice
        case .accounts: .account
        }
    }
}

/// One row to import: the record it upserts and its values (stock: the recounted quantity apart).
public struct ImportRow: Sendable {
    public var line: Int
    public var id: RecordID?
    public var fields: [String: FieldValue]
    /// Stock only: the recount.
    public var quantity: Int64?
}

/// The outcome of an import: what was created, updated, left as it was, and refused (with line and reason).
public struct ImportReport: Sendable, Codable {
    public struct Rejection: Sendable, Codable {
        public var line: Int
        public var reason: String
    }
    public var created = 0
    public var updated = 0
    public var unchanged = 0
    public var rejected: [Rejection] = []

    public init() {}

    /// Counts one planned row.
    mutating func count(_ step: ImportPlanner.Step) {
        switch step {
        case .rejected(let rejection): rejected.append(rejection)
        case .unchanged: unchanged += 1
        case .write(_, _, let isNew): if isNew { created += 1 } else { updated += 1 }
        }
    }
}

/// Turns CSV text into typed rows; rows with a problem are reported, never silently dropped.
public enum CSVImport {
    public static func rows(_ kind: ImportKind, csv: String) -> (rows: [ImportRow], rejected: [ImportReport.Rejection])
    {
        let records: [CSVParser.Record]
        do {
            records = try CSVParser.parse(csv)
        } catch {
            return ([], [ImportReport.Rejection(line: error.line, reason: error.message)])
        }
        guard let header = records.first else {
            return ([], [ImportReport.Rejection(line: 1, reason: "the file is empty")])
        }
        let schema = CRMSchema.schema(for: kind.entity)
        let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces) }
        var allowed = Set(schema.fields.map(\.name))
        if kind == .stock { allowed.insert("quantity") }
        if kind == .accounts { allowed.insert("id") }
        if let unknown = names.first(where: { !allowed.contains($0) }) {
            return ([], [ImportReport.Rejection(line: header.line, reason: "unknown column '\(unknown.prefix(40))'")])
        }
        var rows: [ImportRow] = []
        var rejected: [ImportReport.Rejection] = []
        for record in records.dropFirst() {
            guard record.fields.count == names.count else {
                rejected.append(
                    .init(line: record.line, reason: "\(record.fields.count) columns, the header has \(names.count)")
                )
                continue
            }
            do {
                rows.append(try row(kind, schema: schema, names: names, record: record))
            } catch {
                rejected.append(.init(line: record.line, reason: error.message))
            }
        }
        return (rows, rejected)
    }

    struct RowError: Error {
        var message: String
    }

    static func row(
        _ kind: ImportKind,
        schema: EntitySchema,
        names: [String],
        record: CSVParser.Record
    ) throws(RowError)
        -> ImportRow
    {
        var fields: [String: FieldValue] = [:]
        var id: RecordID?
        var quantity: Int64?
        for (name, raw) in zip(names, record.fields) {
            let text = raw.trimmingCharacters(in: .whitespaces)
            if name == "id" {
                if !text.isEmpty {
                    guard RecordID.isValid(text) else { throw RowError(message: "id is not a valid record id") }
                    id = RecordID(text)
                }
                continue
            }
            if name == "quantity" {
                guard let number = Int64(text) else { throw RowError(message: "quantity must be a whole number") }
                quantity = number
                continue
            }
            guard let field = schema.fieldsByName[name], !text.isEmpty else { continue }
            let value = try typed(text, field: field)
            if let problem = field.type.problem(with: value) { throw RowError(message: "\(name) \(problem)") }
            fields[name] = value
        }
        switch kind {
        case .products:
            guard let part = fields["part_number"]?.stringValue, RecordID.isValid(part) else {
                throw RowError(message: "part_number is missing or has spaces")
            }
            id = RecordID(part)
        case .stock:
            guard let part = fields["part_number"]?.stringValue, let warehouse = fields["warehouse"]?.stringValue,
                RecordID.isValid(part), RecordID.isValid(warehouse), !warehouse.contains("@")
            else { throw RowError(message: "part_number and warehouse are needed (no spaces, no @ in warehouse)") }
            guard quantity != nil else { throw RowError(message: "quantity is missing") }
            id = RecordID.stock(partNumber: part, warehouse: warehouse)
        case .invoices:
            guard let number = fields["number"]?.stringValue, RecordID.isValid("invoice-" + number) else {
                throw RowError(message: "number is missing or has spaces")
            }
            id = RecordID("invoice-" + number)
        case .accounts:
            break
        }
        return ImportRow(line: record.line, id: id, fields: fields, quantity: quantity)
    }

    /// A CSV cell as the field's type: integers for money and prices (minor units), booleans, timestamps in
    /// canonical ISO 8601 UTC (a date alone means midnight UTC), text as it is.
    static func typed(_ text: String, field: FieldSchema) throws(RowError) -> FieldValue {
        switch field.type {
        case .integer, .nonNegativeInteger:
            guard let number = Int64(text) else {
                throw RowError(message: "\(field.name) must be a whole number of minor units (1999 for 19.99)")
            }
            return .integer(number)
        case .bool:
            switch text.lowercased() {
            case "true", "yes", "1": return .bool(true)
            case "false", "no", "0": return .bool(false)
            default: throw RowError(message: "\(field.name) must be true or false")
            }
        case .timestamp:
            let candidate = text.count == 10 ? text + "T00:00:00Z" : text
            guard let millis = ISO8601.parseTimestamp(candidate) else {
                throw RowError(message: "\(field.name) must be an ISO 8601 UTC date or timestamp")
            }
            return .string(ISO8601.format(millisecondsSince1970: millis))
        case .text, .enumeration, .date, .currency, .reference:
            return .string(text)
        }
    }
}

/// Decides the server changes one import row makes: a create for a new record, a set of only the fields that
/// differ for an existing one (so importing the same file twice changes nothing), and for stock a recount when the
/// quantity differs from the current value.
struct ImportPlanner {
    var counter: UInt64
    var clock: HybridClock
    let now: Int64

    /// What importing one row does to storage.
    enum Step {
        case rejected(ImportReport.Rejection)
        case unchanged
        /// Write the record state and append the changes to the log.
        case write(RecordState, [Change], isNew: Bool)
    }

    /// Plans a row and applies its changes to the record: the one decision both storage backends carry out.
    mutating func step(_ row: ImportRow, kind: ImportKind, current: RecordState?) -> Step {
        switch plan(row, kind: kind, current: current) {
        case .failure(let rejection):
            return .rejected(ImportReport.Rejection(line: row.line, reason: rejection.reason))
        case .success(let changes) where changes.isEmpty:
            return .unchanged
        case .success(let changes):
            let schema = CRMSchema.schema(for: kind.entity)
            var record = current ?? RecordState(entity: kind.entity, id: changes[0].recordID)
            for change in changes { _ = record.apply(change, schema: schema, authority: .server) }
            return .write(record, changes, isNew: current?.exists != true)
        }
    }

    mutating func plan(_ row: ImportRow, kind: ImportKind, current: RecordState?) -> Result<[Change], ChangeRejection> {
        let schema = CRMSchema.schema(for: kind.entity)
        let id = row.id ?? RecordID(UUID().uuidString.lowercased())
        var state = current ?? RecordState(entity: kind.entity, id: id)
        var changes: [Change] = []
        let values = state.exists ? state.values(schema: schema) : [:]
        let differing = row.fields.filter { values[$0.key] != $0.value }
        if !state.exists {
            changes.append(change(id, kind, context: state.clock, .create(row.fields)))
        } else if !differing.isEmpty {
            changes.append(change(id, kind, context: state.clock, .set(differing)))
        }
        for change in changes {
            if let rejection = schema.validate(change, authority: .server) { return .failure(rejection) }
            if case .rejected(let rejection) = state.apply(change, schema: schema, authority: .server).status {
                return .failure(rejection)
            }
        }
        if kind == .stock, let quantity = row.quantity, state.counter?.value ?? 0 != quantity || state.counter == nil {
            let reset = change(id, kind, context: state.clock, .counterReset(quantity))
            if let rejection = schema.validate(reset, authority: .server) { return .failure(rejection) }
            changes.append(reset)
        }
        return .success(changes)
    }

    private mutating func change(
        _ id: RecordID,
        _ kind: ImportKind,
        context: VectorClock,
        _ operation: Change.Operation
    ) -> Change {
        counter += 1
        return Change(
            dot: Dot(replica: .server, counter: counter),
            context: context,
            timestamp: clock.send(now: now),
            author: "import",
            entity: kind.entity,
            recordID: id,
            operation: operation
        )
    }
}
