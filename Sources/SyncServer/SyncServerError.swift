import Foundation
import SyncProtocol

/// An error the server answers with `{"error": {"code", "message"}}` and the status its code maps to.
///
/// `SyncServerError+HTTPResponseError` (below) is the one place that maps codes to statuses; anything else a route
/// throws becomes a 500 without details.
public struct SyncServerError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public static let malformed = Code(rawValue: "malformed_payload")
        public static let invalidValue = Code(rawValue: "invalid_value")
        public static let unauthorized = Code(rawValue: "unauthorized")
        public static let forbidden = Code(rawValue: "forbidden")
        public static let notFound = Code(rawValue: "not_found")
        public static let methodNotAllowed = Code(rawValue: "method_not_allowed")
        public static let unsupportedVersion = Code(rawValue: "unsupported_version")
        public static let conflict = Code(rawValue: "conflict")
        public static let tooLarge = Code(rawValue: "payload_too_large")
        public static let tooMany = Code(rawValue: "too_many_changes")
        public static let unsupportedMediaType = Code(rawValue: "unsupported_media_type")
        public static let internalError = Code(rawValue: "internal_error")
        public static let unavailable = Code(rawValue: "storage_unavailable")
        /// The server's disk (or its database's) is full: nothing of the request was stored (507).
        public static let storageFull = Code(rawValue: "storage_full")
        /// The token was revoked with `--wipe`: the laptop must delete its replica and token (401).
        public static let wipeRequested = Code(rawValue: "wipe_requested")
        public static let timeout = Code(rawValue: "request_timeout")
        /// A pull or snapshot cursor this server did not issue (another log, beyond the end, not a cursor).
        public static let unknownCursor = Code(rawValue: "unknown_cursor")
        /// The replica id is the server's own (`server`).
        public static let reservedReplica = Code(rawValue: "reserved_replica")
        /// The replica id is registered to another user.
        public static let foreignReplica = Code(rawValue: "foreign_replica")
        /// An upload chunk sent at another offset than the bytes the server has of it (400; ask for the status).
        public static let wrongOffset = Code(rawValue: "wrong_offset")
        /// An upload chunk or a finished upload whose content does not hash to its digest (400; nothing kept).
        public static let digestMismatch = Code(rawValue: "digest_mismatch")
        /// A content the caller may see but that its author's laptop has not uploaded yet (404).
        public static let notUploaded = Code(rawValue: "not_uploaded")
        public var description: String { rawValue }
    }

    /// What a write gets when the database's disk is full (SQLite's SQLITE_FULL, PostgreSQL's 53100).
    public static var diskFull: SyncServerError {
        SyncServerError(
            .storageFull,
            "the server's disk is full: nothing of this request was stored; it is kept on the laptop and sent again "
                + "once IT frees space"
        )
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    init(_ wireError: WireFormatError) {
        if wireError.code == .unsupportedVersion {
            self.init(.unsupportedVersion, wireError.message)
        } else if wireError.code == .invalidValue {
            self.init(.invalidValue, wireError.message)
        } else {
            self.init(.malformed, wireError.message)
        }
    }
}
