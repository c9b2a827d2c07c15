/// `POST /v1/push`: a batch of one replica's changes, in dot order.
public struct PushRequest: Hashable, Sendable, Codable {
    public var protocolVersion: Int
    /// The pushing replica; every change's dot must name it.
    public var replicaID: ReplicaID
    public var changes: [Change]
    /// The pushing laptop's pull cursor: how far it has received the server's log. The server uses it for the
    /// territory hand-off (PROTOCOL.md §9, "Territory hand-off"): an edit to an account moved away after this
    /// position was made before the laptop learned of the move. Optional; absent from earlier laptops.
    public var cursor: String?

    public init(
        protocolVersion: Int = WireVersion.current,
        replicaID: ReplicaID,
        changes: [Change],
        cursor: String? = nil
    ) {
        self.protocolVersion = protocolVersion
        self.replicaID = replicaID
        self.changes = changes
        self.cursor = cursor
    }

    enum CodingKeys: String, CodingKey {
        case protocolVersion = "protocol_version"
        case replicaID = "replica_id"
        case changes, cursor
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        // The version first, so a newer client's push gets unsupported_version rather than a shape error, in the
        // one decode of the body.
        let version: Int? =
            try container.contains(.protocolVersion)
            ? container.decodeInteger(Int.self, forKey: .protocolVersion) : nil
        try WireVersion.check(version)
        protocolVersion = version ?? WireVersion.current
        let replica = try container.decode(String.self, forKey: .replicaID)
        guard ReplicaID.isValid(replica) else {
            throw DecodingError.dataCorruptedError(
                forKey: .replicaID,
                in: container,
                debugDescription: "replica_id must be 1 to 64 characters of A-Z a-z 0-9 . _ -"
            )
        }
        replicaID = ReplicaID(unchecked: replica)
        changes = try container.decode([Change].self, forKey: .changes)
        cursor = try container.decodeIfPresent(String.self, forKey: .cursor)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(protocolVersion, forKey: .protocolVersion)
        try container.encode(replicaID.rawValue, forKey: .replicaID)
        try container.encode(changes, forKey: .changes)
        try container.encodeIfPresent(cursor, forKey: .cursor)
    }
}
