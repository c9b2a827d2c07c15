import SyncProtocol
import SyncTestSupport

/// Random causally consistent histories for the property tests, one per seed.
enum Histories {
    static let values: [FieldValue] = ["red", "green", "blue", "+49 1", "+49 2", .null]

    private static func generator(_ seed: UInt64, _ entity: EntityKind) -> HistoryGenerator {
        var sizer = SeededGenerator(seed: seed)
        return HistoryGenerator(seed: seed, entity: entity, replicaCount: Int.random(in: 2...5, using: &sizer))
    }

    private static func steps(_ rng: inout SeededGenerator) -> Int { Int.random(in: 8...40, using: &rng) }

    /// Account histories: sets of a few fields, the occasional delete.
    static func accountHistory(_ seed: UInt64, deletes: Bool) -> [Change] {
        var generator = generator(seed, .account)
        let count = steps(&generator.rng)
        return generator.generate(
            first: .create(["name": "Acme", "territory": "north"]),
            steps: count
        ) { rng, replica, _ in
            if deletes, Int.random(in: 0..<6, using: &rng) == 0 { return .delete }
            var fields: [String: FieldValue] = [:]
            for _ in 0..<Int.random(in: 1...2, using: &rng) {
                fields[["phone", "website", "email"].randomElement(using: &rng)!] = values.randomElement(using: &rng)!
            }
            return .set(fields)
        }
    }

    static func fieldWrites(_ seed: UInt64) -> (initial: FieldRegister, inputs: [FieldEntry]) {
        (FieldRegister(), entries(of: "phone", in: accountHistory(seed, deletes: false)))
    }

    static func stageWrites(_ seed: UInt64) -> (initial: FieldRegister, inputs: [FieldEntry]) {
        var generator = generator(seed, .deal)
        let count = steps(&generator.rng)
        let history = generator.generate(first: .create(["title": "Pumps", "stage": "new"]), steps: count) {
            rng,
            _,
            _ in
            .set(["stage": .string(CRMSchema.dealStages.randomElement(using: &rng)!)])
        }
        return (FieldRegister(), entries(of: "stage", in: history))
    }

    static func taskHistory(_ seed: UInt64) -> [Change] {
        var generator = generator(seed, .task)
        let count = steps(&generator.rng)
        return generator.generate(first: .create(["title": "Call back", "status": "open"]), steps: count) { rng, _, _ in
            switch Int.random(in: 0..<8, using: &rng) {
            case 0: .delete
            case 1, 2: .set(["title": values.randomElement(using: &rng)!.isNull ? "t" : "Call again"])
            default: .set(["status": .string(["open", "cancelled", "done"].randomElement(using: &rng)!)])
            }
        }
    }

    static func statusWrites(_ seed: UInt64) -> (initial: FieldRegister, inputs: [FieldEntry]) {
        (FieldRegister(), entries(of: "status", in: taskHistory(seed)))
    }

    static func stockHistory(_ seed: UInt64) -> [Change] {
        var generator = generator(seed, .stock)
        let count = steps(&generator.rng)
        return generator.generate(
            first: .create(["part_number": "P-1", "warehouse": "main"]),
            steps: count
        ) { rng, replica, _ in
            if replica == .server {
                return Bool.random(using: &rng) ? .counterReset(Int64.random(in: 0...50, using: &rng)) : nil
            }
            let amount = Int64.random(in: 1...5, using: &rng)
            return .counterDelta(Int.random(in: 0..<4, using: &rng) == 0 ? amount : -amount)
        }
    }

    static func counterInputs(_ seed: UInt64) -> (initial: Counter.State, inputs: [Counter.Input]) {
        let inputs: [Counter.Input] = stockHistory(seed).compactMap { change in
            switch change.operation {
            case .counterDelta(let delta):
                Counter.Input(.delta(delta), dot: change.dot, context: change.context, timestamp: change.timestamp)
            case .counterReset(let quantity):
                Counter.Input(.reset(quantity), dot: change.dot, context: change.context, timestamp: change.timestamp)
            case .create, .set, .delete, .append:
                nil
            }
        }
        return (Counter.State(), inputs)
    }

    static func counterInputsForBrokenRule(
        _ seed: UInt64
    ) -> (initial: CounterWithoutDedup.State, inputs: [Counter.Input]) {
        (CounterWithoutDedup.State(), counterInputs(seed).inputs)
    }

    static func activityHistory(_ seed: UInt64) -> [Change] {
        var generator = generator(seed, .activity)
        let count = Int.random(in: 1...6, using: &generator.rng)
        return generator.generate(first: nil, steps: count) { rng, _, view in
            // Mostly one append; sometimes another replica appends under the same id (a collision).
            view.exists && Int.random(in: 0..<3, using: &rng) != 0
                ? nil
                : .append([
                    "account_id": "acc-1", "kind": "call", "subject": values.randomElement(using: &rng)!,
                    "occurred_at": "2026-11-23T09:00:00Z",
                ])
        }
    }

    static func appends(_ seed: UInt64) -> (initial: AppendOnly.Record?, inputs: [Change]) {
        (nil, activityHistory(seed))
    }

    static func deleteInputs(_ seed: UInt64) -> (initial: Tombstones.State, inputs: [Tombstones.Input]) {
        let inputs = accountHistory(seed, deletes: true).compactMap { change in
            change.operation == .delete ? Tombstones.Input(dot: change.dot, context: change.context) : nil
        }
        return (Tombstones.State(), inputs)
    }

    static func dealHistory(_ seed: UInt64) -> [Change] {
        var generator = generator(seed, .deal)
        let count = steps(&generator.rng)
        return generator.generate(
            first: .create(["account_id": "acc-1", "title": "Pumps", "stage": "new"]),
            steps: count
        ) { rng, _, _ in
            switch Int.random(in: 0..<6, using: &rng) {
            case 0: .delete
            case 1, 2: .set(["amount": .integer(Int64.random(in: 0...1_000_000, using: &rng))])
            default: .set(["stage": .string(CRMSchema.dealStages.randomElement(using: &rng)!)])
            }
        }
    }

    /// A whole record of a random entity.
    static func wholeRecords(_ seed: UInt64) -> [Change] {
        switch seed % 5 {
        case 0: accountHistory(seed, deletes: true)
        case 1: taskHistory(seed)
        case 2: dealHistory(seed)
        case 3: stockHistory(seed)
        default: activityHistory(seed)
        }
    }

    static func entries(of field: String, in history: [Change]) -> [FieldEntry] {
        history.compactMap { change in change.operation.fields[field].map { FieldEntry(value: $0, of: change) } }
    }
}
