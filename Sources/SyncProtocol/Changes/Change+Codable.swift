// Wire form of a change (see conformance/PROTOCOL.md, "Changes"):
//
//   {"dot": {"replica": "laptop-a", "counter": 12}, "context": {"laptop-a": 11, "server": 40},
//    "hlc": "2026-11-23T12:00:00.123Z/0", "author": "alice", "entity": "account", "record_id": "01JD…",
//    "op": "set", "fields": {"phone": "+49 30 1234567"}}
//
// `fields` goes with create, set and append; `delta` with counter_delta; `quantity` with counter_reset.
extension Change: Codable {
    enum CodingKeys: String, CodingKey {
        case dot, context, hlc, author, entity
        case recordID = "record_id"
        case op, fields, delta, quantity
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        dot = try container.decode(Dot.self, forKey: .dot)
        context = try container.decode(VectorClock.self, forKey: .context)
        timestamp = try container.decode(HybridTimestamp.self, forKey: .hlc)
        author = try container.decode(String.self, forKey: .author)
        // Counted in Unicode scalars, as JSON Schema's maxLength counts (conformance/openapi.yaml).
        guard !author.isEmpty, author.unicodeScalars.count <= 128 else {
            throw DecodingError.dataCorruptedError(
                forKey: .author,
                in: container,
                debugDescription: "author must be 1 to 128 characters"
            )
        }
        let entityName = try container.decode(String.self, forKey: .entity)
        guard RecordID.isValid(entityName) else {
            throw DecodingError.dataCorruptedError(
                forKey: .entity,
                in: container,
                debugDescription: "entity must be 1 to 128 printable ASCII characters"
            )
        }
        entity = EntityKind(entityName)
        let id = try container.decode(String.self, forKey: .recordID)
        guard RecordID.isValid(id) else {
            throw DecodingError.dataCorruptedError(
                forKey: .recordID,
                in: container,
                debugDescription: "record_id must be 1 to 128 printable ASCII characters without spaces"
            )
        }
        recordID = RecordID(id)
        let op = try container.decode(String.self, forKey: .op)
        // A member that belongs to another operation is not used, but it must still have its type, so the schema
        // of a change is one whatever its operation (conformance/openapi.yaml).
        if op != "create", op != "set", op != "append", container.contains(.fields) {
            _ = try container.decode([String: FieldValue].self, forKey: .fields)
        }
        if op != "counter_delta", container.contains(.delta) {
            _ = try container.decodeInteger(Int64.self, forKey: .delta)
        }
        if op != "counter_reset", container.contains(.quantity) {
            _ = try container.decodeInteger(Int64.self, forKey: .quantity)
        }
        switch op {
        case "create": operation = .create(try container.decode([String: FieldValue].self, forKey: .fields))
        case "set":
            let fields = try container.decode([String: FieldValue].self, forKey: .fields)
            guard !fields.isEmpty else {
                throw DecodingError.dataCorruptedError(
                    forKey: .fields,
                    in: container,
                    debugDescription: "a set must name at least one field"
                )
            }
            operation = .set(fields)
        case "append": operation = .append(try container.decode([String: FieldValue].self, forKey: .fields))
        case "delete": operation = .delete
        case "counter_delta": operation = .counterDelta(try container.decodeInteger(Int64.self, forKey: .delta))
        case "counter_reset": operation = .counterReset(try container.decodeInteger(Int64.self, forKey: .quantity))
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .op,
                in: container,
                debugDescription: "unknown op '\(op.prefix(32))'; expected create, set, delete, counter_delta, "
                    + "counter_reset or append"
            )
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(dot, forKey: .dot)
        try container.encode(context, forKey: .context)
        try container.encode(timestamp, forKey: .hlc)
        try container.encode(author, forKey: .author)
        try container.encode(entity.rawValue, forKey: .entity)
        try container.encode(recordID.rawValue, forKey: .recordID)
        try container.encode(operation.name, forKey: .op)
        switch operation {
        case .create(let fields), .set(let fields), .append(let fields):
            try container.encode(fields, forKey: .fields)
        case .delete:
            break
        case .counterDelta(let delta):
            try container.encode(delta, forKey: .delta)
        case .counterReset(let quantity):
            try container.encode(quantity, forKey: .quantity)
        }
    }
}

extension Dot: Codable {
    enum CodingKeys: String, CodingKey {
        case replica, counter
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let replica = try container.decode(String.self, forKey: .replica)
        guard ReplicaID.isValid(replica) else {
            throw DecodingError.dataCorruptedError(
                forKey: .replica,
                in: container,
                debugDescription: "replica must be 1 to 64 characters of A-Z a-z 0-9 . _ -"
            )
        }
        let counter = try container.decodeInteger(UInt64.self, forKey: .counter)
        guard counter > 0 else {
            throw DecodingError.dataCorruptedError(
                forKey: .counter,
                in: container,
                debugDescription: "counter starts at 1"
            )
        }
        self.init(replica: ReplicaID(unchecked: replica), counter: counter)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(replica.rawValue, forKey: .replica)
        try container.encode(counter, forKey: .counter)
    }
}
