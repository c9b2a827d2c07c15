/// `GET /v1/pull?cursor=C&limit=N` (or the same as a JSON body): where to continue and how much to take.
public struct PullRequest: Hashable, Sendable, Codable {
    public var protocolVersion: Int
    /// The cursor of the last pull's response, or nil from the start (after an initial snapshot: its cursor).
    public var cursor: String?
    /// At most this many changes per page (the server may cap it lower).
    public var limit: Int

    /// The default page size.
    public static let defaultLimit = 1000

    public init(protocolVersion: Int = WireVersion.current, cursor: String?, limit: Int = PullRequest.defaultLimit) {
        self.protocolVersion = protocolVersion
        self.cursor = cursor
        self.limit = limit
    }

    enum CodingKeys: String, CodingKey {
        case protocolVersion = "protocol_version"
        case cursor, limit
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        protocolVersion = try container.decodeInteger(Int.self, forKey: .protocolVersion)
        cursor = try container.decodeIfPresent(String.self, forKey: .cursor)
        limit = try container.contains(.limit) ? container.decodeInteger(Int.self, forKey: .limit) : Self.defaultLimit
        guard (1...10_000).contains(limit) else {
            throw DecodingError.dataCorruptedError(
                forKey: .limit,
                in: container,
                debugDescription: "limit must be between 1 and 10000"
            )
        }
    }
}
