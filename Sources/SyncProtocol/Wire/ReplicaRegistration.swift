/// `POST /v1/replicas` body: `{"protocol_version": 1}`. A new laptop asks the server for its replica id.
public struct ReplicaRegistrationRequest: Hashable, Sendable, Codable {
    public var protocolVersion: Int

    public init(protocolVersion: Int = WireVersion.current) {
        self.protocolVersion = protocolVersion
    }

    enum CodingKeys: String, CodingKey {
        case protocolVersion = "protocol_version"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let version: Int? =
            try container.contains(.protocolVersion)
            ? container.decodeInteger(Int.self, forKey: .protocolVersion) : nil
        try WireVersion.check(version)
        protocolVersion = version ?? WireVersion.current
    }
}

/// `POST /v1/replicas` answer (201): the replica id the server made, bound to the caller for good.
public struct ReplicaRegistration: Hashable, Sendable, Codable {
    public var protocolVersion: Int
    public var replicaID: ReplicaID
    public var user: String

    public init(replicaID: ReplicaID, user: String) {
        protocolVersion = WireVersion.current
        self.replicaID = replicaID
        self.user = user
    }

    enum CodingKeys: String, CodingKey {
        case protocolVersion = "protocol_version"
        case replicaID = "replica_id"
        case user
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        protocolVersion = try container.decodeInteger(Int.self, forKey: .protocolVersion)
        try WireVersion.check(protocolVersion)
        let id = try container.decode(String.self, forKey: .replicaID)
        guard ReplicaID.isValid(id) else {
            throw DecodingError.dataCorruptedError(
                forKey: .replicaID,
                in: container,
                debugDescription: "replica_id must be 1 to 64 characters of A-Z a-z 0-9 . _ -"
            )
        }
        replicaID = ReplicaID(unchecked: id)
        user = try container.decode(String.self, forKey: .user)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(protocolVersion, forKey: .protocolVersion)
        try container.encode(replicaID.rawValue, forKey: .replicaID)
        try container.encode(user, forKey: .user)
    }
}
