/// The ID of one record. Generated offline without coordination (ULIDs on our replicas); products use their part
/// number, stock rows `PART@WAREHOUSE` (see ``RecordID/stock(partNumber:warehouse:)``).
public struct RecordID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: String

    public init(_ rawValue: String) {
        self.rawValue = rawValue
    }

    /// A record ID is 1 to 128 bytes of printable ASCII without spaces.
    public static func isValid(_ candidate: String) -> Bool {
        let bytes = candidate.utf8
        guard (1...128).contains(bytes.count) else { return false }
        return bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    /// The ID of the stock row of one part in one warehouse.
    public static func stock(partNumber: String, warehouse: String) -> RecordID {
        RecordID("\(partNumber)@\(warehouse)")
    }

    public static func < (lhs: RecordID, rhs: RecordID) -> Bool {
        lhs.rawValue < rhs.rawValue  // ASCII only, so String order is byte order (and has a fast path)
    }

    public var description: String { rawValue }
}
