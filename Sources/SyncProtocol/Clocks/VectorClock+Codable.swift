// On the wire a vector clock is a JSON object from replica ID to counter: `{"laptop-a": 3, "server": 12}`.
// Counters are positive integers; a zero entry is accepted and dropped. A clock on the wire has at most
// ``VectorClock/maximumWireEntries`` entries, checked before any entry is read.
extension VectorClock: Codable {
    /// The most entries a clock may have on the wire (PROTOCOL.md §2): far above the replicas that can write to one
    /// record, low enough that a forged context costs the receiver nothing.
    public static let maximumWireEntries = 10_000

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyCodingKey.self)
        let keys = container.allKeys
        guard keys.count <= Self.maximumWireEntries else {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: decoder.codingPath,
                    debugDescription: "a vector clock has at most \(Self.maximumWireEntries) entries"
                )
            )
        }
        var pairs: [(ReplicaID, UInt64)] = []
        pairs.reserveCapacity(keys.count)
        for key in keys {
            guard ReplicaID.isValid(key.stringValue) else {
                throw DecodingError.dataCorruptedError(
                    forKey: key,
                    in: container,
                    debugDescription: "not a valid replica id"
                )
            }
            let counter = try container.decodeInteger(UInt64.self, forKey: key)
            pairs.append((ReplicaID(unchecked: key.stringValue), counter))
        }
        self.init(pairs)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: AnyCodingKey.self)
        for entry in entries {
            try container.encode(entry.counter, forKey: AnyCodingKey(entry.replica.rawValue))
        }
    }
}

// MARK: - Compact text form

extension VectorClock {
    /// A compact text form for storage columns: `laptop-a:3,server:12`, sorted by replica; the empty clock is "".
    ///
    /// Typical records carry one to three entries, so this stays within a few dozen bytes.
    public var compactEncoded: String {
        var text = ""
        for (index, entry) in entries.enumerated() {
            if index > 0 { text += "," }
            text += entry.replica.rawValue
            text += ":"
            text += String(entry.counter)
        }
        return text
    }

    /// Parses ``compactEncoded``.
    public init(compactEncoded text: String) throws(WireFormatError) {
        var pairs: [(ReplicaID, UInt64)] = []
        if !text.isEmpty {
            for part in text.split(separator: ",", omittingEmptySubsequences: false) {
                guard let colon = part.lastIndex(of: ":"),
                    let counter = UInt64(part[part.index(after: colon)...]),
                    ReplicaID.isValid(String(part[..<colon]))
                else {
                    throw WireFormatError(
                        .malformedPayload,
                        "compact vector clock entry '\(part)' is not REPLICA:COUNTER"
                    )
                }
                pairs.append((ReplicaID(unchecked: String(part[..<colon])), counter))
            }
        }
        self.init(pairs)
    }
}

struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
