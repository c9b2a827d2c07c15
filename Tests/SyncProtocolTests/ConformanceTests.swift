import Foundation
import SyncProtocol
import SyncTestSupport
import Testing

/// Runs every JSON vector in `conformance/vectors/` against SyncProtocol. One test case per file; a failing
/// vector names its file and case.
@Suite("Conformance vectors")
struct ConformanceTests {
    static let allFiles = ConformanceVector.files(in: ".")

    @Test("there are at least 80 vector cases in at least 10 files")
    func vectorCount() throws {
        var total = 0
        for file in Self.allFiles {
            let vector = try JSONSerialization.jsonObject(with: ConformanceVector.data(file)) as? [String: Any]
            total += (vector?["cases"] as? [Any])?.count ?? 0
        }
        #expect(Self.allFiles.count >= 10)
        #expect(total >= 80, "only \(total) cases")
    }

    @Test("vector file", arguments: ConformanceTests.allFiles)
    func run(file: String) throws {
        let data = try ConformanceVector.data(file)
        let header = try JSONDecoder().decode(Header.self, from: data)
        #expect(!header.description.isEmpty, "\(file): no description")
        switch header.kind {
        case "clock_compare": try runCases(ClockCompare.self, data, file) { try $0.check() }
        case "clock_merge": try runCases(ClockMerge.self, data, file) { try $0.check() }
        case "clock_contains": try runCases(ClockContains.self, data, file) { try $0.check() }
        case "clock_increment": try runCases(ClockIncrement.self, data, file) { try $0.check() }
        case "hlc_send": try runCases(HLCSend.self, data, file) { try $0.check() }
        case "hlc_receive": try runCases(HLCReceive.self, data, file) { try $0.check() }
        case "merge": try runCases(MergeVector.self, data, file) { try $0.check() }
        case "validate": try runCases(ValidateVector.self, data, file) { try $0.check() }
        case "wire_decode": try runCases(WireVector.self, data, file) { try $0.check() }
        default: Issue.record("\(file): unknown vector kind '\(header.kind)'")
        }
    }

    private func runCases<Case: VectorCase>(
        _ type: Case.Type,
        _ data: Data,
        _ file: String,
        _ check: (Case) throws -> [String]
    ) throws {
        let vector = try JSONDecoder().decode(VectorFile<Case>.self, from: data)
        #expect(!vector.cases.isEmpty, "\(file): no cases")
        for vectorCase in vector.cases {
            #expect(!vectorCase.description.isEmpty, "\(file)#\(vectorCase.name): no description")
            do {
                for failure in try check(vectorCase) {
                    Issue.record("\(file)#\(vectorCase.name): \(failure)")
                }
            } catch {
                Issue.record("\(file)#\(vectorCase.name): \(error)")
            }
        }
    }
}

// MARK: - Vector shapes

private struct Header: Decodable {
    var kind: String
    var description: String
}

private struct VectorFile<Case: Decodable>: Decodable {
    var cases: [Case]
}

private protocol VectorCase: Decodable {
    var name: String { get }
    var description: String { get }
}

private struct ClockCompare: VectorCase {
    var name: String, description: String
    var a: VectorClock, b: VectorClock, expect: CausalOrder

    func check() throws -> [String] {
        var failures: [String] = []
        let got = a.compare(to: b)
        if got != expect { failures.append("compare gave \(got), expected \(expect)") }
        let mirrored: CausalOrder =
            switch expect {
            case .before: .after
            case .after: .before
            case .equal, .concurrent: expect
            }
        if b.compare(to: a) != mirrored { failures.append("compare(b, a) is not the mirror") }
        return failures
    }
}

private struct ClockMerge: VectorCase {
    var name: String, description: String
    var a: VectorClock, b: VectorClock, expect: VectorClock

    func check() throws -> [String] {
        var failures: [String] = []
        if a.merged(with: b) != expect { failures.append("merge(a, b) gave \(a.merged(with: b).compactEncoded)") }
        if b.merged(with: a) != expect { failures.append("merge(b, a) gave \(b.merged(with: a).compactEncoded)") }
        return failures
    }
}

private struct ClockContains: VectorCase {
    var name: String, description: String
    var clock: VectorClock, dot: Dot, expect: Bool

    func check() throws -> [String] {
        clock.contains(dot) == expect ? [] : ["contains gave \(!expect)"]
    }
}

private struct ClockIncrement: VectorCase {
    var name: String, description: String
    var clock: VectorClock, replica: String, expectDot: Dot, expect: VectorClock
    enum CodingKeys: String, CodingKey {
        case name, description, clock, replica, expect
        case expectDot = "expect_dot"
    }

    func check() throws -> [String] {
        var copy = clock
        let dot = copy.increment(for: try ReplicaID(validating: replica))
        var failures: [String] = []
        if dot != expectDot { failures.append("dot \(dot), expected \(expectDot)") }
        if copy != expect { failures.append("clock \(copy.compactEncoded)") }
        return failures
    }
}

private struct HLCSend: VectorCase {
    var name: String, description: String
    var last: HybridTimestamp, now: Int64, expect: HybridTimestamp

    func check() throws -> [String] {
        var clock = HybridClock(last: last)
        let got = clock.send(now: now)
        return got == expect ? [] : ["send gave \(got)"]
    }
}

private struct HLCReceive: VectorCase {
    struct ExpectedError: Decodable {
        var aheadByMS: Int64
        enum CodingKeys: String, CodingKey { case aheadByMS = "ahead_by_ms" }
    }
    var name: String, description: String
    var last: HybridTimestamp, remote: HybridTimestamp, now: Int64, maxAheadMS: Int64
    var expect: HybridTimestamp?
    var expectError: ExpectedError?
    enum CodingKeys: String, CodingKey {
        case name, description, last, remote, now, expect
        case maxAheadMS = "max_ahead_ms"
        case expectError = "expect_error"
    }

    func check() throws -> [String] {
        var clock = HybridClock(last: last, maximumAhead: maxAheadMS)
        do {
            let got = try clock.receive(remote, now: now)
            if let expectError { return ["accepted \(got), expected refusal ahead by \(expectError.aheadByMS)"] }
            return got == expect ? [] : ["receive gave \(got)"]
        } catch {
            guard let expectError else { return ["refused: \(error)"] }
            var failures: [String] = []
            if error.aheadByMilliseconds != expectError.aheadByMS {
                failures.append("ahead by \(error.aheadByMilliseconds)")
            }
            if clock.last != last { failures.append("a refused stamp changed the clock") }
            return failures
        }
    }
}

private struct MergeVector: VectorCase {
    struct Step: Decodable {
        var authority: WriteAuthority
        var change: Change
        var expectStatus: String
        enum CodingKeys: String, CodingKey {
            case authority, change
            case expectStatus = "expect_status"
        }
    }
    struct ExpectedConflict: Decodable, Hashable {
        var field: String, winner: String, loser: String
    }
    struct Expect: Decodable {
        var values: [String: FieldValue]
        var deleted: Bool
        var conflicts: [ExpectedConflict]
        var oversold: Bool?
    }
    var name: String, description: String
    var entity: String
    var recordID: String
    var steps: [Step]
    var expect: Expect
    enum CodingKeys: String, CodingKey {
        case name, description, entity, steps, expect
        case recordID = "record_id"
    }

    func check() throws -> [String] {
        let schema = CRMSchema.schema(for: EntityKind(entity))
        var failures: [String] = []
        var state = RecordState(entity: EntityKind(entity), id: RecordID(recordID))
        for (index, step) in steps.enumerated() {
            let result = state.apply(step.change, schema: schema, authority: step.authority)
            let got: String =
                switch result.status {
                case .applied: "applied"
                case .duplicate: "duplicate"
                case .superseded: "superseded"
                case .rejected(let rejection): "rejected:\(rejection.code)"
                }
            if got != step.expectStatus { failures.append("step \(index): \(got), expected \(step.expectStatus)") }
        }
        failures += compare(state, schema: schema, label: "in listed order")

        // Order-independence: every permutation of the steps that were not rejected gives the same state.
        let kept = steps.filter { !$0.expectStatus.hasPrefix("rejected") }
        for permutation in permutations(of: Array(kept.indices)).prefix(720) {
            var other = RecordState(entity: EntityKind(entity), id: RecordID(recordID))
            for index in permutation {
                _ = other.apply(kept[index].change, schema: schema, authority: kept[index].authority)
            }
            if other != state {
                failures.append("order \(permutation) gives a different state")
                break
            }
        }
        return failures
    }

    private func compare(_ state: RecordState, schema: EntitySchema, label: String) -> [String] {
        var failures: [String] = []
        let values = state.exists ? state.values(schema: schema) : [:]
        if values != expect.values { failures.append("\(label): values \(values)") }
        if state.isDeleted(schema: schema) != expect.deleted { failures.append("\(label): deleted is wrong") }
        let conflicts = state.conflicts(schema: schema).map {
            ExpectedConflict(field: $0.field, winner: $0.winner.dot.description, loser: $0.loser.dot.description)
        }
        if conflicts != expect.conflicts { failures.append("\(label): conflicts \(conflicts)") }
        if let oversold = expect.oversold, (state.counter?.isOversold ?? false) != oversold {
            failures.append("\(label): oversold is wrong")
        }
        return failures
    }
}

private struct ValidateVector: VectorCase {
    var name: String, description: String
    var authority: WriteAuthority
    var change: Change
    var expect: String?

    func check() throws -> [String] {
        let rejection = CRMSchema.schema(for: change.entity).validate(change, authority: authority)
        if rejection?.code.rawValue == expect { return [] }
        return ["got \(rejection.map { "\($0)" } ?? "valid"), expected \(expect ?? "valid")"]
    }
}

private struct WireVector: VectorCase {
    struct ExpectedError: Decodable {
        var code: String
        var messageContains: String?
        enum CodingKeys: String, CodingKey {
            case code
            case messageContains = "message_contains"
        }
    }
    var name: String, description: String
    var message: String
    var json: String
    var expectError: ExpectedError?
    enum CodingKeys: String, CodingKey {
        case name, description, message, json
        case expectError = "expect_error"
    }

    func check() throws -> [String] {
        let data = Data(json.utf8)
        do {
            switch message {
            case "push_request": try roundTrip(WireCoding.decodeMessage(PushRequest.self, from: data))
            case "push_response": try roundTrip(WireCoding.decodeMessage(PushResponse.self, from: data))
            case "pull_request": try roundTrip(WireCoding.decodeMessage(PullRequest.self, from: data))
            case "pull_response": try roundTrip(WireCoding.decodeMessage(PullResponse.self, from: data))
            case "error_response": try roundTrip(WireCoding.decode(ErrorResponse.self, from: data))
            default: return ["unknown message type \(message)"]
            }
            return expectError.map { ["decoded, expected \($0.code)"] } ?? []
        } catch let error as WireFormatError {
            guard let expectError else { return ["rejected: \(error)"] }
            var failures: [String] = []
            if error.code.description != expectError.code { failures.append("code \(error.code): \(error.message)") }
            if let part = expectError.messageContains, !error.message.contains(part) {
                failures.append("message '\(error.message)' does not mention '\(part)'")
            }
            return failures
        }
    }

    private func roundTrip<Message: Codable & Equatable>(_ message: Message) throws {
        let again = try WireCoding.decode(Message.self, from: WireCoding.encode(message))
        if again != message { throw WireFormatError(.malformedPayload, "does not survive encode and decode") }
    }
}

/// Heap's algorithm, lazily enough for the small step counts of vectors.
func permutations(of items: [Int]) -> [[Int]] {
    var result: [[Int]] = []
    var items = items
    func generate(_ k: Int) {
        if k <= 1 {
            result.append(items)
            return
        }
        for i in 0..<k {
            generate(k - 1)
            items.swapAt(k % 2 == 0 ? i : 0, k - 1)
        }
    }
    generate(items.count)
    return result
}
