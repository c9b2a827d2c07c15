/// The identity of one replica: a laptop's local database, or the server itself.
///
/// A replica ID is 1 to 64 ASCII characters from `A-Z a-z 0-9 . _ -`. IDs order by their bytes, which is the
/// order conflict tie-breaks use on every implementation.
///
/// ```swift
/// let laptop = try ReplicaID(validating: "01hz3k9q7m2x")
/// let dot = Dot(replica: laptop, counter: 1)
/// ```
public struct ReplicaID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: String

    /// The replica ID the server stamps its own changes with (imports, recounts, admin edits).
    public static let server = ReplicaID(unchecked: "server")

    /// Creates an ID after checking its form.
    public init(validating rawValue: String) throws(WireFormatError) {
        guard Self.isValid(rawValue) else {
            throw WireFormatError(
                .malformedPayload,
                "replica id must be 1 to 64 characters of A-Z a-z 0-9 . _ - (got \(rawValue.utf8.count) bytes)"
            )
        }
        self.rawValue = rawValue
    }

    /// Creates an ID from a string already known to be valid (generated here, or read back from our own storage).
    public init(unchecked rawValue: String) {
        self.rawValue = rawValue
    }

    public static func isValid(_ candidate: String) -> Bool {
        let bytes = candidate.utf8
        guard (1...64).contains(bytes.count) else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                return true
            default:
                return false
            }
        }
    }

    /// Byte order: the same on every platform and in every language.
    public static func < (lhs: ReplicaID, rhs: ReplicaID) -> Bool {
        lhs.rawValue < rhs.rawValue  // ASCII only, so String order is byte order (and has a fast path)
    }

    public var description: String { rawValue }
}
