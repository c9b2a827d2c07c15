import Foundation
import GRDBSQLite
import ReplicaStore
import SyncProtocol
import SyncTestSupport
import Testing

@testable import crm_field

/// `crm-field sync` as a real child process, killed with SIGKILL at random moments while it pushes and pulls.
/// Afterwards one more sync must leave the exact state: every change on the server once, the outbox empty,
/// counters exact on every laptop.
@Suite("crm-field sync killed", .serialized)
struct SyncKillTests {
    static let kills = Int(ProcessInfo.processInfo.environment["CRM_SYNC_KILLS"] ?? "") ?? 20

    static var binary: URL { builtExecutable("crm-field") }

    /// Starts `crm-field sync`, kills it after `delay` ms; true when the kill landed before it finished. The
    /// blocking waits run on a Dispatch thread, away from the cooperative pool the in-process server needs.
    static func syncAndKill(home: String, delay: Int) async throws -> Bool {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(
                    with: Result {
                        let child = Process()
                        child.executableURL = binary
                        child.arguments = ["sync", "--home", home, "--retries", "0"]
                        child.standardOutput = FileHandle.nullDevice
                        child.standardError = FileHandle.nullDevice
                        try child.run()
                        usleep(useconds_t(delay * 1000))
                        kill(child.processIdentifier, SIGKILL)
                        child.waitUntilExit()
                        return child.terminationReason == .uncaughtSignal
                    }
                )
            }
        }
    }

    @Test("sync killed at random points at least 20 times: nothing lost, nothing applied twice")
    func killedSyncs() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary.path), "build crm-field: swift build")
        try await CLIServer.with { server in
            try await server.loadSample()
            let alice = try await server.laptop(try await server.addRep("alice"))
            let bob = try await server.laptop(try await server.addRep("bob"))
            var landed = 0
            var rounds = 0
            var generator = SystemRandomNumberGenerator()
            while landed < Self.kills && rounds < Self.kills * 4 {
                // Offline work on alice's laptop: interactions and sales, in one go.
                let replica = try Replica(path: alice + "/replica.sqlite")
                var edits: [Replica.Edit] = []
                for index in 0..<290 {
                    edits.append(
                        Replica.Edit(
                            .activity,
                            id: RecordID("act-\(rounds)-\(index)"),
                            .append([
                                "account_id": .string("acc-mueller"), "kind": .string("note"),
                                "subject": .string("round \(rounds) note \(index)"),
                                "occurred_at": .string("2026-11-23T10:00:00Z"), "author": .string("alice"),
                            ])
                        )
                    )
                }
                for _ in 0..<10 {
                    edits.append(
                        Replica.Edit(
                            .stock,
                            id: RecordID.stock(partNumber: "P-100", warehouse: "berlin"),
                            .counterDelta(-1)
                        )
                    )
                }
                try await replica.writeBatch(edits)
                try replica.close()
                // Bob's laptop also changes things alice must pull.
                #expect(await cli(["stock", "sell", "V-20", "1", "--warehouse", "berlin"], home: bob).exitCode == 0)
                #expect(await cli(["sync"], home: bob).exitCode == 0)

                if try await Self.syncAndKill(home: alice, delay: Int.random(in: 20...400, using: &generator)) {
                    landed += 1
                }
                rounds += 1
            }
            #expect(landed >= Self.kills, "only \(landed) kills landed in \(rounds) rounds")

            let final = await cli(["sync", "--json"], home: alice)
            #expect(final.exitCode == 0, "\(final.err)")
            #expect((final.object["rejected"] as? [Any])?.isEmpty == true, "\(final.out)")
            #expect(await cli(["status", "--json"], home: alice).object["pending"] as? Int == 0)
            #expect(await cli(["sync"], home: bob).exitCode == 0)
            for home in [alice, bob] {
                let pump = await cli(["stock", "show", "P-100", "--json"], home: home).array.first?["quantity"] as? Int
                #expect(pump == 20 - 10 * rounds, "every sale once, exactly")
                let valve =
                    await cli(["stock", "show", "V-20", "--json"], home: home).array
                    .first { $0["warehouse"] as? String == "berlin" }?["quantity"] as? Int
                #expect(valve == 140 - rounds)
                let history = await cli(["history", "acc-mueller", "--json"], home: home).object
                let subjects = (history["interactions"] as? [[String: Any]] ?? []).compactMap {
                    $0["subject"] as? String
                }
                #expect(subjects.count == 290 * rounds, "every interaction exactly once")
                #expect(Set(subjects).count == subjects.count)
            }
            let replica = try Replica(path: alice + "/replica.sqlite")
            #expect(try await replica.integrityCheck() == "ok")
            try replica.close()
        }
    }
}

/// A first download (`crm-field init`) killed part-way: the next sync carries on after the last page installed,
/// so nothing is fetched twice but the page in flight, and the laptop ends with every record once.
@Suite("crm-field init killed mid-download", .serialized)
struct DownloadKillTests {
    @Test("init killed after a snapshot page: sync resumes after it and installs each record once")
    func killedDownload() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: SyncKillTests.binary.path), "build crm-field")
        try await CLIServer.with { server in
            try await server.loadSample()
            let alice = try await server.laptop(try await server.addRep("alice"))
            let replica = try Replica(path: alice + "/replica.sqlite")
            // 16,000 interactions: four snapshot pages of 5,000 (with the sample's records).
            try await replica.writeBatch(
                (0..<16_000).map { index in
                    Replica.Edit(
                        .activity,
                        id: RecordID("act-\(index)"),
                        .append([
                            "account_id": .string("acc-mueller"), "kind": .string("note"),
                            "subject": .string("note \(index)"), "occurred_at": .string("2026-11-23T10:00:00Z"),
                            "author": .string("alice"),
                        ])
                    )
                }
            )
            try replica.close()
            #expect(await cli(["sync"], home: alice).exitCode == 0)
            let expected = try await Self.recordCount(alice)

            let token = try await server.addRep("dora")
            let home = server.folder.appendingPathComponent("dora").path
            let installed = try await Self.initAndKillAfterFirstPage(home: home, server: server.url, token: token)
            #expect(installed > 0 && installed < expected, "the kill landed mid-download (\(installed) installed)")

            let resumed = await cli(["sync", "--json"], home: home)
            #expect(resumed.exitCode == 0, "\(resumed.err)")
            #expect(resumed.object["resumed_download"] as? Int == installed)
            // Only what the kill left out is installed now: no page before it came again.
            #expect(resumed.object["downloaded"] as? Int == expected - installed)
            #expect(try await Self.recordCount(home) == expected)
            let laptop = try Replica(path: home + "/replica.sqlite")
            var subjects: [String] = []
            try await laptop.forEachRecord(.activity) { page in
                subjects += page.compactMap { $0["subject"]?.stringValue }.filter { $0.hasPrefix("note ") }
            }
            try laptop.close()
            #expect(subjects.count == 16_000 && Set(subjects).count == 16_000)
        }
    }

    static func recordCount(_ home: String) async throws -> Int {
        let replica = try Replica(path: home + "/replica.sqlite")
        defer { try? replica.close() }
        return try await replica.recordCounts().values.reduce(0, +)
    }

    /// Runs `crm-field init` as a child process and kills it with SIGKILL once a snapshot page is installed;
    /// returns the records installed by then.
    static func initAndKillAfterFirstPage(home: String, server: String, token: String) async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(
                    with: Result {
                        let child = Process()
                        child.executableURL = SyncKillTests.binary
                        child.arguments = ["init", "--server", server, "--token", token, "--home", home]
                        child.standardOutput = FileHandle.nullDevice
                        child.standardError = FileHandle.nullDevice
                        try child.run()
                        let file = home + "/replica.sqlite"
                        var installed = 0
                        for _ in 0..<3_000 where child.isRunning {
                            usleep(5_000)
                            guard FileManager.default.fileExists(atPath: file),
                                let progress = try? Self.progress(file), progress > 0
                            else { continue }
                            kill(child.processIdentifier, SIGKILL)
                            installed = progress
                            break
                        }
                        child.waitUntilExit()
                        // The page being installed at the kill may have committed too: read what the file holds.
                        return (try? Self.progress(file)) ?? installed
                    }
                )
            }
        }
    }

    static func progress(_ file: String) throws -> Int {
        var db: OpaquePointer?
        guard sqlite3_open_v2(file, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK else { return 0 }
        defer { sqlite3_close(db) }
        var statement: OpaquePointer?
        guard
            sqlite3_prepare_v2(
                db,
                "SELECT value FROM sync_state WHERE key = 'snapshot_installed'",
                -1,
                &statement,
                nil
            ) == SQLITE_OK
        else { return 0 }
        defer { sqlite3_finalize(statement) }
        guard sqlite3_step(statement) == SQLITE_ROW, let text = sqlite3_column_text(statement, 0) else { return 0 }
        return Int(String(cString: text)) ?? 0
    }
}
