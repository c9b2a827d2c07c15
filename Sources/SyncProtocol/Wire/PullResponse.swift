/// The answer to `GET /v1/pull?cursor=C&limit=N`: the changes in the caller's scope after the cursor, in the
/// server's log order, and notices of records that left the scope.
public struct PullResponse: Hashable, Sendable, Codable {
    public var protocolVersion: Int
    public var changes: [Change]
    /// Records the caller no longer sees (an account moved to another territory, and what hangs off it).
    public var removed: [ScopeNotice]
    /// Where the next pull starts. Opaque to clients: store it and send it back.
    public var cursor: String
    /// Whether more changes wait after `cursor`.
    public var hasMore: Bool

    public init(
        protocolVersion: Int = WireVersion.current,
        changes: [Change],
        removed: [ScopeNotice] = [],
        cursor: String,
        hasMore: Bool
    ) {
        self.protocolVersion = protocolVersion
        self.changes = changes
        self.removed = removed
        self.cursor = cursor
        self.hasMore = hasMore
    }

    enum CodingKeys: String, CodingKey {
        case protocolVersion = "protocol_version"
        case changes, removed, cursor
        case hasMore = "has_more"
    }
}

/// A record that left the caller's scope: the replica drops it (reporting unsynced edits to it, not losing them).
public struct ScopeNotice: Hashable, Sendable, Codable {
    public var entity: EntityKind
    public var recordID: RecordID

    public init(entity: EntityKind, recordID: RecordID) {
        self.entity = entity
        self.recordID = recordID
    }

    enum CodingKeys: String, CodingKey {
        case entity
        case recordID = "record_id"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        entity = EntityKind(try container.decode(String.self, forKey: .entity))
        recordID = RecordID(try container.decode(String.self, forKey: .recordID))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(entity.rawValue, forKey: .entity)
        try container.encode(recordID.rawValue, forKey: .recordID)
    }
}
