/// `GET /v1/handshake`: who the caller is, what the server speaks, and the server's clock (the client measures its
/// offset from it and warns when it is far off).
public struct HandshakeResponse: Hashable, Sendable, Codable {
    public var protocolVersion: Int
    public var protocolVersions: [Int]
    public var user: String
    public var role: String
    public var territories: [String]
    /// ISO 8601 UTC.
    public var serverTime: String
    /// How far ahead of the server's clock a change's timestamp may be, in milliseconds.
    public var maxClockAheadMilliseconds: Int64

    public init(
        user: String,
        role: String,
        territories: [String],
        serverTime: String,
        maxClockAheadMilliseconds: Int64
    ) {
        protocolVersion = WireVersion.current
        protocolVersions = Array(WireVersion.supported)
        self.user = user
        self.role = role
        self.territories = territories
        self.serverTime = serverTime
        self.maxClockAheadMilliseconds = maxClockAheadMilliseconds
    }

    enum CodingKeys: String, CodingKey {
        case protocolVersion = "protocol_version"
        case protocolVersions = "protocol_versions"
        case user, role, territories
        case serverTime = "server_time"
        case maxClockAheadMilliseconds = "max_clock_ahead_ms"
    }
}
