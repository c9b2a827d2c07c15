import SyncProtocol

/// The columns a server stores beside a record's merge state, derived from it: its territory (accounts), its
/// scope tag (for pull and snapshot filtering) and whether it has open conflicts (for stats).
struct RecordRow {
    var territory: String?
    var scope: ScopeTag
    var hasConflicts: Bool

    init(_ state: RecordState) {
        let schema = CRMSchema.schema(for: state.entity)
        territory = state.entity == .account ? state.values(schema: schema)["territory"]?.stringValue : nil
        scope = ScopeTag.of(state, schema: schema)
        hasConflicts = !state.conflicts(schema: schema).isEmpty
    }
}

extension PushProcessor {
    /// The accounts a batch's scope checks need: those its changes name, and those its records already belong to.
    /// `states` holds the batch's own records.
    static func referencedAccounts(_ changes: [Change], states: [RecordKey: RecordState]) -> Set<RecordKey> {
        var accounts = Set<RecordKey>()
        for change in changes {
            let schema = CRMSchema.schema(for: change.entity)
            guard case .account(let field) = schema.scope else { continue }
            if let id = change.operation.fields[field]?.stringValue {
                accounts.insert(RecordKey(entity: .account, id: RecordID(id)))
            }
            if let state = states[RecordKey(entity: change.entity, id: change.recordID)],
                let id = state.values(schema: schema)[field]?.stringValue
            {
                accounts.insert(RecordKey(entity: .account, id: RecordID(id)))
            }
        }
        return accounts.filter { states[$0] == nil }
    }
}
