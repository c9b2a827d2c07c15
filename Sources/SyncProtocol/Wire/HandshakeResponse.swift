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
    /// The identity of the server's log (the part of a cursor before the dot); it changes when the server is
    /// restored from a backup. Absent from servers before protocol revision 13.
    public var logID: String?
    /// With `?replica_id=`: what the server holds of that replica (absent when it has never seen it).
    public var replica: ReplicaStatus?
    /// The server's release (`0.19.0`), for people and logs; compatibility is decided by the protocol versions.
    /// Absent from servers before 0.19.
    public var serverVersion: String?

    /// What the server holds of one replica.
    public struct ReplicaStatus: Hashable, Sendable, Codable {
        public var id: String
        /// The highest counter of the replica the server has processed. A laptop whose own changes go higher re-sends
        /// those above it (the server was restored); a laptop that never made this counter is a restored or copied
        /// replica and takes a new ID (PROTOCOL.md §9).
        public var counter: UInt64

        public init(id: ReplicaID, counter: UInt64) {
            self.id = id.rawValue
            self.counter = counter
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            id = try container.decode(String.self, forKey: .id)
            counter = try container.decodeInteger(UInt64.self, forKey: .counter)
        }
    }

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

    /// The decoder keeps older servers' answers (no `log_id`, no `replica`).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        protocolVersion = try container.decode(Int.self, forKey: .protocolVersion)
        protocolVersions = try container.decode([Int].self, forKey: .protocolVersions)
        user = try container.decode(String.self, forKey: .user)
        role = try container.decode(String.self, forKey: .role)
        territories = try container.decode([String].self, forKey: .territories)
        serverTime = try container.decode(String.self, forKey: .serverTime)
        maxClockAheadMilliseconds = try container.decode(Int64.self, forKey: .maxClockAheadMilliseconds)
        logID = try container.decodeIfPresent(String.self, forKey: .logID)
        replica = try container.decodeIfPresent(ReplicaStatus.self, forKey: .replica)
        serverVersion = try container.decodeIfPresent(String.self, forKey: .serverVersion)
    }

    enum CodingKeys: String, CodingKey {
        case protocolVersion = "protocol_version"
        case protocolVersions = "protocol_versions"
        case user, role, territories
        case serverTime = "server_time"
        case maxClockAheadMilliseconds = "max_clock_ahead_ms"
        case logID = "log_id"
        case replica
        case serverVersion = "server_version"
    }
}
