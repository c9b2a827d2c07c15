// Record states are stored by the server and replicas as JSON (version metadata beside the typed columns).
extension RecordState: Codable {
    enum CodingKeys: String, CodingKey {
        case entity, clock, created, fields, counter, appended, tombstones
        case id = "record_id"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        entity = EntityKind(try container.decode(String.self, forKey: .entity))
        id = RecordID(try container.decode(String.self, forKey: .id))
        clock = try container.decode(VectorClock.self, forKey: .clock)
        created = try container.decodeIfPresent(Stamp.self, forKey: .created)
        fields = try container.decodeIfPresent(FieldRegisters.self, forKey: .fields) ?? FieldRegisters()
        counter = try container.decodeIfPresent(Counter.State.self, forKey: .counter)
        appended = try container.decodeIfPresent(AppendOnly.Record.self, forKey: .appended)
        tombstones = try container.decodeIfPresent(Tombstones.State.self, forKey: .tombstones) ?? Tombstones.State()
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(entity.rawValue, forKey: .entity)
        try container.encode(id.rawValue, forKey: .id)
        try container.encode(clock, forKey: .clock)
        try container.encodeIfPresent(created, forKey: .created)
        if !fields.isEmpty { try container.encode(fields, forKey: .fields) }
        try container.encodeIfPresent(counter, forKey: .counter)
        try container.encodeIfPresent(appended, forKey: .appended)
        if !tombstones.isEmpty { try container.encode(tombstones, forKey: .tombstones) }
    }
}
