/// A state field (task status, deal stage) where a causally later write wins and concurrent writes are decided
/// by a declared order.
///
/// Among concurrent writes the value of highest rank wins (task: done > cancelled > open; deal: the furthest
/// stage); equal ranks fall back to last-writer-wins order. Only the declared pairs (deal: won against lost) are
/// conflicts for a person; other concurrent losers are kept in the register and the history, but not flagged.
/// A value outside the declared order ranks below every declared value.
///
/// Laws: as ``LastWriterWins``; the winner depends only on the register's set of entries.
public struct OrderedState: FieldMergeRule, Hashable {
    /// Rank of each declared value; higher wins.
    public let ranks: [String: Int]
    /// Unordered pairs of values that, when concurrent, are a conflict for a person.
    public let conflictingPairs: Set<Set<String>>

    /// `order` lists values from lowest to highest rank; values in one inner array share a rank.
    public init(order: [[String]], conflictingPairs: [(String, String)] = []) {
        var ranks: [String: Int] = [:]
        for (rank, values) in order.enumerated() {
            for value in values { ranks[value] = rank }
        }
        self.ranks = ranks
        self.conflictingPairs = Set(conflictingPairs.map { Set([$0.0, $0.1]) })
    }

    public func rank(of value: FieldValue) -> Int {
        value.stringValue.flatMap { ranks[$0] } ?? -1
    }

    public func winner(of register: FieldRegister) -> FieldEntry? {
        register.max { lhs, rhs in
            let (a, b) = (rank(of: lhs.value), rank(of: rhs.value))
            return a != b ? a < b : lhs.precedesInWriteOrder(rhs)
        }
    }

    public func losers(in register: FieldRegister) -> [FieldEntry] {
        guard register.count > 1, let winner = winner(of: register),
            let winning = winner.value.stringValue
        else { return [] }
        return register.filter { entry in
            guard entry.dot != winner.dot, let losing = entry.value.stringValue else { return false }
            return conflictingPairs.contains([winning, losing])
        }
    }
}
