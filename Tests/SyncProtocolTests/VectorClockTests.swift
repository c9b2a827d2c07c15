import SyncProtocol
import SyncTestSupport
import Testing

@Suite("Vector clocks")
struct VectorClockTests {
    static func randomClock(_ rng: inout SeededGenerator) -> VectorClock {
        var pairs: [(ReplicaID, UInt64)] = []
        for _ in 0..<Int.random(in: 0...4, using: &rng) {
            let replica = ReplicaID(unchecked: ["a", "b", "c", "d", "server"].randomElement(using: &rng)!)
            pairs.append((replica, UInt64.random(in: 0...4, using: &rng)))
        }
        return VectorClock(pairs)
    }

    @Test("compare agrees with merge: a is before or equal to b exactly when merging a into b changes nothing")
    func compareAgreesWithMerge() {
        for seed in 0..<UInt64(2_000) {
            var rng = SeededGenerator(seed: seed)
            let a = Self.randomClock(&rng)
            let b = Self.randomClock(&rng)
            let order = a.compare(to: b)
            let absorbed = b.merged(with: a) == b
            #expect(absorbed == (order == .before || order == .equal), "seed \(seed)")
            #expect((order == .equal) == (a == b), "seed \(seed)")
            #expect(a.merged(with: b) == b.merged(with: a), "seed \(seed): merge is not commutative")
            #expect(a.merged(with: b).dominates(a), "seed \(seed): merge does not dominate its input")
        }
    }

    @Test("merge is associative and idempotent")
    func mergeLaws() {
        for seed in 0..<UInt64(2_000) {
            var rng = SeededGenerator(seed: seed)
            let (a, b, c) = (Self.randomClock(&rng), Self.randomClock(&rng), Self.randomClock(&rng))
            #expect(a.merged(with: b).merged(with: c) == a.merged(with: b.merged(with: c)), "seed \(seed)")
            #expect(a.merged(with: a) == a, "seed \(seed)")
        }
    }

    @Test("the compact encoding round-trips and stays short for sparse clocks")
    func compactEncoding() throws {
        let clock = VectorClock([
            (ReplicaID(unchecked: "laptop-b"), UInt64(12)), (ReplicaID(unchecked: "laptop-a"), UInt64(3)),
        ])
        #expect(clock.compactEncoded == "laptop-a:3,laptop-b:12")
        #expect(try VectorClock(compactEncoded: clock.compactEncoded) == clock)
        #expect(try VectorClock(compactEncoded: "") == VectorClock())
        #expect(throws: WireFormatError.self) { try VectorClock(compactEncoded: "laptop-a") }
        #expect(throws: WireFormatError.self) { try VectorClock(compactEncoded: "bad id:1") }
        for seed in 0..<UInt64(500) {
            var rng = SeededGenerator(seed: seed)
            let random = Self.randomClock(&rng)
            #expect(try VectorClock(compactEncoded: random.compactEncoded) == random, "seed \(seed)")
        }
    }

    @Test("increment names the next dot, which the clock then contains")
    func increment() {
        var clock = VectorClock()
        let laptop = ReplicaID(unchecked: "laptop")
        let first = clock.increment(for: laptop)
        let second = clock.increment(for: laptop)
        #expect(first == Dot(replica: laptop, counter: 1))
        #expect(second == Dot(replica: laptop, counter: 2))
        #expect(clock.contains(first) && clock.contains(second))
        #expect(!clock.contains(Dot(replica: laptop, counter: 3)))
    }
}

@Suite("Hybrid logical clock")
struct HybridClockTests {
    @Test("send is strictly increasing whatever the wall clock does")
    func sendIsMonotonic() {
        var rng = SeededGenerator(seed: 7)
        var clock = HybridClock()
        var previous = HybridTimestamp.zero
        for _ in 0..<5_000 {
            let now = 1_795_428_000_000 + Int64.random(in: -10_000...10_000, using: &rng)
            let stamp = clock.send(now: now)
            #expect(previous < stamp)
            previous = stamp
        }
    }

    @Test("receive moves past the remote stamp, so a reply is always later than what it answers")
    func receiveMovesPast() throws {
        var rng = SeededGenerator(seed: 9)
        var clock = HybridClock()
        for _ in 0..<5_000 {
            let now = 1_795_428_000_000 + Int64.random(in: -5_000...5_000, using: &rng)
            let remote = HybridTimestamp(
                wallMilliseconds: now + Int64.random(in: -100_000...60_000, using: &rng),
                logical: UInt32.random(in: 0...5, using: &rng)
            )
            let before = clock.last
            let stamp = try clock.receive(remote, now: now)
            #expect(stamp > remote && stamp > before)
        }
    }

    @Test("a refused stamp says by how much it was ahead, readably")
    func skewErrorMessage() {
        var clock = HybridClock()
        let now: Int64 = 1_795_428_000_000
        do {
            try clock.receive(HybridTimestamp(wallMilliseconds: now + 366 * 86_400_000), now: now)
            Issue.record("a stamp a year ahead was accepted")
        } catch {
            #expect(error.aheadByMilliseconds == 366 * 86_400_000)
            #expect(error.description.contains("366 days ahead"))
            #expect(error.description.contains("60 s"))
        }
    }

    @Test("the wire form round-trips and rejects malformed stamps")
    func wireForm() throws {
        let stamp = HybridTimestamp(wallMilliseconds: 1_795_428_000_123, logical: 42)
        #expect(stamp.description == "2026-11-23T10:00:00.123Z/42")
        #expect(try HybridTimestamp(parsing: stamp.description) == stamp)
        for bad in ["", "2026-11-23T10:00:00Z", "2026-11-23T10:00:00Z/x", "yesterday/1", "2026-13-01T00:00:00Z/0"] {
            #expect(throws: WireFormatError.self, "\(bad)") { try HybridTimestamp(parsing: bad) }
        }
    }
}

@Suite("ISO 8601")
struct ISO8601Tests {
    @Test("formatting and parsing round-trip across centuries, leap days and before 1970")
    func roundTrip() {
        var rng = SeededGenerator(seed: 1)
        for _ in 0..<5_000 {
            let millis = Int64.random(in: -2_000_000_000_000...10_000_000_000_000, using: &rng)
            let text = ISO8601.format(millisecondsSince1970: millis)
            #expect(ISO8601.parseTimestamp(text) == millis, "\(text)")
        }
        #expect(ISO8601.format(millisecondsSince1970: 0) == "1970-01-01T00:00:00.000Z")
        #expect(ISO8601.parseTimestamp("2024-02-29T23:59:59Z") != nil)
        #expect(ISO8601.parseTimestamp("2023-02-29T00:00:00Z") == nil)
        #expect(ISO8601.parseTimestamp("2026-11-23T10:00:00+00:00") == 1_795_428_000_000)
        #expect(ISO8601.parseTimestamp("2026-11-23T10:00:00.5Z") == 1_795_428_000_500)
        #expect(ISO8601.parseTimestamp("2026-11-23T10:00:00+01:00") == nil, "only UTC is accepted")
        #expect(ISO8601.parseTimestamp("2026-11-23T24:00:00Z") == nil)
        #expect(ISO8601.parseDate("2026-11-23").map { ISO8601.formatDate(daysSince1970: $0) } == "2026-11-23")
    }
}
