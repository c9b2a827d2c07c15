/// One written value of one field, with the stamp of the change that wrote it.
public struct FieldEntry: CausallyStamped, Codable {
    public var value: FieldValue
    public var dot: Dot
    public var context: VectorClock
    public var timestamp: HybridTimestamp
    public var author: String

    public init(value: FieldValue, dot: Dot, context: VectorClock, timestamp: HybridTimestamp, author: String) {
        self.value = value
        self.dot = dot
        self.context = context
        self.timestamp = timestamp
        self.author = author
    }

    /// The entry the change `change` writes into field value `value`.
    public init(value: FieldValue, of change: Change) {
        self.init(
            value: value,
            dot: change.dot,
            context: change.context,
            timestamp: change.timestamp,
            author: change.author
        )
    }

    enum CodingKeys: String, CodingKey {
        case value, dot, context, author
        case timestamp = "hlc"
    }

    /// The deterministic last-writer-wins order: hybrid timestamp, then replica ID, then counter.
    public func precedesInWriteOrder(_ other: FieldEntry) -> Bool {
        if timestamp != other.timestamp { return timestamp < other.timestamp }
        return dot < other.dot
    }
}

/// The state of one field: its causally maximal writes (normally one; several after concurrent writes).
public typealias FieldRegister = CausalSet<FieldEntry>

/// A rule that merges the writes of one field and picks the value a record shows.
public protocol FieldMergeRule: MergeRule where State == FieldRegister, Input == FieldEntry {
    /// The value the record shows: one of the register's entries, chosen the same way on every replica.
    func winner(of register: FieldRegister) -> FieldEntry?

    /// The entries that lost to the winner and that a person should review.
    func losers(in register: FieldRegister) -> [FieldEntry]
}

extension FieldMergeRule {
    public func apply(_ input: FieldEntry, to state: inout FieldRegister) -> MergeStatus {
        state.insert(input)
    }
}
