import Foundation
import SyncProtocol
import SyncTestSupport
import Testing

/// The fuzzers' seed corpora and every crash input they ever found (fuzz/corpus, fuzz/crashes), decoded through the
/// ordinary decoders in every test run: the fuzzers themselves are built only by scripts/fuzz.sh, so this is how a
/// regression on an input that once crashed fails CI. Each input must decode or throw `WireFormatError`, and what
/// decodes must encode back to a value that decodes the same.
@Suite("Fuzz corpora replayed")
struct FuzzCorpusTests {
    static func inputs(_ target: String) -> [(name: String, bytes: [UInt8])] { FuzzCorpus.inputs(target) }

    @Test("push requests: decoded, re-encoded for the log, decoded again the same")
    func push() throws {
        let inputs = Self.inputs("push")
        try #require(inputs.count >= 20, "the push corpus is missing (\(inputs.count) files)")
        var decoded = 0
        for input in inputs {
            guard let push = try? WireCoding.decode(PushRequest.self, from: Data(input.bytes)) else { continue }
            decoded += 1
            for change in push.changes {
                let again = try WireCoding.decode(Change.self, from: Data(change.wireJSON))
                #expect(again == change, "\(input.name)")
            }
        }
        #expect(decoded > 0, "no push seed decodes: the corpus no longer exercises the decoder")
    }

    @Test("pull, snapshot, history and handshake answers: decoded or refused, never a crash")
    func pull() throws {
        let inputs = Self.inputs("pull")
        try #require(inputs.count >= 5, "the pull corpus is missing (\(inputs.count) files)")
        var decoded = 0
        for input in inputs {
            let data = Data(input.bytes)
            if let page = try? WireCoding.decodeMessage(PullResponse.self, from: data) {
                decoded += 1
                let bytes = try WireCoding.encode(page)
                let again = try WireCoding.decodeMessage(PullResponse.self, from: bytes)
                #expect(try WireCoding.encode(again) == bytes, "\(input.name)")
            }
            if let page = try? WireCoding.decodeSnapshotPage(from: data) {
                decoded += 1
                let bytes = try WireCoding.encode(page)
                #expect(try WireCoding.encode(WireCoding.decodeSnapshotPage(from: bytes)) == bytes, "\(input.name)")
            }
            if (try? WireCoding.decodeMessage(HistoryResponse.self, from: data)) != nil { decoded += 1 }
            if (try? WireCoding.decodeMessage(HandshakeResponse.self, from: data)) != nil { decoded += 1 }
        }
        #expect(decoded >= 4, "too few pull seeds decode (\(decoded))")
    }

    @Test("binary storage rows: decoded or refused, and what decodes round-trips")
    func binary() throws {
        if ProcessInfo.processInfo.environment["CRM_FUZZ_WRITE_SEEDS"] == "1" { try Self.writeBinarySeeds() }
        let inputs = Self.inputs("binary")
        try #require(inputs.count >= 10, "the binary corpus is missing (\(inputs.count) files)")
        var decoded = 0
        for input in inputs where !input.bytes.isEmpty {
            let bytes = Array(input.bytes.dropFirst())
            switch input.bytes[0] % 3 {
            case 0:
                if let change = try? Change(binary: bytes) {
                    decoded += 1
                    #expect(try Change(binary: change.binaryEncoded) == change, "\(input.name)")
                }
            case 1:
                if let state = try? RecordState(binary: bytes) {
                    decoded += 1
                    #expect(try RecordState(binary: state.binaryEncoded) == state, "\(input.name)")
                }
            default:
                if let result = try? ChangeResult(binary: bytes) {
                    decoded += 1
                    #expect(try ChangeResult(binary: result.binaryEncoded) == result, "\(input.name)")
                }
            }
        }
        #expect(decoded > 0, "no binary seed decodes")
    }

    /// Writes the binary codec's seeds (`CRM_FUZZ_WRITE_SEEDS=1`): changes, record states and results of random
    /// histories of every entity, each behind the byte that picks its type in fuzz-binary.
    static func writeBinarySeeds() throws {
        let directory = FuzzCorpus.corpusFolder("binary")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        func write(_ kind: UInt8, _ bytes: [UInt8], _ name: String) throws {
            try Data([kind] + bytes).write(to: directory.appendingPathComponent(name))
        }
        for seed in UInt64(0)..<12 {
            let history = Histories.wholeRecords(seed)
            guard let first = history.first else { continue }
            var state = RecordState(entity: first.entity, id: first.recordID)
            for (index, change) in history.prefix(3).enumerated() {
                try write(0, change.binaryEncoded, "change-\(seed)-\(index)")
            }
            for change in history {
                _ = state.apply(change, schema: CRMSchema.schema(for: first.entity), authority: .server)
            }
            try write(1, state.binaryEncoded, "state-\(seed)")
            let rejected = ChangeResult(
                dot: first.dot,
                status: .rejected,
                rejection: ChangeRejection(.outOfScope, "not in your territory")
            )
            try write(2, ChangeResult(dot: first.dot, status: .accepted).binaryEncoded, "result-\(seed)")
            try write(2, rejected.binaryEncoded, "rejected-\(seed)")
        }
    }
}
