/// How two vector clocks relate. Vector clocks are only partially ordered: concurrent clocks are neither before
/// nor after each other, which is why ``VectorClock`` is not `Comparable`.
public enum CausalOrder: String, Sendable, Hashable, Codable {
    /// Every entry is less than or equal, and at least one is less.
    case before
    /// Every entry is greater than or equal, and at least one is greater.
    case after
    case equal
    /// Each clock has an entry greater than the other's.
    case concurrent
}
