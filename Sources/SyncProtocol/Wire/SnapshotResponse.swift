/// `GET /v1/snapshot?replica_id=R&after=K&limit=N`: a page of the current state of the caller's scope, so a new
/// laptop does not replay years of log. Take pages until `has_more` is false, then pull from `cursor`.
///
/// A record's state may be newer than `cursor` (it changed while the pages were read); pulling from `cursor` then
/// delivers changes already in the state, which merge as duplicates.
public struct SnapshotResponse: Hashable, Sendable, Codable {
    public var protocolVersion: Int
    public var records: [RecordState]
    /// Where to start pulling once the snapshot is complete (the log position when the first page was read).
    public var cursor: String
    /// Pass as `after` to get the next page.
    public var next: String?
    public var hasMore: Bool
    /// How many records the whole snapshot holds; sent on the first page (absent from earlier servers).
    public var total: Int?

    public init(
        protocolVersion: Int = WireVersion.current,
        records: [RecordState],
        cursor: String,
        next: String?,
        hasMore: Bool,
        total: Int? = nil
    ) {
        self.protocolVersion = protocolVersion
        self.records = records
        self.cursor = cursor
        self.next = next
        self.hasMore = hasMore
        self.total = total
    }

    enum CodingKeys: String, CodingKey {
        case protocolVersion = "protocol_version"
        case records, cursor, next
        case hasMore = "has_more"
        case total
    }
}
