/// A message or value that does not follow the wire format.
///
/// The message names the offending place (a JSON path such as `changes[3].dot.counter`) and what was expected;
/// it never quotes field values, which may be customer data.
public struct WireFormatError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: String, Hashable, Sendable {
            case unsupportedVersion = "unsupported_version"
            case malformedPayload = "malformed_payload"
            case invalidValue = "invalid_value"
        }
        private let wrapped: Wrapped
        /// The message's protocol version is not one this side speaks.
        public static var unsupportedVersion: Self { Self(wrapped: .unsupportedVersion) }
        /// Not JSON, or JSON of the wrong shape.
        public static var malformedPayload: Self { Self(wrapped: .malformedPayload) }
        /// Well-formed, but a value breaks a rule (floating-point money, an unknown operation…).
        public static var invalidValue: Self { Self(wrapped: .invalidValue) }
        /// The stable snake_case name used in JSON error bodies, e.g. `malformed_payload`.
        public var description: String { wrapped.rawValue }
    }

    public var code: Code
    /// What went wrong and, where possible, what to do about it.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
