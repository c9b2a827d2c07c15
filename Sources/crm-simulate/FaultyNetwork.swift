import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import SyncClient
import SyncProtocol
import SyncTestSupport

/// A network that loses requests, loses answers after the server committed, duplicates requests and delivers an
/// old push again later, all decided by a seeded generator. `healed` turns every fault off.
final class FaultyNetwork: @unchecked Sendable {
    private let lock = NSLock()
    private var random: SeededGenerator
    private var oldPushes: [PushRequest] = []
    private var healed = false
    private(set) var faults: [String: Int] = [:]

    init(seed: UInt64) { random = .simulation(seed: seed) }

    func heal() { lock.withLock { healed = true } }

    /// Rolls a fault with probability `percent`, unless healed.
    func roll(_ kind: String, percent: Int) -> Bool {
        lock.withLock {
            guard !healed, random.below(100) < percent else { return false }
            faults[kind, default: 0] += 1
            return true
        }
    }

    private var used: Set<String> = []

    /// True the first time for `key` (a sabotage strikes once).
    func once(_ key: String) -> Bool { lock.withLock { used.insert(key).inserted } }

    func remember(_ push: PushRequest) {
        lock.withLock {
            oldPushes.append(push)
            if oldPushes.count > 8 { oldPushes.removeFirst() }
        }
    }

    func oldPush() -> PushRequest? {
        lock.withLock { oldPushes.isEmpty ? nil : oldPushes[Int(random.below(UInt64(oldPushes.count)))] }
    }

    static let lost = SyncClientError(.unreachable, "simulated: the network lost the message", isTransient: true)
}

/// One laptop's view of the faulty network, with its sabotage, if any.
struct FaultyTransport: SyncTransport {
    let inner: any SyncTransport
    let network: FaultyNetwork
    var laptop = 0
    var sabotage: Sabotage?

    private func deliver<T: Sendable>(_ exchange: () async throws -> T) async throws -> T {
        if network.roll("request lost", percent: 8) { throw FaultyNetwork.lost }
        if network.roll("request duplicated", percent: 5) { _ = try? await exchange() }
        let answer = try await exchange()
        if network.roll("answer lost after commit", percent: 8) { throw FaultyNetwork.lost }
        return answer
    }

    func handshake(replicaID: ReplicaID?) async throws -> HandshakeResponse {
        try await deliver { try await inner.handshake(replicaID: replicaID) }
    }

    func push(_ request: PushRequest) async throws -> PushResponse {
        var request = request
        if sabotage == .swallowEdit, laptop == 0,
            let index = request.changes.firstIndex(where: { if case .set = $0.operation { true } else { false } }),
            network.once("swallow")
        {
            // The broken network: the edit reaches the server with another value.
            let fields = request.changes[index].operation.fields.mapValues { _ in FieldValue.null }
            request.changes[index].operation = .set(fields)
        }
        // An old push of this laptop arrives late, before the current one (reordering).
        if network.roll("old push replayed", percent: 6), let old = network.oldPush(),
            old.replicaID == request.replicaID
        {
            _ = try? await inner.push(old)
        }
        network.remember(request)
        return try await deliver { try await inner.push(request) }
    }

    func pull(replicaID: ReplicaID, cursor: String?, limit: Int) async throws -> PullResponse {
        var page = try await deliver { try await inner.pull(replicaID: replicaID, cursor: cursor, limit: limit) }
        if sabotage == .dropChange, laptop == 1, !page.changes.isEmpty, network.once("drop") {
            page.changes.removeFirst()
        }
        return page
    }

    func snapshot(replicaID: ReplicaID, after: String?, cursor: String?, limit: Int) async throws -> SnapshotResponse {
        try await deliver { try await inner.snapshot(replicaID: replicaID, after: after, cursor: cursor, limit: limit) }
    }
}

extension SeededGenerator {
    /// The simulation's generator for `seed` (seeds are spread before use, so seeds 1, 2, 3… start far apart).
    static func simulation(seed: UInt64) -> SeededGenerator {
        SeededGenerator(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ 1)
    }

    mutating func below(_ bound: UInt64) -> UInt64 { next() % bound }
    mutating func pick<T>(_ items: [T]) -> T { items[Int(below(UInt64(items.count)))] }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}
