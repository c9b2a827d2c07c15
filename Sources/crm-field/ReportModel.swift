import Foundation
import SyncProtocol

/// Money summed per currency (minor units): figures of records in several currencies are never added up across
/// them. The key "" holds amounts without a currency.
struct MoneySum: Hashable, Sendable {
    private(set) var amounts: [String: Int64] = [:]

    init() {}

    init(_ minor: Int64, _ currency: String?) { add(minor, currency) }

    mutating func add(_ minor: Int64, _ currency: String?) {
        amounts[currency ?? "", default: 0] += minor
    }

    static func + (lhs: MoneySum, rhs: MoneySum) -> MoneySum {
        var sum = lhs
        for (currency, minor) in rhs.amounts { sum.amounts[currency, default: 0] += minor }
        return sum
    }

    /// The amount in one currency (0 when there is none).
    subscript(currency: String) -> Int64 { amounts[currency] ?? 0 }

    var isZero: Bool { amounts.values.allSatisfy { $0 == 0 } }

    /// The currency of most of it (ties: alphabetical); nil when empty.
    var main: String? {
        amounts.filter { $0.value != 0 }.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key
    }

    var currencies: [String] { amounts.filter { $0.value != 0 }.keys.sorted() }

    /// `12,500.00 EUR`, `1,200.00 EUR + 50.00 USD`, or `0.00`.
    var text: String {
        let parts = currencies.map { Render.money(amounts[$0]!, currency: $0.isEmpty ? nil : $0) }
        return parts.isEmpty ? Render.money(0, currency: nil) : parts.joined(separator: " + ")
    }

    /// `{"EUR": 1250000}`: minor units per currency.
    var json: [String: Any] {
        Dictionary(uniqueKeysWithValues: currencies.map { ($0, NSNumber(value: amounts[$0]!)) })
    }
}

/// A share as a percentage with one decimal, rounded half up in integers (the same on every laptop); nil when
/// the whole is zero.
func percent(_ part: Int64, of whole: Int64) -> Double? {
    guard whole > 0 else { return nil }
    let tenths = (part * 1000 + whole / 2) / whole
    return Double(tenths) / 10
}

/// One figure of a report.
enum ReportCell: Hashable {
    case text(String)
    case count(Int)
    case money(MoneySum)
    case percent(Double?)
    case date(String?)

    var json: Any {
        switch self {
        case .text(let text): text
        case .count(let count): count
        case .money(let sum): sum.json
        case .percent(let value): value.map { $0 as Any } ?? NSNull()
        case .date(let value): value.map { $0 as Any } ?? NSNull()
        }
    }

    var display: String {
        switch self {
        case .text(let text): text
        case .count(let count): String(count)
        case .money(let sum): sum.text
        case .percent(let value): value.map { "\($0)%" } ?? "–"
        case .date(let value): value ?? "never"
        }
    }

    /// The number a chart draws: counts, money in the report's main currency, percentages.
    func value(currency: String?) -> Double {
        switch self {
        case .count(let count): Double(count)
        case .money(let sum): Double(sum[currency ?? ""]) / 100
        case .percent(let value): value ?? 0
        case .text, .date: 0
        }
    }

    var isNumeric: Bool {
        switch self {
        case .text, .date: false
        case .count, .money, .percent: true
        }
    }
}

/// A report: a titled table whose rows a person reads, a spreadsheet imports, a chart draws. The same value
/// renders as a table, JSON, CSV, terminal bars and a self-contained HTML page.
struct Report {
    struct Column {
        /// The JSON and CSV name (snake_case).
        var key: String
        var header: String
    }

    var name: String
    var title: String
    /// The period, the reps, what the figures mean.
    var subtitle: String
    var columns: [Column]
    var rows: [[ReportCell]]
    /// The columns that label a row (joined) and the one a chart draws.
    var chart: (label: [Int], value: Int)
    /// Report-wide facts for JSON (`period`, `reps`, …).
    var facts: [String: Any] = [:]
    /// Lines printed under the table for people (notes, totals).
    var notes: [String] = []

    func label(_ row: [ReportCell]) -> String { chart.label.map { row[$0].display }.joined(separator: " · ") }

    /// The currency most money in the drawn column is in.
    var chartCurrency: String? {
        var total = MoneySum()
        for row in rows { if case .money(let sum) = row[chart.value] { total = total + sum } }
        return total.main
    }

    var json: [String: Any] {
        var object = facts
        object["report"] = name
        object["rows"] = rows.map { row in
            Dictionary(uniqueKeysWithValues: zip(columns.map(\.key), row.map(\.json)))
        }
        return object
    }

    var table: String {
        let rightAligned = Set(columns.indices.filter { index in rows.contains { $0[index].isNumeric } })
        var lines = ["\(title)", subtitle, ""]
        lines.append(
            rows.isEmpty
                ? "Nothing to report."
                : Render.grid(
                    header: columns.map(\.header),
                    rows: rows.map { $0.map(\.display) },
                    maxCell: 60,
                    rightAligned: rightAligned
                )
        )
        if !notes.isEmpty { lines += [""] + notes }
        return lines.joined(separator: "\n")
    }

    /// RFC 4180 CSV: a header of the column keys; money as decimal numbers (the currency in a `_currency`
    /// column beside it), percentages as numbers, empty for none.
    var csv: String {
        let moneyColumns = Set(
            columns.indices.filter { index in rows.contains { if case .money = $0[index] { true } else { false } } }
        )
        var header: [String] = []
        for (index, column) in columns.enumerated() {
            header.append(column.key)
            if moneyColumns.contains(index) { header.append(column.key + "_currency") }
        }
        var lines = [header.map(Self.csvField).joined(separator: ",")]
        for row in rows {
            var cells: [String] = []
            for (index, cell) in row.enumerated() {
                switch cell {
                case .money(let sum):
                    let currencies = sum.currencies
                    cells.append(
                        currencies.isEmpty ? "0.00" : currencies.map { Self.decimal(sum[$0]) }.joined(separator: " + ")
                    )
                    cells.append(currencies.joined(separator: " + "))
                    continue
                case .percent(let value): cells.append(value.map { "\($0)" } ?? "")
                case .date(let value): cells.append(value ?? "")
                case .count(let count): cells.append(String(count))
                case .text(let text): cells.append(text)
                }
                if moneyColumns.contains(index) { cells.append("") }
            }
            lines.append(cells.map(Self.csvField).joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Minor units as a plain decimal with two places (`-1250.50`).
    static func decimal(_ minor: Int64) -> String {
        let cents = abs(minor) % 100
        return "\(minor < 0 ? "-" : "")\(abs(minor) / 100).\(cents < 10 ? "0" : "")\(cents)"
    }

    /// Horizontal bars of the chart column, in Unicode block characters (eighths), `width` cells at the most;
    /// coloured only when `colours` (a terminal without NO_COLOR).
    func bars(width: Int = 40, colours: Bool) -> String {
        let currency = chartCurrency
        let values = rows.map { $0[chart.value].value(currency: currency) }
        let labels = rows.map(label)
        let labelWidth = min(30, labels.map(\.count).max() ?? 0)
        let top = values.max() ?? 0
        var lines = [
            "\(title): \(columns[chart.value].header)\(currency.map { $0.isEmpty ? "" : " (\($0))" } ?? "")", subtitle,
            "",
        ]
        if rows.isEmpty { return (lines + ["Nothing to report."]).joined(separator: "\n") }
        let blocks = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]
        for (label, (value, row)) in zip(labels, zip(values, rows)) {
            let eighths = top > 0 ? Int((max(0, value) / top * Double(width * 8)).rounded()) : 0
            var bar = String(repeating: "█", count: eighths / 8) + blocks[eighths % 8]
            if bar.isEmpty && value > 0 { bar = "▏" }
            if colours { bar = "\u{1B}[36m\(bar)\u{1B}[0m" }
            let shown = label.count > labelWidth ? String(label.prefix(labelWidth - 1)) + "…" : label
            let pad = String(repeating: " ", count: labelWidth - shown.count)
            lines.append("\(shown)\(pad)  \(bar) \(row[chart.value].display)")
        }
        return lines.joined(separator: "\n")
    }

    /// A self-contained HTML page: the title, an SVG bar chart of the chart column and the table.
    func html(generated: String) -> String {
        let currency = chartCurrency
        let values = rows.map { $0[chart.value].value(currency: currency) }
        let top = max(values.max() ?? 0, 0)
        let barHeight = 22
        let labelWidth = 220
        let plotWidth = 520
        let height = max(1, rows.count) * (barHeight + 8) + 16
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" role="img" width="\(labelWidth + plotWidth + 160)" \
            height="\(height)" aria-label="\(Self.escape(columns[chart.value].header))">
            """
        for (index, row) in rows.enumerated() {
            let y = 8 + index * (barHeight + 8)
            let length = top > 0 ? Int((max(0, values[index]) / top * Double(plotWidth)).rounded()) : 0
            svg += """
                <text x="\(labelWidth - 8)" y="\(y + 16)" text-anchor="end">\(Self.escape(label(row)))</text>\
                <rect x="\(labelWidth)" y="\(y)" width="\(max(length, values[index] > 0 ? 1 : 0))" height="\(barHeight)" \
                fill="#2a7ab0"><title>\(Self.escape(row[chart.value].display))</title></rect>\
                <text x="\(labelWidth + length + 6)" y="\(y + 16)">\(Self.escape(row[chart.value].display))</text>
                """
        }
        svg += "</svg>"
        let head = columns.map { "<th>\(Self.escape($0.header))</th>" }.joined()
        let body = rows.map { row in
            "<tr>"
                + row.map { cell in
                    "<td\(cell.isNumeric ? " class=\"n\"" : "")>\(Self.escape(cell.display))</td>"
                }.joined() + "</tr>"
        }.joined(separator: "\n")
        let notes = notes.map { "<p class=\"note\">\(Self.escape($0))</p>" }.joined(separator: "\n")
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>\(Self.escape(title))</title>
            <style>
            body { font: 15px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
            h1 { font-size: 1.4em; margin-bottom: 0.2em; }
            .sub, .note { color: #555; }
            svg text { font: 13px system-ui, sans-serif; fill: #222; }
            table { border-collapse: collapse; margin-top: 1.5em; }
            th, td { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: left; }
            td.n { text-align: right; font-variant-numeric: tabular-nums; }
            </style>
            </head>
            <body>
            <h1>\(Self.escape(title))</h1>
            <p class="sub">\(Self.escape(subtitle))</p>
            <h2>\(Self.escape(columns[chart.value].header))\(currency.map { $0.isEmpty ? "" : " (\($0))" } ?? "")</h2>
            \(rows.isEmpty ? "<p>Nothing to report.</p>" : svg)
            <table>
            <thead><tr>\(head)</tr></thead>
            <tbody>
            \(body)
            </tbody>
            </table>
            \(notes)
            <p class="note">Made by crm-field on \(Self.escape(generated)) from this laptop's replica.</p>
            </body>
            </html>

            """
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
