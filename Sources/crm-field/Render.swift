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

        init(_ header: String, _ cell: @escaping @Sendable (StoredRecord) -> String) {
            self.header = header
            self.cell = cell
        }

        /// A column showing one field for people.
        static func field(_ name: String, _ header: String? = nil) -> Column {
            Column(header ?? name.replacingOccurrences(of: "_", with: " ")) { display($0, name) }
        }

        static let id = Column("id") { $0.id.rawValue }
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

    static let localFormatter: DateFormatter = {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone.current
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return formatter
    }()

    /// An ISO 8601 UTC time in the laptop's time zone, `2026-11-23 10:30`.
    static func localTime(_ iso: String) -> String {
        guard let millis = ISO8601.parseTimestamp(iso) else { return iso }
        return localTime(millis: millis)
    }

    static func localTime(millis: Int64) -> String {
        localFormatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
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
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { "  " + $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }
            .joined(separator: "\n")
    }

    /// An aligned table with a header row; long cells are cut with an ellipsis.
    static func table(_ records: [StoredRecord], columns: [Column]) -> String {
        grid(header: columns.map(\.header), rows: records.map { record in columns.map { $0.cell(record) } })
    }

    static func grid(header: [String], rows: [[String]], maxCell: Int = 40) -> String {
        let cut = rows.map { row in
            row.map { cell -> String in
                let line = cell.replacingOccurrences(of: "\n", with: " ")
                return line.count > maxCell ? String(line.prefix(maxCell - 1)) + "…" : line
            }
        }
        let widths = header.indices.map { index in
            max(header[index].count, cut.map { $0[index].count }.max() ?? 0)
        }
        func line(_ cells: [String]) -> String {
            zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        return ([line(header.map { $0.uppercased() })] + cut.map(line)).joined(separator: "\n")
    }
}
