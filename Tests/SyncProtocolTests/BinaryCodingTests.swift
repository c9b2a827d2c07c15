import SyncProtocol
import SyncTestSupport
import Testing

@Suite("Binary storage coding")
struct BinaryCodingTests {
    @Test("record states and changes of random histories of every entity round-trip")
    func roundTrip() throws {
        for seed in 0..<UInt64(500) {
            let history = Histories.wholeRecords(seed)
            guard let first = history.first else { continue }
            var state = RecordState(entity: first.entity, id: first.recordID)
            for change in history {
                #expect(try Change(binary: change.binaryEncoded) == change, "seed \(seed)")
                _ = state.apply(change, schema: CRMSchema.schema(for: first.entity), authority: .server)
            }
            #expect(try RecordState(binary: state.binaryEncoded) == state, "seed \(seed)")
        }
    }

    @Test("damaged bytes throw, never crash")
    func damagedInput() {
        let change = Histories.accountHistory(3, deletes: true)[0]
        let bytes = change.binaryEncoded
        var rng = SeededGenerator(seed: 11)
        for cut in 0..<bytes.count {
            #expect(throws: WireFormatError.self) { try Change(binary: Array(bytes.prefix(cut))) }
        }
        for _ in 0..<2_000 {
            var damaged = bytes
            damaged[Int.random(in: 1..<damaged.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            _ = try? Change(binary: damaged)  // may decode to another value; must not trap
        }
        #expect(throws: WireFormatError.self) { try Change(binary: [99] + bytes.dropFirst()) }
    }
}
