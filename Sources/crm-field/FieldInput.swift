import Foundation
import ReplicaStore
import SyncProtocol

/// Turns what a rep typed into field values, checked against the schema before anything is written: one clear
/// line naming the flag and the problem, never a half-written record.
struct FieldInput {
    let entity: EntityKind
    let now: Int64
    private(set) var fields: [String: FieldValue] = [:]

    init(_ entity: EntityKind, now: Int64 = ReplicaConfiguration.systemNow()) {
        self.entity = entity
        self.now = now
    }

    static func flag(_ field: String) -> String { "--" + field.replacingOccurrences(of: "_", with: "-") }

    /// Sets `field` from a flag's text when the flag was given. An empty text clears the field.
    mutating func set(_ field: String, _ text: String?, flag: String? = nil) throws {
        guard let text else { return }
        fields[field] = try Self.value(text, entity: entity, field: field, now: now, flag: flag)
    }

    mutating func set(_ field: String, value: FieldValue) { fields[field] = value }

    var isEmpty: Bool { fields.isEmpty }

    /// The typed value of `text` for one field.
    static func value(
        _ text: String,
        entity: EntityKind,
        field: String,
        now: Int64,
        flag: String? = nil
    ) throws -> FieldValue {
        let flag = flag ?? Self.flag(field)
        guard let schema = CRMSchema.schema(for: entity).fieldsByName[field] else {
            throw CLIError.invalid("\(entity) has no field \(field)")
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty {
            if schema.isRequired { throw CLIError.invalid("\(flag) cannot be empty") }
            return .null
        }
        let value: FieldValue
        switch schema.type {
        case .text, .reference, .digest:
            value = .string(trimmed)
        case .enumeration:
            value = .string(trimmed.lowercased())
        case .currency:
            value = .string(trimmed.uppercased())
        case .integer, .nonNegativeInteger:
            if Render.moneyFields.contains(field) {
                guard let minor = parseMoney(trimmed) else {
                    throw CLIError.invalid("\(flag) must be an amount like 1500 or 1500.50, not \(trimmed)")
                }
                value = .integer(minor)
            } else {
                guard let number = Int64(trimmed) else { throw CLIError.invalid("\(flag) must be a whole number") }
                value = .integer(number)
            }
        case .timestamp:
            guard let millis = parseTime(trimmed, now: now, endOfDay: field == "due_at") else {
                throw CLIError.invalid("\(flag) must be a time like \(Self.timeExamples), not \(trimmed)")
            }
            value = .string(ISO8601.format(millisecondsSince1970: millis))
        case .date:
            guard ISO8601.parseDate(trimmed) != nil else {
                throw CLIError.invalid("\(flag) must be a date like 2026-12-31")
            }
            value = .string(trimmed)
        case .bool:
            switch trimmed.lowercased() {
            case "true", "yes", "1": value = .bool(true)
            case "false", "no", "0": value = .bool(false)
            default: throw CLIError.invalid("\(flag) must be true or false")
            }
        }
        if let problem = schema.type.problem(with: value) { throw CLIError.invalid("\(flag) \(problem)") }
        return value
    }

    /// `1500`, `1500.5`, `1,500.50`, `-20` in major units → minor units (cents). At most two decimals.
    static func parseMoney(_ text: String) -> Int64? {
        var text = text.replacingOccurrences(of: ",", with: "").replacingOccurrences(of: "_", with: "")
        let negative = text.hasPrefix("-")
        if negative { text.removeFirst() }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let units = Int64(parts[0]), units >= 0, !parts[0].isEmpty else {
            return nil
        }
        var cents: Int64 = 0
        if parts.count == 2 {
            let decimals = parts[1]
            guard (1...2).contains(decimals.count), decimals.allSatisfy(\.isASCII), let value = Int64(decimals) else {
                return nil
            }
            cents = decimals.count == 1 ? value * 10 : value
        }
        let (scaled, overflow) = units.multipliedReportingOverflow(by: 100)
        guard !overflow else { return nil }
        return (negative ? -1 : 1) * (scaled + cents)
    }

    static let timeExamples =
        "2026-11-25, \"2026-11-25 14:30\", 25.11.2026, \"25.11.2026 14:30\", \"tomorrow 10:00\", yesterday, +3d, -2h"

    /// A time as people type it, in the laptop's time zone unless it names its own: `2026-11-25` (midnight, or the
    /// end of that day for due dates), `2026-11-25 14:30`, `2026-11-25T14:30`, `25.11.2026 [14:30]`, ISO 8601 with
    /// `Z` or an offset, `now`, `today`/`tomorrow`/`yesterday` with an optional time (`tomorrow 10:00`), a time
    /// of today (`14:30`), and a distance from now (`+3d`, `-2h`, `+30m`, `+1w`).
    static func parseTime(_ text: String, now: Int64, endOfDay: Bool) -> Int64? {
        let calendar = Calendar.current
        let nowDate = Date(timeIntervalSince1970: Double(now) / 1000)
        func millis(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
        func dayEdge(_ date: Date) -> Int64 {
            let start = calendar.startOfDay(for: date)
            return millis(endOfDay ? start.addingTimeInterval(86_399) : start)
        }
        /// `HH:MM` (or `HH`) on the day of `date`.
        func at(_ clock: Substring, on date: Date) -> Int64? {
            let parts = clock.split(separator: ":", omittingEmptySubsequences: false)
            guard (1...2).contains(parts.count), let hour = Int(parts[0]), (0...23).contains(hour),
                parts[0].count <= 2
            else { return nil }
            let minute = parts.count == 2 ? Int(parts[1]) : 0
            guard let minute, (0...59).contains(minute), parts.count == 1 || parts[1].count == 2 else { return nil }
            return calendar.date(bySettingHour: hour, minute: minute, second: 0, of: date).map(millis)
        }
        let lowered = text.lowercased()
        let words = lowered.split(separator: " ", omittingEmptySubsequences: true)
        let days: [String: Int] = ["today": 0, "tomorrow": 1, "yesterday": -1]
        if lowered == "now" { return now }
        if let first = words.first, let offset = days[String(first)], words.count <= 2,
            let day = calendar.date(byAdding: .day, value: offset, to: nowDate)
        {
            return words.count == 1 ? dayEdge(day) : at(words[1], on: day)
        }
        if words.count == 1, lowered.contains(":"), let clock = at(words[0], on: nowDate) { return clock }
        if let sign = lowered.first, sign == "+" || sign == "-", lowered.count >= 3,
            let unit = lowered.last, let amount = Int64(lowered.dropFirst().dropLast())
        {
            let seconds: Int64? =
                switch unit {
                case "m": 60
                case "h": 3_600
                case "d": 86_400
                case "w": 604_800
                default: nil
                }
            guard let seconds else { return nil }
            return now + (sign == "-" ? -1 : 1) * amount * seconds * 1000
        }
        if let utc = ISO8601.parseTimestamp(text) { return utc }
        let withOffset = ISO8601DateFormatter()
        withOffset.formatOptions = [.withInternetDateTime]
        if let date = withOffset.date(from: text) { return millis(date) }
        let local = DateFormatter()
        local.locale = Locale(identifier: "en_US_POSIX")
        local.timeZone = TimeZone.current
        for format in ["yyyy-MM-dd HH:mm", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss"] {
            local.dateFormat = format
            if let date = local.date(from: text) { return millis(date) }
        }
        local.dateFormat = "dd.MM.yyyy HH:mm"
        if text.count >= 14, text.count <= 16, let date = local.date(from: text) { return millis(date) }
        for format in ["yyyy-MM-dd", "dd.MM.yyyy"] {
            local.dateFormat = format
            if text.count >= 8, text.count <= 10, let date = local.date(from: text) { return dayEdge(date) }
        }
        return nil
    }
}
