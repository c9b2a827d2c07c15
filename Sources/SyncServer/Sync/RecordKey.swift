public import SyncProtocol

/// A record's identity on the server: entity and ID.
public struct RecordKey: Hashable, Sendable, Comparable {
    public var entity: EntityKind
    public var id: RecordID

    public init(entity: EntityKind, id: RecordID) {
        self.entity = entity
        self.id = id
    }

    /// The snapshot's paging order: entity, then ID.
    public static func < (lhs: RecordKey, rhs: RecordKey) -> Bool {
        (lhs.entity.rawValue, lhs.id.rawValue) < (rhs.entity.rawValue, rhs.id.rawValue)
    }
}
