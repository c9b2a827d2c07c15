import SyncProtocol

/// Prints the core's speed figures (BENCHMARKS.md): clock compare and merge, and merging 1M field changes into
/// 100k records in memory. Build in release: `swift run -c release core-bench [--records N] [--changes-per-record K]`.
@main
struct CoreBenchmark {
    static func main() {
        let arguments = CommandLine.arguments
        func option(_ name: String, _ fallback: Int) -> Int {
            guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count,
                let value = Int(arguments[index + 1])
            else { return fallback }
            return value
        }
        let records = option("--records", 100_000)
        let perRecord = option("--changes-per-record", 10)

        print("core-bench: SyncProtocol in memory, one thread")
        if !arguments.contains("--merge-only") { benchmarkClocks() }
        benchmarkMerge(records: records, perRecord: perRecord)
    }

    // MARK: - Clocks

    static func benchmarkClocks() {
        var rng = BenchmarkRandom(seed: 42)
        let replicas = (0..<8).map { ReplicaID(unchecked: "laptop-\($0)") }
        let clocks: [VectorClock] = (0..<4096).map { _ in
            var clock = VectorClock()
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                clock.record(
                    Dot(replica: replicas.randomElement(using: &rng)!, counter: UInt64.random(in: 1...50, using: &rng))
                )
            }
            return clock
        }
        let operations = 4_000_000
        var concurrent = 0
        let compareTime = measure {
            for index in 0..<operations
            where clocks[index & 4095].compare(to: clocks[(index &* 7 &+ 1) & 4095]) == .concurrent {
                concurrent += 1
            }
        }
        report("vector clock compare (1-3 entries)", operations, compareTime, extra: "\(concurrent) concurrent")
        var entries = 0
        let mergeTime = measure {
            for index in 0..<operations {
                let merged = clocks[index & 4095].merged(with: clocks[(index &* 7 &+ 1) & 4095])
                entries &+= merged.entries.count
            }
        }
        report("vector clock merge (1-3 entries)", operations, mergeTime, extra: "\(entries / operations) entries avg")
    }

    // MARK: - Merge

    /// One planned change, without heap storage, so the plan for 1M changes stays compact and the changes are
    /// built page by page just before they are merged, as a pull decodes a page of 1,000 and applies it.
    struct PlannedChange {
        var record: Int32
        var writer: UInt8
        var field: UInt8  // 255: the create
        var counter: UInt64
        var stamp: Int64
        var context: (UInt64, UInt64, UInt64)  // per writer; 0 is absent
    }

    /// 1M single-field changes to 100k accounts from three laptops: mostly sequential edits, one in five concurrent
    /// with the previous edit (so conflicts are found and kept), interleaved across records as a pull delivers
    /// them. Only the merge is timed; building each page of changes is not.
    static func benchmarkMerge(records: Int, perRecord: Int) {
        var rng = BenchmarkRandom(seed: 7)
        let replicas = (0..<3).map { ReplicaID(unchecked: "laptop-\($0)") }
        let fieldNames = ["phone", "website", "email", "industry", "region", "address"]
        let values = (0..<perRecord).map { FieldValue.string("value \($0)") }
        var counters: [UInt64] = [0, 0, 0]
        var plan: [PlannedChange] = []
        plan.reserveCapacity(records * perRecord)
        var stamp: Int64 = 1_795_428_000_000
        for record in 0..<records {
            var clock: [UInt64] = [0, 0, 0]
            var previous: [UInt64] = [0, 0, 0]
            for step in 0..<perRecord {
                let writer = Int.random(in: 0..<3, using: &rng)
                counters[writer] += 1
                stamp += Int64.random(in: 0...3, using: &rng)
                let concurrent = step > 1 && Int.random(in: 0..<5, using: &rng) == 0
                let context = concurrent ? previous : clock
                plan.append(
                    PlannedChange(
                        record: Int32(record),
                        writer: UInt8(writer),
                        field: step == 0 ? 255 : UInt8(Int.random(in: 0..<fieldNames.count, using: &rng)),
                        counter: counters[writer],
                        stamp: stamp,
                        context: (context[0], context[1], context[2])
                    )
                )
                previous = clock
                clock[writer] = max(clock[writer], counters[writer])
            }
        }
        plan.shuffle(using: &rng)
        let recordIDs = (0..<records).map { RecordID("acc-\($0)") }

        func build(_ planned: PlannedChange) -> Change {
            var context = VectorClock()
            let counts = [planned.context.0, planned.context.1, planned.context.2]
            for (writer, counter) in counts.enumerated() where counter > 0 {
                context.record(Dot(replica: replicas[writer], counter: counter))
            }
            return Change(
                dot: Dot(replica: replicas[Int(planned.writer)], counter: planned.counter),
                context: context,
                timestamp: HybridTimestamp(wallMilliseconds: planned.stamp),
                author: "rep-\(planned.writer)",
                entity: .account,
                recordID: recordIDs[Int(planned.record)],
                operation: planned.field == 255
                    ? .create(["name": "Account"])
                    : .set([fieldNames[Int(planned.field)]: values[Int(planned.counter) % values.count]])
            )
        }

        var states: [RecordID: RecordState] = [:]
        states.reserveCapacity(records)
        var conflicts = 0
        var merged = Duration.zero
        let clock = ContinuousClock()
        var page: [Change] = []
        page.reserveCapacity(1000)
        for start in stride(from: 0, to: plan.count, by: 1000) {
            page.removeAll(keepingCapacity: true)
            for planned in plan[start..<min(start + 1000, plan.count)] { page.append(build(planned)) }
            let began = clock.now
            for index in page.indices {
                let change = page[index]
                let schema = CRMSchema.schema(for: change.entity)
                conflicts &+=
                    states[change.recordID, default: RecordState(entity: change.entity, id: change.recordID)]
                    .apply(change, schema: schema, authority: .server).conflicts.count
            }
            merged += clock.now - began
        }
        report(
            "merge \(plan.count) field changes into \(records) records",
            plan.count,
            merged,
            extra: "\(conflicts) conflict reports, pages of 1,000"
        )

        // What finding the record costs on its own (the in-memory map; a store finds it by primary key instead).
        var found = 0
        var lookup = Duration.zero
        for start in stride(from: 0, to: plan.count, by: 1000) {
            page.removeAll(keepingCapacity: true)
            for planned in plan[start..<min(start + 1000, plan.count)] { page.append(build(planned)) }
            let began = clock.now
            for index in page.indices where states[page[index].recordID]?.clock.isEmpty == false { found += 1 }
            lookup += clock.now - began
        }
        report("of which: find the record in a [RecordID: RecordState]", plan.count, lookup, extra: "\(found) found")

        var duplicates = 0
        var again = Duration.zero
        for start in stride(from: 0, to: plan.count / 2, by: 1000) {
            page.removeAll(keepingCapacity: true)
            for planned in plan[start..<min(start + 1000, plan.count)] { page.append(build(planned)) }
            let began = clock.now
            for index in page.indices {
                let change = page[index]
                let schema = CRMSchema.schema(for: change.entity)
                if states[change.recordID]!.apply(change, schema: schema, authority: .server).status == .duplicate {
                    duplicates += 1
                }
            }
            again += clock.now - began
        }
        report(
            "re-apply \(plan.count / 2) changes already merged",
            plan.count / 2,
            again,
            extra: "\(duplicates) duplicates"
        )
    }

    // MARK: - Measuring

    static func measure(_ body: () -> Void) -> Duration {
        let clock = ContinuousClock()
        return clock.measure(body)
    }

    static func report(_ name: String, _ operations: Int, _ duration: Duration, extra: String) {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        let rate = Double(operations) / seconds
        let padded = name + String(repeating: " ", count: max(0, 52 - name.count))
        print("\(padded) \(format(rate / 1e6)) M/s  (\(format(seconds * 1000)) ms; \(extra))")
    }

    static func format(_ value: Double) -> String {
        let rounded = (value * 100).rounded() / 100
        return String(rounded)
    }
}

/// SplitMix64, so every run benchmarks the same data.
struct BenchmarkRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
