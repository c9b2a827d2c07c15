import Foundation
import ReplicaStore
import SyncClient
import SyncProtocol
import SyncTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The server's SQLite database on a 4 MB tmpfs that fills up while a laptop pushes: the push that does not fit gets
/// 507 `storage_full` (never a 2xx for a change that was not stored), reads keep being answered, and once space is
/// freed the pushes resume with nothing lost, even across a SIGKILL of the server right after.
@Suite("The server's disk full", .serialized)
struct DiskFullTests {
    @Test(
        "a full disk: 507 with a JSON error, reads still served, pushes resume after space is freed, nothing lost",
        .enabled(if: SmallDisk.available, "mounting a tmpfs needs root"),
        .timeLimit(.minutes(5))
    )
    func serverDiskFull() async throws {
        let disk = try SmallDisk(megabytes: 4)
        defer { disk.unmount() }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("full-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let db = disk.path + "/crm-sync.sqlite"
        let ann = try ServerProcess.admin(["user", "add", "ann", "--role", "rep", "--territory", "north"], db: db)
        let ben = try ServerProcess.admin(["user", "add", "ben", "--role", "rep", "--territory", "north"], db: db)
        let port = try ServerProcess.freePort()
        var server = try ServerProcess(db: db, folder: folder, port: port)
        defer { server.stop() }
        try await server.waitUntilHealthy()

        let writer = try await makeReplica(user: "ann", territories: ["north"])
        let reader = try await makeReplica(user: "ben", territories: ["north"])
        func sync(_ replica: Replica, _ token: String) async throws -> SyncSummary {
            let transport = try HTTPSyncTransport(server: server.url, token: token)
            defer { Task { try? await transport.shutdown() } }
            let options = SyncOptions(pushBatch: 50, pageSize: 500, snapshotPageSize: 500, retries: 0)
            return try await SyncEngine(replica: replica, transport: transport, options: options).sync()
        }
        _ = try await sync(writer, ann)
        _ = try await sync(reader, ben)
        try disk.fill(leavingKilobytes: 300)

        // Accounts with long notes until a push does not fit.
        var refusal: SyncClientError?
        var made = 0
        for round in 0..<200 where refusal == nil {
            for index in 0..<50 {
                _ = try await writer.create(
                    .account,
                    fields: [
                        "name": .string("Full \(round)-\(index)"), "territory": "north",
                        "address": .string(String(repeating: "n", count: 900)),
                    ]
                )
                made += 1
            }
            do {
                _ = try await sync(writer, ann)
            } catch let error as SyncClientError {
                refusal = error
            }
        }
        let refused = try #require(refusal, "the disk never filled (\(made) accounts)")
        #expect(refused.status == 507 && refused.code.rawValue == "storage_full", "\(refused)")
        #expect(refused.message.contains("disk is full"), "\(refused.message)")
        let waiting = try await writer.pendingCount()
        #expect(waiting > 0, "the refused changes stay in the outbox")

        // Reads are still answered: another laptop pulls, the writer's handshake works.
        #expect((try? await sync(reader, ben)) != nil, "a pull on a full disk failed")
        let probe = try HTTPSyncTransport(server: server.url, token: ann)
        let health = try await probe.send("GET", "/healthz")
        #expect(health.status == 200)
        try await probe.shutdown()

        // Space freed: the pushes resume; then the server is killed and restarted, and everything is there.
        try disk.free()
        _ = try await sync(writer, ann)
        #expect(try await writer.pendingCount() == 0)
        kill(server.process.processIdentifier, SIGKILL)
        server.process.waitUntilExit()
        #expect(try ServerKillTests.integrityCheck(db) == "ok")
        server = try ServerProcess(db: db, folder: folder, port: port)
        try await server.waitUntilHealthy()
        _ = try await sync(reader, ben)
        let accounts = try await reader.records(.account, limit: 100_000)
        #expect(accounts.count == made, "the reader has \(accounts.count) of \(made) accounts")
        let dots = try await ServerKillTests.loggedCounters(server: server.url, token: ben)[writer.replicaID] ?? []
        let last = try await writer.lastCounter()
        #expect(dots.sorted() == Array(1...last), "\(dots.count) logged of \(last)")
    }
}
