import SyncProtocol

/// A record's identity on the server: entity and ID.
struct RecordKey: Hashable, Sendable {
    var entity: EntityKind
    var id: RecordID
}
