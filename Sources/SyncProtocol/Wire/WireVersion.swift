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
