import Foundation
import ReplicaStore
import SyncTestSupport
import Testing

@testable import crm_field

/// A laptop whose disk fills: the rep's home (replica, outbox) on a small tmpfs. A local write fails with one line
/// and leaves nothing half-written; `sync` likewise; once space is freed both work and nothing was lost.
@Suite("The laptop's disk full", .serialized)
struct LaptopDiskFullTests {
    @Test(
        "a full laptop disk: a write and a sync fail with one line, nothing half-written, all resumes after freeing",
        .enabled(if: SmallDisk.available, "mounting a tmpfs needs root"),
        .timeLimit(.minutes(5))
    )
    func laptopDiskFull() async throws {
        try await CLIServer.with { server in
            try await server.loadSample()
            let disk = try SmallDisk(megabytes: 8)
            defer { disk.unmount() }
            let home = disk.path + "/alice"
            let token = try await server.addRep("alice")
            #expect(await cli(["init", "--server", server.url, "--token", token], home: home).exitCode == 0)
            #expect(
                await cli(["account", "add", "--name", "Before GmbH", "--territory", "north"], home: home).exitCode == 0
            )
            let before = await cli(["status", "--json"], home: home).object["pending"] as? Int

            // The disk fills: writes until one fails.
            try disk.fill(leavingKilobytes: 200)
            var failed: CLIResult?
            var written = 0
            for index in 0..<2_000 {
                let write = await cli(
                    [
                        "account", "add", "--name", "Full \(index)", "--territory", "north", "--address",
                        String(repeating: "a", count: 900),
                    ],
                    home: home
                )
                if write.exitCode != 0 {
                    failed = write
                    break
                }
                written += 1
            }
            let refusal = try #require(failed, "the disk never filled")
            let line = refusal.err.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(line.split(whereSeparator: \.isNewline).count == 1, "one line: \(line)")
            #expect(line.contains("disk is full"), "\(line)")
            // Reads still work, and what was refused is nowhere (not half-written).
            let status = await cli(["status", "--json"], home: home)
            #expect(status.object["pending"] as? Int == (before ?? 0) + written, "\(status.out)")
            #expect(written > 0, "some writes fitted before the disk was full")
            // The sync on a full disk: the server has pages to send (another laptop's accounts), the laptop cannot
            // store them: one line, and the outbox is kept.
            let bob = try await server.laptop(try await server.addRep("bob"))
            for index in 0..<30 {
                let add = [
                    "account", "add", "--name", "Bob \(index)", "--territory", "north", "--address",
                    String(repeating: "b", count: 900),
                ]
                #expect(await cli(add, home: bob).exitCode == 0)
            }
            #expect(await cli(["sync"], home: bob).exitCode == 0)
            try disk.fill(leavingKilobytes: 0)
            let sync = await cli(["sync", "--retries", "0"], home: home)
            #expect(sync.exitCode != 0, "sync on a full disk: \(sync.out)")
            // Progress lines ("sending changes: 4 of 4") come first; the error is one line, the last.
            let errors = sync.err.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("crm-field:") }
            #expect(errors.count == 1, "one error line: \(sync.err)")
            let syncLine = String(errors.last ?? "")
            #expect(syncLine.contains("disk is full"), "\(syncLine)")

            // Space freed: the write works, sync sends everything, the replica is sound.
            try disk.free()
            #expect(
                await cli(["account", "add", "--name", "After GmbH", "--territory", "north"], home: home).exitCode == 0
            )
            #expect(await cli(["sync"], home: home).exitCode == 0)
            #expect(await cli(["status", "--json"], home: home).object["pending"] as? Int == 0)
            let names = Set(
                await cli(["account", "list", "--json"], home: home).array.compactMap { $0["name"] as? String }
            )
            #expect(names.contains("Before GmbH") && names.contains("After GmbH"))
            #expect(names.filter { $0.hasPrefix("Full ") }.count == written, "\(names.count) accounts")
            #expect(
                names.filter { $0.hasPrefix("Bob ") }.count == 30,
                "bob's accounts arrived after the space was freed"
            )
            let replica = try Replica(path: home + "/replica.sqlite")
            #expect(try await replica.integrityCheck() == "ok")
            try replica.close()
        }
    }
}
