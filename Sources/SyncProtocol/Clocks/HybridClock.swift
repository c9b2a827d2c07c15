/// The hybrid logical clock of one replica or server: stamps local events and takes in remote stamps.
///
/// Time always comes in as an argument (`now`, milliseconds since 1970), so the rules are pure and testable.
///
/// ```swift
/// var clock = HybridClock(maximumAhead: 60_000)
/// let stamp = clock.send(now: nowMillis)                       // a local change
/// try clock.receive(remoteStamp, now: nowMillis)               // a change from elsewhere
/// ```
///
/// Rules (Kulkarni et al., 2014):
/// - send: `wall = max(last.wall, now)`; `logical = last.logical + 1` if `wall == last.wall`, else 0.
/// - receive: `wall = max(last.wall, remote.wall, now)`; `logical` is one more than the largest logical counter
///   among the inputs whose wall equals the new wall, or 0 when only `now` reaches it.
/// - A remote stamp more than ``maximumAhead`` milliseconds ahead of `now` is refused with ``ClockSkewError``
///   and the clock is left unchanged, so a laptop whose clock is a year ahead cannot drag everyone's stamps along
///   and win every future conflict.
public struct HybridClock: Hashable, Sendable {
    /// The latest timestamp this clock has issued or received.
    public private(set) var last: HybridTimestamp
    /// How far ahead of the receiver's wall clock a remote timestamp may be, in milliseconds.
    public var maximumAhead: Int64

    /// The default bound on how far ahead a remote timestamp may be: 60 seconds.
    public static let defaultMaximumAhead: Int64 = 60_000

    public init(last: HybridTimestamp = .zero, maximumAhead: Int64 = HybridClock.defaultMaximumAhead) {
        self.last = last
        self.maximumAhead = maximumAhead
    }

    /// Stamps a local event.
    public mutating func send(now: Int64) -> HybridTimestamp {
        let wall = max(last.wallMilliseconds, now)
        let logical: UInt32 = wall == last.wallMilliseconds ? last.logical &+ 1 : 0
        last = HybridTimestamp(wallMilliseconds: wall, logical: logical)
        return last
    }

    /// Takes in a remote timestamp, or refuses it when it is beyond the skew bound.
    @discardableResult
    public mutating func receive(_ remote: HybridTimestamp, now: Int64) throws(ClockSkewError) -> HybridTimestamp {
        try check(remote, now: now)
        let wall = max(last.wallMilliseconds, remote.wallMilliseconds, now)
        let logical: UInt32
        switch (wall == last.wallMilliseconds, wall == remote.wallMilliseconds) {
        case (true, true): logical = max(last.logical, remote.logical) &+ 1
        case (true, false): logical = last.logical &+ 1
        case (false, true): logical = remote.logical &+ 1
        case (false, false): logical = 0
        }
        last = HybridTimestamp(wallMilliseconds: wall, logical: logical)
        return last
    }

    /// Throws when `remote` is more than ``maximumAhead`` ahead of `now`; changes nothing.
    public func check(_ remote: HybridTimestamp, now: Int64) throws(ClockSkewError) {
        let ahead = remote.wallMilliseconds - now
        if ahead > maximumAhead {
            throw ClockSkewError(aheadByMilliseconds: ahead, maximumAheadMilliseconds: maximumAhead)
        }
    }
}

/// A remote timestamp was further ahead of the receiver's clock than the bound allows.
public struct ClockSkewError: Error, Hashable, Sendable, CustomStringConvertible {
    /// How far the timestamp was ahead of the receiver's wall clock.
    public var aheadByMilliseconds: Int64
    /// The bound in force.
    public var maximumAheadMilliseconds: Int64

    public var description: String {
        "timestamp is \(Self.human(aheadByMilliseconds)) ahead of the receiver's clock (at most "
            + "\(Self.human(maximumAheadMilliseconds)) allowed); fix the sending machine's clock"
    }

    static func human(_ ms: Int64) -> String {
        if ms < 10_000 { return "\(ms) ms" }
        let seconds = ms / 1000
        if seconds < 7200 { return "\(seconds) s" }
        if seconds < 172_800 { return "\(seconds / 3600) h" }
        return "\(seconds / 86_400) days"
    }
}
