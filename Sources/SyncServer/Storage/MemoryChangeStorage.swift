import Foundation
import SyncProtocol

/// The in-memory twin of the real backends, for fast contract and route tests (as Hummingbird's
/// `MemoryPersistDriver` is to its drivers). Nothing survives the process. Write transactions are serialised and
/// work on a copy that replaces the state at commit; a read transaction works on the state as it was when it began.
public final class MemoryChangeStorage: ChangeStorage, @unchecked Sendable {
    /// Everything the storage holds; a value, so a transaction's copy is a snapshot.
    struct State: Sendable {
        struct StoredUser: Sendable {
            var user: User
            var tokenHash: String
        }
        struct StoredRecord: Sendable {
            var state: RecordState
            var row: RecordRow
        }
        struct Entry: Sendable {
            var seq: Int64
            var dot: Dot
            var scope: ScopeTag
            var json: [UInt8]
        }

        var users: [String: StoredUser] = [:]
        var replicas: [ReplicaID: ReplicaRecord] = [:]
        /// Push results in their binary form, as the real backends keep them.
        var results: [ReplicaID: [UInt64: (result: [UInt8], digest: [UInt8]?)]] = [:]
        var log: [Entry] = []
        var dots: Set<Dot> = []
        var records: [RecordKey: StoredRecord] = [:]
        var moves: [TerritoryMove] = []
        var meta: [String: String] = [ServerMeta.logID: makeLogID()]
        var documents: [String: [String: String]] = [:]
        var audit: [AuditEntry] = []

        func documents(_ space: String, keys: [String]?) -> [String: String] {
            let all = documents[space] ?? [:]
            guard let keys else { return all }
            let wanted = Set(keys)
            return all.filter { wanted.contains($0.key) }
        }
    }

    // NOTE: `lock` serialises access to `state`; `writer` keeps one write transaction at a time.
    private let lock = NSLock()
    private var state = State()
    private let writer = AsyncMutex()
    public let blobs: any BlobStore = MemoryBlobStore()

    public init() {}

    private var current: State { lock.withLock { state } }

    // MARK: - Users

    public func addUser(_ user: User, tokenHash: String) async throws {
        try await writer.withLock {
            try lock.withLock {
                guard state.users[user.name] == nil else {
                    throw SyncServerError(.conflict, "a user named \(user.name) already exists")
                }
                guard !state.users.values.contains(where: { $0.tokenHash == tokenHash }) else {
                    throw SyncServerError(.conflict, "that token is taken")
                }
                state.users[user.name] = State.StoredUser(user: user, tokenHash: tokenHash)
            }
        }
    }

    public func user(tokenHash: String) async throws -> User? {
        current.users.values.first { Tokens.constantTimeEquals($0.tokenHash, tokenHash) }?.user
    }

    public func users() async throws -> [User] {
        current.users.values.map(\.user).sorted { $0.name < $1.name }
    }

    public func tokenHash(named name: String) async throws -> String? { current.users[name]?.tokenHash }

    public func revokeUser(named name: String) async throws {
        try updateUser(name) { $0.user.isRevoked = true }
    }

    public func setToken(named name: String, tokenHash: String) async throws {
        try updateUser(name) {
            $0.tokenHash = tokenHash
            $0.user.isRevoked = false
        }
    }

    private func updateUser(_ name: String, _ update: (inout State.StoredUser) -> Void) throws {
        try lock.withLock {
            guard var stored = state.users[name] else { throw SyncServerError(.notFound, "no user named \(name)") }
            update(&stored)
            state.users[name] = stored
        }
    }

    // MARK: - Transactions

    public func withWriteTransaction<T: Sendable>(
        _ body: @Sendable (any StorageWriteTransaction) async throws -> T
    ) async throws -> T {
        try await writer.withLock {
            let transaction = MemoryWriteTransaction(state: current)
            let value = try await body(transaction)
            let committed = transaction.committed
            lock.withLock { state = committed }
            return value
        }
    }

    public func withReadTransaction<T: Sendable>(
        _ body: @Sendable (any StorageReadTransaction) async throws -> T
    ) async throws -> T {
        try await body(MemoryReadTransaction(state: current))
    }

    public func stats() async throws -> ServerStats {
        let state = current
        return ServerStats(
            users: state.users.count,
            replicas: state.replicas.values.sorted { $0.id.rawValue < $1.id.rawValue }.map {
                ServerStats.ReplicaInfo(
                    replica: $0.id.rawValue,
                    user: $0.user,
                    lastSeen: $0.lastSeen,
                    lastCounter: Int64($0.lastCounter)
                )
            },
            changes: Int64(state.log.count),
            records: Int64(state.records.count),
            recordsWithOpenConflicts: Int64(state.records.values.filter(\.row.hasConflicts).count),
            openConflictsByEntity: state.records.values.filter(\.row.hasConflicts).reduce(into: [:]) {
                $0[$1.state.entity.rawValue, default: 0] += 1
            },
            accountsByTerritory: state.records.values.reduce(into: [:]) { counts, stored in
                if stored.state.entity == .account, let territory = stored.row.territory {
                    counts[territory, default: 0] += 1
                }
            }
        )
    }

    public func backup(to path: String) async throws {
        throw SyncServerError(.invalidValue, "the in-memory storage has nothing to back up")
    }
}

extension MemoryChangeStorage.State {
    /// The in-memory twin of the SQL visibility condition.
    func isVisible(_ scope: ScopeTag, to viewer: User) -> Bool {
        if viewer.seesEverything { return true }
        if scope.account == nil, scope.owner == nil { return true }
        if let owner = scope.owner, owner == viewer.name { return true }
        guard let account = scope.account,
            let territory = records[RecordKey(entity: .account, id: account)]?.row.territory
        else { return false }
        return viewer.territories.contains(territory)
    }

    func logged(_ entry: Entry) -> LoggedChange { LoggedChange(seq: entry.seq, json: entry.json) }
}

/// Reads from the state as it was when the transaction began.
private struct MemoryReadTransaction: StorageReadTransaction {
    let state: MemoryChangeStorage.State

    func highWaterMark() async throws -> Int64 { state.log.last?.seq ?? 0 }

    func meta(_ key: String) async throws -> String? { state.meta[key] }

    func documents(_ space: String, keys: [String]?) async throws -> [String: String] {
        state.documents(space, keys: keys)
    }

    func audit(after seq: Int64, limit: Int) async throws -> [AuditEntry] {
        Array(state.audit.filter { $0.seq > seq }.prefix(limit))
    }

    func latestAudit(limit: Int) async throws -> [AuditEntry] { Array(state.audit.reversed().prefix(limit)) }

    func replica(_ id: ReplicaID) async throws -> ReplicaRecord? { state.replicas[id] }

    func changes(
        after cursor: Int64,
        visibleTo viewer: User,
        excluding: ReplicaID,
        limit: Int
    ) async throws
        -> [LoggedChange]
    {
        // Sequence numbers are 1, 2, 3…: the entry after `cursor` is at index `cursor`.
        let start = min(max(Int(cursor), 0), state.log.count)
        var found: [LoggedChange] = []
        for entry in state.log[start...]
        where entry.dot.replica != excluding && state.isVisible(entry.scope, to: viewer) {
            found.append(state.logged(entry))
            if found.count == limit { break }
        }
        return found
    }

    func moves(after: Int64, through: Int64) async throws -> [TerritoryMove] {
        state.moves.filter { $0.seq > after && $0.seq <= through }
    }

    func history(ofAccount account: RecordID, through: Int64, excluding: ReplicaID) async throws -> [LoggedChange] {
        state.log.prefix(max(0, min(Int(through), state.log.count))).filter {
            $0.scope.account == account && $0.dot.replica != excluding
        }.map(state.logged)
    }

    func records(ofAccount account: RecordID) async throws -> [RecordKey] {
        state.records.filter { $0.value.row.scope.account == account }.keys.sorted {
            ($0.entity == .account ? 1 : 0, $0) < ($1.entity == .account ? 1 : 0, $1)
        }
    }

    func states(after: RecordKey?, visibleTo viewer: User, limit: Int) async throws -> [RecordState] {
        let keys = state.records.keys.filter { key in after.map { key > $0 } ?? true }.sorted()
        var found: [RecordState] = []
        for key in keys {
            guard let stored = state.records[key], state.isVisible(stored.row.scope, to: viewer) else { continue }
            found.append(stored.state)
            if found.count == limit { break }
        }
        return found
    }

    func isVisible(account: RecordID, to viewer: User) async throws -> Bool {
        guard let stored = state.records[RecordKey(entity: .account, id: account)] else { return false }
        return state.isVisible(stored.row.scope, to: viewer)
    }

    func countStates(visibleTo viewer: User) async throws -> Int {
        state.records.values.filter { state.isVisible($0.row.scope, to: viewer) }.count
    }
}

/// Works on a private copy of the state, which replaces the storage's at commit.
private final class MemoryWriteTransaction: StorageWriteTransaction, @unchecked Sendable {
    // NOTE: `lock` serialises access to `state`; the storage's write mutex keeps other transactions out.
    private let lock = NSLock()
    private var state: MemoryChangeStorage.State

    init(state: MemoryChangeStorage.State) { self.state = state }

    var committed: MemoryChangeStorage.State { lock.withLock { state } }

    func replica(_ id: ReplicaID) async throws -> ReplicaRecord? { lock.withLock { state.replicas[id] } }

    func results(of replica: ReplicaID, counters: [UInt64]) async throws -> [UInt64: StoredResult] {
        let stored = lock.withLock { state.results[replica] ?? [:] }
        var results: [UInt64: StoredResult] = [:]
        for counter in counters {
            if let (bytes, digest) = stored[counter] {
                results[counter] = StoredResult(result: try ChangeResult(binary: bytes), digest: digest)
            }
        }
        return results
    }

    func states(_ keys: [RecordKey]) async throws -> [RecordKey: RecordState] {
        lock.withLock {
            var states: [RecordKey: RecordState] = [:]
            for key in keys { states[key] = state.records[key]?.state }
            return states
        }
    }

    func serverCounter() async throws -> UInt64 {
        lock.withLock { state.log.last { $0.dot.replica == .server }?.dot.counter ?? 0 }
    }

    func highWaterMark() async throws -> Int64 { lock.withLock { state.log.last?.seq ?? 0 } }

    func meta(_ key: String) async throws -> String? { lock.withLock { state.meta[key] } }

    func setMeta(_ key: String, _ value: String) async throws { lock.withLock { state.meta[key] = value } }

    func lastMove(ofAccount account: RecordID) async throws -> TerritoryMove? {
        lock.withLock { state.moves.last { $0.account == account } }
    }

    func save(_ states: [RecordState]) async throws {
        lock.withLock {
            for record in states {
                state.records[RecordKey(entity: record.entity, id: record.id)] = .init(
                    state: record,
                    row: RecordRow(record)
                )
            }
        }
    }

    func append(_ entries: [LogAppend]) async throws -> [Int64] {
        try lock.withLock {
            var seqs: [Int64] = []
            for entry in entries {
                // The twin of the log's UNIQUE (replica, counter).
                guard state.dots.insert(entry.change.dot).inserted else {
                    throw SyncServerError(.unavailable, "storage error: dot \(entry.change.dot) is already logged")
                }
                let seq = Int64(state.log.count + 1)
                state.log.append(.init(seq: seq, dot: entry.change.dot, scope: entry.scope, json: entry.json))
                seqs.append(seq)
            }
            return seqs
        }
    }

    func saveResults(_ results: [(counter: UInt64, stored: StoredResult)], of replica: ReplicaID) async throws {
        lock.withLock {
            for (counter, stored) in results {
                state.results[replica, default: [:]][counter] = (stored.result.binaryEncoded, stored.digest)
            }
        }
    }

    func saveReplica(_ record: ReplicaRecord) async throws {
        lock.withLock {
            var stored = record
            // The owner is set by the first push and never changes (as the SQL upserts leave user_name alone).
            if let existing = state.replicas[record.id] { stored.user = existing.user }
            state.replicas[record.id] = stored
        }
    }

    func recordMove(_ move: TerritoryMove) async throws {
        lock.withLock { state.moves.append(move) }
    }

    func documents(_ space: String, keys: [String]?) async throws -> [String: String] {
        lock.withLock { state.documents(space, keys: keys) }
    }

    func saveDocuments(_ space: String, _ values: [String: String]) async throws {
        lock.withLock { state.documents[space, default: [:]].merge(values) { $1 } }
    }

    func latestAudit(limit: Int) async throws -> [AuditEntry] {
        lock.withLock { Array(state.audit.reversed().prefix(limit)) }
    }

    func deleteDocuments(_ space: String, keys: [String]) async throws {
        lock.withLock { for key in keys { state.documents[space]?[key] = nil } }
    }

    func appendAudit(_ entry: AuditEntry) async throws {
        try lock.withLock {
            // The twin of the table's primary key.
            guard entry.seq == (state.audit.last?.seq ?? 0) + 1 else {
                throw SyncServerError(.unavailable, "storage error: audit entry \(entry.seq) is out of order")
            }
            state.audit.append(entry)
        }
    }

    func users() async throws -> [User] {
        lock.withLock { state.users.values.map(\.user).sorted { $0.name < $1.name } }
    }

    func updateUser(_ user: User) async throws {
        try lock.withLock {
            guard var stored = state.users[user.name] else {
                throw SyncServerError(.notFound, "no user named \(user.name)")
            }
            stored.user.role = user.role
            stored.user.territories = user.territories
            state.users[user.name] = stored
        }
    }
}
