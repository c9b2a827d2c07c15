/// The registers of one record's fields, sorted by field name.
///
/// A record has a dozen fields at most. A short sorted array searched by comparing names (small strings compare
/// as two machine words) is several times cheaper than hashing each name, and merging field changes is the hot
/// path of every pull.
public struct FieldRegisters: Hashable, Sendable, RandomAccessCollection {
    public struct Slot: Hashable, Sendable {
        public let name: String
        public internal(set) var register: FieldRegister
    }

    private var slots: [Slot] = []

    public init() {}

    public var startIndex: Int { 0 }
    public var endIndex: Int { slots.count }
    public subscript(position: Int) -> Slot { slots[position] }

    /// The field names, sorted.
    public var names: [String] { slots.map(\.name) }

    public subscript(name: String) -> FieldRegister? {
        slots.first { $0.name == name }?.register
    }

    /// Inserts a write into the named field's register, creating it; returns the status and the register's size.
    mutating func insert(_ entry: FieldEntry, into name: String) -> (status: MergeStatus, count: Int) {
        var index = 0
        while index < slots.count {
            if slots[index].name == name {
                let status = slots[index].register.insert(entry)
                return (status, slots[index].register.count)
            }
            if name < slots[index].name { break }
            index += 1
        }
        var register = FieldRegister()
        let status = register.insert(entry)
        slots.insert(Slot(name: name, register: register), at: index)
        return (status, 1)
    }
}

extension FieldRegisters: Codable {
    /// A JSON object from field name to its register's entries.
    public init(from decoder: any Decoder) throws {
        let dictionary = try decoder.singleValueContainer().decode([String: FieldRegister].self)
        slots = dictionary.keys.sorted().map { Slot(name: $0, register: dictionary[$0]!) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Dictionary(uniqueKeysWithValues: slots.map { ($0.name, $0.register) }))
    }
}
