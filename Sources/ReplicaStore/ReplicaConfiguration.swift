/// How a replica opens its database.
public struct ReplicaConfiguration: Sendable {
    /// Milliseconds since 1970 (UTC), read whenever a change is stamped. Tests and benchmarks inject a fixed clock.
    public var now: @Sendable () -> Int64
    /// `FULL` (the default) survives a power cut — a laptop whose battery dies keeps its last edits; `NORMAL`
    /// survives a crash of the process only.
    public var synchronous: Synchronous
    /// How many remote changes ``Replica/applyRemote(_:)`` applies per transaction when given more.
    public var applyBatchSize: Int
    /// SQLite's page cache per connection, in KiB.
    public var cacheKilobytes: Int

    public enum Synchronous: String, Sendable {
        case full = "FULL"
        case normal = "NORMAL"
    }

    public init(
        now: @escaping @Sendable () -> Int64 = ReplicaConfiguration.systemNow,
        synchronous: Synchronous = .full,
        applyBatchSize: Int = 5_000,
        cacheKilobytes: Int = 16_384
    ) {
        self.now = now
        self.synchronous = synchronous
        self.applyBatchSize = applyBatchSize
        self.cacheKilobytes = cacheKilobytes
    }

    /// The system clock in milliseconds since 1970.
    public static let systemNow: @Sendable () -> Int64 = { SystemTime.milliseconds() }
}
