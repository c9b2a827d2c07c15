#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Offline record IDs: ULIDs (48-bit millisecond time + 80 random bits, Crockford base-32, 26 characters), so IDs
/// made on different laptops never collide and sort by creation time.
public enum RecordIDGenerator {
    private static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    public static func ulid(now: Int64 = ReplicaConfiguration.systemNow()) -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: 16)
        let time = UInt64(max(0, now))
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: time >> (8 * (5 - index))) }
        for index in 6..<16 { bytes[index] = UInt8.random(in: 0...255, using: &generator) }
        // 128 bits -> 26 base-32 digits (the first digit carries 3 bits).
        var value = (UInt64(bytes[0]) << 56) | (UInt64(bytes[1]) << 48) | (UInt64(bytes[2]) << 40)
        value |= (UInt64(bytes[3]) << 32) | (UInt64(bytes[4]) << 24) | (UInt64(bytes[5]) << 16)
        value |= (UInt64(bytes[6]) << 8) | UInt64(bytes[7])
        var low: UInt64 = 0
        for index in 8..<16 { low = (low << 8) | UInt64(bytes[index]) }
        var digits = [UInt8](repeating: 0, count: 26)
        var high = value
        var rest = low
        for index in stride(from: 25, through: 0, by: -1) {
            let digit = Int(rest & 31)
            digits[index] = alphabet[digit]
            rest = (rest >> 5) | ((high & 31) << 59)
            high >>= 5
        }
        return String(decoding: digits, as: UTF8.self)
    }

    /// A new replica ID: 16 lower-case base-32 characters (80 random bits).
    static func replicaID() -> String {
        var generator = SystemRandomNumberGenerator()
        let lower = Array("0123456789abcdefghjkmnpqrstvwxyz".utf8)
        return String(decoding: (0..<16).map { _ in lower[Int.random(in: 0..<32, using: &generator)] }, as: UTF8.self)
    }
}
