extension VectorClock {
    /// How this clock relates to `other` in causal order.
    ///
    /// `.before` means every change this clock has seen, `other` has seen too, and `other` has seen more.
    public func compare(to other: VectorClock) -> CausalOrder {
        var hasLess = false
        var hasGreater = false
        var i = 0
        var j = 0
        while i < entries.count || j < other.entries.count {
            if j == other.entries.count || (i < entries.count && entries[i].replica < other.entries[j].replica) {
                hasGreater = true  // only we have this replica (counters are never 0)
                i += 1
            } else if i == entries.count || other.entries[j].replica < entries[i].replica {
                hasLess = true
                j += 1
            } else {
                let a = entries[i].counter
                let b = other.entries[j].counter
                if a < b { hasLess = true } else if a > b { hasGreater = true }
                i += 1
                j += 1
            }
            if hasLess, hasGreater { return .concurrent }
        }
        switch (hasLess, hasGreater) {
        case (false, false): return .equal
        case (true, false): return .before
        case (false, true): return .after
        case (true, true): return .concurrent
        }
    }

    /// Whether every change `other` has seen, this clock has seen too.
    public func dominates(_ other: VectorClock) -> Bool {
        switch compare(to: other) {
        case .after, .equal: true
        case .before, .concurrent: false
        }
    }
}
