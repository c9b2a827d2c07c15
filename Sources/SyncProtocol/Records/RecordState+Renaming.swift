/// Renaming dots in a record's state, for a replica that takes a new ID (PROTOCOL.md §9, "A copied or restored
/// laptop"): its changes the server never took under the old ID are re-stamped under the new one, and what the
/// replica holds must then name them by their new dots, or a pulled change of its twin under the old dot would be
/// taken for one it already has.
extension RecordState {
    /// The same state with every dot passed through `dot` and every clock and context through `clock`.
    ///
    /// The two functions must describe one consistent renaming: a clock contains a dot exactly when the renamed
    /// clock contains the renamed dot. Then the renamed state is the state the renamed changes would have built,
    /// and each register keeps the same writes (re-sorted by their new dots).
    public func renamed(dot: (Dot) -> Dot, clock rename: (VectorClock) -> VectorClock) -> RecordState {
        var copy = RecordState(entity: entity, id: id)
        copy.clock = rename(clock)
        copy.created = created.map { Stamp(dot: dot($0.dot), timestamp: $0.timestamp, author: $0.author) }
        var fields = FieldRegisters()
        for slot in self.fields {
            for entry in slot.register {
                var renamed = entry
                renamed.dot = dot(entry.dot)
                renamed.context = rename(entry.context)
                _ = fields.insert(renamed, into: slot.name)
            }
        }
        copy.fields = fields
        if let counter {
            var state = Counter.State()
            for (delta, value) in counter.deltas { state.deltas[dot(delta)] = value }
            for reset in counter.resets {
                var renamed = reset
                renamed.dot = dot(reset.dot)
                renamed.context = rename(reset.context)
                _ = state.resets.insert(renamed)
            }
            copy.counter = state
        }
        if var appended {
            appended.dot = dot(appended.dot)
            copy.appended = appended
        }
        var tombstones = Tombstones.State()
        tombstones.dots = self.tombstones.dots.map(dot).sorted()
        tombstones.seen = rename(self.tombstones.seen)
        copy.tombstones = tombstones
        return copy
    }
}
