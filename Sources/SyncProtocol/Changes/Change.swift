/// One change to one record, as made on a replica (or on the server, for imports and admin edits).
///
/// A change carries everything a receiver needs to merge it without asking anyone: its ``dot`` (who made it, and
/// which of their changes it is), the causal ``context`` it was made in (the record's vector clock at the author
/// before this change), its hybrid logical ``timestamp`` (used only to break ties between concurrent writes), its
/// ``author`` (the user), and the record it touches.
///
/// ```swift
/// let change = Change(
///     dot: Dot(replica: laptop, counter: 12),
///     context: recordClock,
///     timestamp: hlc.send(now: nowMillis),
///     author: "alice",
///     entity: .account,
///     recordID: RecordID("01JD7Q8X4N1V3F2Y6Z0B9C8D7E"),
///     operation: .set(["phone": "+49 30 1234567"])
/// )
/// ```
public struct Change: Hashable, Sendable {
    public var dot: Dot
    public var context: VectorClock
    public var timestamp: HybridTimestamp
    public var author: String
    public var entity: EntityKind
    public var recordID: RecordID
    public var operation: Operation

    public init(
        dot: Dot,
        context: VectorClock,
        timestamp: HybridTimestamp,
        author: String,
        entity: EntityKind,
        recordID: RecordID,
        operation: Operation
    ) {
        self.dot = dot
        self.context = context
        self.timestamp = timestamp
        self.author = author
        self.entity = entity
        self.recordID = recordID
        self.operation = operation
    }
}

extension Change {
    /// What a change does to its record.
    public enum Operation: Hashable, Sendable {
        /// Creates a record with initial field values (mutable entities).
        case create([String: FieldValue])
        /// Sets some fields; fields not named keep their values. A null value clears a field.
        case set([String: FieldValue])
        /// Deletes the record, leaving a tombstone.
        case delete
        /// Adds a signed amount to a counter (stock: sell is negative, return positive).
        case counterDelta(Int64)
        /// A recount: sets the counter's base to `quantity`; deltas not in the change's context still count on top.
        case counterReset(Int64)
        /// Creates an immutable record (activities): never updated, never deleted.
        case append([String: FieldValue])

        /// The stable wire name, e.g. `counter_delta`.
        public var name: String {
            switch self {
            case .create: "create"
            case .set: "set"
            case .delete: "delete"
            case .counterDelta: "counter_delta"
            case .counterReset: "counter_reset"
            case .append: "append"
            }
        }

        /// The fields a create, set or append carries; empty for the other operations.
        public var fields: [String: FieldValue] {
            switch self {
            case .create(let fields), .set(let fields), .append(let fields): fields
            case .delete, .counterDelta, .counterReset: [:]
            }
        }
    }
}
