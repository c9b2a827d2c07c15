/// Two concurrent writes to the same field: the value the record shows and a value that lost, kept for review.
///
/// A conflict is open while both writes are causally maximal in the field's register; it closes when a later
/// write (a resolution, made by a person who saw both) replaces them. Its ID is stable on every replica.
public struct Conflict: Hashable, Sendable, Codable {
    public var entity: EntityKind
    public var recordID: RecordID
    public var field: String
    public var winner: FieldEntry
    public var loser: FieldEntry

    public init(entity: EntityKind, recordID: RecordID, field: String, winner: FieldEntry, loser: FieldEntry) {
        self.entity = entity
        self.recordID = recordID
        self.field = field
        self.winner = winner
        self.loser = loser
    }

    /// `ENTITY/RECORD/FIELD/LOSER-DOT`, the same everywhere.
    public var id: String { "\(entity)/\(recordID)/\(field)/\(loser.dot)" }

    enum CodingKeys: String, CodingKey {
        case entity, field, winner, loser
        case recordID = "record_id"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        entity = EntityKind(try container.decode(String.self, forKey: .entity))
        recordID = RecordID(try container.decode(String.self, forKey: .recordID))
        field = try container.decode(String.self, forKey: .field)
        winner = try container.decode(FieldEntry.self, forKey: .winner)
        loser = try container.decode(FieldEntry.self, forKey: .loser)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(entity.rawValue, forKey: .entity)
        try container.encode(recordID.rawValue, forKey: .recordID)
        try container.encode(field, forKey: .field)
        try container.encode(winner, forKey: .winner)
        try container.encode(loser, forKey: .loser)
    }
}
