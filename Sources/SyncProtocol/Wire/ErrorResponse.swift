/// Every error body of the HTTP API: `{"error": {"code": "malformed_payload", "message": "…"}}`.
public struct ErrorResponse: Hashable, Sendable, Codable {
    public struct Body: Hashable, Sendable, Codable {
        public var code: String
        public var message: String
    }

    public var error: Body

    public init(code: String, message: String) {
        error = Body(code: code, message: message)
    }

    public init(_ wireError: WireFormatError) {
        self.init(code: wireError.code.description, message: wireError.message)
    }
}
