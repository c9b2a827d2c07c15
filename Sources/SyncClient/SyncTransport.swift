public import SyncProtocol

/// The four exchanges a laptop has with the sync server (PROTOCOL.md §9). ``HTTPSyncTransport`` speaks them over
/// HTTP; tests and the convergence simulation put other transports (a lossy network) in its place.
public protocol SyncTransport: Sendable {
    /// Who the token belongs to, its territories, and the server's clock; with `replicaID`, also the highest
    /// counter of that replica the server holds (``HandshakeResponse/replica``).
    func handshake(replicaID: ReplicaID?) async throws -> HandshakeResponse
    /// A batch of local changes, in dot order; every change gets its own result.
    func push(_ request: PushRequest) async throws -> PushResponse
    /// Changes after `cursor` (nil: from the start) in the caller's scope.
    func pull(replicaID: ReplicaID, cursor: String?, limit: Int) async throws -> PullResponse
    /// The same, telling the server how many changes this laptop has not sent (for IT's status page).
    func pull(replicaID: ReplicaID, cursor: String?, limit: Int, pending: Int) async throws -> PullResponse
    /// One page of the caller's current scope; `cursor` is the first page's (nil on the first page).
    func snapshot(replicaID: ReplicaID, after: String?, cursor: String?, limit: Int) async throws -> SnapshotResponse
    /// A new replica id made by the server and bound to the token's user (`POST /v1/replicas`); nil from a server
    /// that does not register replicas (an earlier release), in which case the laptop makes its own.
    func registerReplica() async throws -> ReplicaID?
    /// Every logged change of an account and what hangs off it, in log order (`GET /v1/history`); nil from a
    /// server that does not offer it (an earlier release).
    func accountHistory(_ account: RecordID) async throws -> [Change]?
}

extension SyncTransport {
    public func registerReplica() async throws -> ReplicaID? { nil }
    public func pull(replicaID: ReplicaID, cursor: String?, limit: Int, pending: Int) async throws -> PullResponse {
        try await pull(replicaID: replicaID, cursor: cursor, limit: limit)
    }
    public func accountHistory(_ account: RecordID) async throws -> [Change]? { nil }
}

/// Why an exchange with the server failed, in words for a rep, and whether trying again may help.
public struct SyncClientError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The server could not be reached (no network, refused, timed out).
        public static let unreachable = Code("unreachable")
        /// The token is missing, wrong or revoked.
        public static let unauthorized = Code("unauthorized")
        /// The server answered something that is not the protocol.
        public static let badResponse = Code("bad_response")
        /// The server speaks another protocol version.
        public static let versionMismatch = Code("version_mismatch")
        /// The replica belongs to another user or server than the token.
        public static let wrongUser = Code("wrong_user")
        /// The replica was never initialised with a server.
        public static let notInitialized = Code("not_initialized")
        /// The server does not know this laptop's sync position (restored from a backup, or another server).
        public static let unknownCursor = Code("unknown_cursor")
        /// IT revoked this laptop's token with `--wipe` (reported lost): the laptop must delete its CRM data.
        public static let wipeRequested = Code("wipe_requested")
    }

    public var code: Code
    public var message: String
    /// The HTTP status, when the server answered.
    public var status: Int?
    /// Whether the same request may succeed later (network, 408, 429, 5xx).
    public var isTransient: Bool

    public init(_ code: Code, _ message: String, status: Int? = nil, isTransient: Bool = false) {
        self.code = code
        self.message = message
        self.status = status
        self.isTransient = isTransient
    }

    public var description: String { message }
}
