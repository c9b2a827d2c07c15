/// ISO 8601 UTC timestamps and dates, without Foundation and without a time zone database.
///
/// The wire accepts `YYYY-MM-DDTHH:MM:SSZ` with an optional fraction of up to 9 digits (kept to the millisecond)
/// and `Z` or `+00:00`; it writes `YYYY-MM-DDTHH:MM:SS.sssZ`. Dates alone are `YYYY-MM-DD`.
public enum ISO8601 {
    /// Formats milliseconds since 1970-01-01T00:00:00Z as `YYYY-MM-DDTHH:MM:SS.sssZ`.
    public static func format(millisecondsSince1970 millis: Int64) -> String {
        let (days, msOfDay) = floorDivide(millis, 86_400_000)
        let (year, month, day) = civil(fromDays: days)
        let hour = msOfDay / 3_600_000
        let minute = msOfDay / 60_000 % 60
        let second = msOfDay / 1000 % 60
        let ms = msOfDay % 1000
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2))"
            + ".\(pad(ms, 3))Z"
    }

    /// Parses an ISO 8601 UTC timestamp into milliseconds since 1970, or nil when it is not one.
    public static func parseTimestamp(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        guard b.count >= 20, let date = parseDateBytes(b), b[10] == UInt8(ascii: "T"),
            let hour = number(b, 11, 2), b[13] == UInt8(ascii: ":"), let minute = number(b, 14, 2),
            b[16] == UInt8(ascii: ":"), let second = number(b, 17, 2),
            hour < 24, minute < 60, second < 60
        else { return nil }
        var index = 19
        var millis: Int64 = 0
        if b[index] == UInt8(ascii: ".") {
            index += 1
            var digits = 0
            while index < b.count, let digit = digitValue(b[index]) {
                if digits < 3 { millis = millis * 10 + digit }
                digits += 1
                index += 1
            }
            guard (1...9).contains(digits) else { return nil }
            if digits < 3 { for _ in digits..<3 { millis *= 10 } }
        }
        let rest = b[index...]
        guard rest.elementsEqual("Z".utf8) || rest.elementsEqual("+00:00".utf8) else { return nil }
        let days = daysFromCivil(year: date.year, month: date.month, day: date.day)
        return days * 86_400_000 + (hour * 3600 + minute * 60 + second) * 1000 + millis
    }

    /// Parses `YYYY-MM-DD` into days since 1970-01-01, or nil.
    public static func parseDate(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        guard b.count == 10, let date = parseDateBytes(b) else { return nil }
        return daysFromCivil(year: date.year, month: date.month, day: date.day)
    }

    /// Formats days since 1970-01-01 as `YYYY-MM-DD`.
    public static func formatDate(daysSince1970 days: Int64) -> String {
        let (year, month, day) = civil(fromDays: days)
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    // MARK: - Calendar arithmetic (Howard Hinnant's days_from_civil)

    private static func parseDateBytes(_ b: [UInt8]) -> (year: Int64, month: Int64, day: Int64)? {
        guard b.count >= 10, let year = number(b, 0, 4), b[4] == UInt8(ascii: "-"), let month = number(b, 5, 2),
            b[7] == UInt8(ascii: "-"), let day = number(b, 8, 2),
            (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month)
        else { return nil }
        return (year, month, day)
    }

    private static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func floorDivide(_ a: Int64, _ b: Int64) -> (Int64, Int64) {
        let q = a / b
        let r = a % b
        return r < 0 ? (q - 1, r + b) : (q, r)
    }

    private static func number(_ b: [UInt8], _ start: Int, _ count: Int) -> Int64? {
        guard start + count <= b.count else { return nil }
        var value: Int64 = 0
        for index in start..<(start + count) {
            guard let digit = digitValue(b[index]) else { return nil }
            value = value * 10 + digit
        }
        return value
    }

    private static func digitValue(_ byte: UInt8) -> Int64? {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) ? Int64(byte - UInt8(ascii: "0")) : nil
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
