public import SyncProtocol

/// Generates causally consistent random histories of one record: several replicas make changes offline, now and
/// then one replica takes in everything another has seen, and every change carries the context its author really
/// had. The merge laws hold for histories like these (a change's context only names changes that exist).
public struct HistoryGenerator {
    /// Makes the operation of one local change, given the author's current view of the record; nil skips.
    public typealias OperationMaker = (inout SeededGenerator, ReplicaID, RecordState) -> Change.Operation?

    public var rng: SeededGenerator
    public let entity: EntityKind
    public let recordID: RecordID
    public let replicas: [ReplicaID]

    public init(seed: UInt64, entity: EntityKind, recordID: RecordID = RecordID("rec-1"), replicaCount: Int) {
        rng = SeededGenerator(seed: seed)
        self.entity = entity
        self.recordID = recordID
        self.replicas = ["a", "b", "c", "d", "e"].prefix(replicaCount).map { ReplicaID(unchecked: $0) } + [.server]
    }

    /// A history of `steps` steps whose first change is `first` (a create, made by the first replica and seen by
    /// all), then local changes and partial syncs.
    public mutating func generate(first: Change.Operation?, steps: Int, _ makeOperation: OperationMaker) -> [Change] {
        let schema = CRMSchema.schema(for: entity)
        var views = [RecordState](repeating: RecordState(entity: entity, id: recordID), count: replicas.count)
        var known = [Set<Int>](repeating: [], count: replicas.count)
        var counters = [UInt64](repeating: 0, count: replicas.count)
        var clocks = [HybridClock](repeating: HybridClock(maximumAhead: .max), count: replicas.count)
        let skews = replicas.map { _ in Int64.random(in: -5_000...5_000, using: &rng) }
        var changes: [Change] = []

        func make(_ operation: Change.Operation, by index: Int, step: Int) {
            counters[index] += 1
            let now = 1_795_428_000_000 + Int64(step) * 700 + skews[index]
            let change = Change(
                dot: Dot(replica: replicas[index], counter: counters[index]),
                context: views[index].clock,
                timestamp: clocks[index].send(now: now),
                author: replicas[index].rawValue,
                entity: entity,
                recordID: recordID,
                operation: operation
            )
            changes.append(change)
            known[index].insert(changes.count - 1)
            _ = views[index].apply(change, schema: schema, authority: .server)
        }

        if let first {
            make(first, by: 0, step: 0)
            for index in replicas.indices.dropFirst() {
                known[index] = [0]
                _ = views[index].apply(changes[0], schema: schema, authority: .server)
            }
        }
        for step in 1...max(steps, 1) {
            let index = Int.random(in: replicas.indices, using: &rng)
            if Int.random(in: 0..<4, using: &rng) == 0 {
                let source = Int.random(in: replicas.indices, using: &rng)
                for changeIndex in known[source].subtracting(known[index]).sorted() {
                    _ = views[index].apply(changes[changeIndex], schema: schema, authority: .server)
                    _ = try? clocks[index].receive(changes[changeIndex].timestamp, now: 0)
                }
                known[index].formUnion(known[source])
            } else if let operation = makeOperation(&rng, replicas[index], views[index]) {
                make(operation, by: index, step: step)
            }
        }
        return changes
    }
}

extension Array {
    /// A random order of the elements with some repeated: what a network that reorders and duplicates delivers.
    public func shuffledWithDuplicates(using rng: inout SeededGenerator) -> [Element] {
        var result = self
        for _ in 0..<Int.random(in: 0...Swift.max(1, count / 3), using: &rng) where !isEmpty {
            result.append(self[Int.random(in: indices, using: &rng)])
        }
        result.shuffle(using: &rng)
        return result
    }
}
