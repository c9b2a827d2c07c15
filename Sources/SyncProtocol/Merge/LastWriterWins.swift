/// Per-field last-writer-wins with conflict capture.
///
/// A causally later write replaces the earlier one. Concurrent writes to the same field are all kept in the
/// register; the record shows the one with the greatest hybrid timestamp, ties broken by the greater replica ID
/// (then counter), and every other concurrent value is a loser kept for review, never dropped. A concurrent write
/// of the value that shows is not a conflict: it stays in the register (and the history) but nobody needs to
/// choose between two equal values.
///
/// Laws: order-independent and idempotent (the register is the causal set of maximal writes); a write is only
/// ever removed by a write whose context contains it.
public struct LastWriterWins: FieldMergeRule {
    public init() {}

    public func winner(of register: FieldRegister) -> FieldEntry? {
        register.max { $0.precedesInWriteOrder($1) }
    }

    public func losers(in register: FieldRegister) -> [FieldEntry] {
        guard register.count > 1, let winner = winner(of: register) else { return [] }
        return register.filter { $0.dot != winner.dot && $0.value != winner.value }
    }
}
