import Foundation
import SyncClient
import SyncServer
import SyncTestSupport
import Testing

@testable import crm_field

/// The operations of a real deployment, as IT and the reps perform them: `crm-sync-server` child processes (served,
/// stopped, backed up, restored) and laptops through `crm-field`, on SQLite and on PostgreSQL.
@Suite("Deployment operations", .serialized)
struct DeploymentStoryTests {
    @Test(
        "IT's settings file: serve and the admin commands read it, a flag overrides it, a wrong line is refused with its line"
    )
    func settingsFile() async throws {
        let it = try ITServer(.sqlite)
        defer { it.cleanUp() }
        let port = try ServerProcess.freePort()
        let conf = it.folder.appendingPathComponent("server.conf").path
        try """
        # /etc/crm-sync/server.conf as the package installs it, here in a test folder
        db = \(it.folder.appendingPathComponent("from-the-file.sqlite").path)
        port = \(port)   # its own port
        max-document-mb = 1

        """.write(toFile: conf, atomically: true, encoding: .utf8)
        let added = try it.run(["user", "add", "alice", "--role", "rep", "--config", conf])
        #expect(added.status == 0, "\(added.output)")
        #expect(FileManager.default.fileExists(atPath: it.folder.appendingPathComponent("from-the-file.sqlite").path))
        // `serve --config FILE` alone: the database and the port come from the file; then a flag overrides the port.
        let other = try ServerProcess.freePort()
        for (arguments, expected) in [
            (["serve", "--config", conf], port), (["serve", "--config", conf, "--port", "\(other)"], other),
        ] {
            let process = Process()
            process.executableURL = builtExecutable("crm-sync-server")
            process.arguments = arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            defer {
                process.interrupt()
                process.waitUntilExit()
            }
            let transport = try HTTPSyncTransport(server: "http://127.0.0.1:\(expected)", token: "none")
            var healthy = false
            for _ in 0..<100 where !healthy {
                healthy = (try? await transport.send("GET", "/healthz"))?.status == 200
                if !healthy { try await Task.sleep(for: .milliseconds(50)) }
            }
            try? await transport.shutdown()
            #expect(healthy, "serve \(arguments) listens on \(expected)")
        }
        let listed = try it.run(["user", "list", "--config", conf])
        #expect(listed.output.contains("alice"), "\(listed.output)")
        try "prot = 1\n".write(toFile: conf, atomically: true, encoding: .utf8)
        let wrong = try it.run(["serve", "--config", conf])
        #expect(wrong.status != 0 && wrong.output.contains("server.conf:1: no setting 'prot'"), "\(wrong.output)")
    }

    @Test("both executables say their release with --version, and a laptop learns the server's from the handshake")
    func versions() async throws {
        let it = try ITServer(.sqlite)
        defer { it.cleanUp() }
        let server = try it.run(["--version"])
        #expect(
            server.status == 0 && server.output.trimmingCharacters(in: .whitespacesAndNewlines) == ServerVersion.current
        )
        let field = try ITServer.run(builtExecutable("crm-field"), ["--version"])
        #expect(
            field.status == 0 && field.output.trimmingCharacters(in: .whitespacesAndNewlines) == ServerVersion.current
        )
        let alice = try it.addRep("alice")
        try it.importAccounts()
        let process = try await it.serve()
        defer { process.stop() }
        let home = it.folder.appendingPathComponent("laptop").path
        let set = await cli(["init", "--server", process.url, "--token", alice, "--json"], home: home)
        #expect(set.object["server_version"] as? String == ServerVersion.current, "\(set.out)")
    }

    @Test(
        "IT restores the server from a backup: both laptops re-send what it lost, a new laptop gets the union",
        arguments: ITServer.Backend.available
    )
    func serverRestore(backend: ITServer.Backend) async throws {
        let it = try ITServer(backend)
        defer { it.cleanUp() }
        let alice = try it.addRep("alice")
        let bob = try it.addRep("bob")
        let dave = try it.addRep("dave")
        try it.importAccounts()
        var server = try await it.serve()
        // On PostgreSQL, Bob's laptop syncs with a second server process on the same database.
        let secondPort = try ServerProcess.freePort()
        var second = backend == .postgresql ? try await it.serve(port: secondPort) : nil
        let aliceHome = try await it.laptop(alice, server: server)
        let bobHome = try await it.laptop(bob, server: second ?? server)
        _ = await cli(["account", "edit", "acc-mueller", "--phone", "+49 30 1"], home: aliceHome)
        _ = await cli(
            ["log", "--account", "acc-mueller", "--kind", "call", "--subject", "before the backup"],
            home: aliceHome
        )
        #expect(await cli(["sync"], home: aliceHome).exitCode == 0)
        #expect(await cli(["sync"], home: bobHome).exitCode == 0)

        let backup = try it.backup()

        // A day's work after the backup, on both laptops; each has pulled the other's.
        _ = await cli(["account", "edit", "acc-mueller", "--email", "after@mueller.example"], home: aliceHome)
        _ = await cli(
            ["log", "--account", "acc-mueller", "--kind", "visit", "--subject", "after the backup"],
            home: aliceHome
        )
        #expect(await cli(["sync"], home: aliceHome).exitCode == 0)
        _ = await cli(["account", "edit", "acc-schmidt", "--website", "schmidt.example"], home: bobHome)
        #expect(await cli(["sync"], home: bobHome).exitCode == 0)
        // IT's own writes after the backup: an import of a new customer and a territory move.
        try it.importNewCustomer()
        try it.admin(["territory", "assign", "acc-south", "north"])
        #expect(await cli(["sync"], home: aliceHome).exitCode == 0)
        // Bob edits the customer Alice changed after the backup: his change's context names her lost change.
        _ = await cli(["account", "edit", "acc-mueller", "--region", "Brandenburg"], home: bobHome)
        #expect(await cli(["sync"], home: bobHome).exitCode == 0)
        #expect(await cli(["sync"], home: aliceHome).exitCode == 0)

        server.stop()
        second?.stop()
        let restored = try it.restore(backup)
        #expect(restored.contains("the log is now"), "\(restored)")
        // The restore is in the audit log (the restored database's, whose chain still holds).
        #expect(try it.admin(["audit"]).contains("\trestore\t"))
        #expect(try it.admin(["audit", "verify"]).hasPrefix("the audit log is intact"))
        // IT repeats what it did after the backup (PROTOCOL.md, "What a restore loses"): the server's new changes
        // take counters above the restore's floor, so laptops that hold the lost ones do not take them for those.
        // First something new, which would otherwise get the counter of the lost import.
        try it.importNewCustomer("acc-other", name: "Andere Kunde AG")
        try it.importNewCustomer()
        try it.admin(["territory", "assign", "acc-south", "north"])
        server = try await it.serve()
        if second != nil { second = try await it.serve(port: secondPort) }

        // Each laptop syncs again, twice: no push loops, no error, nothing left over.
        // Bob first: his re-sent edit names Alice's change the server has not got back yet.
        for home in [bobHome, aliceHome, bobHome, aliceHome] {
            let run = await cli(["sync", "--json"], home: home)
            #expect(run.exitCode == 0, "\(run.err)")
        }
        let daveHome = try await it.laptop(dave, server: server)
        for home in [aliceHome, bobHome, daveHome] {
            let mueller = await cli(["account", "show", "acc-mueller", "--json"], home: home)
            #expect(mueller.object["phone"] as? String == "+49 30 1", "\(home)")
            #expect(mueller.object["email"] as? String == "after@mueller.example", "\(home): \(mueller.out)")
            #expect(mueller.object["region"] as? String == "Brandenburg", "\(home): \(mueller.out)")
            let imported = await cli(["account", "show", "acc-new", "--json"], home: home)
            #expect(imported.object["name"] as? String == "Neu Kunde GmbH", "\(home): \(imported.out)")
            let other = await cli(["account", "show", "acc-other", "--json"], home: home)
            #expect(other.object["name"] as? String == "Andere Kunde AG", "\(home): \(other.out)")
            let moved = await cli(["account", "show", "acc-south", "--json"], home: home)
            #expect(moved.object["territory"] as? String == "north", "\(home): \(moved.out)")
            let schmidt = await cli(["account", "show", "acc-schmidt", "--json"], home: home)
            #expect(schmidt.object["website"] as? String == "schmidt.example", "\(home): \(schmidt.out)")
            let status = await cli(["status", "--json"], home: home)
            #expect(status.object["pending"] as? Int == 0, "\(home): \(status.out)")
            #expect((status.object["rejected"] as? [[String: Any]])?.isEmpty == true, "\(home): \(status.out)")
        }
        for home in [aliceHome, bobHome] {
            let history = await cli(["history", "acc-mueller"], home: home)
            #expect(history.out.contains("after the backup"), "\(home): \(history.out)")
            #expect(history.out.contains("before the backup"), "\(home): \(history.out)")
        }
        // IT sees that both laptops have synced since the restore.
        let stats =
            try JSONSerialization.jsonObject(with: Data(try it.admin(["stats", "--json"]).utf8)) as? [String: Any]
        let replicas = stats?["replicas"] as? [[String: Any]] ?? []
        let synced = replicas.filter { $0["synced_since_restore"] as? Bool == true }.compactMap {
            $0["user"] as? String
        }
        #expect(Set(synced).isSuperset(of: ["alice", "bob"]), "\(replicas)")
        #expect((stats?["last_restore"] as? [String: Any])?["through"] != nil, "\(stats ?? [:])")
        server.stop()
        second?.stop()
    }

    @Test(
        "IT moves an account while its old rep works offline: the visit, the task and the edit reach the new rep",
        arguments: ITServer.Backend.available
    )
    func territoryHandOff(backend: ITServer.Backend) async throws {
        let it = try ITServer(backend)
        defer { it.cleanUp() }
        let alice = try it.addRep("alice")
        let erin = try it.addRep("erin", territory: "south")
        try it.importAccounts()
        let server = try await it.serve()
        defer { server.stop() }
        let aliceHome = try await it.laptop(alice, server: server)
        let erinHome = try await it.laptop(erin, server: server)
        // Alice, offline at the customer's: a visit, a follow-up task, a new phone number.
        _ = await cli(
            ["log", "--account", "acc-mueller", "--kind", "visit", "--subject", "visit before the move"],
            home: aliceHome
        )
        _ = await cli(["task", "add", "--account", "acc-mueller", "--title", "follow up the visit"], home: aliceHome)
        _ = await cli(["account", "edit", "acc-mueller", "--phone", "+49 30 777"], home: aliceHome)
        // Meanwhile IT gives the customer to the south territory.
        try it.admin(["territory", "assign", "acc-mueller", "south"])
        let run = await cli(["sync", "--json"], home: aliceHome)
        #expect(run.exitCode == 0, "\(run.err)")
        #expect(run.object["handed_off"] as? Int == 3, "\(run.out)")
        #expect((run.object["rejected"] as? [[String: Any]])?.isEmpty == true, "\(run.out)")
        // The old laptop drops the account; the new rep has all three.
        #expect(await cli(["account", "show", "acc-mueller", "--json"], home: aliceHome).exitCode != 0)
        #expect(await cli(["sync"], home: erinHome).exitCode == 0)
        let shown = await cli(["account", "show", "acc-mueller", "--json"], home: erinHome)
        #expect(shown.object["phone"] as? String == "+49 30 777", "\(shown.out)")
        let history = await cli(["history", "acc-mueller"], home: erinHome)
        #expect(history.out.contains("visit before the move"), "\(history.out)")
        let tasks = await cli(["task", "list", "--all", "--json"], home: erinHome)
        #expect(tasks.out.contains("follow up the visit"), "\(tasks.out)")
        let status = await cli(["status", "--json"], home: aliceHome)
        #expect(status.object["pending"] as? Int == 0, "\(status.out)")
    }

    @Test("past the hand-off period an edit to a moved account is refused and stays visible on the old laptop")
    func handOffTooLate() async throws {
        let it = try ITServer(.sqlite)
        defer { it.cleanUp() }
        let alice = try it.addRep("alice")
        try it.importAccounts()
        let server = try await it.serve(["--hand-off-grace-days", "0"])
        defer { server.stop() }
        let home = try await it.laptop(alice, server: server)
        _ = await cli(["account", "edit", "acc-mueller", "--phone", "+49 30 778"], home: home)
        try it.admin(["territory", "assign", "acc-mueller", "south"])
        try await Task.sleep(for: .milliseconds(20))
        let run = await cli(["sync", "--json"], home: home)
        #expect(run.exitCode == 0, "\(run.err)")
        let rejected = run.object["rejected"] as? [[String: Any]] ?? []
        #expect(rejected.map { $0["code"] as? String } == ["out_of_scope"], "\(run.out)")
        #expect((rejected.first?["reason"] as? String)?.contains("hand-off period") == true, "\(run.out)")
        let status = await cli(["status", "--json"], home: home)
        #expect((status.object["rejected"] as? [[String: Any]])?.count == 1, "\(status.out)")
    }

    @Test(
        "a rep's laptop folder copied to a second laptop: edit on both, sync both, repeat; every edit everywhere",
        arguments: ITServer.Backend.available
    )
    func copiedLaptop(backend: ITServer.Backend) async throws {
        let it = try ITServer(backend)
        defer { it.cleanUp() }
        let alice = try it.addRep("alice")
        let bob = try it.addRep("bob")
        try it.importAccounts()
        let server = try await it.serve()
        defer { server.stop() }
        let original = try await it.laptop(alice, server: server)
        let bobHome = try await it.laptop(bob, server: server)
        _ = await cli(["account", "edit", "acc-mueller", "--phone", "+49 30 1"], home: original)
        #expect(await cli(["sync"], home: original).exitCode == 0)
        let copy = it.folder.appendingPathComponent("copied-home").path
        try FileManager.default.copyItem(atPath: original, toPath: copy)
        var subjects: [String] = []
        for round in 0..<3 {
            for (name, home) in [("original", original), ("copy", copy)] {
                let subject = "\(name) round \(round)"
                subjects.append(subject)
                _ = await cli(["log", "--account", "acc-mueller", "--kind", "call", "--subject", subject], home: home)
                _ = await cli(["account", "edit", "acc-schmidt", "--region", subject], home: home)
            }
            for home in [copy, original] {
                let run = await cli(["sync"], home: home)
                #expect(run.exitCode == 0, "\(run.err)")
            }
        }
        for home in [original, copy, bobHome, original, copy] { _ = await cli(["sync"], home: home) }
        var regions: Set<String> = []
        for home in [original, copy, bobHome] {
            let history = await cli(["history", "acc-mueller"], home: home)
            for subject in subjects { #expect(history.out.contains(subject), "\(home) lacks \(subject)") }
            let status = await cli(["status", "--json"], home: home)
            #expect(status.object["pending"] as? Int == 0, "\(status.out)")
            #expect((status.object["rejected"] as? [[String: Any]])?.isEmpty == true, "\(status.out)")
            let schmidt = await cli(["account", "show", "acc-schmidt", "--json"], home: home)
            regions.insert(schmidt.object["region"] as? String ?? "")
        }
        #expect(regions.count == 1, "the laptops agree on the last region: \(regions)")
    }

    @Test("a backup copied over the database by hand is refused with a message that names the restore command")
    func handCopiedBackup() async throws {
        let it = try ITServer(.sqlite)
        defer { it.cleanUp() }
        let alice = try it.addRep("alice")
        try it.importAccounts()
        var server = try await it.serve()
        let home = try await it.laptop(alice, server: server)
        let backup = try it.backup()
        _ = await cli(["account", "edit", "acc-mueller", "--phone", "+49 30 9"], home: home)
        #expect(await cli(["sync"], home: home).exitCode == 0)
        server.stop()
        // IT copies yesterday's file over the database instead of running restore.
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: it.database + suffix) }
        try FileManager.default.removeItem(atPath: it.database)
        try FileManager.default.copyItem(atPath: backup, toPath: it.database)
        let refused = try it.run(["serve", "--db", it.database, "--port", "\(try ServerProcess.freePort())"])
        #expect(refused.status != 0)
        #expect(refused.output.contains("crm-sync-server restore --db"), "\(refused.output)")
        // The restore command without a file makes it safe; the laptop then re-sends its edit.
        _ = try it.admin(["restore"])
        server = try await it.serve()
        let resync = await cli(["sync"], home: home)
        #expect(resync.exitCode == 0, "\(resync.err)")
        let fresh = try await it.laptop(alice, server: server)
        let shown = await cli(["account", "show", "acc-mueller", "--json"], home: fresh)
        #expect(shown.object["phone"] as? String == "+49 30 9", "\(shown.out)")
        server.stop()
    }
}

/// IT's side of a deployment: a database (a SQLite file, or a fresh PostgreSQL database when `POSTGRES_URL` is set)
/// and the `crm-sync-server` executable's subcommands on it.
struct ITServer: Sendable {
    enum Backend: String, Sendable, CustomStringConvertible {
        case sqlite, postgresql
        var description: String { rawValue }

        static var available: [Backend] {
            PostgresForTests.runs ? [.sqlite, .postgresql] : [.sqlite]
        }
    }

    let backend: Backend
    let folder: URL
    /// The `--db` value.
    let database: String
    /// The server's port, the same across restarts (the laptops keep its address).
    let port: Int

    init(_ backend: Backend) throws {
        self.backend = backend
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("it-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        port = try ServerProcess.freePort()
        switch backend {
        case .sqlite:
            database = folder.appendingPathComponent("crm-sync.sqlite").path
        case .postgresql:
            let base = try PostgresForTests.requireURL()
            let name = "crm_it_\(UUID().uuidString.prefix(8).lowercased())"
            _ = try Self.shell(["psql", base, "-q", "-c", "CREATE DATABASE \(name)"])
            database = String(base[..<base.lastIndex(of: "/")!]) + "/" + name
        }
    }

    func cleanUp() { try? FileManager.default.removeItem(at: folder) }

    /// Runs `crm-sync-server ARGUMENTS --db DATABASE` and returns what it printed; throws when it fails.
    @discardableResult
    func admin(_ arguments: [String]) throws -> String {
        let result = try run(arguments + ["--db", database])
        guard result.status == 0 else {
            throw ServerProcessError("crm-sync-server \(arguments.joined(separator: " ")) failed: \(result.output)")
        }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs `crm-sync-server ARGUMENTS` (bounded to a minute) and returns its exit status and output.
    func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try Self.run(builtExecutable("crm-sync-server"), arguments)
    }

    func addRep(_ name: String, territory: String = "north") throws -> String {
        try admin(["user", "add", name, "--role", "rep", "--territory", territory])
    }

    /// The accounting export of one new customer (only the new row: a re-import of the whole file would put the
    /// file's values back over the reps' edits, which is issue 15's to change).
    func importNewCustomer(_ id: String = "acc-new", name: String = "Neu Kunde GmbH") throws {
        let file = folder.appendingPathComponent("\(id).csv").path
        try """
        id,name,kind,industry,region,status,phone,territory,owner
        \(id),\(name),prospect,Plumbing,Berlin,active,+49 30 5,north,alice

        """.write(toFile: file, atomically: true, encoding: .utf8)
        try admin(["import", "accounts", file])
    }

    func importAccounts() throws {
        // South is a territory nobody holds yet: IT adds it first (assigning to an unknown one is refused).
        if !(try admin(["territory", "list"])).contains("south") { try admin(["territory", "add", "south"]) }
        // An owner must be a user (an import refuses one who is not): only those this test added.
        let users = try admin(["user", "list"])
        func owner(_ name: String) -> String { users.contains(name + "\t") ? name : "" }
        let file = folder.appendingPathComponent("accounts.csv").path
        try """
        id,name,kind,industry,region,status,phone,territory,owner
        acc-mueller,Müller Haustechnik GmbH,customer,Plumbing,Berlin,active,+49 30 1234 567,north,\(owner("alice"))
        acc-schmidt,Schmidt Bau AG,prospect,Construction,Potsdam,active,+49 331 987 65,north,\(owner("bob"))
        acc-south,Süd Wärme KG,customer,Heating,München,active,+49 89 1,south,

        """.write(toFile: file, atomically: true, encoding: .utf8)
        try admin(["import", "accounts", file])
    }

    func serve(port chosen: Int? = nil, _ arguments: [String] = []) async throws -> ServerProcess {
        let server = try ServerProcess(db: database, folder: folder, port: chosen ?? port, arguments: arguments)
        try await server.waitUntilHealthy()
        return server
    }

    func laptop(_ token: String, server: ServerProcess) async throws -> String {
        let home = folder.appendingPathComponent("laptop-\(UUID().uuidString.prefix(8))").path
        let result = await cli(["init", "--server", server.url, "--token", token], home: home)
        #expect(result.exitCode == 0, "init failed: \(result.err)")
        return home
    }

    /// IT's backup: `crm-sync-server backup` for SQLite, `pg_dump` for PostgreSQL (as `backup` tells IT to).
    func backup() throws -> String {
        let file = folder.appendingPathComponent("backup-\(UUID().uuidString.prefix(6))").path
        switch backend {
        case .sqlite: try admin(["backup", file])
        case .postgresql: _ = try Self.shell(["pg_dump", "-Fc", "-f", file, database])
        }
        return file
    }

    /// IT's restore: `crm-sync-server restore FILE` for SQLite; for PostgreSQL `pg_restore` into the emptied
    /// database, then `crm-sync-server restore` without a file.
    @discardableResult
    func restore(_ file: String) throws -> String {
        switch backend {
        case .sqlite:
            return try admin(["restore", file])
        case .postgresql:
            _ = try Self.shell(["psql", database, "-q", "-c", "DROP SCHEMA public CASCADE; CREATE SCHEMA public"])
            _ = try Self.shell(["pg_restore", "--no-owner", "-d", database, file])
            return try admin(["restore"])
        }
    }

    static func shell(_ arguments: [String]) throws -> String {
        let result = try run(URL(fileURLWithPath: "/usr/bin/env"), arguments)
        guard result.status == 0 else {
            throw ServerProcessError("\(arguments.joined(separator: " ")) failed: \(result.output)")
        }
        return result.output
    }

    static func run(_ executable: URL, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let killer = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: killer)
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        killer.cancel()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
