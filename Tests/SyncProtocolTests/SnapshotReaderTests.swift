import Foundation
import SyncTestSupport
import Testing

@testable import SyncProtocol

@Suite("The direct reader of snapshot pages")
struct SnapshotReaderTests {
    static func page(_ seed: Int) -> SnapshotResponse {
        var records = [
            Histories.accountHistory(UInt64(seed), deletes: seed % 2 == 0), Histories.taskHistory(UInt64(seed)),
            Histories.stockHistory(UInt64(seed)), Histories.activityHistory(UInt64(seed)),
            Histories.dealHistory(UInt64(seed)),
        ].map(RecordStateWireJSONTests.state)
        // Text that needs escapes, and non-ASCII.
        var odd = RecordState(entity: .account, id: RecordID("acc-\"odd\"\\/\u{01}"))
        _ = odd.apply(
            Change(
                dot: Dot(replica: ReplicaID(unchecked: "laptop-a"), counter: 1),
                context: VectorClock(),
                timestamp: HybridTimestamp(wallMilliseconds: 1_795_428_000_000),
                author: "o'brien \"q\"",
                entity: .account,
                recordID: odd.id,
                operation: .create([
                    "name": "Müller 日本語 🙂 line\nbreak\ttab", "territory": "north", "phone": .null,
                ])
            ),
            schema: CRMSchema.account,
            authority: .server
        )
        records.append(odd)
        return SnapshotResponse(
            records: records,
            cursor: "log.\(seed)",
            next: seed % 3 == 0 ? nil : "account/x",
            hasMore: seed % 3 != 0,
            total: seed % 2 == 0 ? 1_234 : nil
        )
    }

    @Test("reads what JSONDecoder reads, from the encoder's JSON and from the server's direct JSON", arguments: 0..<60)
    func matchesTheDecoder(seed: Int) throws {
        let page = Self.page(seed)
        let encoded = try WireCoding.encode(page)
        let fast = encoded.withUnsafeBytes { SnapshotReader.read($0) }
        #expect(fast == page, "seed \(seed): the direct reader took it")
        #expect(try WireCoding.decodeSnapshotPage(from: encoded) == page)
        // The server writes each record with RecordState.wireJSON.
        var direct = Array(#"{"cursor":"c","has_more":false,"protocol_version":1,"records":["#.utf8)
        for (index, record) in page.records.enumerated() {
            if index > 0 { direct.append(UInt8(ascii: ",")) }
            direct += record.wireJSON
        }
        direct += Array("]}".utf8)
        let read = try WireCoding.decodeSnapshotPage(from: Data(direct))
        #expect(read.records == page.records)
        #expect(Data(direct).withUnsafeBytes { SnapshotReader.read($0) } != nil)
    }

    @Test("unknown keys are skipped as the decoder skips them; what it does not expect goes to the decoder")
    func unknownAndUnexpected() throws {
        let extra = Data(
            #"{"cursor":"c","has_more":false,"later":{"a":[1,true,null,"x"]},"protocol_version":1,"records":[{"clock":{},"entity":"x","new":[{}],"record_id":"r"}]}"#
                .utf8
        )
        let page = try #require(extra.withUnsafeBytes { SnapshotReader.read($0) })
        #expect(page.records.map(\.id) == [RecordID("r")])
        #expect(
            try WireCoding.decodeSnapshotPage(from: extra)
                == WireCoding.decodeMessage(SnapshotResponse.self, from: extra)
        )
        // A bad replica id in a clock, a counter of 0, a wrong type: refused by both, with the decoder's message.
        for bad in [
            #"{"cursor":"c","has_more":false,"protocol_version":1,"records":[{"clock":{"a b":1},"entity":"x","record_id":"r"}]}"#,
            #"{"cursor":"c","has_more":false,"protocol_version":1,"records":[{"clock":{},"created":{"author":"a","dot":{"counter":0,"replica":"a"},"hlc":"2026-01-01T00:00:00.000Z/0"},"entity":"x","record_id":"r"}]}"#,
            #"{"cursor":"c","has_more":"no","protocol_version":1,"records":[]}"#,
            #"{"cursor":"c","has_more":false,"protocol_version":1,"records":[{"clock":{},"entity":"x","record_id":"r","fields":{"name":[{"author":"a","context":{},"dot":{"counter":1,"replica":"a"},"hlc":"not a time","value":"x"}]}}]}"#,
        ] {
            let data = Data(bad.utf8)
            #expect(data.withUnsafeBytes { SnapshotReader.read($0) } == nil, "\(bad)")
            #expect(throws: WireFormatError.self) { try WireCoding.decodeSnapshotPage(from: data) }
        }
    }
}
