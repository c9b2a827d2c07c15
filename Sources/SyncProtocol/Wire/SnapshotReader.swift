/// A direct reader of snapshot pages: a first download decodes a territory's every record state, and
/// `JSONDecoder`'s generic machinery cost the laptop most of its time (about 45 µs a record on these machines).
///
/// It reads exactly the JSON ``RecordState``'s `Codable` form reads, with the same checks (replica ids, counters
/// from 1, clock sizes, timestamps, field values), and skips keys it does not know as the decoder does. It runs
/// after ``StrictJSON`` (numbers are integer literals within Int64, no key twice) and returns nil at anything it
/// does not expect: the caller then decodes with `JSONDecoder`, whose error messages stay the reference.
enum SnapshotReader {
    static func read(_ bytes: UnsafeRawBufferPointer) -> SnapshotResponse? {
        var reader = Reader(bytes: bytes)
        return try? reader.snapshot()
    }

    struct Unexpected: Error {}

    struct Reader {
        let bytes: UnsafeRawBufferPointer
        var index = 0

        init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        mutating func space() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func peek() throws(Unexpected) -> UInt8 {
            space()
            guard index < bytes.count else { throw Unexpected() }
            return bytes[index]
        }

        mutating func expect(_ byte: UInt8) throws(Unexpected) {
            guard try peek() == byte else { throw Unexpected() }
            index += 1
        }

        /// Reads `{ "key": value, … }`, calling `body` for each key with the reader at its value.
        mutating func object(_ body: (inout Reader, String) throws(Unexpected) -> Void) throws(Unexpected) {
            try expect(UInt8(ascii: "{"))
            if try peek() == UInt8(ascii: "}") {
                index += 1
                return
            }
            while true {
                let key = try string()
                try expect(UInt8(ascii: ":"))
                try body(&self, key)
                let next = try peek()
                index += 1
                if next == UInt8(ascii: "}") { return }
                guard next == UInt8(ascii: ",") else { throw Unexpected() }
            }
        }

        mutating func array(_ body: (inout Reader) throws(Unexpected) -> Void) throws(Unexpected) {
            try expect(UInt8(ascii: "["))
            if try peek() == UInt8(ascii: "]") {
                index += 1
                return
            }
            while true {
                try body(&self)
                let next = try peek()
                index += 1
                if next == UInt8(ascii: "]") { return }
                guard next == UInt8(ascii: ",") else { throw Unexpected() }
            }
        }

        mutating func string() throws(Unexpected) -> String {
            try expect(UInt8(ascii: "\""))
            let start = index
            // The common case: no escapes.
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                    index += 1
                    return text
                }
                if byte == UInt8(ascii: "\\") || byte < 0x20 { break }
                index += 1
            }
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\\") else { throw Unexpected() }
            var out = [UInt8](UnsafeRawBufferPointer(rebasing: bytes[start..<index]))
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    // Invalid UTF-8 is left to the decoder (which refuses it).
                    guard let text = String(validating: out, as: UTF8.self) else { throw Unexpected() }
                    return text
                case UInt8(ascii: "\\"):
                    guard index < bytes.count else { throw Unexpected() }
                    let escape = bytes[index]
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if (0xD800..<0xDC00).contains(scalar) {
                            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                                bytes[index + 1] == UInt8(ascii: "u")
                            else { throw Unexpected() }
                            index += 2
                            let low = try hex4()
                            guard (0xDC00..<0xE000).contains(low) else { throw Unexpected() }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let unicode = Unicode.Scalar(scalar) else { throw Unexpected() }
                        out += Array(String(Character(unicode)).utf8)
                    default: throw Unexpected()
                    }
                case 0..<0x20: throw Unexpected()
                default: out.append(byte)
                }
            }
            throw Unexpected()
        }

        mutating func hex4() throws(Unexpected) -> UInt32 {
            guard index + 4 <= bytes.count else { throw Unexpected() }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                index += 1
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw Unexpected()
                }
                value = value << 4 | UInt32(digit)
            }
            return value
        }

        /// An integer literal (StrictJSON has checked that it is one and fits Int64).
        mutating func integer() throws(Unexpected) -> Int64 {
            _ = try peek()
            var negative = false
            if bytes[index] == UInt8(ascii: "-") {
                negative = true
                index += 1
            }
            var magnitude: UInt64 = 0
            let start = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                let (times, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times.addingReportingOverflow(UInt64(bytes[index] - UInt8(ascii: "0")))
                guard !overflow1, !overflow2 else { throw Unexpected() }
                magnitude = sum
                index += 1
            }
            guard index > start else { throw Unexpected() }
            if negative {
                guard magnitude <= UInt64(Int64.max) + 1 else { throw Unexpected() }
                return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
            }
            guard magnitude <= UInt64(Int64.max) else { throw Unexpected() }
            return Int64(magnitude)
        }

        mutating func unsigned() throws(Unexpected) -> UInt64 {
            let value = try integer()
            guard value >= 0 else { throw Unexpected() }
            return UInt64(value)
        }

        mutating func literal(_ text: StaticString) throws(Unexpected) {
            _ = try peek()
            let count = text.utf8CodeUnitCount
            guard index + count <= bytes.count else { throw Unexpected() }
            for offset in 0..<count where bytes[index + offset] != text.utf8Start[offset] { throw Unexpected() }
            index += count
        }

        mutating func bool() throws(Unexpected) -> Bool {
            if try peek() == UInt8(ascii: "t") {
                try literal("true")
                return true
            }
            try literal("false")
            return false
        }

        /// True (and consumed) when the next value is `null`.
        mutating func null() throws(Unexpected) -> Bool {
            guard try peek() == UInt8(ascii: "n") else { return false }
            try literal("null")
            return true
        }

        /// Skips any value (a key this build does not know).
        mutating func skip() throws(Unexpected) {
            switch try peek() {
            case UInt8(ascii: "{"): try object { (reader: inout Reader, _) throws(Unexpected) in try reader.skip() }
            case UInt8(ascii: "["): try array { (reader: inout Reader) throws(Unexpected) in try reader.skip() }
            case UInt8(ascii: "\""): _ = try string()
            case UInt8(ascii: "t"), UInt8(ascii: "f"): _ = try bool()
            case UInt8(ascii: "n"): try literal("null")
            default: _ = try integer()
            }
        }

        // MARK: - The protocol's types

        mutating func value() throws(Unexpected) -> FieldValue {
            switch try peek() {
            case UInt8(ascii: "n"):
                try literal("null")
                return .null
            case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool(try bool())
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .integer(try integer())
            default: throw Unexpected()
            }
        }

        mutating func replica() throws(Unexpected) -> ReplicaID {
            let text = try string()
            guard ReplicaID.isValid(text) else { throw Unexpected() }
            return ReplicaID(unchecked: text)
        }

        mutating func dot() throws(Unexpected) -> Dot {
            var replica: ReplicaID?
            var counter: UInt64?
            try object { (reader: inout Reader, key) throws(Unexpected) in
                switch key {
                case "replica": replica = try reader.replica()
                case "counter": counter = try reader.unsigned()
                default: try reader.skip()
                }
            }
            guard let replica, let counter, counter > 0 else { throw Unexpected() }
            return Dot(replica: replica, counter: counter)
        }

        mutating func clock() throws(Unexpected) -> VectorClock {
            var pairs: [(ReplicaID, UInt64)] = []
            try object { (reader: inout Reader, key) throws(Unexpected) in
                guard ReplicaID.isValid(key), pairs.count < VectorClock.maximumWireEntries else { throw Unexpected() }
                pairs.append((ReplicaID(unchecked: key), try reader.unsigned()))
            }
            return VectorClock(pairs)
        }

        mutating func timestamp() throws(Unexpected) -> HybridTimestamp {
            guard let stamp = try? HybridTimestamp(parsing: try string()) else { throw Unexpected() }
            return stamp
        }

        mutating func fieldMap() throws(Unexpected) -> [String: FieldValue] {
            var fields: [String: FieldValue] = [:]
            try object { (reader: inout Reader, key) throws(Unexpected) in fields[key] = try reader.value() }
            return fields
        }

        mutating func entry() throws(Unexpected) -> FieldEntry {
            var value: FieldValue?
            var dot: Dot?
            var context: VectorClock?
            var stamp: HybridTimestamp?
            var author: String?
            try object { (reader: inout Reader, key) throws(Unexpected) in
                switch key {
                case "value": value = try reader.value()
                case "dot": dot = try reader.dot()
                case "context": context = try reader.clock()
                case "hlc": stamp = try reader.timestamp()
                case "author": author = try reader.string()
                default: try reader.skip()
                }
            }
            guard let value, let dot, let context, let stamp, let author else { throw Unexpected() }
            return FieldEntry(value: value, dot: dot, context: context, timestamp: stamp, author: author)
        }

        mutating func state() throws(Unexpected) -> RecordState {
            var entity: String?
            var id: String?
            var clock: VectorClock?
            var created: RecordState.Stamp?
            var fields: [(String, [FieldEntry])] = []
            var counter: Counter.State?
            var appended: AppendOnly.Record?
            var tombstones: Tombstones.State?
            try object { (reader: inout Reader, key) throws(Unexpected) in
                switch key {
                case "entity": entity = try reader.string()
                case "record_id": id = try reader.string()
                case "clock": clock = try reader.clock()
                case "created":
                    if try reader.null() { return }
                    var dot: Dot?
                    var stamp: HybridTimestamp?
                    var author: String?
                    try reader.object { (reader: inout Reader, key) throws(Unexpected) in
                        switch key {
                        case "dot": dot = try reader.dot()
                        case "hlc": stamp = try reader.timestamp()
                        case "author": author = try reader.string()
                        default: try reader.skip()
                        }
                    }
                    guard let dot, let stamp, let author else { throw Unexpected() }
                    created = RecordState.Stamp(dot: dot, timestamp: stamp, author: author)
                case "fields":
                    if try reader.null() { return }
                    try reader.object { (reader: inout Reader, name) throws(Unexpected) in
                        var entries: [FieldEntry] = []
                        try reader.array { (reader: inout Reader) throws(Unexpected) in
                            entries.append(try reader.entry())
                        }
                        fields.append((name, entries))
                    }
                case "counter", "appended", "tombstones":
                    // Rare (stock rows, activities, deleted records): their own small readers below.
                    if try reader.null() { return }
                    switch key {
                    case "counter": counter = try reader.counter()
                    case "appended": appended = try reader.appended()
                    default: tombstones = try reader.tombstones()
                    }
                default: try reader.skip()
                }
            }
            guard let entity, let id, let clock else { throw Unexpected() }
            // Built as the decoder builds it: each field's entries inserted into its register in order.
            var state = RecordState(entity: EntityKind(entity), id: RecordID(id))
            state.clock = clock
            state.created = created
            for (name, entries) in fields {
                for entry in entries { _ = state.fields.insert(entry, into: name) }
            }
            state.counter = counter
            state.appended = appended
            if let tombstones { state.tombstones = tombstones }
            return state
        }

        mutating func counter() throws(Unexpected) -> Counter.State {
            var deltas: [Dot: Int64]?
            var resets: [Counter.Reset]?
            try object { (reader: inout Reader, key) throws(Unexpected) in
                switch key {
                case "deltas":
                    var list: [Dot: Int64] = [:]
                    try reader.array { (reader: inout Reader) throws(Unexpected) in
                        var dot: Dot?
                        var delta: Int64?
                        try reader.object { (reader: inout Reader, key) throws(Unexpected) in
                            switch key {
                            case "dot": dot = try reader.dot()
                            case "delta": delta = try reader.integer()
                            default: try reader.skip()
                            }
                        }
                        guard let dot, let delta else { throw Unexpected() }
                        if list[dot] == nil { list[dot] = delta }
                    }
                    deltas = list
                case "resets":
                    var list: [Counter.Reset] = []
                    try reader.array { (reader: inout Reader) throws(Unexpected) in
                        var quantity: Int64?
                        var dot: Dot?
                        var context: VectorClock?
                        var stamp: HybridTimestamp?
                        try reader.object { (reader: inout Reader, key) throws(Unexpected) in
                            switch key {
                            case "quantity": quantity = try reader.integer()
                            case "dot": dot = try reader.dot()
                            case "context": context = try reader.clock()
                            case "hlc": stamp = try reader.timestamp()
                            default: try reader.skip()
                            }
                        }
                        guard let quantity, let dot, let context, let stamp else { throw Unexpected() }
                        list.append(Counter.Reset(quantity: quantity, dot: dot, context: context, timestamp: stamp))
                    }
                    resets = list
                default: try reader.skip()
                }
            }
            guard let deltas, let resets else { throw Unexpected() }
            var state = Counter.State()
            state.deltas = deltas
            for reset in resets { _ = state.resets.insert(reset) }
            return state
        }

        mutating func appended() throws(Unexpected) -> AppendOnly.Record {
            var fields: [String: FieldValue]?
            var dot: Dot?
            var stamp: HybridTimestamp?
            var author: String?
            try object { (reader: inout Reader, key) throws(Unexpected) in
                switch key {
                case "fields": fields = try reader.fieldMap()
                case "dot": dot = try reader.dot()
                case "hlc": stamp = try reader.timestamp()
                case "author": author = try reader.string()
                default: try reader.skip()
                }
            }
            guard let fields, let dot, let stamp, let author else { throw Unexpected() }
            return AppendOnly.Record(fields: fields, dot: dot, timestamp: stamp, author: author)
        }

        mutating func tombstones() throws(Unexpected) -> Tombstones.State {
            var dots: [Dot]?
            var seen: VectorClock?
            try object { (reader: inout Reader, key) throws(Unexpected) in
                switch key {
                case "dots":
                    var list: [Dot] = []
                    try reader.array { (reader: inout Reader) throws(Unexpected) in list.append(try reader.dot()) }
                    dots = list
                case "seen": seen = try reader.clock()
                default: try reader.skip()
                }
            }
            guard let dots, let seen else { throw Unexpected() }
            var state = Tombstones.State()
            state.dots = dots
            state.seen = seen
            return state
        }

        mutating func snapshot() throws(Unexpected) -> SnapshotResponse {
            var version: Int64?
            var records: [RecordState]?
            var cursor: String?
            var next: String?
            var hasMore: Bool?
            var total: Int64?
            try object { (reader: inout Reader, key) throws(Unexpected) in
                switch key {
                case "protocol_version": version = try reader.integer()
                case "records":
                    var list: [RecordState] = []
                    try reader.array { (reader: inout Reader) throws(Unexpected) in list.append(try reader.state()) }
                    records = list
                case "cursor": cursor = try reader.string()
                case "next": next = try reader.null() ? nil : try reader.string()
                case "has_more": hasMore = try reader.bool()
                case "total": total = try reader.null() ? nil : try reader.integer()
                default: try reader.skip()
                }
            }
            space()
            guard index == bytes.count, let version, let records, let cursor, let hasMore,
                let protocolVersion = Int(exactly: version)
            else { throw Unexpected() }
            return SnapshotResponse(
                protocolVersion: protocolVersion,
                records: records,
                cursor: cursor,
                next: next,
                hasMore: hasMore,
                total: total.flatMap { Int(exactly: $0) }
            )
        }
    }
}
