/// One field of an entity: its type, merge rule and who may write it.
public struct FieldSchema: Hashable, Sendable {
    /// How concurrent writes of this field are merged.
    public enum Rule: Hashable, Sendable {
        case lastWriterWins
        case orderedState(OrderedState)
    }

    /// Who may write the field.
    public enum Ownership: Hashable, Sendable {
        /// Any writer in scope.
        case replica
        /// Replicas may set it when they create the record (the server checks the value), then only the server.
        case serverAfterCreate
        /// Only the server (imports, admin commands).
        case server
    }

    public var name: String
    public var type: ValueType
    public var rule: Rule
    public var ownership: Ownership
    /// A create (or append) must give it a non-null value.
    public var isRequired: Bool

    public init(
        _ name: String,
        _ type: ValueType,
        rule: Rule = .lastWriterWins,
        ownership: Ownership = .replica,
        required: Bool = false
    ) {
        self.name = name
        self.type = type
        self.rule = rule
        self.ownership = ownership
        self.isRequired = required
    }
}
