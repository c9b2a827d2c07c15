/// One entity of the data model: its fields, its merge rules, and what replicas may do to it.
///
/// A final class of constants rather than a struct: every change applied looks its schema up, and passing one
/// reference costs one retain where a struct of arrays and dictionaries costs one per member.
public final class EntitySchema: Hashable, Sendable {
    /// How the records of the entity are merged as a whole.
    public enum Kind: Hashable, Sendable {
        /// Created, then edited field by field (merge per field), deleted with a tombstone.
        case mutable
        /// Appended once and immutable afterwards (``AppendOnly``).
        case appendOnly
        /// A counter record: its value field is a ``Counter``; its other fields are mutable.
        case counter(field: String)
    }

    /// How a record of the entity falls into a rep's scope.
    public enum Scope: Hashable, Sendable {
        /// The record has its own territory field (accounts).
        case territory(field: String)
        /// The record hangs off an account through this reference field.
        case account(field: String)
        /// Every user sees every record (catalog, stock).
        case everyone
    }

    public let entity: EntityKind
    public let fields: [FieldSchema]
    public let kind: Kind
    public let scope: Scope
    public let deletePolicy: Tombstones.Policy
    /// The operations a replica may send; anything else is the server's alone.
    public let replicaOperations: Set<String>
    public let fieldsByName: [String: FieldSchema]
    /// Whether any operation fits (``unknown(_:)``: an entity of a newer release, kept as it comes).
    public let acceptsEveryOperation: Bool
    /// The fields whose rule is not last-writer-wins; empty for most entities, which makes rule lookup free.
    private let orderedStateFields: [String: OrderedState]

    public init(
        _ entity: EntityKind,
        kind: Kind = .mutable,
        scope: Scope,
        deletePolicy: Tombstones.Policy = .updateWins,
        replicaOperations: Set<String>,
        fields: [FieldSchema],
        acceptsEveryOperation: Bool = false
    ) {
        self.acceptsEveryOperation = acceptsEveryOperation
        self.entity = entity
        self.fields = fields
        self.kind = kind
        self.scope = scope
        self.deletePolicy = deletePolicy
        self.replicaOperations = replicaOperations
        self.fieldsByName = Dictionary(uniqueKeysWithValues: fields.map { ($0.name, $0) })
        var ordered: [String: OrderedState] = [:]
        for field in fields {
            if case .orderedState(let rule) = field.rule { ordered[field.name] = rule }
        }
        self.orderedStateFields = ordered
    }

    public static func == (lhs: EntitySchema, rhs: EntitySchema) -> Bool {
        lhs === rhs || (lhs.entity == rhs.entity && lhs.fields == rhs.fields && lhs.kind == rhs.kind)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(entity)
    }

    /// The schema used for an entity this build does not know (sent by a newer server): every field
    /// last-writer-wins, every operation the server's. Its records are kept and passed on, never dropped.
    ///
    /// Every operation is kept as it comes, whatever it is (0.19): before, an `append` to an unknown entity was
    /// refused as an unsupported operation, so an append-only entity of a newer release would reach an older laptop
    /// empty (PROTOCOL.md §6.4).
    public static func unknown(_ entity: EntityKind) -> EntitySchema {
        EntitySchema(entity, scope: .everyone, replicaOperations: [], fields: [], acceptsEveryOperation: true)
    }

    /// Whether this build knows the entity (it is in ``CRMSchema``).
    public var isKnown: Bool { CRMSchema.entities[entity] != nil }

    /// The rule that merges `field`: its declared rule, or last-writer-wins for a field this build does not know.
    public func rule(of field: String) -> FieldSchema.Rule {
        if orderedStateFields.isEmpty { return .lastWriterWins }
        return orderedStateFields[field].map { .orderedState($0) } ?? .lastWriterWins
    }

    /// Why a server-owned field or operation may not be written by `authority`, or nil when it may.
    func ownershipRejection(of change: Change, authority: WriteAuthority) -> ChangeRejection? {
        guard authority == .replica else { return nil }
        if !replicaOperations.contains(change.operation.name) {
            return .serverOwned("\(entity) (\(change.operation.name))")
        }
        let isCreate: Bool
        switch change.operation {
        case .create, .append: isCreate = true
        case .set, .delete, .counterDelta, .counterReset: isCreate = false
        }
        for name in change.operation.fields.keys.sorted() {
            guard let field = fieldsByName[name] else { continue }
            let owned: Bool
            switch field.ownership {
            case .replica: owned = false
            case .serverAfterCreate: owned = !isCreate
            case .server: owned = true
            }
            if owned { return .serverOwned("\(entity).\(name)") }
        }
        return nil
    }
}

// MARK: - Validation

extension EntitySchema {
    /// Checks a change against the schema before it is made (replica) or accepted (server): the operation fits
    /// the entity, the writer may write what it writes, every field is known and of its type, and a create names
    /// its required fields. Returns the first problem, or nil.
    public func validate(_ change: Change, authority: WriteAuthority) -> ChangeRejection? {
        guard isKnown else {
            return ChangeRejection(.unknownEntity, "unknown entity '\(entity.rawValue.prefix(64))'")
        }
        if let rejection = operationRejection(change.operation) { return rejection }
        if let rejection = ownershipRejection(of: change, authority: authority) { return rejection }
        let fields = change.operation.fields
        for name in fields.keys.sorted() {
            guard let field = fieldsByName[name] else {
                return ChangeRejection(.unknownField, "\(entity) has no field '\(name.prefix(64))'")
            }
            if let value = fields[name], let problem = field.type.problem(with: value) {
                return ChangeRejection(.invalidValue, "\(entity).\(name) \(problem)")
            }
            if field.isRequired, fields[name] == .null {
                return ChangeRejection(.missingField, "\(entity).\(name) is required and cannot be cleared")
            }
        }
        switch change.operation {
        case .create, .append:
            for field in self.fields where field.isRequired && (fields[field.name] ?? .null) == .null {
                return ChangeRejection(.missingField, "a new \(entity) needs \(field.name)")
            }
        case .counterDelta(let delta) where delta == 0:
            return ChangeRejection(.invalidValue, "a counter delta of 0 changes nothing")
        case .counterReset(let quantity) where quantity < 0:
            return ChangeRejection(.invalidValue, "a recount cannot be negative")
        case .set, .delete, .counterDelta, .counterReset:
            break
        }
        return nil
    }

    /// Why `operation` does not exist for this entity's kind, or nil.
    func operationRejection(_ operation: Change.Operation) -> ChangeRejection? {
        if acceptsEveryOperation { return nil }
        let fits: Bool
        switch kind {
        case .appendOnly:
            switch operation {
            case .append: fits = true
            case .set, .delete:
                return ChangeRejection(.immutableRecord, "\(entity) records are append-only: never updated or deleted")
            case .create, .counterDelta, .counterReset: fits = false
            }
        case .mutable:
            switch operation {
            case .create, .set, .delete: fits = true
            case .append, .counterDelta, .counterReset: fits = false
            }
        case .counter:
            if case .append = operation { fits = false } else { fits = true }
        }
        return fits
            ? nil
            : ChangeRejection(.unsupportedOperation, "'\(operation.name)' is not an operation on \(entity) records")
    }
}
