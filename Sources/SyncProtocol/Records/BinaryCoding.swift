/// A compact binary form of record states and changes, for storage (the replica's and the server's databases),
/// never for the wire. It is several times smaller and faster than JSON: varint integers, length-prefixed UTF-8
/// strings, one tag byte per value.
///
/// The first byte of every encoded value is ``BinaryWriter/formatVersion``; a reader refuses other versions.
public struct BinaryWriter: Sendable {
    /// The format version written first.
    public static let formatVersion: UInt8 = 1

    public private(set) var bytes: [UInt8] = []

    public init() {
        bytes.reserveCapacity(256)
        bytes.append(Self.formatVersion)
    }

    mutating func byte(_ value: UInt8) { bytes.append(value) }

    mutating func varint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    mutating func signed(_ value: Int64) {
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            varint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    mutating func value(_ value: FieldValue) {
        switch value {
        case .null: byte(0)
        case .bool(let flag): byte(flag ? 2 : 1)
        case .integer(let number):
            byte(3)
            signed(number)
        case .string(let text):
            byte(4)
            string(text)
        }
    }

    public mutating func fieldMap(_ fields: [String: FieldValue]) {
        varint(UInt64(fields.count))
        for (name, fieldValue) in fields.sorted(by: { $0.key < $1.key }) {
            string(name)
            value(fieldValue)
        }
    }

    mutating func dot(_ dot: Dot) {
        string(dot.replica.rawValue)
        varint(dot.counter)
    }

    mutating func clock(_ clock: VectorClock) {
        varint(UInt64(clock.entries.count))
        for entry in clock.entries {
            string(entry.replica.rawValue)
            varint(entry.counter)
        }
    }

    mutating func timestamp(_ stamp: HybridTimestamp) {
        signed(stamp.wallMilliseconds)
        varint(UInt64(stamp.logical))
    }
}

/// Reads what ``BinaryWriter`` wrote; every read is bounds-checked and throws on damaged input.
public struct BinaryReader {
    private let bytes: [UInt8]
    private var offset: Int

    public init(_ bytes: [UInt8]) throws(WireFormatError) {
        self.bytes = bytes
        offset = 0
        let version = try byte()
        guard version == BinaryWriter.formatVersion else {
            throw WireFormatError(
                .unsupportedVersion,
                "stored binary format \(version) is not \(BinaryWriter.formatVersion)"
            )
        }
    }

    public var isAtEnd: Bool { offset == bytes.count }

    private static func damaged(_ what: String) -> WireFormatError {
        WireFormatError(.malformedPayload, "stored binary value is damaged (\(what))")
    }

    mutating func byte() throws(WireFormatError) -> UInt8 {
        guard offset < bytes.count else { throw Self.damaged("truncated") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func varint() throws(WireFormatError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let next = try byte()
            guard shift < 64 else { throw Self.damaged("varint too long") }
            result |= UInt64(next & 0x7F) << shift
            if next < 0x80 { return result }
            shift += 7
        }
    }

    mutating func count() throws(WireFormatError) -> Int {
        let value = try varint()
        guard value <= UInt64(bytes.count - offset) else { throw Self.damaged("count beyond the end") }
        return Int(value)
    }

    mutating func signed() throws(WireFormatError) -> Int64 {
        let raw = try varint()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    mutating func string() throws(WireFormatError) -> String {
        let length = try count()
        defer { offset += length }
        return String(decoding: bytes[offset..<(offset + length)], as: UTF8.self)
    }

    mutating func value() throws(WireFormatError) -> FieldValue {
        switch try byte() {
        case 0: return .null
        case 1: return .bool(false)
        case 2: return .bool(true)
        case 3: return .integer(try signed())
        case 4: return .string(try string())
        default: throw Self.damaged("unknown value tag")
        }
    }

    public mutating func fieldMap() throws(WireFormatError) -> [String: FieldValue] {
        let total = try count()
        var fields: [String: FieldValue] = [:]
        fields.reserveCapacity(total)
        for _ in 0..<total {
            let name = try string()
            fields[name] = try value()
        }
        return fields
    }

    mutating func dot() throws(WireFormatError) -> Dot {
        Dot(replica: ReplicaID(unchecked: try string()), counter: try varint())
    }

    mutating func clock() throws(WireFormatError) -> VectorClock {
        var clock = VectorClock()
        for _ in 0..<(try count()) {
            clock.record(Dot(replica: ReplicaID(unchecked: try string()), counter: try varint()))
        }
        return clock
    }

    mutating func timestamp() throws(WireFormatError) -> HybridTimestamp {
        let wall = try signed()
        let logical = try varint()
        guard logical <= UInt64(UInt32.max) else { throw Self.damaged("logical counter") }
        return HybridTimestamp(wallMilliseconds: wall, logical: UInt32(logical))
    }
}

// MARK: - Changes

extension Change {
    /// The compact binary storage form.
    public var binaryEncoded: [UInt8] {
        var writer = BinaryWriter()
        writer.dot(dot)
        writer.clock(context)
        writer.timestamp(timestamp)
        writer.string(author)
        writer.string(entity.rawValue)
        writer.string(recordID.rawValue)
        switch operation {
        case .create(let fields):
            writer.byte(0)
            writer.fieldMap(fields)
        case .set(let fields):
            writer.byte(1)
            writer.fieldMap(fields)
        case .delete:
            writer.byte(2)
        case .counterDelta(let delta):
            writer.byte(3)
            writer.signed(delta)
        case .counterReset(let quantity):
            writer.byte(4)
            writer.signed(quantity)
        case .append(let fields):
            writer.byte(5)
            writer.fieldMap(fields)
        }
        return writer.bytes
    }

    /// Reads ``binaryEncoded``.
    public init(binary: [UInt8]) throws(WireFormatError) {
        var reader = try BinaryReader(binary)
        let dot = try reader.dot()
        let context = try reader.clock()
        let timestamp = try reader.timestamp()
        let author = try reader.string()
        let entity = EntityKind(try reader.string())
        let recordID = RecordID(try reader.string())
        let operation: Operation
        switch try reader.byte() {
        case 0: operation = .create(try reader.fieldMap())
        case 1: operation = .set(try reader.fieldMap())
        case 2: operation = .delete
        case 3: operation = .counterDelta(try reader.signed())
        case 4: operation = .counterReset(try reader.signed())
        case 5: operation = .append(try reader.fieldMap())
        default: throw WireFormatError(.malformedPayload, "stored change has an unknown operation")
        }
        self.init(
            dot: dot,
            context: context,
            timestamp: timestamp,
            author: author,
            entity: entity,
            recordID: recordID,
            operation: operation
        )
    }
}

// MARK: - Record states

extension RecordState {
    /// The compact binary storage form: the whole merge state, version metadata included.
    public var binaryEncoded: [UInt8] {
        var writer = BinaryWriter()
        writer.string(entity.rawValue)
        writer.string(id.rawValue)
        writer.clock(clock)
        if let created {
            writer.byte(1)
            writer.dot(created.dot)
            writer.timestamp(created.timestamp)
            writer.string(created.author)
        } else {
            writer.byte(0)
        }
        writer.varint(UInt64(fields.count))
        for slot in fields {
            writer.string(slot.name)
            writer.varint(UInt64(slot.register.count))
            for entry in slot.register {
                writer.value(entry.value)
                writer.dot(entry.dot)
                writer.clock(entry.context)
                writer.timestamp(entry.timestamp)
                writer.string(entry.author)
            }
        }
        if let counter {
            writer.byte(1)
            writer.varint(UInt64(counter.deltas.count))
            for (dot, delta) in counter.deltas.sorted(by: { $0.key < $1.key }) {
                writer.dot(dot)
                writer.signed(delta)
            }
            writer.varint(UInt64(counter.resets.count))
            for reset in counter.resets {
                writer.signed(reset.quantity)
                writer.dot(reset.dot)
                writer.clock(reset.context)
                writer.timestamp(reset.timestamp)
            }
        } else {
            writer.byte(0)
        }
        if let appended {
            writer.byte(1)
            writer.fieldMap(appended.fields)
            writer.dot(appended.dot)
            writer.timestamp(appended.timestamp)
            writer.string(appended.author)
        } else {
            writer.byte(0)
        }
        writer.varint(UInt64(tombstones.dots.count))
        for dot in tombstones.dots { writer.dot(dot) }
        writer.clock(tombstones.seen)
        return writer.bytes
    }

    /// Reads ``binaryEncoded``.
    public init(binary: [UInt8]) throws(WireFormatError) {
        var reader = try BinaryReader(binary)
        self.init(entity: EntityKind(try reader.string()), id: RecordID(try reader.string()))
        clock = try reader.clock()
        if try reader.byte() == 1 {
            created = Stamp(dot: try reader.dot(), timestamp: try reader.timestamp(), author: try reader.string())
        }
        for _ in 0..<(try reader.count()) {
            let name = try reader.string()
            for _ in 0..<(try reader.count()) {
                let entry = FieldEntry(
                    value: try reader.value(),
                    dot: try reader.dot(),
                    context: try reader.clock(),
                    timestamp: try reader.timestamp(),
                    author: try reader.string()
                )
                _ = fields.insert(entry, into: name)
            }
        }
        if try reader.byte() == 1 {
            var state = Counter.State()
            for _ in 0..<(try reader.count()) {
                let dot = try reader.dot()
                state.deltas[dot] = try reader.signed()
            }
            for _ in 0..<(try reader.count()) {
                _ = state.resets.insert(
                    Counter.Reset(
                        quantity: try reader.signed(),
                        dot: try reader.dot(),
                        context: try reader.clock(),
                        timestamp: try reader.timestamp()
                    )
                )
            }
            counter = state
        }
        if try reader.byte() == 1 {
            appended = AppendOnly.Record(
                fields: try reader.fieldMap(),
                dot: try reader.dot(),
                timestamp: try reader.timestamp(),
                author: try reader.string()
            )
        }
        var tombstones = Tombstones.State()
        for _ in 0..<(try reader.count()) { tombstones.dots.append(try reader.dot()) }
        tombstones.seen = try reader.clock()
        self.tombstones = tombstones
        guard reader.isAtEnd else { throw WireFormatError(.malformedPayload, "stored record state has trailing bytes") }
    }
}

// MARK: - Push results

extension ChangeResult {
    /// The compact binary storage form (the server keeps each processed counter's result for retries).
    public var binaryEncoded: [UInt8] {
        var writer = BinaryWriter()
        writer.dot(dot)
        switch status {
        case .accepted: writer.byte(0)
        case .duplicate: writer.byte(1)
        case .rejected: writer.byte(2)
        }
        if let rejection {
            writer.byte(1)
            writer.string(rejection.code.rawValue)
            writer.string(rejection.reason)
        } else {
            writer.byte(0)
        }
        return writer.bytes
    }

    /// Reads ``binaryEncoded``.
    public init(binary: [UInt8]) throws(WireFormatError) {
        var reader = try BinaryReader(binary)
        let dot = try reader.dot()
        let status: Status
        switch try reader.byte() {
        case 0: status = .accepted
        case 1: status = .duplicate
        case 2: status = .rejected
        default: throw WireFormatError(.malformedPayload, "stored push result has an unknown status")
        }
        var rejection: ChangeRejection?
        if try reader.byte() == 1 {
            rejection = ChangeRejection(ChangeRejection.Code(rawValue: try reader.string()), try reader.string())
        }
        guard reader.isAtEnd else { throw WireFormatError(.malformedPayload, "stored push result has trailing bytes") }
        self.init(dot: dot, status: status, rejection: rejection)
    }
}
