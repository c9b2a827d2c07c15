/// The type of a field's value, checked when a change is made and when the server accepts it.
public enum ValueType: Hashable, Sendable {
    /// Free text up to a length in bytes.
    case text(maxBytes: Int)
    /// One of the listed strings.
    case enumeration([String])
    /// A signed 64-bit integer: money in minor units.
    case integer
    /// An integer that may not be negative (prices).
    case nonNegativeInteger
    /// An ISO 8601 UTC timestamp, `2026-11-23T12:00:00Z`.
    case timestamp
    /// A calendar date, `2026-11-23`.
    case date
    case bool
    /// An ISO 4217 currency code: three upper-case letters.
    case currency
    /// The ID of a record of the given entity.
    case reference(EntityKind)
    /// 0.19: a SHA-256 digest of a blob's content, 64 lower-case hexadecimal digits.
    case digest

    /// Why `value` is not of this type, or nil when it is. Null is always allowed here (required fields are
    /// checked separately). The reason names the type, never the value.
    public func problem(with value: FieldValue) -> String? {
        switch (self, value) {
        case (_, .null):
            return nil
        case (.text(let maxBytes), .string(let text)):
            return text.utf8.count <= maxBytes ? nil : "is longer than \(maxBytes) bytes"
        case (.enumeration(let allowed), .string(let text)):
            return allowed.contains(text) ? nil : "must be one of \(allowed.joined(separator: ", "))"
        case (.integer, .integer):
            return nil
        case (.nonNegativeInteger, .integer(let number)):
            return number >= 0 ? nil : "must not be negative"
        case (.timestamp, .string(let text)):
            return ISO8601.parseTimestamp(text) != nil
                ? nil : "must be an ISO 8601 UTC timestamp like 2026-11-23T09:30:00Z"
        case (.date, .string(let text)):
            return ISO8601.parseDate(text) != nil ? nil : "must be a date like 2026-11-23"
        case (.bool, .bool):
            return nil
        case (.currency, .string(let text)):
            let isCode = text.utf8.count == 3 && text.utf8.allSatisfy { (65...90).contains($0) }
            return isCode ? nil : "must be a three-letter currency code like EUR"
        case (.reference, .string(let text)):
            return RecordID.isValid(text) ? nil : "must be a record id"
        case (.digest, .string(let text)):
            return Self.isDigest(text) ? nil : "must be a SHA-256 digest: 64 lower-case hexadecimal digits"
        case (.text, _), (.enumeration, _), (.timestamp, _), (.date, _), (.currency, _), (.reference, _), (.digest, _):
            return "must be a string"
        case (.integer, _), (.nonNegativeInteger, _):
            return "must be an integer (money in minor units)"
        case (.bool, _):
            return "must be true or false"
        }
    }

    /// Whether `text` is a SHA-256 digest as the protocol writes it: 64 lower-case hexadecimal digits.
    public static func isDigest(_ text: some StringProtocol) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}
