/// The merged state of one record, with all the version metadata needed to merge further changes into it.
///
/// Replicas and the server keep one of these per record (the server as its current state, the replica beside
/// its typed row) and fold every change into it with ``apply(_:schema:authority:)``. Two record states that have
/// taken in the same set of changes are equal (`==`) whatever the order and however often each came, which is
/// the convergence the protocol promises.
///
/// ```swift
/// var record = RecordState(entity: .account, id: accountID)
/// let result = record.apply(change, schema: CRMSchema.account, authority: .server)
/// record.values(schema: CRMSchema.account)["phone"]     // the winning value
/// record.conflicts(schema: CRMSchema.account)           // losing values kept for review
/// ```
public struct RecordState: Hashable, Sendable {
    /// Who made a record, and when.
    public struct Stamp: Hashable, Sendable, Codable {
        public var dot: Dot
        public var timestamp: HybridTimestamp
        public var author: String

        enum CodingKeys: String, CodingKey {
            case dot, author
            case timestamp = "hlc"
        }
    }

    public let entity: EntityKind
    public let id: RecordID
    /// Every dot applied to this record: the context of the next local change to it.
    public internal(set) var clock = VectorClock()
    /// The earliest create (in last-writer-wins order), if the record has been created.
    public internal(set) var created: Stamp?
    /// The causally maximal writes of each field (mutable and counter entities).
    public internal(set) var fields = FieldRegisters()
    /// The counter of a counter entity.
    public internal(set) var counter: Counter.State?
    /// The record of an append-only entity.
    public internal(set) var appended: AppendOnly.Record?
    public internal(set) var tombstones = Tombstones.State()

    public init(entity: EntityKind, id: RecordID) {
        self.entity = entity
        self.id = id
    }

    /// The outcome of applying one change.
    public struct ApplyResult: Hashable, Sendable {
        public var status: MergeStatus
        /// The open conflicts this change takes part in, as winner or loser.
        public var conflicts: [Conflict]
    }

    /// Folds `change` into the record by the rules of `schema`. A rejected change leaves the record untouched.
    ///
    /// `authority` is `.replica` for a rep's own write (checked against server ownership) and `.server` for the
    /// server's writes and for everything a replica pulls from the server.
    public mutating func apply(_ change: Change, schema: EntitySchema, authority: WriteAuthority) -> ApplyResult {
        if let rejection = rejection(of: change, schema: schema, authority: authority) {
            return ApplyResult(status: .rejected(rejection), conflicts: [])
        }
        let status: MergeStatus
        var conflicts: [Conflict] = []
        switch change.operation {
        case .append:
            status = AppendOnly().apply(change, to: &appended)
        case .create(let values), .set(let values):
            status = applyFields(values, of: change, schema: schema, conflicts: &conflicts)
            if case .create = change.operation {
                let stamp = Stamp(dot: change.dot, timestamp: change.timestamp, author: change.author)
                if let existing = created, (existing.timestamp, existing.dot) <= (stamp.timestamp, stamp.dot) {
                } else {
                    created = stamp
                }
            }
        case .delete:
            status = Tombstones(policy: schema.deletePolicy)
                .apply(Tombstones.Input(dot: change.dot, context: change.context), to: &tombstones)
        case .counterDelta(let delta):
            status = applyCounter(.delta(delta), of: change)
        case .counterReset(let quantity):
            status = applyCounter(.reset(quantity), of: change)
        }
        if case .rejected = status {
            return ApplyResult(status: status, conflicts: [])
        }
        clock.record(change.dot)
        if conflicts.count > 1 { conflicts.sort { ($0.field, $0.loser.dot) < ($1.field, $1.loser.dot) } }
        return ApplyResult(status: status, conflicts: conflicts)
    }

    private func rejection(of change: Change, schema: EntitySchema, authority: WriteAuthority) -> ChangeRejection? {
        guard change.entity == entity, change.recordID == id else {
            return ChangeRejection(.invalidValue, "the change is for another record")
        }
        if case .appendOnly = schema.kind, let rejection = AppendOnly().rejection(of: change, authority: authority) {
            return rejection
        }
        if let rejection = schema.operationRejection(change.operation) { return rejection }
        return schema.ownershipRejection(of: change, authority: authority)
    }

    /// Applies each field's write; appends to `conflicts` the open conflicts this change takes part in.
    private mutating func applyFields(
        _ values: [String: FieldValue],
        of change: Change,
        schema: EntitySchema,
        conflicts: inout [Conflict]
    ) -> MergeStatus {
        var sawApplied = false
        var sawDuplicate = false
        for (name, value) in values {
            let entry = FieldEntry(value: value, of: change)
            // Every field rule keeps the causal set of maximal writes (FieldMergeRule's apply); rules differ only in
            // the winner they pick, so the register is updated the same way whatever the field's rule.
            let (status, registerSize) = fields.insert(entry, into: name)
            switch status {
            case .applied: sawApplied = true
            case .duplicate: sawDuplicate = true
            case .superseded, .rejected: break
            }
            if case .applied = status, registerSize > 1 {
                for conflict in self.conflicts(of: name, schema: schema)
                where conflict.loser.dot == change.dot || conflict.winner.dot == change.dot {
                    conflicts.append(conflict)
                }
            }
        }
        if values.isEmpty { return created?.dot == change.dot ? .duplicate : .applied }
        return sawApplied ? .applied : sawDuplicate ? .duplicate : .superseded
    }

    private mutating func applyCounter(_ kind: Counter.Input.Kind, of change: Change) -> MergeStatus {
        let input = Counter.Input(kind, dot: change.dot, context: change.context, timestamp: change.timestamp)
        if counter == nil { counter = Counter.State() }
        return Counter().apply(input, to: &counter!)
    }
}

// MARK: - Reading the merged record

extension RecordState {
    /// Whether the record exists: created (or appended), or at least written to.
    public var exists: Bool {
        created != nil || appended != nil || !fields.isEmpty || counter != nil
    }

    /// Whether the record is deleted under its entity's delete policy.
    public func isDeleted(schema: EntitySchema) -> Bool {
        guard !tombstones.isEmpty else { return false }
        var live: [Dot] = fields.flatMap { $0.register.map(\.dot) }
        if let created { live.append(created.dot) }
        if let counter {
            live.append(contentsOf: counter.deltas.keys)
            live.append(contentsOf: counter.resets.map(\.dot))
        }
        return Tombstones(policy: schema.deletePolicy).isDeleted(tombstones, liveWrites: live)
    }

    /// The winning entry of one field.
    public func winner(of field: String, schema: EntitySchema) -> FieldEntry? {
        guard let register = fields[field] else { return nil }
        switch schema.rule(of: field) {
        case .lastWriterWins: return LastWriterWins().winner(of: register)
        case .orderedState(let rule): return rule.winner(of: register)
        }
    }

    /// The record's current values: winners of every field (nulls left out), the counter's value under its field
    /// name, or the appended fields.
    public func values(schema: EntitySchema) -> [String: FieldValue] {
        if let appended { return appended.fields.filter { !$0.value.isNull } }
        var values: [String: FieldValue] = [:]
        for slot in fields {
            if let entry = winner(of: slot.name, schema: schema), !entry.value.isNull {
                values[slot.name] = entry.value
            }
        }
        if case .counter(let field) = schema.kind { values[field] = .integer(counter?.value ?? 0) }
        return values
    }

    /// The open conflicts of one field.
    public func conflicts(of field: String, schema: EntitySchema) -> [Conflict] {
        guard let register = fields[field], register.count > 1,
            let winner = winner(of: field, schema: schema)
        else { return [] }
        let losers: [FieldEntry]
        switch schema.rule(of: field) {
        case .lastWriterWins: losers = LastWriterWins().losers(in: register)
        case .orderedState(let rule): losers = rule.losers(in: register)
        }
        return losers.map { Conflict(entity: entity, recordID: id, field: field, winner: winner, loser: $0) }
    }

    /// Every open conflict of the record, by field name then losing dot.
    public func conflicts(schema: EntitySchema) -> [Conflict] {
        fields.names.flatMap { conflicts(of: $0, schema: schema) }
    }
}
