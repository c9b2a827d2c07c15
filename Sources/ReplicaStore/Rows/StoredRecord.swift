public import SyncProtocol

/// A record as the replica shows it: its current values (nulls left out).
public struct StoredRecord: Hashable, Sendable {
    public var entity: EntityKind
    public var id: RecordID
    public var values: [String: FieldValue]
    public var isDeleted: Bool

    public subscript(field: String) -> FieldValue? { values[field] }
}
