public import SyncProtocol

/// What a storage backend provides: users, and transactions over the change log, the merged record states, each
/// replica's processed counter with its push results, and the territory moves. Every decision (push, pull,
/// snapshot, moves, imports) is made once, in ``SyncService``, on top of these primitives; a backend holds only SQL
/// (or its in-memory twin) and the mapping of rows.
///
/// A conforming backend guarantees:
/// - **Write transactions are serialised** with every other write transaction on the same database, across every
///   server process that shares it, for their whole duration. So a replica's counters are processed in order,
///   read-modify-write of record states cannot race, and log sequence numbers become visible in the order they
///   were assigned: a reader never sees seq N+1 without N.
/// - **Write transactions are atomic and durable**: everything `body` wrote is committed when it returns (and
///   survives a crash before ``withWriteTransaction(_:)`` returns), nothing when it throws.
/// - **A read transaction is one consistent snapshot**: every primitive called in it sees the database as of one
///   moment, whatever commits meanwhile (SQLite: one read transaction on one connection; PostgreSQL: one
///   `REPEATABLE READ` transaction).
/// - Errors of the driver are wrapped in ``SyncServerError`` (``SyncServerError/Code/unavailable``), without the
///   driver's text (it can quote key values).
public protocol ChangeStorage: Sendable {
    /// Where the documents' contents are kept (PROTOCOL.md §10).
    var blobs: any BlobStore { get }
    /// Adds a user; throws ``SyncServerError/Code/conflict`` when the name is taken.
    func addUser(_ user: User, tokenHash: String) async throws
    /// The user a token hash belongs to, revoked or not; nil for an unknown token.
    func user(tokenHash: String) async throws -> User?
    func users() async throws -> [User]
    /// Revokes a user's token; throws ``SyncServerError/Code/notFound`` for an unknown name.
    func revokeUser(named name: String) async throws
    /// The hash of a user's current token (revoked or not); nil for an unknown name.
    func tokenHash(named name: String) async throws -> String?
    /// Replaces a user's token (and lifts a revocation); throws ``SyncServerError/Code/notFound``.
    func setToken(named name: String, tokenHash: String) async throws

    /// Runs `body` in one write transaction (see the guarantees above). An error `body` throws is rethrown as it is.
    func withWriteTransaction<T: Sendable>(
        _ body: @Sendable (any StorageWriteTransaction) async throws -> T
    ) async throws -> T

    /// Runs `body` in one read-only transaction that sees a single consistent snapshot.
    func withReadTransaction<T: Sendable>(
        _ body: @Sendable (any StorageReadTransaction) async throws -> T
    ) async throws -> T

    /// Makes the storage ready before the server takes requests (PostgreSQL: creates or migrates the schema once
    /// its pool runs). Storage that is ready when opened does nothing.
    func prepare() async throws

    func stats() async throws -> ServerStats

    /// Writes a consistent copy of the whole database to `path` while the server keeps serving.
    func backup(to path: String) async throws
}

extension ChangeStorage {
    public func prepare() async throws {}
}

/// The reads of a pull or a snapshot, all from one snapshot of the database.
public protocol StorageReadTransaction: Sendable {
    /// The highest sequence number in the log, 0 when it is empty.
    func highWaterMark() async throws -> Int64

    /// A value of the server's own metadata (`server_meta`): the log's identity (`log_id`), its lineage across
    /// restores, the floor of the server's counters (see ``ServerMeta``); nil when it was never set.
    func meta(_ key: String) async throws -> String?

    /// The replica's owner and highest processed counter; nil for a replica never seen.
    func replica(_ id: ReplicaID) async throws -> ReplicaRecord?

    /// Up to `limit` log entries after `cursor` that `viewer` may see (see ``ScopeTag``), made by replicas other
    /// than `excluding`, in sequence order.
    func changes(
        after cursor: Int64,
        visibleTo viewer: User,
        excluding: ReplicaID,
        limit: Int
    ) async throws
        -> [LoggedChange]

    /// Territory moves logged after `after` up to and including `through`, in sequence order.
    func moves(after: Int64, through: Int64) async throws -> [TerritoryMove]

    /// Every logged change of `account` (the account and what hangs off it) up to and including `through`, made
    /// by replicas other than `excluding`, in sequence order.
    func history(ofAccount account: RecordID, through: Int64, excluding: ReplicaID) async throws -> [LoggedChange]

    /// The records that belong to `account`, the account itself last.
    func records(ofAccount account: RecordID) async throws -> [RecordKey]

    /// Up to `limit` record states `viewer` may see, in (entity, id) order after `after`.
    func states(after: RecordKey?, visibleTo viewer: User, limit: Int) async throws -> [RecordState]

    /// How many record states `viewer` may see (the size of a first download, for its progress estimate).
    func countStates(visibleTo viewer: User) async throws -> Int

    /// Whether `viewer` may see the account (and so what hangs off it).
    func isVisible(account: RecordID, to viewer: User) async throws -> Bool

    /// The server's own small documents of one space (``DocumentSpace``), by key: all of the space when `keys` is
    /// nil.
    func documents(_ space: String, keys: [String]?) async throws -> [String: String]
    /// Up to `limit` audit entries after sequence number `seq`, in order.
    func audit(after seq: Int64, limit: Int) async throws -> [AuditEntry]
    /// The newest `limit` audit entries, newest first.
    func latestAudit(limit: Int) async throws -> [AuditEntry]
}

/// The reads and writes of a push, an import or a territory move, in one serialised transaction.
public protocol StorageWriteTransaction: Sendable {
    /// The replica's owner and highest processed counter; nil for a replica never seen.
    func replica(_ id: ReplicaID) async throws -> ReplicaRecord?
    /// The stored results of already processed counters of `replica` (those that have one).
    func results(of replica: ReplicaID, counters: [UInt64]) async throws -> [UInt64: StoredResult]
    /// The current states of the records that exist among `keys`.
    func states(_ keys: [RecordKey]) async throws -> [RecordKey: RecordState]
    /// The highest counter the server has used for its own changes (imports, moves), 0 before the first.
    func serverCounter() async throws -> UInt64
    /// The highest sequence number in the log, 0 when it is empty.
    func highWaterMark() async throws -> Int64
    /// A value of the server's metadata, as in a read transaction.
    func meta(_ key: String) async throws -> String?
    /// Sets a value of the server's metadata.
    func setMeta(_ key: String, _ value: String) async throws
    /// The latest territory move of `account`, nil when it never moved.
    func lastMove(ofAccount account: RecordID) async throws -> TerritoryMove?

    /// Inserts or replaces record states (with the columns derived from them, ``RecordRow``).
    func save(_ states: [RecordState]) async throws
    /// Appends entries to the log in the given order and returns their sequence numbers.
    @discardableResult
    func append(_ entries: [LogAppend]) async throws -> [Int64]
    /// Stores push results by counter, for retries.
    func saveResults(_ results: [(counter: UInt64, stored: StoredResult)], of replica: ReplicaID) async throws
    /// Inserts or updates a replica's owner, highest processed counter and last push time.
    func saveReplica(_ record: ReplicaRecord) async throws
    /// Records a territory move at the log position of its change.
    func recordMove(_ move: TerritoryMove) async throws

    /// The server's own small documents of one space, as in a read transaction.
    func documents(_ space: String, keys: [String]?) async throws -> [String: String]
    /// Inserts or replaces documents of one space.
    func saveDocuments(_ space: String, _ values: [String: String]) async throws
    /// Removes documents of one space.
    func deleteDocuments(_ space: String, keys: [String]) async throws
    /// The newest `limit` audit entries, newest first.
    func latestAudit(limit: Int) async throws -> [AuditEntry]
    /// Appends one audit entry (``StorageWriteTransaction/audit(actor:action:target:detail:at:)`` chains it).
    func appendAudit(_ entry: AuditEntry) async throws
    /// Every user, by name.
    func users() async throws -> [User]
    /// Changes a user's role and territories; throws ``SyncServerError/Code/notFound`` for an unknown name.
    func updateUser(_ user: User) async throws
}

/// The spaces of the server's documents (`server_document`): small JSON values the sync decisions keep beside
/// the records.
enum DocumentSpace {
    /// The values the last import of a row wrote, by record id (`import:account`, …).
    static func importBaseline(_ entity: EntityKind) -> String { "import:" + entity.rawValue }
    /// The territories IT added, by name.
    static let territory = "territory"
    /// The territories IT took from each user, by user name (``TerritoryLoss``).
    static let territoryLoss = "territory_loss"
    /// Each replica's last push and pull, and its rejected and pending changes (``ReplicaActivity``).
    static let replicaActivity = "replica_activity"
    /// Tokens whose laptop IT reported lost (`user revoke --wipe`), by token hash: the user and when.
    static let wipe = "wipe"
    /// What the pushed document versions say of each content, by digest (``BlobReference``): its size and the
    /// accounts whose documents use it, which decide who may upload and download it.
    static let blob = "blob"
}

extension StorageReadTransaction {
    /// The identity of this log: random, made once with the database, kept by its backups, replaced by a restore.
    /// Cursors carry it, so a cursor of another server's log is told apart from one of this log.
    func logID() async throws -> String { try await meta(ServerMeta.logID) ?? "" }
}

/// The keys of `server_meta`.
enum ServerMeta {
    static let logID = "log_id"
    /// The identities of the logs this one was restored from, with how far each is shared (``LogLineage``).
    static let lineage = "lineage"
    /// The server's counters start above this after a restore (``SyncService/markRestored(now:)``).
    static let serverCounterFloor = "server_counter_floor"
    /// When the last restore was made (milliseconds since 1970), and where the restored log ended.
    static let restoredAt = "restored_at"
    static let restoredThrough = "restored_through"
}

/// What the server keeps of a processed counter: the result it answered, and the SHA-256 of the change's wire JSON,
/// so a replica that reuses the counter for another change (a laptop restored from a backup, or copied) is told
/// apart from a retry. Results stored before digests were kept have none.
public struct StoredResult: Sendable, Hashable {
    public var result: ChangeResult
    public var digest: [UInt8]?

    public init(result: ChangeResult, digest: [UInt8]?) {
        self.result = result
        self.digest = digest
    }
}

/// A new log's identity: 16 random lowercase hexadecimal digits.
func makeLogID() -> String {
    let value = UInt64.random(in: .min ... .max)
    let hex = String(value, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
}

/// A change as the log keeps it: its position and its wire JSON, encoded once when it was accepted, so a pull
/// writes it out without decoding it.
public struct LoggedChange: Sendable, Hashable {
    public var seq: Int64
    public var json: [UInt8]

    public init(seq: Int64, json: [UInt8]) {
        self.seq = seq
        self.json = json
    }
}

/// A change to append to the log, with its scope tag and its wire JSON.
public struct LogAppend: Sendable {
    public var change: Change
    public var scope: ScopeTag
    public var json: [UInt8]

    public init(change: Change, scope: ScopeTag, json: [UInt8]) {
        self.change = change
        self.scope = scope
        self.json = json
    }

    /// Encodes `change` for the log.
    init(_ change: Change, scope: ScopeTag) {
        self.init(change: change, scope: scope, json: change.wireJSON)
    }
}

/// An account that moved between territories, at the log position of the move's change.
public struct TerritoryMove: Sendable, Hashable {
    public var seq: Int64
    public var account: RecordID
    public var oldTerritory: String?
    public var newTerritory: String

    public init(seq: Int64, account: RecordID, oldTerritory: String?, newTerritory: String) {
        self.seq = seq
        self.account = account
        self.oldTerritory = oldTerritory
        self.newTerritory = newTerritory
    }
}

/// A replica as the server knows it: who pushes under it and how far it got.
public struct ReplicaRecord: Sendable, Hashable {
    public var id: ReplicaID
    public var user: String
    public var lastCounter: UInt64
    /// When it last pushed, milliseconds since 1970.
    public var lastSeen: Int64

    public init(id: ReplicaID, user: String, lastCounter: UInt64, lastSeen: Int64) {
        self.id = id
        self.user = user
        self.lastCounter = lastCounter
        self.lastSeen = lastSeen
    }
}

/// The figures of `stats`.
public struct ServerStats: Sendable, Codable {
    public struct ReplicaInfo: Sendable, Codable {
        public var replica: String
        public var user: String
        public var lastSeen: String?
        public var lastCounter: Int64
        /// After a restore: whether the replica has synced since (it then re-sent what the server had lost).
        public var syncedSinceRestore: Bool?
        /// When it last pushed changes, and when it last pulled to the end of the log.
        public var lastPush: String?
        public var lastPull: String?
        /// How many of its changes the server refused, in all; how many it had not sent yet at its last contact.
        public var rejected: Int = 0
        public var pending: Int?
        /// Milliseconds since 1970 of `lastSeen`, for the comparison (not encoded).
        public var lastSeenMilliseconds: Int64 = 0

        enum CodingKeys: String, CodingKey {
            case replica, user
            case lastSeen = "last_seen"
            case lastCounter = "last_counter"
            case syncedSinceRestore = "synced_since_restore"
            case lastPush = "last_push"
            case lastPull = "last_pull"
            case rejected, pending
        }

        public init(replica: String, user: String, lastSeen: Int64, lastCounter: Int64) {
            self.replica = replica
            self.user = user
            self.lastSeen = ISO8601.format(millisecondsSince1970: lastSeen)
            self.lastCounter = lastCounter
            lastSeenMilliseconds = lastSeen
        }
    }

    /// The last restore of the database (``SyncService/markRestored(now:ifLogID:)``).
    public struct RestoreInfo: Sendable, Codable {
        public var at: String
        /// The restored log's end: changes after it that laptops had were lost by the restore, and come back when
        /// their laptops sync (`synced_since_restore`).
        public var through: Int64
        public var replicasNotSyncedSince: Int

        enum CodingKeys: String, CodingKey {
            case at, through
            case replicasNotSyncedSince = "replicas_not_synced_since"
        }
    }

    public var users: Int
    public var replicas: [ReplicaInfo]
    public var changes: Int64
    public var records: Int64
    public var recordsWithOpenConflicts: Int64
    /// Records with open conflicts, by entity.
    public var openConflictsByEntity: [String: Int64] = [:]
    /// Accounts (deleted ones included) by territory.
    public var accountsByTerritory: [String: Int64] = [:]
    /// The log's identity (the part of a cursor before the dot).
    public var logID: String?
    public var lastRestore: RestoreInfo?

    enum CodingKeys: String, CodingKey {
        case users, replicas, changes, records
        case recordsWithOpenConflicts = "records_with_open_conflicts"
        case openConflictsByEntity = "open_conflicts_by_entity"
        case accountsByTerritory = "accounts_by_territory"
        case logID = "log_id"
        case lastRestore = "last_restore"
    }
}
