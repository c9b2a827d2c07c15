import Foundation
public import ReplicaStore
public import SyncProtocol

/// Tuning of one sync run.
public struct SyncOptions: Sendable {
    /// Changes per push (the server's limit is higher).
    public var pushBatch: Int
    /// Changes per pull page.
    public var pageSize: Int
    /// Records per snapshot page (a first download: larger pages, fewer round trips and transactions).
    public var snapshotPageSize: Int
    /// How often a request that failed for a passing reason (network, 408, 429, 5xx) is tried again.
    public var retries: Int
    /// The first wait before a retry; it doubles each time up to ``maxBackoff``, with jitter.
    public var backoff: Duration
    public var maxBackoff: Duration
    /// A clock further than this from the server's gets a warning.
    public var clockWarningMilliseconds: Int64

    public init(
        pushBatch: Int = 1_000,
        pageSize: Int = 1_000,
        snapshotPageSize: Int = 5_000,
        retries: Int = 4,
        backoff: Duration = .milliseconds(500),
        maxBackoff: Duration = .seconds(8),
        clockWarningMilliseconds: Int64 = 120_000
    ) {
        self.pushBatch = pushBatch
        self.pageSize = pageSize
        self.snapshotPageSize = snapshotPageSize
        self.retries = retries
        self.backoff = backoff
        self.maxBackoff = maxBackoff
        self.clockWarningMilliseconds = clockWarningMilliseconds
    }
}

/// Where a sync run is, for a progress bar.
public struct SyncProgress: Sendable, Hashable {
    public enum Phase: String, Sendable, Hashable {
        case download = "downloading your data"
        case upload = "sending changes"
        case pull = "receiving changes"
    }
    public var phase: Phase
    public var done: Int
    /// Known for uploads, and for downloads from servers that say the snapshot's size.
    public var total: Int?
    /// Records or changes per second so far (downloads).
    public var perSecond: Double?

    public init(phase: Phase, done: Int, total: Int? = nil, perSecond: Double? = nil) {
        self.phase = phase
        self.done = done
        self.total = total
        self.perSecond = perSecond
    }
}

/// What one sync run moved.
public struct SyncSummary: Sendable, Hashable {
    /// Local changes pushed (each counted once, also when the server had them already).
    public var sent = 0
    public var accepted = 0
    /// Changes the server had already applied (a retried push).
    public var duplicates = 0
    /// Changes the server refused in this run, with their reasons; they stay on the laptop.
    public var rejected: [RejectedChange] = []
    /// Records installed from the server's snapshot (first sync of a laptop).
    public var downloaded = 0
    /// Records an earlier, interrupted first download had installed; this run carried on after them.
    public var resumedDownload = 0
    /// Remote changes applied.
    public var received = 0
    /// Conflicts this run opened.
    public var newConflicts: [Conflict] = []
    /// Records that left this rep's scope (moved to another territory).
    public var removed: [ScopeNotice] = []
    /// Local edits of those records that had not reached the server; they are reported, never dropped silently.
    public var unsentEditsOfRemoved: [Change] = []
    /// Edits of this run the server took although their account had moved to another territory: they were made
    /// before this laptop learned of the move, within the hand-off period, and now belong to the new territory.
    public var handedOff = 0
    /// The records of this run's accepted changes ("entity/id"), to count the hand-offs.
    var acceptedRecords: [String: Int] = [:]
    /// Still waiting after the run (edits made while syncing).
    public var pending = 0
    public var openConflicts = 0
    /// The server's clock minus this laptop's, in milliseconds.
    public var clockOffsetMilliseconds: Int64 = 0
    /// Set when this laptop's clock is far from the server's.
    public var clockWarning: String?
    /// The server did not recognise this laptop's cursor (`unknown_cursor`: another server's log, or one beyond
    /// the end of a server restored from a backup), so this run pulled the server's log from its start.
    public var pulledFromStart = false
    /// This laptop took a new replica ID in this run because the server holds other changes under its old one (the
    /// file was restored from a backup or copied to a second laptop): its unsent changes went out re-stamped.
    public var restamp: RestampReport?
    /// Changes of this laptop the server had acknowledged but no longer held (it was restored from a backup), sent
    /// again in this run.
    public var resent = 0
    /// Changes kept in the outbox for a later sync: they need records a restored server lost, which their
    /// authors' laptops have not re-sent yet.
    public var awaitingRestore = 0
    public var milliseconds: Int64 = 0

    public init() {}
}

/// Reconciles a replica with the server: push the outbox, then pull until caught up (with a snapshot first on a
/// new laptop). Every step is safe to interrupt: the server applies each dot once, the outbox keeps a change until
/// the server answered for exactly that dot, and the pull cursor is saved only after its page was applied.
public struct SyncEngine: Sendable {
    public let replica: Replica
    public let transport: any SyncTransport
    public var options: SyncOptions
    /// This laptop's clock, in milliseconds since 1970.
    public var now: @Sendable () -> Int64

    public init(
        replica: Replica,
        transport: any SyncTransport,
        options: SyncOptions = SyncOptions(),
        now: @escaping @Sendable () -> Int64 = ReplicaConfiguration.systemNow
    ) {
        self.replica = replica
        self.transport = transport
        self.options = options
        self.now = now
    }

    /// The handshake, and the server's clock minus ours (measured at the middle of the round trip).
    public func handshake(replicaID: ReplicaID? = nil) async throws -> (HandshakeResponse, offsetMilliseconds: Int64) {
        let sent = now()
        let answer = try await retrying { try await transport.handshake(replicaID: replicaID) }
        let received = now()
        guard let serverTime = ISO8601.parseTimestamp(answer.serverTime) else {
            throw SyncClientError(.badResponse, "the server sent a server_time that is not a timestamp")
        }
        return (answer, serverTime - (sent + received) / 2)
    }

    /// Ties a new replica to the server and the token's user (`crm-field init`). A replica already tied to another
    /// user or server is refused. `known` is a handshake the caller already made (no second round trip).
    @discardableResult
    public func register(server: String, handshake known: HandshakeResponse? = nil) async throws -> HandshakeResponse {
        let answer: HandshakeResponse
        if let known { answer = known } else { answer = try await handshake().0 }
        let info = try await replica.syncInfo()
        if let user = info.user, user != answer.user {
            throw SyncClientError(
                .wrongUser,
                "this laptop's replica belongs to \(user), but the token is \(answer.user)'s; use another --home"
            )
        }
        if let existing = info.server, existing != server {
            throw SyncClientError(
                .wrongUser,
                "this replica syncs with \(existing), not \(server); use another --home"
            )
        }
        try await replica.register(
            server: server,
            user: answer.user,
            territories: answer.territories,
            role: answer.role
        )
        return answer
    }

    /// One complete sync. Throws when the server cannot be reached after the retries; what was done until then
    /// stays done.
    public func sync(progress: @Sendable (SyncProgress) -> Void = { _ in }) async throws -> SyncSummary {
        let started = now()
        var summary = SyncSummary()
        let info = try await replica.syncInfo()
        guard info.server != nil, let user = info.user else {
            throw SyncClientError(.notInitialized, "this replica is not set up yet: run crm-field init first")
        }
        let (hello, offset) = try await handshake(replicaID: replica.replicaID)
        guard hello.user == user else {
            throw SyncClientError(
                .wrongUser,
                "the token is \(hello.user)'s but this replica belongs to \(user)"
            )
        }
        // Territories the user gained since the last sync (IT's `user set`): their records were never sent to this
        // laptop, and pulls bring only what changes from now on, so they are downloaded like a first sync's.
        let gained = info.cursor != nil && !Set(hello.territories).subtracting(info.territories).isEmpty
        // Territories the user lost: their records leave this laptop (before the new territories are saved, so a
        // sync cut short here does it again); unsent edits to them stay in the outbox and go out at the push.
        let lost = info.territories.filter { !hello.territories.contains($0) }
        if !lost.isEmpty {
            let dropped = try await replica.removeTerritories(lost)
            summary.removed += dropped.removed
            summary.unsentEditsOfRemoved += dropped.unsent
        }
        if hello.territories != info.territories || hello.role != info.role {
            try await replica.register(
                server: info.server ?? "",
                user: user,
                territories: hello.territories,
                role: hello.role
            )
        }
        summary.clockOffsetMilliseconds = offset
        summary.clockWarning = clockWarning(offset: offset, maxAhead: hello.maxClockAheadMilliseconds)

        let unfinished = try await replica.snapshotProgress()
        if info.cursor == nil || unfinished != nil {
            try await download(resuming: unfinished, into: &summary, progress: progress)
        } else if gained {
            try await download(resuming: nil, keepCursor: info.cursor, into: &summary, progress: progress)
        }
        // What the server holds of this replica (PROTOCOL.md §9, "Restores"): a restored server lost some of its
        // changes, which go out again; a restored or copied laptop never made some the server holds.
        let held = hello.replica.flatMap { $0.id == replica.replicaID.rawValue ? $0.counter : nil }
        if let held { summary.resent = try await replica.resend(after: held) }
        try await push(into: &summary, progress: progress)
        if let held, summary.restamp == nil, held > (try await replica.lastCounter()) {
            // The server holds changes of this ID that this laptop never made (it was restored from an older
            // backup of itself, or is a copy that fell behind): they must come here as another replica's.
            try await takeNewReplicaID(from: try await replica.lastCounter() + 1, into: &summary)
        }
        let state = try await replica.syncInfo()
        if state.pullFromStart { summary.pulledFromStart = true }
        try await pull(from: state.pullFromStart ? nil : state.cursor, into: &summary, progress: progress)

        try await replica.markSynced(at: now())
        summary.pending = try await replica.pendingCount()
        summary.openConflicts = try await replica.openConflicts().count
        summary.milliseconds = now() - started
        return summary
    }

    func clockWarning(offset: Int64, maxAhead: Int64) -> String? {
        // A laptop ahead of the server by more than the server's bound gets its changes refused (clock_skew).
        let ahead = -offset
        if ahead > maxAhead {
            return "this laptop's clock is \(Self.duration(ahead)) ahead of the server's; the server refuses "
                + "changes stamped more than \(Self.duration(maxAhead)) ahead, so set the clock right"
        }
        if abs(offset) > options.clockWarningMilliseconds {
            return "this laptop's clock is \(Self.duration(abs(offset))) \(offset > 0 ? "behind" : "ahead of") "
                + "the server's; set it right so the order of edits is recorded well"
        }
        return nil
    }

    static func duration(_ milliseconds: Int64) -> String {
        let seconds = milliseconds / 1000
        if seconds >= 86_400 { return "\(seconds / 86_400) days" }
        if seconds >= 3_600 { return "\(seconds / 3_600) h \(seconds % 3_600 / 60) min" }
        if seconds >= 60 { return "\(seconds / 60) min \(seconds % 60) s" }
        return "\(seconds) s"
    }

    /// First sync of a laptop: the server's snapshot of the rep's scope, then the cursor of its first page. Each
    /// page is installed with the download's progress in one transaction, so a download cut short resumes after
    /// the last page installed.
    private func download(
        resuming unfinished: SnapshotProgress?,
        keepCursor: String? = nil,
        into summary: inout SyncSummary,
        progress: @Sendable (SyncProgress) -> Void
    ) async throws {
        var saved = unfinished
        if let resumed = saved {
            summary.resumedDownload = resumed.installed
            if resumed.after == nil {
                // Every page is in; only the cursor was not saved yet.
                try await replica.finishSnapshot(cursor: resumed.keepCursor ?? resumed.cursor)
                return
            }
        }
        let started = now()
        let before = saved?.installed ?? 0
        progress(SyncProgress(phase: .download, done: before, total: saved?.total))
        let (replicaID, limit) = (replica.replicaID, options.snapshotPageSize)
        let fetch: @Sendable (String?, String?) async throws -> SnapshotResponse = { after, cursor in
            try await retrying {
                try await transport.snapshot(replicaID: replicaID, after: after, cursor: cursor, limit: limit)
            }
        }
        var page = try await fetch(saved?.after, saved?.cursor)
        while true {
            // The next page is fetched (and decoded) while this one is installed: the server, the decoding and
            // SQLite's writes overlap instead of taking turns.
            let cursor = saved?.cursor ?? page.cursor
            let prefetch: Task<SnapshotResponse, any Error>? =
                page.hasMore && page.next != nil
                ? Task { [next = page.next] in try await fetch(next, cursor) } : nil
            defer { prefetch?.cancel() }
            let current = SnapshotProgress(
                cursor: cursor,
                after: page.hasMore ? page.next : nil,
                installed: saved?.installed ?? 0,
                total: saved?.total ?? page.total,
                keepCursor: saved?.keepCursor ?? keepCursor
            )
            let result = try await replica.installSnapshotPage(page.records, progress: current)
            summary.downloaded += result.installed
            saved = current
            saved?.installed += result.installed
            let done = saved?.installed ?? 0
            let elapsed = max(now() - started, 1)
            progress(
                SyncProgress(
                    phase: .download,
                    done: done,
                    total: current.total,
                    perSecond: Double(done - before) * 1000 / Double(elapsed)
                )
            )
            guard let prefetch else { break }
            page = try await prefetch.value
        }
        if let cursor = saved?.keepCursor ?? saved?.cursor { try await replica.finishSnapshot(cursor: cursor) }
    }

    private func push(into summary: inout SyncSummary, progress: @Sendable (SyncProgress) -> Void) async throws {
        let total = try await replica.pendingCount()
        guard total > 0 else { return }
        progress(SyncProgress(phase: .upload, done: 0, total: total))
        // The cursor tells the server which moves this laptop has received (the territory hand-off); pushing
        // does not move it.
        let cursor = try await replica.syncInfo().cursor
        while true {
            let batch = try await replica.pendingChanges(limit: options.pushBatch)
            guard !batch.isEmpty else { break }
            let request = PushRequest(replicaID: replica.replicaID, changes: batch, cursor: cursor)
            let answer = try await retrying { try await transport.push(request) }
            try await replica.acknowledge(answer.results)
            var settled = 0
            for result in answer.results {
                switch result.status {
                case .accepted:
                    summary.accepted += 1
                    settled += 1
                    if let change = batch.first(where: { $0.dot == result.dot }) {
                        summary.acceptedRecords["\(change.entity.rawValue)/\(change.recordID.rawValue)", default: 0] +=
                            1
                    }
                case .duplicate:
                    summary.duplicates += 1
                    settled += 1
                case .rejected
                where [.sequenceGap, .dotReused, .awaitingRestore].contains(result.rejection?.code):
                    break
                case .rejected:
                    settled += 1
                    if let change = batch.first(where: { $0.dot == result.dot }) {
                        summary.rejected.append(
                            RejectedChange(
                                change: change,
                                rejection: result.rejection ?? ChangeRejection(.init(rawValue: "rejected"), "")
                            )
                        )
                    }
                }
            }
            summary.sent += settled
            progress(SyncProgress(phase: .upload, done: summary.sent, total: max(total, summary.sent)))
            if let reused = answer.results.first(where: { $0.rejection?.code == .dotReused }) {
                // Another copy of this replica got there first: carry on under a new ID. What the server settled
                // above stays settled; the rest goes out re-stamped in the next batch.
                try await takeNewReplicaID(from: reused.dot.counter, into: &summary)
                continue
            }
            // The first unsettled change waits for a colleague's laptop to re-send what a restored server lost:
            // stop pushing for this run (the rest follows it in counter order); the next sync tries again.
            if let first = answer.results.first(where: { $0.status == .rejected && $0.rejection?.code != .dotReused }),
                first.rejection?.code == .awaitingRestore
            {
                summary.awaitingRestore = try await replica.pendingCount()
                break
            }
            // The server settled nothing: it misses earlier changes of this laptop. Stop rather than loop; the
            // changes stay in the outbox.
            guard settled > 0 else {
                throw SyncClientError(
                    SyncClientError.Code("sequence_gap"),
                    "the server is missing earlier changes of this laptop; nothing was lost here, ask IT "
                        + "(the server may have been restored from a backup)"
                )
            }
        }
    }

    /// Moves this laptop's changes from counter `from` on to a new replica ID (registered with the server when it
    /// can, random otherwise) and has the next pull start at the beginning of the log.
    private func takeNewReplicaID(from counter: UInt64, into summary: inout SyncSummary) async throws {
        let newID = try await retrying { try await transport.registerReplica() } ?? Replica.makeReplicaID()
        let report = try await replica.restamp(from: counter, as: newID)
        var merged = report
        if let earlier = summary.restamp {
            // A second copy found in the same run: report the ID this laptop started with.
            merged.oldID = earlier.oldID
            merged.records += earlier.records
        }
        summary.restamp = merged
    }

    private func pull(
        from start: String?,
        into summary: inout SyncSummary,
        progress: @Sendable (SyncProgress) -> Void
    ) async throws {
        var cursor = start
        // What is still in the outbox after the push (rejected changes stay there): IT sees it per replica.
        let pending = try await replica.pendingCount()
        while true {
            let page: PullResponse
            do {
                page = try await retrying {
                    try await transport.pull(
                        replicaID: replica.replicaID,
                        cursor: cursor,
                        limit: options.pageSize,
                        pending: pending
                    )
                }
            } catch let error as SyncClientError where error.code == .unknownCursor && !summary.pulledFromStart {
                // The server did not issue this cursor: pull its log from the start. Everything merges by the
                // rules (what this laptop has comes again as duplicates), so nothing is missed and nothing doubled.
                summary.pulledFromStart = true
                cursor = nil
                continue
            }
            // The page's changes, its removals and its cursor in one transaction.
            let applied = try await replica.applyPage(page.changes, removed: page.removed, cursor: page.cursor)
            summary.received += applied.apply.applied + applied.apply.superseded
            summary.newConflicts += applied.apply.conflicts
            if !page.removed.isEmpty {
                summary.removed += page.removed
                summary.handedOff += page.removed.reduce(0) {
                    $0 + summary.acceptedRecords["\($1.entity.rawValue)/\($1.recordID.rawValue)", default: 0]
                }
                summary.unsentEditsOfRemoved += applied.unsentEditsOfRemoved
            }
            cursor = page.cursor
            progress(SyncProgress(phase: .pull, done: summary.received))
            if !page.hasMore { break }
        }
    }

    /// Runs `body`, trying again after a growing, jittered wait when it fails for a passing reason.
    func retrying<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            do {
                return try await body()
            } catch let error as SyncClientError where error.isTransient && attempt < options.retries {
                attempt += 1
                let wait = min(options.backoff * (1 << (attempt - 1)), options.maxBackoff)
                try await Task.sleep(for: wait * Double.random(in: 0.75...1.25))
            }
        }
    }
}
