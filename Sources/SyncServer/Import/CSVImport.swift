import Foundation
public import SyncProtocol

/// What accounting exports, and how a row becomes a record: the entity, its natural key, and typed values.
public enum ImportKind: String, Sendable, CaseIterable {
    case products, stock, invoices, accounts
    /// 0.17: sales plans per rep and month; the deal stages' normal durations in days.
    case plans, norms

    var entity: EntityKind {
        switch self {
        case .products: .product
        case .stock: .stock
        case .invoices: .invoice
        case .accounts: .account
        case .plans: .plan
        case .norms: .stageNorm
        }
    }

    /// The columns a file of this kind may have, in the order `import --help` lists them.
    public var columns: [String] {
        switch self {
        case .stock: ["part_number", "warehouse", "quantity"]
        case .accounts: ["id"] + CRMSchema.schema(for: entity).fields.map(\.name)
        case .products, .invoices, .plans, .norms: CRMSchema.schema(for: entity).fields.map(\.name)
        }
    }

    /// The columns a file must have: the natural key (accounts: none, an empty `id` makes a new account).
    var requiredColumns: [String] {
        switch self {
        case .products: ["part_number"]
        case .stock: ["part_number", "warehouse", "quantity"]
        case .invoices: ["number", "account_id", "amount"]
        case .accounts: []
        case .plans: ["rep", "month", "amount"]
        case .norms: ["stage", "days"]
        }
    }

    /// A header and a row as accounting might export them, for `import --help`.
    public var example: (header: String, row: String) {
        switch self {
        case .products:
            (
                "part_number;name;unit;price_list;price_dealer;price_promo;currency;active",
                "SIP-40;Siphon 40 mm;piece;125,00;98,50;;EUR;true"
            )
        case .stock: ("part_number,warehouse,quantity", "SIP-40,main,140")
        case .invoices:
            (
                "number,account_id,amount,currency,issued_at,due_at,paid_at,collection_status",
                "2026-0042,01JD7Q8X4N1V3F2Y6Z0B9C8D7E,1250.00,EUR,01.11.2026,2026-12-01,,reminded"
            )
        case .plans: ("rep,month,amount,currency", "olga,2026-12,40000.00,EUR")
        case .norms: ("stage,days", "negotiation,14")
        case .accounts:
            (
                "id,name,kind,phone,email,territory,owner,payment_standing",
                ",Müller GmbH,customer,+49 30 1234567,info@mueller.example,north,alice,strict"
            )
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

/// The outcome of an import: what was created, updated, left as it was, kept as a rep changed it, found deleted,
/// and refused (with line and every reason).
public struct ImportReport: Sendable, Codable {
    public struct Rejection: Sendable, Codable {
        public var line: Int
        /// Every problem of the row, joined with "; ".
        public var reason: String
        public var problems: [String]

        init(line: Int, problems: [String]) {
            self.line = line
            self.problems = problems
            reason = problems.joined(separator: "; ")
        }

        init(line: Int, reason: String) { self.init(line: line, problems: [reason]) }
    }

    /// A row that names a record deleted on the server: not re-created (IT undeletes with `record restore`).
    public struct Deleted: Sendable, Codable {
        public var line: Int
        public var id: String
    }

    public var created = 0
    public var updated = 0
    public var unchanged = 0
    /// Rows where at least one field kept a rep's newer value (accounting's value had not changed since its last
    /// import), and how often each field did.
    public var kept = 0
    public var keptFields: [String: Int] = [:]
    public var deleted: [Deleted] = []
    /// Problems of the whole file that reject no row (columns it does not know).
    public var warnings: [String] = []
    public var rejected: [Rejection] = []
    /// Whether this was a `--dry-run`: the report of what the import would do; nothing was written.
    public var dryRun = false
    /// SHA-256 of the file as received, as the audit log keeps it.
    public var fileSHA256 = ""

    enum CodingKeys: String, CodingKey {
        case created, updated, unchanged, kept, deleted, warnings, rejected
        case keptFields = "kept_fields"
        case dryRun = "dry_run"
        case fileSHA256 = "file_sha256"
    }

    public init() {}

    /// Counts one planned row.
    mutating func count(_ step: ImportPlanner.Step, line: Int) {
        switch step {
        case .rejected(let rejection): rejected.append(rejection)
        case .deleted(let id): deleted.append(Deleted(line: line, id: id.rawValue))
        case .unchanged(let keptFields):
            unchanged += 1
            countKept(keptFields)
        case .write(_, _, let isNew, let keptFields):
            if isNew { created += 1 } else { updated += 1 }
            countKept(keptFields)
        }
    }

    private mutating func countKept(_ fields: [String]) {
        guard !fields.isEmpty else { return }
        kept += 1
        for field in fields { keptFields[field, default: 0] += 1 }
    }

    /// The lines `crm-sync-server import` prints.
    public var lines: [String] {
        var lines = [
            (dryRun ? "dry run, nothing written: would have " : "")
                + "created \(created), updated \(updated), unchanged \(unchanged), kept \(kept), "
                + "deleted \(deleted.count), rejected \(rejected.count)"
        ]
        lines += warnings.map { "warning: \($0)" }
        if !keptFields.isEmpty {
            let fields = keptFields.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            lines.append("kept the rep's newer value: " + fields.joined(separator: ", "))
        }
        var byLine: [(Int, String)] = rejected.map { ($0.line, $0.reason) }
        byLine += deleted.map {
            (
                $0.line,
                "\($0.id) was deleted on the server; not re-created (crm-sync-server record restore to bring it back)"
            )
        }
        lines += byLine.sorted { $0.0 < $1.0 }.map { "line \($0.0): \($0.1)" }
        return lines
    }
}

/// The rows of a file and what was wrong with it before any row was planned.
public struct ParsedImport: Sendable {
    public var rows: [ImportRow]
    public var rejected: [ImportReport.Rejection]
    public var warnings: [String]
}

/// Turns CSV text as accounting exports it into typed rows; rows with a problem are reported, never silently
/// dropped. Money, quantities and dates are parsed from their digits: never through binary floating point.
public enum CSVImport {
    public static func rows(_ kind: ImportKind, csv: String) -> (rows: [ImportRow], rejected: [ImportReport.Rejection])
    {
        let parsed = parse(kind, csv: csv)
        return (parsed.rows, parsed.rejected)
    }

    public static func parse(_ kind: ImportKind, csv: String) -> ParsedImport {
        let records: [CSVParser.Record]
        do {
            records = try CSVParser.parseDetecting(csv).records
        } catch {
            return ParsedImport(rows: [], rejected: [.init(line: error.line, reason: error.message)], warnings: [])
        }
        guard let header = records.first else {
            return ParsedImport(rows: [], rejected: [.init(line: 1, reason: "the file is empty")], warnings: [])
        }
        let schema = CRMSchema.schema(for: kind.entity)
        let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        let allowed = Set(kind.columns)
        var warnings: [String] = []
        var seen: Set<String> = []
        var fileProblems: [String] = []
        for name in names {
            if !seen.insert(name).inserted, allowed.contains(name) {
                fileProblems.append("column '\(name)' appears twice")
            } else if !allowed.contains(name), !warnings.contains(where: { $0.contains("'\(name.prefix(40))'") }) {
                warnings.append(
                    "ignored column '\(name.prefix(40))' (\(kind.rawValue) have \(kind.columns.joined(separator: ", ")))"
                )
            }
        }
        let missing = kind.requiredColumns.filter { !names.contains($0) }
        if !missing.isEmpty { fileProblems.append("the header has no \(missing.joined(separator: ", ")) column") }
        if !fileProblems.isEmpty {
            return ParsedImport(
                rows: [],
                rejected: [.init(line: header.line, problems: fileProblems)],
                warnings: warnings
            )
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
            let cells = Dictionary(
                zip(names, record.fields).filter { allowed.contains($0.0) },
                uniquingKeysWith: { first, _ in first }
            )
            switch row(kind, schema: schema, cells: cells, line: record.line) {
            case .success(let row): rows.append(row)
            case .failure(let problems): rejected.append(.init(line: record.line, problems: problems.messages))
            }
        }
        return ParsedImport(rows: rows, rejected: rejected, warnings: warnings)
    }

    struct RowProblems: Error {
        var messages: [String]
    }

    static func row(
        _ kind: ImportKind,
        schema: EntitySchema,
        cells: [String: String],
        line: Int
    ) -> Result<ImportRow, RowProblems> {
        var problems: [String] = []
        var fields: [String: FieldValue] = [:]
        var id: RecordID?
        var quantity: Int64?
        let trimmed = cells.mapValues { $0.trimmingCharacters(in: .whitespaces) }
        let currency = trimmed["currency"].flatMap { $0.count == 3 ? $0.uppercased() : nil }
        for field in schema.fields {
            guard let text = trimmed[field.name], !text.isEmpty else { continue }
            switch typed(text, field: field, currency: currency) {
            case .success(let value):
                if let problem = field.type.problem(with: value) {
                    problems.append("\(field.name) \(problem)")
                } else {
                    fields[field.name] = value
                }
            case .failure(let problem): problems.append(problem.message)
            }
        }
        if let text = trimmed["id"], !text.isEmpty {
            if RecordID.isValid(text) {
                id = RecordID(text)
            } else {
                problems.append("id '\(text.prefix(40))' is not a valid record id")
            }
        }
        if kind == .stock {
            if let text = trimmed["quantity"], !text.isEmpty {
                if let number = Int64(text) {
                    quantity = number
                } else {
                    problems.append("quantity must be a whole number (got '\(text.prefix(20))')")
                }
            } else {
                problems.append("quantity is missing")
            }
        }
        switch kind {
        case .products:
            if let part = fields["part_number"]?.stringValue, RecordID.isValid(part) {
                id = RecordID(part)
            } else {
                problems.append("part_number is missing or has spaces")
            }
        case .stock:
            if let part = fields["part_number"]?.stringValue, let warehouse = fields["warehouse"]?.stringValue,
                RecordID.isValid(part), RecordID.isValid(warehouse), !warehouse.contains("@")
            {
                id = RecordID.stock(partNumber: part, warehouse: warehouse)
            } else {
                problems.append("part_number and warehouse are needed (no spaces, no @ in warehouse)")
            }
        case .invoices:
            if let number = fields["number"]?.stringValue, RecordID.isValid("invoice-" + number) {
                id = RecordID("invoice-" + number)
            } else {
                problems.append("number is missing or has spaces")
            }
            if fields["account_id"] == nil, trimmed["account_id"]?.isEmpty ?? true {
                problems.append("account_id is missing")
            }
            if fields["amount"] == nil, trimmed["amount"]?.isEmpty ?? true { problems.append("amount is missing") }
        case .accounts:
            break
        case .plans:
            let month = fields["month"]?.stringValue ?? ""
            let monthOK =
                month.count == 7
                && month.utf8[month.utf8.index(month.utf8.startIndex, offsetBy: 4)] == UInt8(ascii: "-")
                && Int(month.prefix(4)) != nil && (1...12).contains(Int(month.suffix(2)) ?? 0)
            if !monthOK, !month.isEmpty { problems.append("month must be YYYY-MM (got '\(month.prefix(20))')") }
            if let rep = fields["rep"]?.stringValue, monthOK, RecordID.isValid("plan-\(rep)-\(month)") {
                id = RecordID("plan-\(rep)-\(month)")
            } else if monthOK {
                problems.append("rep is missing or has spaces")
            }
            if fields["amount"] == nil, trimmed["amount"]?.isEmpty ?? true { problems.append("amount is missing") }
        case .norms:
            if let stage = fields["stage"]?.stringValue {
                id = RecordID("stage-" + stage)
            } else if trimmed["stage"]?.isEmpty ?? true {
                problems.append("stage is missing")
            }
            if fields["days"] == nil, trimmed["days"]?.isEmpty ?? true { problems.append("days is missing") }
        }
        guard problems.isEmpty else { return .failure(RowProblems(messages: problems)) }
        return .success(ImportRow(line: line, id: id, fields: fields, quantity: quantity))
    }

    struct CellProblem: Error {
        var message: String
    }

    /// A CSV cell as the field's type: money as minor units (see ``money(_:exponent:)``), booleans, timestamps in
    /// canonical ISO 8601 UTC (a date alone, ISO or `DD.MM.YYYY`, means midnight UTC), dates as `YYYY-MM-DD`, text
    /// as it is.
    static func typed(_ text: String, field: FieldSchema, currency: String?) -> Result<FieldValue, CellProblem> {
        switch field.type {
        case .integer, .nonNegativeInteger:
            guard let number = money(text, exponent: Money.exponent(of: currency)) else {
                return .failure(
                    CellProblem(
                        message:
                            "\(field.name) must be an amount like 125.00 or 125,00 (or 12500 in minor units), got '\(text.prefix(20))'"
                    )
                )
            }
            return .success(.integer(number))
        case .bool:
            switch text.lowercased() {
            case "true", "yes", "1", "ja", "y": return .success(.bool(true))
            case "false", "no", "0", "nein", "n": return .success(.bool(false))
            default:
                return .failure(CellProblem(message: "\(field.name) must be true or false, got '\(text.prefix(20))'"))
            }
        case .timestamp:
            guard let millis = timestamp(text) else {
                return .failure(
                    CellProblem(
                        message:
                            "\(field.name) must be a date like 2026-11-01 or 01.11.2026 (or an ISO 8601 UTC time), got '\(text.prefix(30))'"
                    )
                )
            }
            return .success(.string(ISO8601.format(millisecondsSince1970: millis)))
        case .date:
            guard let day = date(text) else {
                return .failure(
                    CellProblem(
                        message: "\(field.name) must be a date like 2026-11-01 or 01.11.2026, got '\(text.prefix(30))'"
                    )
                )
            }
            return .success(.string(day))
        case .currency:
            return .success(.string(text.uppercased()))
        case .text, .enumeration, .reference, .digest:
            return .success(.string(text))
        }
    }

    /// An amount in minor units with `exponent` decimals. A whole number without separators is already in minor
    /// units (`12500`); with a separator it is in major units: the last `.` or `,` is the decimal separator and the
    /// other one, spaces and `'` group thousands (`1.250,50`, `1,250.50`, `1 250,50`, `125.5`); a separator that
    /// occurs more than once only groups (`1.250.000`). Extra decimals round half away from zero, on the digits.
    static func money(_ text: String, exponent: Int) -> Int64? {
        var digits = text.filter { !" '\u{00A0}\u{202F}".contains($0) }
        var negative = false
        if digits.hasPrefix("-") {
            negative = true
            digits.removeFirst()
        } else if digits.hasPrefix("+") {
            digits.removeFirst()
        }
        guard !digits.isEmpty, digits.allSatisfy({ ("0"..."9").contains($0) || $0 == "." || $0 == "," }) else {
            return nil
        }
        let whole: Substring
        let fraction: Substring
        if let last = digits.lastIndex(where: { $0 == "." || $0 == "," }) {
            let separator = digits[last]
            let grouping: Character = separator == "." ? "," : "."
            if digits.filter({ $0 == separator }).count > 1 {
                // Only grouping: "1.250.000" is 1 250 000 in major units.
                guard !digits.contains(grouping) else { return nil }
                whole = Substring(digits.filter { $0 != separator })
                fraction = ""
            } else {
                let integerPart = digits[..<last]
                guard integerPart.filter({ $0 == separator }).isEmpty else { return nil }
                whole = Substring(integerPart.filter { $0 != grouping })
                fraction = digits[digits.index(after: last)...]
                guard !fraction.contains(grouping) else { return nil }
            }
        } else {
            // No separator: minor units, as the wire carries them.
            guard let minor = Int64(digits) else { return nil }
            return negative ? -minor : minor
        }
        guard !whole.isEmpty || !fraction.isEmpty else { return nil }
        let kept = fraction.prefix(exponent)
        let padded = String(kept) + String(repeating: "0", count: exponent - kept.count)
        guard var value = Int64(String(whole.isEmpty ? "0" : whole) + padded) else { return nil }
        if let next = fraction.dropFirst(exponent).first, next >= "5" {
            let (rounded, overflow) = value.addingReportingOverflow(1)
            guard !overflow else { return nil }
            value = rounded
        }
        return negative ? -value : value
    }

    /// Milliseconds since 1970 of an ISO 8601 UTC timestamp, an ISO date or `DD.MM.YYYY` (optionally with
    /// ` HH:MM` in UTC).
    public static func timestamp(_ text: String) -> Int64? {
        if text.count == 10, let millis = ISO8601.parseTimestamp(text + "T00:00:00Z") { return millis }
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        if let day = parts.first.flatMap({ dottedDate(String($0)) }) {
            switch parts.count {
            case 1: return ISO8601.parseTimestamp(day + "T00:00:00Z")
            case 2:
                let time = parts[1].count == 5 ? parts[1] + ":00" : parts[1]
                return ISO8601.parseTimestamp(day + "T" + time + "Z")
            default: return nil
            }
        }
        return ISO8601.parseTimestamp(text)
    }

    /// `YYYY-MM-DD` of an ISO date or `DD.MM.YYYY`.
    static func date(_ text: String) -> String? {
        if ISO8601.parseDate(text) != nil { return text }
        return dottedDate(text)
    }

    /// `DD.MM.YYYY` (or `D.M.YYYY`) as a valid `YYYY-MM-DD`.
    static func dottedDate(_ text: String) -> String? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[2].count == 4, (1...2).contains(parts[0].count), (1...2).contains(parts[1].count),
            parts.allSatisfy({ $0.allSatisfy { ("0"..."9").contains($0) } })
        else { return nil }
        func padded(_ part: Substring) -> String { part.count == 1 ? "0" + part : String(part) }
        let iso = "\(parts[2])-\(padded(parts[1]))-\(padded(parts[0]))"
        return ISO8601.parseDate(iso) != nil ? iso : nil
    }
}

/// Decimal places of ISO 4217 currencies (two unless listed).
enum Money {
    static func exponent(of currency: String?) -> Int {
        switch currency {
        case "JPY", "KRW", "ISK", "CLP", "VND", "XAF", "XOF", "UGX", "PYG", "RWF": 0
        case "BHD", "KWD", "OMR", "JOD", "TND", "IQD", "LYD": 3
        default: 2
        }
    }
}

/// Decides the server changes one import row makes: a create for a new record, a set of only the fields that
/// differ for an existing one (so importing the same file twice changes nothing), and for stock a recount when the
/// quantity differs from the current value. A rep-editable field keeps a rep's value unless accounting's value
/// changed since the previous import of the row (its baseline): a stale file never reverts a rep's correction.
struct ImportPlanner {
    var counter: UInt64
    var clock: HybridClock
    let now: Int64

    /// What importing one row does to storage.
    enum Step {
        case rejected(ImportReport.Rejection)
        /// The row names a record deleted on the server.
        case deleted(RecordID)
        /// Nothing to write; `kept` names the fields where a rep's newer value stays.
        case unchanged(kept: [String])
        /// Write the record state and append the changes to the log.
        case write(RecordState, [Change], isNew: Bool, kept: [String])
    }

    /// Plans a row and applies its changes to the record: the one decision both storage backends carry out.
    /// `baseline` is what the previous import of this row wrote (nil when there was none).
    mutating func step(
        _ row: ImportRow,
        kind: ImportKind,
        current: RecordState?,
        baseline: [String: FieldValue]?
    ) -> Step {
        let schema = CRMSchema.schema(for: kind.entity)
        if let current, current.exists, current.isDeleted(schema: schema) { return .deleted(current.id) }
        switch plan(row, kind: kind, current: current, baseline: baseline) {
        case .failure(let rejection):
            return .rejected(ImportReport.Rejection(line: row.line, reason: rejection.reason))
        case .success(let (changes, kept)) where changes.isEmpty:
            return .unchanged(kept: kept)
        case .success(let (changes, kept)):
            var record = current ?? RecordState(entity: kind.entity, id: changes[0].recordID)
            for change in changes { _ = record.apply(change, schema: schema, authority: .server) }
            return .write(record, changes, isNew: current?.exists != true, kept: kept)
        }
    }

    /// Whether reps edit this field (so an import must not revert their newer value).
    static func isRepEditable(_ field: String, schema: EntitySchema) -> Bool {
        schema.replicaOperations.contains("set") && schema.fieldsByName[field]?.ownership == .replica
    }

    mutating func plan(
        _ row: ImportRow,
        kind: ImportKind,
        current: RecordState?,
        baseline: [String: FieldValue]?
    ) -> Result<([Change], kept: [String]), ChangeRejection> {
        let schema = CRMSchema.schema(for: kind.entity)
        let id = row.id ?? RecordID(UUID().uuidString.lowercased())
        var state = current ?? RecordState(entity: kind.entity, id: id)
        var changes: [Change] = []
        var kept: [String] = []
        let values = state.exists ? state.values(schema: schema) : [:]
        var differing: [String: FieldValue] = [:]
        for (name, value) in row.fields where values[name] != value {
            if state.exists, Self.isRepEditable(name, schema: schema) {
                let accountingUnchanged = baseline?[name] == value
                let repWroteIt =
                    baseline?[name] == nil
                    && state.winner(of: name, schema: schema).map { $0.dot.replica != .server } ?? false
                if accountingUnchanged || repWroteIt {
                    kept.append(name)
                    continue
                }
            }
            differing[name] = value
        }
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
        return .success((changes, kept.sorted()))
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
