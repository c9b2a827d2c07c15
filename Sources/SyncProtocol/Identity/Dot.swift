/// The unique name of one change: the replica that made it and that replica's change counter.
///
/// A replica numbers its changes 1, 2, 3, … across all records, so the server can tell a retry (a dot it has
/// already processed) from a gap (a dot it has not seen the predecessors of).
///
/// ```swift
/// let dot = Dot(replica: ReplicaID(unchecked: "laptop-a"), counter: 7)
/// dot.description  // "laptop-a:7"
/// ```
public struct Dot: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var replica: ReplicaID
    public var counter: UInt64

    public init(replica: ReplicaID, counter: UInt64) {
        self.replica = replica
        self.counter = counter
    }

    /// Replica first, then counter: a total order used to keep canonical state sorted.
    public static func < (lhs: Dot, rhs: Dot) -> Bool {
        if lhs.replica != rhs.replica { return lhs.replica < rhs.replica }
        return lhs.counter < rhs.counter
    }

    public var description: String { "\(replica.rawValue):\(counter)" }
}
