import Foundation
import ReplicaStore
import SyncProtocol

/// How records look: JSON for scripts (PRODUCT.md's field names, integers in minor units, ISO 8601 UTC times), and
/// aligned text for people (money with two decimals, times in the laptop's time zone).
enum Render {
    /// A table column: its header and how a record fills it.
    struct Column: Sendable {
        var header: String
        var cell: @Sendable (StoredRecord) -> String
        /// Money and counts line up on the right.
        var alignRight = false
        /// How a cell is coloured on a terminal (an ANSI SGR code), from its text.
        var colour: (@Sendable (String) -> String?)?
        /// Record ids: shown short, long enough to be unique in the table.
        var isID = false

        init(
            _ header: String,
            alignRight: Bool = false,
            colour: (@Sendable (String) -> String?)? = nil,
            _ cell: @escaping @Sendable (StoredRecord) -> String
        ) {
            self.header = header
            self.alignRight = alignRight
            self.colour = colour
            self.cell = cell
        }

        /// A column showing one field for people.
        static func field(_ name: String, _ header: String? = nil) -> Column {
            Column(header ?? name.replacingOccurrences(of: "_", with: " "), alignRight: moneyFields.contains(name)) {
                display($0, name)
            }
        }

        static let id: Column = {
            var column = Column("id") { $0.id.rawValue }
            column.isID = true
            return column
        }()

        /// The account's payment standing, in colour on a terminal: strict green, hesitant yellow, disloyal red.
        static let standing = Column("standing", colour: Render.standingColour) { display($0, "payment_standing") }

        /// A reference shown by the short form of its id.
        static func reference(_ name: String, _ header: String) -> Column {
            Column(header) { record in record[name]?.stringValue.map(Render.shortID) ?? "" }
        }
    }

    /// The customer's name, from the names a list read for its records (``FieldContext/accountNames(_:)``).
    static func customer(_ names: [String: String], field: String = "account_id") -> Column {
        Column("customer") { record in record[field]?.stringValue.map { names[$0] ?? shortID($0) } ?? "" }
    }

    @Sendable static func standingColour(_ text: String) -> String? {
        switch text {
        case "strict": "32"
        case "hesitant": "33"
        case "disloyal": "31"
        default: nil
        }
    }

    /// Whether standard output takes colours: a terminal, and `NO_COLOR` not set (https://no-color.org).
    static let colours: Bool = {
        guard isatty(STDOUT_FILENO) == 1 else { return false }
        let noColour = ProcessInfo.processInfo.environment["NO_COLOR"] ?? ""
        return noColour.isEmpty && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }()

    /// The short form of an id a list shows: a ULID's first 10 characters (its millisecond), other ids whole.
    /// Every command takes it back (a unique prefix); ``table(_:columns:)`` lengthens the ones a table shares.
    static func shortID(_ id: String) -> String {
        id.count > 16 ? String(id.prefix(10)) : id
    }

    /// Short forms of `ids`, each long enough to differ from the others' in the list.
    static func shortIDs(_ ids: [String]) -> [String] {
        var length = 10
        while length < 26 {
            let short = ids.map { $0.count > 16 ? String($0.prefix(length)) : $0 }
            var seen: [String: String] = [:]
            var clash = false
            for (full, cut) in zip(ids, short) {
                if let other = seen[cut], other != full {
                    clash = true
                    break
                }
                seen[cut] = full
            }
            if !clash { return short }
            length += 2
        }
        return ids
    }

    /// The fields that hold money, in minor units of the record's `currency`.
    static let moneyFields: Set<String> = ["amount", "price_list", "price_dealer", "price_promo"]

    static func jsonValue(_ value: FieldValue) -> Any {
        switch value {
        case .null: NSNull()
        case .bool(let flag): flag
        case .integer(let number): NSNumber(value: number)
        case .string(let text): text
        }
    }

    static func json(_ record: StoredRecord) -> [String: Any] {
        var object: [String: Any] = ["id": record.id.rawValue]
        for (name, value) in record.values { object[name] = jsonValue(value) }
        if record.entity == .stock, let quantity = record["quantity"]?.integerValue {
            object["oversold"] = quantity < 0
        }
        if record.isDeleted { object["deleted"] = true }
        return object
    }

    /// One field of a record for people: money with decimals and currency, times local, enums as they are.
    static func display(_ record: StoredRecord, _ field: String) -> String {
        guard let value = record[field], !value.isNull else { return "" }
        if moneyFields.contains(field), let minor = value.integerValue {
            return money(minor, currency: record["currency"]?.stringValue)
        }
        let schema = CRMSchema.schema(for: record.entity)
        if schema.fieldsByName[field]?.type == .timestamp, let text = value.stringValue {
            return localTime(text)
        }
        return value.description
    }

    static func money(_ minor: Int64, currency: String?) -> String {
        let sign = minor < 0 ? "-" : ""
        let units = abs(minor) / 100
        let cents = abs(minor) % 100
        var digits = String(units)
        var grouped = ""
        while digits.count > 3 {
            grouped = "," + digits.suffix(3) + grouped
            digits.removeLast(3)
        }
        let text = "\(sign)\(digits)\(grouped).\(cents < 10 ? "0" : "")\(cents)"
        return currency.map { "\(text) \($0)" } ?? text
    }

    /// A formatter of `format` in the laptop's time zone (POSIX locale: the same text on every laptop).
    static func localFormatter(_ format: String) -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone.current
        formatter.dateFormat = format
        return formatter
    }

    static let localFormatter = localFormatter("yyyy-MM-dd HH:mm")

    /// An ISO 8601 UTC time in the laptop's time zone, `2026-11-23 10:30`.
    static func localTime(_ iso: String) -> String {
        guard let millis = ISO8601.parseTimestamp(iso) else { return iso }
        return localTime(millis: millis)
    }

    static func localTime(millis: Int64) -> String {
        localFormatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }

    static let clockFormatter = localFormatter("HH:mm")
    static let dayFormatter = localFormatter("EEEE d MMMM yyyy")

    /// `14:30` in the laptop's time zone.
    static func clock(_ millis: Int64) -> String {
        clockFormatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }

    /// `== Tuesday 8 December 2026 ==`.
    static func dayHeading(_ millis: Int64) -> String {
        "== \(dayFormatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))) =="
    }

    /// `name: value` lines in schema order, names aligned.
    static func card(_ record: StoredRecord) -> String {
        let schema = CRMSchema.schema(for: record.entity)
        var names = schema.fields.map(\.name)
        if case .counter(let field) = schema.kind { names.append(field) }
        names += record.values.keys.filter { !names.contains($0) }.sorted()
        var rows: [(String, String)] = [("id", record.id.rawValue)]
        for name in names {
            let text = display(record, name)
            if !text.isEmpty { rows.append((name.replacingOccurrences(of: "_", with: " "), text)) }
        }
        if record.entity == .stock, (record["quantity"]?.integerValue ?? 0) < 0 { rows.append(("oversold", "yes")) }
        if record.isDeleted { rows.append(("deleted", "yes")) }
        return pairs(rows)
    }

    /// `name  value` lines with the names aligned, each line indented by `indent`.
    static func pairs(_ rows: [(String, String)], indent: String = "  ") -> String {
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { indent + $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }
            .joined(separator: "\n")
    }

    /// An aligned table with a header row; long cells are cut with an ellipsis; ids are short.
    static func table(_ records: [StoredRecord], columns: [Column]) -> String {
        var rows = records.map { record in columns.map { $0.cell(record) } }
        for (index, column) in columns.enumerated() where column.isID {
            let short = shortIDs(rows.map { $0[index] })
            for row in rows.indices { rows[row][index] = short[row] }
        }
        return grid(
            header: columns.map(\.header),
            rows: rows,
            rightAligned: Set(columns.indices.filter { columns[$0].alignRight }),
            colours: Dictionary(
                uniqueKeysWithValues: columns.enumerated().compactMap { index, column in
                    column.colour.map { (index, $0) }
                }
            )
        )
    }

    static func grid(
        header: [String],
        rows: [[String]],
        maxCell: Int = 40,
        rightAligned: Set<Int> = [],
        colours: [Int: @Sendable (String) -> String?] = [:]
    ) -> String {
        let cut = rows.map { row in
            row.map { cell -> String in
                let line = cell.replacingOccurrences(of: "\n", with: " ")
                return line.count > maxCell ? String(line.prefix(maxCell - 1)) + "…" : line
            }
        }
        let widths = header.indices.map { index in
            max(header[index].count, cut.map { $0[index].count }.max() ?? 0)
        }
        func line(_ cells: [String], body: Bool) -> String {
            cells.enumerated().map { index, cell in
                let gap = String(repeating: " ", count: max(0, widths[index] - cell.count))
                var shown = cell
                if body, Render.colours, let code = colours[index]?(cell) { shown = "\u{1B}[\(code)m\(cell)\u{1B}[0m" }
                return rightAligned.contains(index) ? gap + shown : shown + gap
            }
            .joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        return ([line(header.map { $0.uppercased() }, body: false)] + cut.map { line($0, body: true) })
            .joined(separator: "\n")
    }
}
