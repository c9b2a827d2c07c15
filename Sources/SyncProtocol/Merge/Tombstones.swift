/// Deletes as tombstones, and how a delete meets a concurrent update.
///
/// A delete never removes state: it adds its dot and context to the record's tombstone. With
/// ``Policy/updateWins`` (the default for every entity) the record is deleted only while every live write
/// (current field values, counter movements, the create) was seen by a delete; an edit concurrent with or later
/// than the delete brings the record back with all its values. With ``Policy/deleteWins`` any delete deletes.
///
/// Laws: order-independent and idempotent (a set of dots and the union of their contexts).
public struct Tombstones: MergeRule {
    public enum Policy: String, Hashable, Sendable, Codable {
        case updateWins = "update_wins"
        case deleteWins = "delete_wins"
    }

    public struct Input: Hashable, Sendable {
        public var dot: Dot
        public var context: VectorClock

        public init(dot: Dot, context: VectorClock) {
            self.dot = dot
            self.context = context
        }
    }

    public struct State: Hashable, Sendable, Codable {
        /// Dots of every delete, sorted.
        public internal(set) var dots: [Dot] = []
        /// The union of the deletes' contexts: every write the deletes had seen.
        public internal(set) var seen = VectorClock()

        public init() {}

        public var isEmpty: Bool { dots.isEmpty }
    }

    public let policy: Policy

    public init(policy: Policy) {
        self.policy = policy
    }

    public func apply(_ input: Input, to state: inout State) -> MergeStatus {
        if state.dots.contains(input.dot) { return .duplicate }
        let index = state.dots.firstIndex { input.dot < $0 } ?? state.dots.endIndex
        state.dots.insert(input.dot, at: index)
        state.seen.merge(input.context)
        return .applied
    }

    /// Whether a record with these live write dots is deleted.
    public func isDeleted(_ state: State, liveWrites: some Sequence<Dot>) -> Bool {
        guard !state.isEmpty else { return false }
        switch policy {
        case .deleteWins: return true
        case .updateWins: return liveWrites.allSatisfy { state.seen.contains($0) }
        }
    }
}
