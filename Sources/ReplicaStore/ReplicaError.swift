public import SyncProtocol

/// An error of the replica. The message says what happened and what to do; it never quotes record contents.
public struct ReplicaError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        /// No record with this ID (or it is deleted).
        public static let notFound = Code(rawValue: "not_found")
        /// A record with this ID already exists.
        public static let alreadyExists = Code(rawValue: "already_exists")
        /// The change breaks a rule of the schema or of ownership; ``ReplicaError/rejection`` says which.
        public static let invalidChange = Code(rawValue: "invalid_change")
        /// The replica file has not been set up with `init` yet.
        public static let notInitialized = Code(rawValue: "not_initialized")
        /// Stored data could not be read back: the file is damaged or from a newer version.
        public static let damaged = Code(rawValue: "damaged")
        /// SQLite failed (disk full, permissions, locked by another program…).
        public static let storage = Code(rawValue: "storage")
        /// The laptop's disk is full: the write (or the sync step) was not made, nothing of it is half-written.
        public static let diskFull = Code(rawValue: "disk_full")
        public var description: String { rawValue }
    }

    public var code: Code
    public var message: String
    /// The schema or rule rejection behind an ``Code/invalidChange``.
    public var rejection: ChangeRejection?

    public init(_ code: Code, _ message: String, rejection: ChangeRejection? = nil) {
        self.code = code
        self.message = message
        self.rejection = rejection
    }

    public var description: String { "\(code): \(message)" }

    static func invalid(_ rejection: ChangeRejection) -> ReplicaError {
        ReplicaError(.invalidChange, rejection.reason, rejection: rejection)
    }
}
