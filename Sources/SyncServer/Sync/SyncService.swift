import Crypto
import Foundation
public import SyncProtocol
import Synchronization

/// The server's sync operations (push, pull, snapshot, territory moves, imports) over any ``ChangeStorage``. The
/// decisions are the pure planners' (``PushProcessor``, ``PullPlanner``, ``ImportPlanner``); this type loads what
/// they need in one transaction, asks them, and writes what they decided, so every backend behaves the same.
public struct SyncService: Sendable {
    public let storage: any ChangeStorage

    public init(storage: any ChangeStorage) {
        self.storage = storage
    }

    // MARK: - Push

    /// Applies a replica's batch (see ``PushProcessor``): one result per change, in order, and how many conflicts
    /// the accepted ones opened. Durable when it returns; a batch sent twice applies nothing twice.
    public func push(
        _ changes: [Change],
        replica: ReplicaID,
        user: User,
        now: Int64,
        maxClockAhead: Int64,
        cursor: String? = nil,
        handOffGrace: Int64 = 30 * 86_400_000
    ) async throws -> PushSummary {
        let processor = PushProcessor(
            user: user,
            replicaID: replica,
            now: now,
            maxClockAhead: maxClockAhead,
            handOffGrace: handOffGrace
        )
        // Each change's wire JSON, encoded once and outside the write lock; the log keeps it for every pull.
        let encoded = changes.map(\.wireJSON)
        // What tells a retry from a reused dot (a restored or copied laptop): the digest of each change's content.
        let digests = encoded.map { Array(SHA256.hash(data: $0)) }
        try Self.checkNotReserved(replica)
        return try await storage.withWriteTransaction { transaction in
            let known = try await transaction.replica(replica)
            if let known { try Self.checkOwner(known, user: user) }
            let lastCounter = known?.lastCounter ?? 0
            let repeated = changes.filter { $0.dot.replica == replica && $0.dot.counter <= lastCounter }
            let previous = try await transaction.results(of: replica, counters: repeated.map(\.dot.counter))
            var states = try await transaction.states(
                Array(Set(changes.map { RecordKey(entity: $0.entity, id: $0.recordID) }))
            )
            let accounts = PushProcessor.referencedAccounts(changes, states: states)
            if !accounts.isEmpty {
                states.merge(try await transaction.states(Array(accounts))) { current, _ in current }
            }
            var loaded = PushProcessor.Loaded(lastCounter: lastCounter, previousResults: previous, states: states)
            try await Self.loadHandOff(
                into: &loaded,
                changes: changes,
                now: now,
                cursor: cursor,
                user: user,
                transaction: transaction
            )
            let outcome = processor.process(changes, digests: digests, loaded: loaded)
            try await transaction.save(Array(outcome.states.values))
            try await transaction.append(
                outcome.log.map { LogAppend(change: $0.change, scope: $0.scope, json: encoded[$0.index]) }
            )
            try await transaction.saveResults(outcome.newResults.map { ($0.0, $0.1) }, of: replica)
            try await transaction.saveReplica(
                ReplicaRecord(id: replica, user: user.name, lastCounter: outcome.lastCounter, lastSeen: now)
            )
            try await Self.recordPush(outcome, changes: changes, replica: replica, user: user, now: now, transaction)
            try await Self.recordBlobReferences(changes, results: outcome.results, transaction)
            return PushSummary(results: outcome.results, conflicts: outcome.conflicts)
        }
    }

    /// What the territory hand-off needs (PROTOCOL.md §9): the position the laptop's cursor names, and the latest
    /// move of each loaded account the user no longer sees. Nothing without a cursor; a cursor this server did not
    /// issue gives no hand-off (and does not fail the push).
    /// How long after a restore a change to a record the server lacks waits for the record's author to re-send it
    /// (`awaiting_restore`) rather than being refused `out_of_scope`.
    static let restoreWaitMilliseconds: Int64 = 7 * 86_400_000

    static func loadHandOff(
        into loaded: inout PushProcessor.Loaded,
        changes: [Change],
        now: Int64,
        cursor: String?,
        user: User,
        transaction: any StorageWriteTransaction
    ) async throws {
        if let restoredAt = try await transaction.meta(ServerMeta.restoredAt).flatMap({ Int64($0) }) {
            loaded.afterRestore = now - restoredAt < Self.restoreWaitMilliseconds
        }
        guard let cursor, !user.seesEverything else { return }
        let lineage = LogLineage(
            current: try await transaction.meta(ServerMeta.logID) ?? "",
            metaValue: try await transaction.meta(ServerMeta.lineage)
        )
        guard
            let seq = try? LogCursor.parse(
                cursor,
                lineage: lineage,
                highWaterMark: try await transaction.highWaterMark()
            ).seq
        else { return }
        loaded.pulledThrough = seq
        var foreign = false
        for (key, state) in loaded.states where key.entity == .account {
            let territory = state.values(schema: CRMSchema.account)["territory"]?.stringValue
            guard let territory, !user.territories.contains(territory) else { continue }
            foreign = true
            if let move = try await transaction.lastMove(ofAccount: key.id) { loaded.moves[key.id] = move }
        }
        // Only a batch that touches an account outside the user's territories can need the territories taken.
        if foreign { loaded.lostTerritories = try await TerritoryLoss.load(user.name, transaction) }
    }

    /// What a push leaves for IT: the replica's last push and its refused changes (``ReplicaActivity``), an
    /// audit entry for each accepted delete, and one counting the newly refused changes by code.
    static func recordPush(
        _ outcome: PushProcessor.Outcome,
        changes: [Change],
        replica: ReplicaID,
        user: User,
        now: Int64,
        _ transaction: any StorageWriteTransaction
    ) async throws {
        var refused: [String: Int] = [:]
        for (_, stored) in outcome.newResults {
            if let code = stored.result.rejection?.code { refused[code.rawValue, default: 0] += 1 }
        }
        var activity = try await ReplicaActivity.load(replica, transaction)
        if !changes.isEmpty { activity.lastPush = now }
        activity.rejected += refused.values.reduce(0, +)
        try await activity.save(replica, transaction)
        for entry in outcome.log where entry.change.operation.name == "delete" {
            try await transaction.audit(
                actor: user.name,
                action: "record.delete",
                target: "\(entry.change.entity.rawValue)/\(entry.change.recordID.rawValue)",
                detail: ["replica": replica.rawValue],
                at: now
            )
        }
        guard !refused.isEmpty else { return }
        var detail = refused.mapValues(String.init)
        detail["replica"] = replica.rawValue
        try await transaction.audit(
            actor: user.name,
            action: "push.refused",
            target: user.name,
            detail: detail,
            at: now
        )
    }

    // MARK: - Replicas

    /// Registers a new replica for `user` under an id the server makes (PROTOCOL.md §9, "Replicas"): never issued
    /// before, so nobody can have pushed under it, and bound to the user from the start.
    public func registerReplica(user: User, now: Int64) async throws -> ReplicaID {
        try await storage.withWriteTransaction { transaction in
            while true {
                let id = ReplicaID(unchecked: Self.newReplicaID())
                guard try await transaction.replica(id) == nil else { continue }
                try await transaction.saveReplica(ReplicaRecord(id: id, user: user.name, lastCounter: 0, lastSeen: now))
                return id
            }
        }
    }

    /// Checks that `user` may use `replica` in a pull or a snapshot; a replica id never seen is bound to the user
    /// now (laptops of earlier releases choose their own id and never register it), so a colleague cannot take
    /// it later.
    func claim(_ replica: ReplicaID, for user: User, now: Int64) async throws {
        try Self.checkNotReserved(replica)
        if let known = try await storage.withReadTransaction({ try await $0.replica(replica) }) {
            try Self.checkOwner(known, user: user)
            return
        }
        try await storage.withWriteTransaction { transaction in
            if let known = try await transaction.replica(replica) {
                try Self.checkOwner(known, user: user)
                return
            }
            try await transaction.saveReplica(
                ReplicaRecord(id: replica, user: user.name, lastCounter: 0, lastSeen: now)
            )
        }
    }

    static func checkNotReserved(_ replica: ReplicaID) throws {
        guard replica != .server else {
            throw SyncServerError(.reservedReplica, "the replica id 'server' is the server's own; register a replica")
        }
    }

    static func checkOwner(_ known: ReplicaRecord, user: User) throws {
        guard known.user == user.name else {
            throw SyncServerError(
                .foreignReplica,
                "this replica id is registered to another user; a laptop registers its own (POST /v1/replicas)"
            )
        }
    }

    /// 16 lowercase base-32 characters (80 random bits), the form our laptops use.
    static func newReplicaID() -> String {
        let alphabet = Array("0123456789abcdefghjkmnpqrstvwxyz")
        return String((0..<16).map { _ in alphabet[Int.random(in: 0..<32)] })
    }

    // MARK: - Pull

    /// A pull from a cursor as the client sent it: refused with `unknown_cursor` unless this server issued it.
    ///
    /// The replica id must be the user's (403 otherwise); one never seen is bound to the user (see
    /// ``claim(_:for:now:)``), checked in the pull's own read transaction so a known replica costs no extra one.
    public func pull(
        user: User,
        replica: ReplicaID,
        cursor: String?,
        limit: Int,
        now: Int64,
        pending: Int? = nil
    ) async throws -> PullPage {
        try Self.checkNotReserved(replica)
        let unknown = Flag()
        let wentBack = Flag()
        let page: PullPage
        do {
            page = try await pull(user: user, replica: replica, limit: limit) { transaction in
                if let known = try await transaction.replica(replica) {
                    try Self.checkOwner(known, user: user)
                } else {
                    unknown.set()
                }
                return try await Self.start(of: cursor, in: transaction, wentBack: wentBack)
            }
        } catch let error as SyncServerError where error.code == .unknownCursor && wentBack.isSet {
            try await repairWentBack(now: now)
            throw error
        }
        if unknown.isSet { try await claim(replica, for: user, now: now) }
        if !page.hasMore {
            // Bookkeeping for IT's status page: on a full disk the pull is still answered without it.
            do {
                try await recordPull(replica, pending: pending, now: now)
            } catch let error as SyncServerError where error.code == .storageFull {}
        }
        return page
    }

    /// Where a client's cursor starts in this log (its lineage across restores). A cursor of this very log beyond
    /// its end proves the database went back in time without `restore` (a backup copied over it by hand): `wentBack`
    /// is set so the caller makes it safe (``repairWentBack(now:)``) before answering `unknown_cursor`.
    static func start(
        of cursor: String?,
        in transaction: any StorageReadTransaction,
        wentBack: Flag
    ) async throws -> Int64 {
        let lineage = try await transaction.lineage()
        let end = try await transaction.highWaterMark()
        if let cursor, cursor.hasPrefix(lineage.current + "."),
            let seq = Int64(cursor.dropFirst(lineage.current.count + 1)), seq > end
        {
            wentBack.set()
        }
        return try LogCursor.parse(cursor, lineage: lineage, highWaterMark: end).seq
    }

    /// The database is behind what it served: mark it restored, as `crm-sync-server restore` would, unless another
    /// server process sharing it did so meanwhile.
    func repairWentBack(now: Int64) async throws {
        let seen = try await storage.withReadTransaction { try await $0.logID() }
        _ = try await markRestored(now: now, ifLogID: seen)
    }

    /// Changes after `cursor` that `user` may see, made by other replicas, oldest first; with the history of
    /// accounts that joined the user's scope in the page's range and notices of those that left it. Everything is
    /// read from one snapshot, so a change committed meanwhile is either in this page or after its cursor.
    public func pull(user: User, replica: ReplicaID, after cursor: Int64, limit: Int) async throws -> PullPage {
        try await pull(user: user, replica: replica, limit: limit) { _ in cursor }
    }

    private func pull(
        user: User,
        replica: ReplicaID,
        limit: Int,
        cursor start: @escaping @Sendable (any StorageReadTransaction) async throws -> Int64
    ) async throws -> PullPage {
        try await storage.withReadTransaction { transaction in
            let cursor = try await start(transaction)
            let planner = PullPlanner(user: user, cursor: cursor, limit: limit)
            let rows = try await transaction.changes(
                after: cursor,
                visibleTo: user,
                excluding: replica,
                limit: limit + 1
            )
            let (page, hasMore, next) = try await planner.page(rows) { try await transaction.highWaterMark() }
            var history: [LoggedChange] = []
            var removed: [ScopeNotice] = []
            for effect in planner.effects(of: try await transaction.moves(after: cursor, through: next)) {
                switch effect {
                case .join(let account):
                    history += try await transaction.history(ofAccount: account, through: cursor, excluding: replica)
                case .leave(let account):
                    removed += try await transaction.records(ofAccount: account).map {
                        ScopeNotice(entity: $0.entity, recordID: $0.id)
                    }
                }
            }
            return PullPage(
                changes: history + page,
                removed: removed,
                cursor: next,
                hasMore: hasMore,
                logID: try await transaction.logID()
            )
        }
    }

    // MARK: - Snapshot

    /// A page of the current state of `user`'s scope, in (entity, id) order after the paging key `after`
    /// (`entity/id`, as a previous page's `next` said).
    ///
    /// `cursor` is the one the first page returned, sent back with the later pages; it is checked like a pull's.
    public func snapshot(
        user: User,
        after: String?,
        cursor firstCursor: String? = nil,
        limit: Int
    ) async throws
        -> SnapshotPage
    {
        let start = after.flatMap { key -> RecordKey? in
            guard let separator = key.firstIndex(of: "/") else { return nil }
            return RecordKey(
                entity: EntityKind(String(key[..<separator])),
                id: RecordID(String(key[key.index(after: separator)...]))
            )
        }
        return try await storage.withReadTransaction { transaction in
            let lineage = try await transaction.lineage()
            let end = try await transaction.highWaterMark()
            let cursor =
                firstCursor == nil
                ? LogCursor(logID: lineage.current, seq: end)
                : try LogCursor.parse(firstCursor, lineage: lineage, highWaterMark: end)
            let states = try await transaction.states(after: start, visibleTo: user, limit: limit + 1)
            let page = Array(states.prefix(limit))
            let next = states.count > limit ? page.last.map { "\($0.entity.rawValue)/\($0.id.rawValue)" } : nil
            // The first page says how big the whole download is, for the laptop's estimate.
            let total = start == nil ? try await transaction.countStates(visibleTo: user) : nil
            return SnapshotPage(records: page, cursor: cursor.seq, cursorText: cursor.text, next: next, total: total)
        }
    }

    /// The whole logged history of an account and what hangs off it, in log order (`GET /v1/history`): a laptop
    /// set up from the snapshot shows who changed what before its set-up. An account the user may not see, or
    /// that does not exist, is `not_found` alike.
    public func accountHistory(user: User, account: RecordID) async throws -> [LoggedChange] {
        try await storage.withReadTransaction { transaction in
            guard try await transaction.isVisible(account: account, to: user) else {
                throw SyncServerError(.notFound, "no account \(account.rawValue) that you can see")
            }
            return try await transaction.history(
                ofAccount: account,
                through: try await transaction.highWaterMark(),
                excluding: ReplicaID(unchecked: "")
            )
        }
    }

    // MARK: - Restores

    /// The highest counter the server's own changes have used, or the floor a restore set, whichever is higher: a
    /// restored server must never reuse a counter of its own changes made after the backup (laptops hold them).
    static func serverCounter(_ transaction: any StorageWriteTransaction) async throws -> UInt64 {
        let used = try await transaction.serverCounter()
        let floor = UInt64(try await transaction.meta(ServerMeta.serverCounterFloor) ?? "") ?? 0
        return max(used, floor)
    }

    /// Makes a database that went back in time (restored from a backup) safe to serve (PROTOCOL.md §9, "Restores"):
    /// the log takes a new identity, so cursors issued after the backup are refused (`unknown_cursor`, the laptop
    /// pulls from the start) while those within the backup stay valid; the server's own counters continue above
    /// any it can have used (the floor: the restore's time in microseconds); laptops learn from the handshake the
    /// highest counter the server holds of theirs and re-send what it lost.
    ///
    /// With `ifLogID`, nothing is done unless the log still has that identity (two server processes detecting the
    /// same restore mark it once).
    @discardableResult
    public func markRestored(
        now: Int64,
        ifLogID expected: String? = nil,
        actor: String = "server",
        source: String = "a database that went back in time (found by the server)"
    ) async throws -> RestoreMark? {
        try await storage.withWriteTransaction { transaction in
            let old = try await transaction.meta(ServerMeta.logID) ?? ""
            if let expected, expected != old { return nil }
            let end = try await transaction.highWaterMark()
            var lineage = LogLineage(current: old, metaValue: try await transaction.meta(ServerMeta.lineage))
            lineage.ancestors.append(.init(logID: old, through: end, restoredAt: now))
            let new = makeLogID()
            let floor = max(try await Self.serverCounter(transaction), UInt64(max(now, 0)) * 1_000)
            try await transaction.setMeta(ServerMeta.logID, new)
            try await transaction.setMeta(ServerMeta.lineage, lineage.metaValue)
            try await transaction.setMeta(ServerMeta.serverCounterFloor, String(floor))
            try await transaction.setMeta(ServerMeta.restoredAt, String(now))
            try await transaction.setMeta(ServerMeta.restoredThrough, String(end))
            try await transaction.audit(
                actor: actor,
                action: "restore",
                target: source,
                detail: ["old_log": old, "new_log": new, "through": String(end)],
                at: now
            )
            return RestoreMark(oldLogID: old, newLogID: new, through: end, serverCounterFloor: floor)
        }
    }

    /// The storage's figures with the log's identity and its last restore: which replicas have synced since (and so
    /// re-sent what the restore lost).
    public func stats() async throws -> ServerStats {
        var stats = try await storage.stats()
        let (logID, restoredAt, through, activities) = try await storage.withReadTransaction { transaction in
            (
                try await transaction.logID(),
                try await transaction.meta(ServerMeta.restoredAt).flatMap { Int64($0) },
                try await transaction.meta(ServerMeta.restoredThrough).flatMap { Int64($0) },
                try await transaction.documents(DocumentSpace.replicaActivity, keys: nil)
            )
        }
        stats.logID = logID
        for index in stats.replicas.indices {
            let activity =
                decodeDocument(ReplicaActivity.self, activities[stats.replicas[index].replica]) ?? ReplicaActivity()
            stats.replicas[index].lastPush = activity.lastPush.map { ISO8601.format(millisecondsSince1970: $0) }
            stats.replicas[index].lastPull = activity.lastPull.map { ISO8601.format(millisecondsSince1970: $0) }
            stats.replicas[index].rejected = activity.rejected
            stats.replicas[index].pending = activity.pending
        }
        if let restoredAt {
            for index in stats.replicas.indices {
                stats.replicas[index].syncedSinceRestore = stats.replicas[index].lastSeenMilliseconds >= restoredAt
            }
            stats.lastRestore = ServerStats.RestoreInfo(
                at: ISO8601.format(millisecondsSince1970: restoredAt),
                through: through ?? 0,
                replicasNotSyncedSince: stats.replicas.filter { $0.syncedSinceRestore == false }.count
            )
        }
        return stats
    }

    /// The log's identity and end, as a status file records them (``ServedState``).
    public func logPosition() async throws -> (logID: String, end: Int64) {
        try await storage.withReadTransaction { (try await $0.logID(), try await $0.highWaterMark()) }
    }

    /// What the handshake tells a laptop about its replica: the highest counter of it the server holds. Nil for a
    /// replica the server has never seen; 403 for a colleague's. The replica's `last_seen` becomes `now` (a laptop
    /// that only pulls is seen too).
    public func replicaStatus(
        _ replica: ReplicaID,
        user: User,
        now: Int64
    ) async throws -> HandshakeResponse.ReplicaStatus? {
        try Self.checkNotReserved(replica)
        do {
            return try await storage.withWriteTransaction { transaction in
                guard var known = try await transaction.replica(replica) else { return nil }
                try Self.checkOwner(known, user: user)
                known.lastSeen = now
                try await transaction.saveReplica(known)
                return HandshakeResponse.ReplicaStatus(id: replica, counter: known.lastCounter)
            }
        } catch let error as SyncServerError where error.code == .storageFull {
            // On a full disk the handshake is answered without noting when the laptop was seen.
            return try await storage.withReadTransaction { transaction in
                guard let known = try await transaction.replica(replica) else { return nil }
                try Self.checkOwner(known, user: user)
                return HandshakeResponse.ReplicaStatus(id: replica, counter: known.lastCounter)
            }
        }
    }
}

/// What a restore did.
public struct RestoreMark: Sendable, Hashable {
    public var oldLogID: String
    public var newLogID: String
    /// Where the restored log ends: cursors of the old log up to here stay valid.
    public var through: Int64
    /// The server's next own change is above this counter.
    public var serverCounterFloor: UInt64
}

/// A flag set inside a transaction's closure and read after it.
final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

/// What a push did.
public struct PushSummary: Sendable {
    public var results: [ChangeResult]
    public var conflicts: Int
}

/// One page of a pull: the changes as the log keeps them (wire JSON), ready to be written out.
public struct PullPage: Sendable {
    public var changes: [LoggedChange]
    /// Records that left the caller's scope in this page's range.
    public var removed: [ScopeNotice]
    public var cursor: Int64
    public var hasMore: Bool
    /// The identity of the log the cursor is a position in.
    public var logID: String

    /// The cursor as the client receives it.
    public var cursorText: String { LogCursor(logID: logID, seq: cursor).text }

    /// The page as the `GET /v1/pull` answer: a ``PullResponse`` in the wire encoding (sorted keys), with each
    /// change's stored JSON written as it is, never decoded.
    public func responseJSON() throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(changes.reduce(128) { $0 + $1.json.count + 1 })
        out += Array(#"{"changes":"#.utf8)
        LoggedChange.appendArray(changes, to: &out)
        out += Array(#","cursor":""#.utf8)
        out += Array(cursorText.utf8)
        out += Array(#"","has_more":"#.utf8)
        out += Array((hasMore ? "true" : "false").utf8)
        out += Array(#","protocol_version":"#.utf8)
        out += Array(String(WireVersion.current).utf8)
        out += Array(#","removed":"#.utf8)
        out += try WireCoding.encode(removed)
        out.append(UInt8(ascii: "}"))
        return out
    }
}

extension LoggedChange {
    /// Writes `[change, change, …]` from the changes' stored wire JSON, without decoding them (pull pages and an
    /// account's history).
    static func appendArray(_ changes: [LoggedChange], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (index, change) in changes.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out += change.json
        }
        out.append(UInt8(ascii: "]"))
    }
}

/// One page of a snapshot.
public struct SnapshotPage: Sendable {
    public var records: [RecordState]
    /// The log position to pull from after the snapshot.
    public var cursor: Int64
    /// The cursor as the client receives it (with the log's identity).
    public var cursorText: String
    /// The paging key of the next page, nil on the last page.
    public var next: String?
    /// The records of the whole snapshot (on the first page only).
    public var total: Int?
}
