import Foundation
import SyncProtocol
import SyncTestSupport
import Testing

/// Seeded property tests of the merge laws. Each property runs on `PropertyRun.cases` generated histories
/// (`CRM_PROPERTY_CASES` raises it); a failure prints its seed, and the named `Histories` function rebuilds that
/// history. Every property is also run against a deliberately broken rule to show it can fail.
@Suite("Merge rule laws")
struct MergeRuleLawTests {
    // MARK: - Order independence and idempotence, rule by rule

    @Test("last-writer-wins: any order, with duplicates, gives the same register")
    func lastWriterWinsOrderIndependent() {
        #expect(PropertyRun.orderIndependence(LastWriterWins(), inputs: Histories.fieldWrites) == nil)
    }

    @Test("ordered state: any order, with duplicates, gives the same register")
    func orderedStateOrderIndependent() {
        #expect(PropertyRun.orderIndependence(CRMSchema.dealStage, inputs: Histories.stageWrites) == nil)
    }

    @Test("counter: any order, with duplicates, gives the same counter")
    func counterOrderIndependent() {
        #expect(PropertyRun.orderIndependence(Counter(), inputs: Histories.counterInputs) == nil)
    }

    @Test("append-only: any order, with duplicates, keeps the same record")
    func appendOnlyOrderIndependent() {
        #expect(PropertyRun.orderIndependence(AppendOnly(), inputs: Histories.appends) == nil)
    }

    @Test("tombstones: any order, with duplicates, gives the same tombstone")
    func tombstonesOrderIndependent() {
        #expect(
            PropertyRun.orderIndependence(Tombstones(policy: .updateWins), inputs: Histories.deleteInputs) == nil
        )
    }

    @Test("whole records of every entity: any order, with duplicates, gives equal record states")
    func recordsOrderIndependent() {
        #expect(PropertyRun.recordOrderIndependence(Histories.wholeRecords) == nil)
    }

    // MARK: - Causality and no loss

    @Test("last-writer-wins keeps exactly the causally maximal writes: later wins, no loser lost")
    func lastWriterWinsKeepsMaximalWrites() {
        #expect(PropertyRun.keepsMaximalWrites(LastWriterWins(), inputs: Histories.fieldWrites) == nil)
    }

    @Test("ordered state keeps exactly the causally maximal writes")
    func orderedStateKeepsMaximalWrites() {
        #expect(PropertyRun.keepsMaximalWrites(CRMSchema.taskStatus, inputs: Histories.statusWrites) == nil)
    }

    @Test("counter value equals a naive recount of the history")
    func counterMatchesOracle() {
        #expect(PropertyRun.counterMatchesOracle(Counter(), inputs: Histories.counterInputs) == nil)
    }

    @Test("a causally later write is always the one a record shows")
    func causallyLaterAlwaysShows() {
        #expect(PropertyRun.laterWriteShows(LastWriterWins()) == nil)
    }

    // MARK: - The properties can fail

    @Test("a rule that lets the last applied write win is caught")
    func brokenLastAppliedIsCaught() {
        #expect(PropertyRun.orderIndependence(LastAppliedWins(), inputs: Histories.fieldWrites) != nil)
        #expect(PropertyRun.keepsMaximalWrites(LastAppliedWins(), inputs: Histories.fieldWrites) != nil)
    }

    @Test("a rule that keeps only the latest stamp is caught: it drops losers and ignores causality")
    func brokenStampOnlyIsCaught() {
        #expect(PropertyRun.keepsMaximalWrites(LatestStampOnly(), inputs: Histories.fieldWrites) != nil)
        #expect(PropertyRun.laterWriteShows(LatestStampOnly()) != nil)
    }

    @Test("a counter that does not deduplicate deltas is caught")
    func brokenCounterIsCaught() {
        #expect(
            PropertyRun.orderIndependence(CounterWithoutDedup(), inputs: Histories.counterInputsForBrokenRule) != nil
        )
        #expect(
            PropertyRun.counterMatchesOracle(CounterWithoutDedup(), inputs: Histories.counterInputsForBrokenRule) != nil
        )
    }

    @Test("an append-only rule where the last append replaces is caught")
    func brokenAppendIsCaught() {
        #expect(PropertyRun.orderIndependence(LastAppendReplaces(), inputs: Histories.appends) != nil)
    }

    @Test("a tombstone that remembers only the last delete is caught")
    func brokenTombstoneIsCaught() {
        #expect(PropertyRun.orderIndependence(LastDeleteOnly(), inputs: Histories.deleteInputs) != nil)
    }

    @Test("a record merge that keeps only the last applied change is caught")
    func brokenRecordMergeIsCaught() {
        #expect(
            PropertyRun.recordOrderIndependence(Histories.wholeRecords, schemaOverride: BrokenSchemas.lastApplied)
                != nil
        )
    }
}

// MARK: - Deliberately broken rules

/// Wrong: the write applied last replaces whatever is there.
struct LastAppliedWins: FieldMergeRule {
    func apply(_ input: FieldEntry, to state: inout FieldRegister) -> MergeStatus {
        state = FieldRegister()
        return state.insert(input)
    }
    func winner(of register: FieldRegister) -> FieldEntry? { register.elements.first }
    func losers(in register: FieldRegister) -> [FieldEntry] { [] }
}

/// Wrong: keeps only the write with the greatest stamp, ignoring causality and dropping concurrent losers.
struct LatestStampOnly: FieldMergeRule {
    func apply(_ input: FieldEntry, to state: inout FieldRegister) -> MergeStatus {
        if let current = state.elements.first, !current.precedesInWriteOrder(input) { return .superseded }
        state = FieldRegister()
        return state.insert(input)
    }
    func winner(of register: FieldRegister) -> FieldEntry? { register.elements.first }
    func losers(in register: FieldRegister) -> [FieldEntry] { [] }
}

/// Wrong: counts a delta every time it arrives.
struct CounterWithoutDedup: MergeRule {
    struct State: Hashable, Sendable {
        var inner = Counter.State()
        var extra: Int64 = 0
        var value: Int64 { inner.value + extra }
    }
    func apply(_ input: Counter.Input, to state: inout State) -> MergeStatus {
        let status = Counter().apply(input, to: &state.inner)
        if status == .duplicate, case .delta(let delta) = input.kind { state.extra += delta }
        return .applied
    }
}

/// Wrong: a second append with the same id replaces the first.
struct LastAppendReplaces: MergeRule {
    func apply(_ input: Change, to state: inout AppendOnly.Record?) -> MergeStatus {
        var fresh: AppendOnly.Record? = nil
        let status = AppendOnly().apply(input, to: &fresh)
        state = fresh
        return status
    }
}

/// Wrong: remembers only the last delete applied.
struct LastDeleteOnly: MergeRule {
    func apply(_ input: Tombstones.Input, to state: inout Tombstones.State) -> MergeStatus {
        state = Tombstones.State()
        return Tombstones(policy: .updateWins).apply(input, to: &state)
    }
}

enum BrokenSchemas {
    /// Marks as a broken record merge: the record is rebuilt from the last applied change only.
    static let lastApplied = "last-applied"
}

// MARK: - Property runner

enum PropertyRun {
    /// Generated cases per property in the normal test run (CRM_PROPERTY_CASES overrides).
    static let cases: Int = {
        if let text = ProcessInfo.processInfo.environment["CRM_PROPERTY_CASES"], let number = Int(text) {
            return number
        }
        return 1_000
    }()
    /// Orders tried per case.
    static let ordersPerCase = 4

    /// Applies each case's inputs in generation order, then in shuffled orders with duplicates; returns the first
    /// failing seed's description, or nil.
    static func orderIndependence<Rule: MergeRule>(
        _ rule: Rule,
        inputs: (UInt64) -> (initial: Rule.State, inputs: [Rule.Input])
    ) -> String? {
        for seed in 0..<UInt64(cases) {
            let (initial, list) = inputs(seed)
            var reference = initial
            for input in list { _ = rule.apply(input, to: &reference) }
            var rng = SeededGenerator(seed: seed ^ 0x5EED)
            for _ in 0..<ordersPerCase {
                var state = initial
                for input in list.shuffledWithDuplicates(using: &rng) { _ = rule.apply(input, to: &state) }
                if state != reference {
                    return "seed \(seed): \(Rule.self) gives a different state in another order"
                }
            }
        }
        return nil
    }

    /// Whole records through `RecordState.apply` and the CRM schema.
    static func recordOrderIndependence(_ histories: (UInt64) -> [Change], schemaOverride: String? = nil) -> String? {
        for seed in 0..<UInt64(cases) {
            let list = histories(seed)
            guard let first = list.first else { continue }
            let schema = CRMSchema.schema(for: first.entity)
            func fold(_ changes: [Change]) -> RecordState {
                var state = RecordState(entity: first.entity, id: first.recordID)
                for change in changes {
                    if schemaOverride == BrokenSchemas.lastApplied {
                        state = RecordState(entity: first.entity, id: first.recordID)
                    }
                    _ = state.apply(change, schema: schema, authority: .server)
                }
                return state
            }
            let reference = fold(list)
            var rng = SeededGenerator(seed: seed ^ 0xFACE)
            for _ in 0..<ordersPerCase where fold(list.shuffledWithDuplicates(using: &rng)) != reference {
                return "seed \(seed): \(first.entity) records differ by order (replay: Histories.wholeRecords(\(seed)))"
            }
        }
        return nil
    }

    /// The register holds exactly the writes that no other write has seen: a causally later write always
    /// replaces, and no concurrent write is dropped.
    static func keepsMaximalWrites<Rule: FieldMergeRule>(
        _ rule: Rule,
        inputs: (UInt64) -> (initial: FieldRegister, inputs: [FieldEntry])
    ) -> String? {
        for seed in 0..<UInt64(cases) {
            let (initial, list) = inputs(seed)
            var rng = SeededGenerator(seed: seed ^ 0xBEEF)
            var state = initial
            for input in list.shuffledWithDuplicates(using: &rng) { _ = rule.apply(input, to: &state) }
            let maximal = Set(list.filter { write in !list.contains { $0.context.contains(write.dot) } }.map(\.dot))
            let kept = Set(state.elements.map(\.dot))
            if kept != maximal {
                let lost = maximal.subtracting(kept).map(\.description).sorted()
                let stale = kept.subtracting(maximal).map(\.description).sorted()
                return "seed \(seed): lost \(lost), kept superseded \(stale)"
            }
            if let winner = rule.winner(of: state), !state.elements.contains(winner) {
                return "seed \(seed): the winner is not in the register"
            }
            if Set(rule.losers(in: state).map(\.dot)).contains(
                rule.winner(of: state)?.dot ?? Dot(replica: .server, counter: 0)
            ) {
                return "seed \(seed): the winner is listed as a loser"
            }
        }
        return nil
    }

    /// Compares the counter with a recount written independently from the history.
    static func counterMatchesOracle<Rule: MergeRule>(
        _ rule: Rule,
        inputs: (UInt64) -> (initial: Rule.State, inputs: [Counter.Input])
    ) -> String? where Rule.Input == Counter.Input, Rule.State: CounterValued {
        for seed in 0..<UInt64(cases) {
            let (initial, list) = inputs(seed)
            var rng = SeededGenerator(seed: seed ^ 0xC0DE)
            var state = initial
            for input in list.shuffledWithDuplicates(using: &rng) { _ = rule.apply(input, to: &state) }
            // Oracle: the maximal recounts, the latest of them by (stamp, dot), plus every distinct delta it had not
            // seen.
            var deltas: [Dot: Int64] = [:]
            var resets: [Counter.Input] = []
            for input in list {
                switch input.kind {
                case .delta(let delta): deltas[input.dot] = delta
                case .reset: if !resets.contains(input) { resets.append(input) }
                }
            }
            let maximal = resets.filter { reset in !resets.contains { $0.context.contains(reset.dot) } }
            let base = maximal.max { ($0.timestamp, $0.dot) < ($1.timestamp, $1.dot) }
            var expected: Int64 = 0
            if let base, case .reset(let quantity) = base.kind { expected = quantity }
            for (dot, delta) in deltas where !(base?.context.contains(dot) ?? false) { expected += delta }
            if state.counterValue != expected {
                return "seed \(seed): value \(state.counterValue), a recount of the history gives \(expected)"
            }
        }
        return nil
    }

    /// A write made after seeing every other write of the field is the value the record shows, whatever its
    /// stamp (the writer's clock may be behind).
    static func laterWriteShows<Rule: FieldMergeRule>(_ rule: Rule) -> String? {
        for seed in 0..<UInt64(cases) {
            var (initial, list) = Histories.fieldWrites(seed)
            guard let last = list.last else { continue }
            var context = VectorClock()
            for write in list { context.record(write.dot) }
            let final = FieldEntry(
                value: "final",
                dot: Dot(replica: ReplicaID(unchecked: "z"), counter: 1),
                context: context,
                timestamp: HybridTimestamp(wallMilliseconds: last.timestamp.wallMilliseconds - 3_600_000),
                author: "z"
            )
            list.append(final)
            var rng = SeededGenerator(seed: seed ^ 0xD0D0)
            for input in list.shuffledWithDuplicates(using: &rng) { _ = rule.apply(input, to: &initial) }
            if rule.winner(of: initial)?.dot != final.dot {
                return "seed \(seed): a write that saw all others, stamped an hour earlier, does not show"
            }
        }
        return nil
    }
}

protocol CounterValued {
    var counterValue: Int64 { get }
}

extension Counter.State: CounterValued {
    var counterValue: Int64 { value }
}

extension CounterWithoutDedup.State: CounterValued {
    var counterValue: Int64 { value }
}
