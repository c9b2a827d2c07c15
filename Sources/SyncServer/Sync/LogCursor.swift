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
        guard let text, !text.isEmpty else { return LogCursor(logID: logID, seq: 0) }
        let seq: Int64
        if let dot = text.lastIndex(of: ".") {
            guard text[..<dot] == logID else {
                throw SyncServerError(
                    .unknownCursor,
                    "this cursor belongs to another server's log; take a new snapshot (crm-field sync repairs this)"
                )
            }
            guard let value = Self.number(text[text.index(after: dot)...]) else { throw Self.notACursor }
            seq = value
        } else {
            // A cursor of a server before cursors carried the log's identity.
            guard let value = Self.number(Substring(text)) else { throw Self.notACursor }
            seq = value
        }
        guard seq <= highWaterMark else {
            throw SyncServerError(
                .unknownCursor,
                "this cursor is beyond the end of the server's log (was the server restored from a backup?); "
                    + "take a new snapshot and push what the server is missing"
            )
        }
        return LogCursor(logID: logID, seq: seq)
    }

    private static func number(_ text: Substring) -> Int64? {
        guard !text.isEmpty, text.utf8.count <= 19, text.utf8.allSatisfy({ (48...57).contains($0) }) else { return nil }
        return Int64(text)
    }

    private static var notACursor: SyncServerError {
        SyncServerError(.unknownCursor, "this is not a cursor the server issued; send the cursor of the last pull")
    }
}
