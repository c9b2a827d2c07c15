/// A position in this server's log, as pulls and snapshots hand it out: `LOGID.SEQ` (PROTOCOL.md §9, "Cursors").
///
/// The server accepts only cursors it could have issued: of its own log (the identity made with the database),
/// and not beyond the log's end. A cursor of another server's log, one beyond the end (the laptop synced with a
/// server that has since been restored from an older backup), or text that is no cursor at all gets 400
/// `unknown_cursor`, never an echo: a laptop that kept such a cursor would miss every change before it. The bare
/// decimal cursors of servers before this revision are accepted while they are within the log.
struct LogCursor: Hashable, Sendable {
    var logID: String
    var seq: Int64

    /// What the client sends back.
    var text: String { "\(logID).\(seq)" }

    /// Reads a cursor a client sent against this log; nil or empty is the log's start.
    static func parse(_ text: String?, logID: String, highWaterMark: Int64) throws -> LogCursor {
        try parse(text, lineage: LogLineage(current: logID, ancestors: []), highWaterMark: highWaterMark)
    }

    /// Reads a cursor against a log that may have been restored: a cursor of a log it was restored from is a
    /// position in this log too while it lies within what the two share (``LogLineage/sharedThrough(_:)``).
    static func parse(_ text: String?, lineage: LogLineage, highWaterMark: Int64) throws -> LogCursor {
        let logID = lineage.current
        guard let text, !text.isEmpty else { return LogCursor(logID: logID, seq: 0) }
        let seq: Int64
        var bound = highWaterMark
        if let dot = text.lastIndex(of: ".") {
            let named = String(text[..<dot])
            guard let value = Self.number(text[text.index(after: dot)...]) else { throw Self.notACursor }
            seq = value
            if named != logID {
                guard let shared = lineage.sharedThrough(named) else {
                    throw SyncServerError(
                        .unknownCursor,
                        "this cursor belongs to another server's log; take a new snapshot (crm-field sync repairs this)"
                    )
                }
                guard seq <= shared else { throw Self.beyondRestore }
                bound = min(bound, shared)
            }
        } else {
            // A cursor of a server before cursors carried the log's identity: a position in the first log.
            guard let value = Self.number(Substring(text)) else { throw Self.notACursor }
            seq = value
            if let shared = lineage.sharedThroughFirst { bound = min(bound, shared) }
        }
        guard seq <= bound else {
            throw SyncServerError(
                .unknownCursor,
                "this cursor is beyond the end of the server's log (was the server restored from a backup?); "
                    + "take a new snapshot and push what the server is missing"
            )
        }
        return LogCursor(logID: logID, seq: seq)
    }

    private static var beyondRestore: SyncServerError {
        SyncServerError(
            .unknownCursor,
            "the server was restored from a backup older than this cursor; pull from the start and push what the "
                + "server is missing (crm-field sync does both)"
        )
    }

    private static func number(_ text: Substring) -> Int64? {
        guard !text.isEmpty, text.utf8.count <= 19, text.utf8.allSatisfy({ (48...57).contains($0) }) else { return nil }
        return Int64(text)
    }

    private static var notACursor: SyncServerError {
        SyncServerError(.unknownCursor, "this is not a cursor the server issued; send the cursor of the last pull")
    }
}

/// A log's identity and those of the logs it was restored from (PROTOCOL.md §9, "Restores"): a restore gives the log
/// a new identity, since positions after the backup were issued for changes the restored log no longer holds, and
/// keeps the old identity with how far the two logs agree.
struct LogLineage: Hashable, Sendable {
    struct Ancestor: Hashable, Sendable {
        var logID: String
        /// The last position this ancestor shares with its successor (the backup's end at the restore).
        var through: Int64
        /// When the restore was made, milliseconds since 1970.
        var restoredAt: Int64
    }

    var current: String
    /// Oldest first.
    var ancestors: [Ancestor]

    /// How far a cursor of `logID` is a position in the current log: the least `through` from that ancestor on
    /// (each restore keeps only a prefix of the log before it). Nil for a log not in the lineage.
    func sharedThrough(_ logID: String) -> Int64? {
        guard let index = ancestors.firstIndex(where: { $0.logID == logID }) else { return nil }
        return ancestors[index...].map(\.through).min()
    }

    /// How far positions of the first log are positions of the current one; nil before any restore.
    var sharedThroughFirst: Int64? { ancestors.map(\.through).min() }

    /// The `lineage` value of `server_meta`: one `LOGID THROUGH RESTORED_AT` line per ancestor.
    var metaValue: String {
        ancestors.map { "\($0.logID) \($0.through) \($0.restoredAt)" }.joined(separator: "\n")
    }

    init(current: String, ancestors: [Ancestor]) {
        self.current = current
        self.ancestors = ancestors
    }

    init(current: String, metaValue: String?) {
        self.current = current
        ancestors = (metaValue ?? "").split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count == 3, let through = Int64(parts[1]), let at = Int64(parts[2]) else { return nil }
            return Ancestor(logID: String(parts[0]), through: through, restoredAt: at)
        }
    }
}

extension StorageReadTransaction {
    func lineage() async throws -> LogLineage {
        LogLineage(current: try await logID(), metaValue: try await meta(ServerMeta.lineage))
    }
}
