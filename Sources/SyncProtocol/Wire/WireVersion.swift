/// The protocol versions of the wire format. Every message carries `protocol_version`; a receiver refuses
/// versions it does not speak with ``WireFormatError/Code/unsupportedVersion`` (HTTP 409).
///
/// When version 2 arrives, its types go in `Wire/V2/` and version 1 keeps decoding.
public enum WireVersion {
    /// The version this build writes.
    public static let current = 1
    /// The versions this build reads.
    public static let supported: ClosedRange<Int> = 1...1
}

extension WireVersion {
    /// Refuses a missing `protocol_version` (malformed) and one this build does not read (unsupported version).
    public static func check(_ version: Int?) throws(WireFormatError) {
        guard let version else { throw WireFormatError(.malformedPayload, "protocol_version is missing") }
        guard supported.contains(version) else {
            throw WireFormatError(
                .unsupportedVersion,
                "protocol version \(version) is not in \(supported.lowerBound)...\(supported.upperBound); "
                    + "update crm-field or the server"
            )
        }
    }
}
