/// A hybrid logical clock timestamp: wall-clock milliseconds since 1970 (UTC) and a logical counter that orders
/// events within one millisecond, or events whose wall clock went backwards.
///
/// On the wire: `"2026-11-23T12:00:00.123Z/0"`, the ISO 8601 UTC wall time, a slash, and the logical counter.
/// Timestamps order by wall time, then logical counter.
public struct HybridTimestamp: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var wallMilliseconds: Int64
    public var logical: UInt32

    public init(wallMilliseconds: Int64, logical: UInt32 = 0) {
        self.wallMilliseconds = wallMilliseconds
        self.logical = logical
    }

    public static let zero = HybridTimestamp(wallMilliseconds: 0)

    public static func < (lhs: HybridTimestamp, rhs: HybridTimestamp) -> Bool {
        (lhs.wallMilliseconds, lhs.logical) < (rhs.wallMilliseconds, rhs.logical)
    }

    /// The wire form, `2026-11-23T12:00:00.123Z/0`.
    public var description: String {
        "\(ISO8601.format(millisecondsSince1970: wallMilliseconds))/\(logical)"
    }

    /// Parses the wire form.
    public init(parsing text: String) throws(WireFormatError) {
        guard let slash = text.lastIndex(of: "/"),
            let wall = ISO8601.parseTimestamp(String(text[..<slash])),
            case let digits = text[text.index(after: slash)...],
            !digits.isEmpty, digits.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let logical = UInt32(digits)
        else {
            throw WireFormatError(
                .malformedPayload,
                "hybrid timestamp '\(text.prefix(40))' is not ISO-8601-UTC/COUNTER, e.g. 2026-11-23T12:00:00.000Z/0"
            )
        }
        self.init(wallMilliseconds: wall, logical: logical)
    }
}

extension HybridTimestamp: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            self = try HybridTimestamp(parsing: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
