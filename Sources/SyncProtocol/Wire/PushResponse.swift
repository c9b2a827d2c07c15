/// The answer to a push: one result per change, in the order sent.
public struct PushResponse: Hashable, Sendable, Codable {
    public var protocolVersion: Int
    public var results: [ChangeResult]
    /// The server's wall clock when it answered, ISO 8601 UTC.
    public var serverTime: String

    public init(protocolVersion: Int = WireVersion.current, results: [ChangeResult], serverTime: String) {
        self.protocolVersion = protocolVersion
        self.results = results
        self.serverTime = serverTime
    }

    enum CodingKeys: String, CodingKey {
        case protocolVersion = "protocol_version"
        case results
        case serverTime = "server_time"
    }
}

/// What the server did with one pushed change. Sending the same change again returns the same result (a change
/// accepted before comes back as `duplicate`; a rejected one as the same rejection).
public struct ChangeResult: Hashable, Sendable, Codable {
    public enum Status: String, Hashable, Sendable, Codable {
        /// Applied and durable; the replica may drop it from its outbox.
        case accepted
        /// Applied before (a retry); the replica may drop it from its outbox.
        case duplicate
        /// Not applied; `rejection` says why. The replica keeps it and shows it to the rep.
        case rejected
    }

    public var dot: Dot
    public var status: Status
    public var rejection: ChangeRejection?

    public init(dot: Dot, status: Status, rejection: ChangeRejection? = nil) {
        self.dot = dot
        self.status = status
        self.rejection = rejection
    }

    public static func rejected(_ dot: Dot, _ rejection: ChangeRejection) -> ChangeResult {
        ChangeResult(dot: dot, status: .rejected, rejection: rejection)
    }
}
