import Foundation
import SyncProtocol
import SyncTestSupport
import Testing

@Suite("A change's direct wire JSON")
struct ChangeWireJSONTests {
    static let texts = [
        "", "Müller GmbH", "say \"hi\"", "back\\slash", "a/b", "line\nbreak\ttab\r", "\u{01}\u{1F}\u{08}\u{0C}",
        "日本語 🙂", "+49 30 1234567",
    ]

    static func randomChange(_ random: inout SeededGenerator) -> Change {
        func pick<T>(_ items: [T]) -> T { items[Int(random.next() % UInt64(items.count))] }
        func value() -> FieldValue {
            switch random.next() % 4 {
            case 0: .null
            case 1: .bool(random.next() % 2 == 0)
            case 2: .integer(Int64(bitPattern: random.next()) >> Int64(random.next() % 64))
            default: .string(pick(texts))
            }
        }
        var fields: [String: FieldValue] = [:]
        for _ in 0..<Int(random.next() % 5) { fields["f\(random.next() % 20)"] = value() }
        let operations: [Change.Operation] = [
            .create(fields), .set(fields.isEmpty ? ["a": .null] : fields), .append(fields), .delete,
            .counterDelta(Int64(bitPattern: random.next()) >> 3), .counterReset(Int64(random.next() % 1000)),
        ]
        var context = VectorClock()
        for _ in 0..<Int(random.next() % 4) {
            context.record(
                Dot(
                    replica: ReplicaID(unchecked: pick(["a9", "a10", "B", "laptop-x", "server"])),
                    counter: random.next() % 100 + 1
                )
            )
        }
        return Change(
            dot: Dot(replica: ReplicaID(unchecked: "laptop-a"), counter: random.next() % 1_000_000 + 1),
            context: context,
            timestamp: HybridTimestamp(
                wallMilliseconds: 1_795_428_000_000 + Int64(random.next() % 10_000_000),
                logical: UInt32(random.next() % 5)
            ),
            author: pick(["alice", "o'brien", "a\"b"]),
            entity: pick([.account, .contact, .stock, .activity]),
            recordID: RecordID(pick(["acc-1", "01JD8X", "P-100@main"])),
            operation: pick(operations)
        )
    }

    @Test("decodes to the same change, and to the same JSON value as JSONEncoder's output", arguments: 0..<200)
    func matchesTheEncoder(seed: Int) throws {
        var random = SeededGenerator(seed: UInt64(seed))
        let change = Self.randomChange(&random)
        let direct = Data(change.wireJSON)
        #expect(try WireCoding.decode(Change.self, from: direct) == change, "seed \(seed)")
        let viaEncoder = try JSONSerialization.jsonObject(with: try WireCoding.encode(change)) as? NSDictionary
        let viaDirect = try JSONSerialization.jsonObject(with: direct) as? NSDictionary
        #expect(viaDirect == viaEncoder, "seed \(seed): \(String(decoding: direct, as: UTF8.self))")
    }

    @Test("is byte for byte JSONEncoder's output for plain keys")
    func bytesMatchForPlainKeys() throws {
        let change = Change(
            dot: Dot(replica: ReplicaID(unchecked: "laptop-a"), counter: 12),
            context: VectorClock([
                (ReplicaID(unchecked: "laptop-a"), UInt64(11)), (ReplicaID(unchecked: "server"), UInt64(40)),
            ]),
            timestamp: HybridTimestamp(wallMilliseconds: 1_795_428_000_123, logical: 0),
            author: "alice",
            entity: .account,
            recordID: RecordID("01JD"),
            operation: .set(["phone": "+49 30 1234567", "email": .null, "active": true, "rating": 3])
        )
        #expect(change.wireJSON == [UInt8](try WireCoding.encode(change)))
    }
}

@Suite("A record state's direct wire JSON (snapshot pages)")
struct RecordStateWireJSONTests {
    static func state(_ changes: [Change]) -> RecordState {
        guard let first = changes.first else { return RecordState(entity: .account, id: RecordID("none")) }
        var state = RecordState(entity: first.entity, id: first.recordID)
        let schema = CRMSchema.schema(for: first.entity)
        for change in changes { _ = state.apply(change, schema: schema, authority: .server) }
        return state
    }

    @Test("decodes to the same state, and to the same JSON value as JSONEncoder's output", arguments: 0..<60)
    func matchesTheEncoder(seed: Int) throws {
        let histories = [
            Histories.accountHistory(UInt64(seed), deletes: seed % 2 == 0), Histories.taskHistory(UInt64(seed)),
            Histories.stockHistory(UInt64(seed)), Histories.activityHistory(UInt64(seed)),
            Histories.dealHistory(UInt64(seed)),
        ]
        for history in histories {
            let state = Self.state(history)
            let direct = Data(state.wireJSON)
            #expect(try WireCoding.decode(RecordState.self, from: direct) == state, "seed \(seed)")
            let viaEncoder = try JSONSerialization.jsonObject(with: try WireCoding.encode(state)) as? NSDictionary
            let viaDirect = try JSONSerialization.jsonObject(with: direct) as? NSDictionary
            #expect(viaDirect == viaEncoder, "seed \(seed): \(String(decoding: direct, as: UTF8.self))")
        }
    }
}
