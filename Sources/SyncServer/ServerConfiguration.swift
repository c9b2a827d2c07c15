import Foundation

/// How the server runs. Tests build one in code; the executable fills it from its flags.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// A SQLite file path (the embedded default) — PostgreSQL URLs come with the scale-out backend.
    public var database: String
    /// Largest request body accepted, in bytes (413 above).
    public var maxBodyBytes: Int
    /// Most changes in one push (429 above).
    public var maxChangesPerPush: Int
    /// Largest pull page.
    public var maxPullLimit: Int
    /// How far ahead of the server's clock a change's timestamp may be, in milliseconds.
    public var maxClockAheadMilliseconds: Int64
    /// A connection idle for this many seconds is closed.
    public var idleTimeoutSeconds: Int64
    /// A request body not received within this many seconds (a slow client trickling it) gets 408.
    public var requestDeadlineSeconds: Int64

    /// The system clock in milliseconds since 1970.
    public static let systemNow: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }

    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        database: String = "crm-sync.sqlite",
        maxBodyBytes: Int = 8 * 1024 * 1024,
        maxChangesPerPush: Int = 5_000,
        maxPullLimit: Int = 5_000,
        maxClockAheadMilliseconds: Int64 = 60_000,
        idleTimeoutSeconds: Int64 = 30,
        requestDeadlineSeconds: Int64 = 60
    ) {
        self.host = host
        self.port = port
        self.database = database
        self.maxBodyBytes = maxBodyBytes
        self.maxChangesPerPush = maxChangesPerPush
        self.maxPullLimit = maxPullLimit
        self.maxClockAheadMilliseconds = maxClockAheadMilliseconds
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.requestDeadlineSeconds = requestDeadlineSeconds
    }
}
