import GRDB
public import SyncProtocol

/// How far a first download got: saved with each installed page, so a download cut short (the laptop closed, the
/// process killed) resumes after the last page installed and fetches at most that one page again.
public struct SnapshotProgress: Hashable, Sendable {
    /// The cursor of the snapshot's first page: where pulling starts once the snapshot is complete.
    public var cursor: String
    /// The `after` key of the next page; nil when the snapshot is complete.
    public var after: String?
    /// Records installed so far.
    public var installed: Int
    /// The records the server said the snapshot holds, when it said (for the estimate).
    public var total: Int?
    /// A download that fills in territories the user gained: the pull cursor the laptop had, kept when the download
    /// ends (records it already held are skipped, so the changes they missed since must still come by pull).
    public var keepCursor: String?

    public init(cursor: String, after: String?, installed: Int, total: Int?, keepCursor: String? = nil) {
        self.cursor = cursor
        self.after = after
        self.installed = installed
        self.total = total
        self.keepCursor = keepCursor
    }
}

extension Replica {
    /// Installs records of an initial snapshot (their full merge state) in one transaction. A record the replica
    /// already holds is kept as it is and counted as skipped: a snapshot only fills a fresh replica and never
    /// overwrites local edits (the pull that follows brings such records up to date).
    @discardableResult
    public func installSnapshot(_ states: [RecordState]) async throws -> (installed: Int, skipped: Int) {
        try await write { db, _ in try Self.install(db, states) }
    }

    /// Installs one snapshot page and saves the download's progress in the same transaction.
    @discardableResult
    public func installSnapshotPage(
        _ states: [RecordState],
        progress: SnapshotProgress
    ) async throws -> (
        installed: Int, skipped: Int
    ) {
        try await write { db, _ in
            let result = try Self.install(db, states)
            var values = [
                "snapshot_cursor": progress.cursor, "snapshot_after": progress.after ?? "",
                "snapshot_installed": String(progress.installed + result.installed),
            ]
            if let total = progress.total { values["snapshot_total"] = String(total) }
            if let keep = progress.keepCursor { values["snapshot_keep_cursor"] = keep }
            try Self.setState(db, values)
            return result
        }
    }

    /// The progress of a first download that was cut short, or nil when none is under way.
    public func snapshotProgress() async throws -> SnapshotProgress? {
        try await read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT key, value FROM sync_state WHERE key LIKE 'snapshot_%'")
            var values: [String: String] = [:]
            for row in rows { values[row[0]] = row[1] }
            guard let cursor = values["snapshot_cursor"] else { return nil }
            let after = values["snapshot_after"] ?? ""
            return SnapshotProgress(
                cursor: cursor,
                after: after.isEmpty ? nil : after,
                installed: Int(values["snapshot_installed"] ?? "") ?? 0,
                total: values["snapshot_total"].flatMap { Int($0) },
                keepCursor: values["snapshot_keep_cursor"]
            )
        }
    }

    /// Ends a first download: the snapshot's cursor becomes the pull cursor and its progress is forgotten, in one
    /// transaction.
    public func finishSnapshot(cursor: String) async throws {
        try await write { db, _ in
            try db.execute(sql: "DELETE FROM sync_state WHERE key LIKE 'snapshot_%'")
            try Self.setState(db, ["cursor": cursor, "pull_from_start": "0"])
            try db.execute(
                sql: "INSERT INTO sync_state (key, value) VALUES ('set_up_at', ?) ON CONFLICT (key) DO NOTHING",
                arguments: [String(SystemTime.milliseconds())]
            )
        }
    }

    static func install(_ db: Database, _ states: [RecordState]) throws -> (installed: Int, skipped: Int) {
        var installed = 0
        var skipped = 0
        for state in states {
            guard try RecordStorage.insertIfAbsent(db, state) else {
                skipped += 1
                continue
            }
            let conflicts = state.conflicts(schema: CRMSchema.schema(for: state.entity))
            if !conflicts.isEmpty {
                try RecordStorage.syncConflicts(db, before: [], after: conflicts, seq: nil)
            }
            installed += 1
        }
        return (installed, skipped)
    }
}
