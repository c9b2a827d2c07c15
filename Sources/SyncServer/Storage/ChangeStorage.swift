public import SyncProtocol

/// What the server keeps: users, the change log with its global sequence (the pull cursor), the merged current
/// state of every record, and each replica's processed counter with its push results (for exactly-once).
///
/// A conforming backend must make every accepted change durable before ``push(_:replica:user:now:maxClockAhead:)``
/// returns, and must process pushes of one replica one at a time (a batch sent twice in parallel applies nothing
/// twice and both get the same results).
public protocol ChangeStorage: Sendable {
    /// Adds a user; throws ``SyncServerError/Code/conflict`` when the name is taken.
    func addUser(_ user: User, tokenHash: String) async throws
    /// The user a token hash belongs to, revoked or not; nil for an unknown token.
    func user(tokenHash: String) async throws -> User?
    func users() async throws -> [User]
    /// Revokes a user's token; throws ``SyncServerError/Code/notFound`` for an unknown name.
    func revokeUser(named name: String) async throws
    /// Replaces a user's token (and lifts a revocation); throws ``SyncServerError/Code/notFound``.
    func setToken(named name: String, tokenHash: String) async throws

    /// Applies a replica's batch (see ``PushProcessor``): one result per change, in order, and how many conflicts
    /// the accepted ones opened.
    func push(
        _ changes: [Change],
        replica: ReplicaID,
        user: User,
        now: Int64,
        maxClockAhead: Int64
    ) async throws -> PushSummary

    /// Changes after `cursor` that `user` may see, made by other replicas, oldest first.
    func pull(user: User, replica: ReplicaID, after cursor: Int64, limit: Int) async throws -> PullPage

    /// A page of the current state of `user`'s scope, in (entity, id) order after `after`.
    func snapshot(user: User, after: String?, limit: Int) async throws -> SnapshotPage

    /// Moves an account to another territory (a server change that syncs like any other).
    func assignTerritory(account: RecordID, territory: String, now: Int64) async throws

    /// Upserts imported rows by their natural key, as server changes; one transaction for the whole file.
    func importRows(_ kind: ImportKind, rows: [ImportRow], now: Int64) async throws -> ImportReport

    func stats() async throws -> ServerStats

    /// Writes a consistent copy of the whole database to `path` while the server keeps serving.
    func backup(to path: String) async throws
}

/// What a push did.
public struct PushSummary: Sendable {
    public var results: [ChangeResult]
    public var conflicts: Int
}

/// One page of a pull.
public struct PullPage: Sendable {
    public var changes: [Change]
    /// Records that left the caller's scope in this page's range.
    public var removed: [ScopeNotice]
    public var cursor: Int64
    public var hasMore: Bool
}

/// One page of a snapshot.
public struct SnapshotPage: Sendable {
    public var records: [RecordState]
    /// The log position to pull from after the snapshot.
    public var cursor: Int64
    /// The paging key of the next page, nil on the last page.
    public var next: String?
}

/// The figures of `stats`.
public struct ServerStats: Sendable, Codable {
    public struct ReplicaInfo: Sendable, Codable {
        public var replica: String
        public var user: String
        public var lastSeen: String?
        public var lastCounter: Int64

        enum CodingKeys: String, CodingKey {
            case replica, user
            case lastSeen = "last_seen"
            case lastCounter = "last_counter"
        }
    }

    public var users: Int
    public var replicas: [ReplicaInfo]
    public var changes: Int64
    public var records: Int64
    public var recordsWithOpenConflicts: Int64

    enum CodingKeys: String, CodingKey {
        case users, replicas, changes, records
        case recordsWithOpenConflicts = "records_with_open_conflicts"
    }
}
