/// A vector clock: for each replica, the highest counter of its changes that have been seen.
///
/// Stored as a sorted array of (replica, counter) pairs, never a dictionary: a record is usually touched by one
/// to three replicas, and a short sorted array is both the smallest and the fastest form for that case. Entries
/// with counter 0 are never stored, so equal clocks have equal storage.
///
/// ```swift
/// var clock = VectorClock()
/// let dot = clock.increment(for: laptop)        // laptop:1
/// clock.contains(dot)                           // true
/// clock.compare(to: other)                      // .before, .after, .equal or .concurrent
/// clock.merge(other)                            // pointwise maximum
/// ```
public struct VectorClock: Hashable, Sendable {
    public struct Entry: Hashable, Sendable {
        public var replica: ReplicaID
        public var counter: UInt64
    }

    /// Sorted by replica, no counter is 0.
    public private(set) var entries: [Entry]

    public init() {
        entries = []
    }

    /// Creates a clock from (replica, counter) pairs in any order; zero counters are dropped, duplicates keep
    /// their maximum.
    ///
    /// O(n log n): the pairs are sorted once, never inserted one by one (a context of thousands of entries must not
    /// cost quadratic time).
    public init(_ pairs: some Sequence<(ReplicaID, UInt64)>) {
        var sorted = pairs.filter { $0.1 > 0 }.map { Entry(replica: $0.0, counter: $0.1) }
        sorted.sort { ($0.replica, $1.counter) < ($1.replica, $0.counter) }
        var unique: [Entry] = []
        unique.reserveCapacity(sorted.count)
        for entry in sorted where unique.last?.replica != entry.replica {
            // The first of each replica's run holds its largest counter (counters sort descending within a run).
            unique.append(entry)
        }
        entries = unique
    }

    /// The number of replicas with a non-zero entry.
    public var count: Int { entries.count }

    public var isEmpty: Bool { entries.isEmpty }

    /// The highest counter seen from `replica`, or 0.
    public subscript(replica: ReplicaID) -> UInt64 {
        switch search(replica) {
        case .found(let index): entries[index].counter
        case .insertAt: 0
        }
    }

    /// Whether the change named `dot` is part of this clock's history.
    public func contains(_ dot: Dot) -> Bool {
        self[dot.replica] >= dot.counter
    }

    /// Raises the entry of `dot.replica` to at least `dot.counter`.
    public mutating func record(_ dot: Dot) {
        guard dot.counter > 0 else { return }
        switch search(dot.replica) {
        case .found(let index):
            if entries[index].counter < dot.counter { entries[index].counter = dot.counter }
        case .insertAt(let index):
            entries.insert(Entry(replica: dot.replica, counter: dot.counter), at: index)
        }
    }

    /// Advances `replica`'s entry by one and returns the dot of the new event.
    @discardableResult
    public mutating func increment(for replica: ReplicaID) -> Dot {
        let dot = Dot(replica: replica, counter: self[replica] + 1)
        record(dot)
        return dot
    }

    /// Takes the pointwise maximum with `other`.
    public mutating func merge(_ other: VectorClock) {
        if other.entries.isEmpty { return }
        if entries.isEmpty {
            entries = other.entries
            return
        }
        if entries.count == 1, other.entries.count == 1 {
            record(Dot(replica: other.entries[0].replica, counter: other.entries[0].counter))
            return
        }
        var merged: [Entry] = []
        merged.reserveCapacity(entries.count + other.entries.count)
        var i = 0
        var j = 0
        while i < entries.count, j < other.entries.count {
            let a = entries[i]
            let b = other.entries[j]
            if a.replica == b.replica {
                merged.append(a.counter >= b.counter ? a : b)
                i += 1
                j += 1
            } else if a.replica < b.replica {
                merged.append(a)
                i += 1
            } else {
                merged.append(b)
                j += 1
            }
        }
        merged.append(contentsOf: entries[i...])
        merged.append(contentsOf: other.entries[j...])
        entries = merged
    }

    /// The pointwise maximum of this clock and `other`.
    public func merged(with other: VectorClock) -> VectorClock {
        var copy = self
        copy.merge(other)
        return copy
    }

    private enum SearchResult {
        case found(Int)
        case insertAt(Int)
    }

    private func search(_ replica: ReplicaID) -> SearchResult {
        if entries.count <= 8 {
            // Linear: clocks are usually 1 to 3 entries, where a scan beats a binary search.
            for (index, entry) in entries.enumerated() {
                if entry.replica == replica { return .found(index) }
                if replica < entry.replica { return .insertAt(index) }
            }
            return .insertAt(entries.count)
        }
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].replica < replica { low = middle + 1 } else { high = middle }
        }
        return low < entries.count && entries[low].replica == replica ? .found(low) : .insertAt(low)
    }
}
