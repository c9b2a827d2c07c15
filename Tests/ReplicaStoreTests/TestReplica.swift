import Foundation
import ReplicaStore
import SyncProtocol

/// A replica in its own temporary folder, with a fixed clock; removed when the test ends.
final class TestReplica: Sendable {
    let folder: URL
    let replica: Replica
    var path: String { replica.path }

    static let baseTime: Int64 = 1_795_428_000_000  // 2026-11-23T10:00:00Z

    init(user: String = "alice", now: Int64 = TestReplica.baseTime) async throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("replica-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        replica = try Replica(
            path: folder.appendingPathComponent("crm.sqlite").path,
            configuration: ReplicaConfiguration(now: { now }, synchronous: .normal)
        )
        try await replica.register(server: "http://127.0.0.1:1", user: user, territories: ["north"])
    }

    deinit {
        try? FileManager.default.removeItem(at: folder)
    }
}

/// Passes every pending change of `from` to `to`, as a server would, and acknowledges them.
func deliver(from source: Replica, to targets: [Replica]) async throws {
    let pending = try await source.pendingChanges(limit: 100_000)
    for target in targets { try await target.applyRemote(pending) }
    try await source.acknowledge(pending.map { ChangeResult(dot: $0.dot, status: .accepted) })
}
