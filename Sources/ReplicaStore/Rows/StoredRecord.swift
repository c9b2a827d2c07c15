public import SyncProtocol

/// A record as the replica shows it: its current values (nulls left out).
public struct StoredRecord: Hashable, Sendable {
    public var entity: EntityKind
    public var id: RecordID
    public var values: [String: FieldValue]
    public var isDeleted: Bool

    public init(entity: EntityKind, id: RecordID, values: [String: FieldValue], isDeleted: Bool = false) {
        self.entity = entity
        self.id = id
        self.values = values
        self.isDeleted = isDeleted
    }

    public subscript(field: String) -> FieldValue? { values[field] }
}
