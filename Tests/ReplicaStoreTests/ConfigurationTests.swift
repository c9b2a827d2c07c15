import Foundation
import GRDB
import SyncProtocol
import Testing

@testable import ReplicaStore

@Suite("Replica configuration")
struct ConfigurationTests {
    @Test("the file is in WAL mode with foreign keys on and synchronous FULL unless asked otherwise")
    func pragmas() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("replica-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let full = try Replica(path: folder.appendingPathComponent("full.sqlite").path)
        let normal = try Replica(
            path: folder.appendingPathComponent("normal.sqlite").path,
            configuration: ReplicaConfiguration(synchronous: .normal)
        )
        for (replica, expected) in [(full, 2), (normal, 1)] {
            let (journal, synchronous, foreignKeys) = try await replica.pool.write { db in
                (
                    try String.fetchOne(db, sql: "PRAGMA journal_mode"),
                    try Int.fetchOne(db, sql: "PRAGMA synchronous"),
                    try Int.fetchOne(db, sql: "PRAGMA foreign_keys")
                )
            }
            #expect(journal == "wal")
            #expect(synchronous == expected)
            #expect(foreignKeys == 1)
        }
    }

    @Test("a batch of local writes is all or nothing")
    func batchIsAtomic() async throws {
        let test = try await TestReplica()
        let account = try await test.replica.create(.account, fields: ["name": "Acme", "territory": "north"])
        await #expect(throws: ReplicaError.self) {
            try await test.replica.writeBatch([
                .init(.account, id: account.id, .set(["phone": "1"])),
                .init(.account, id: account.id, .set(["kind": "alien"])),
            ])
        }
        #expect(try await test.replica.record(.account, id: account.id)?["phone"] == nil)
        #expect(try await test.replica.pendingCount() == 1)
        try await test.replica.update(.account, id: account.id, fields: ["phone": "2"])
        #expect(try await test.replica.pendingChanges().map(\.dot.counter) == [1, 2], "the failed batch used no dots")
    }
}
