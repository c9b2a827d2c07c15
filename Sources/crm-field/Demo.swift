import ArgumentParser
import Foundation
import Hummingbird
import Logging
import ReplicaStore
import SyncProtocol
import SyncServer

/// `crm-field demo`: a sync server on an embedded SQLite database in a temporary folder, two reps of one territory
/// with a laptop each, offline edits that collide in every way the merge rules care about, a sync, and what each
/// laptop shows before and after. Everything runs through the real CLI commands, the real HTTP server on 127.0.0.1
/// and real SQLite files; the folder is removed at the end.
struct Demo: FieldCommand {
    static let configuration = CommandConfiguration(
        abstract: "See it work: two reps edit the same customer offline, sell the same product, and sync.",
        discussion: "Example: crm-field demo (--keep leaves the server and both laptops' folders to explore)"
    )
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Keep the temporary folder (server database and both laptops) instead of removing it.") var keep = false

    func execute(_ context: FieldContext) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "crm-field-demo-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { if !keep { try? FileManager.default.removeItem(at: folder) } }

        let storage = try SQLiteChangeStorage(path: folder.appendingPathComponent("crm-sync.sqlite").path)
        let sample = try await DemoData.load(into: storage)
        let port = PortBox()
        let app = try buildApplication(
            configuration: ServerConfiguration(host: "127.0.0.1", port: 0),
            storage: storage,
            logger: Logger(label: "crm-field.demo", factory: { _ in SwiftLogNoOpLogHandler() }),
            onServerRunning: { port.set($0) }
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService(gracefulShutdownSignals: []) }
            defer { group.cancelAll() }
            let server = "http://127.0.0.1:\(try await port.wait())"
            let story = DemoStory(
                context: context,
                folder: folder,
                server: server,
                sample: sample
            )
            try await story.tell()
        }
        if keep {
            context.print("")
            context.print("Kept \(folder.path). Look around, e.g.:")
            context.print("  crm-field history \(sample.account) --home \(folder.appendingPathComponent("alice").path)")
        }
    }

    /// The port the server bound (port 0 picks a free one).
    final class PortBox: @unchecked Sendable {
        private let lock = NSLock()
        private var port: Int?

        func set(_ value: Int) { lock.withLock { port = value } }

        func wait() async throws -> Int {
            for _ in 0..<500 {
                if let port = lock.withLock({ port }) { return port }
                try await Task.sleep(for: .milliseconds(10))
            }
            throw CLIError("demo_failed", "the demo server did not start within 5 seconds")
        }
    }
}

/// What IT loads before the reps start: users, customers, the catalog and stock.
struct DemoData {
    var aliceToken: String
    var bobToken: String
    var account: String
    var part = "P-100"

    static func load(into storage: SQLiteChangeStorage) async throws -> DemoData {
        let alice = Tokens.generate()
        let bob = Tokens.generate()
        try await storage.addUser(User(name: "alice", role: .rep, territories: ["north"]), tokenHash: alice.hash)
        try await storage.addUser(User(name: "bob", role: .rep, territories: ["north"]), tokenHash: bob.hash)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let account = RecordIDGenerator.ulid()
        let csv: [(ImportKind, String)] = [
            (
                .products,
                """
                part_number,name,unit,price_list,price_dealer,price_promo,currency,active
                P-100,Circulation pump CP-100,pcs,19900,15900,,EUR,true
                V-20,Ball valve DN20,pcs,2450,1990,1790,EUR,true
                """
            ),
            (
                .stock,
                """
                part_number,warehouse,quantity
                P-100,berlin,20
                V-20,berlin,140
                """
            ),
            (
                .accounts,
                """
                id,name,kind,industry,region,status,phone,territory,owner
                \(account),Müller Haustechnik GmbH,customer,Plumbing,Berlin,active,+49 30 1234 567,north,alice
                ,Schmidt Bau AG,prospect,Construction,Potsdam,active,+49 331 987 65,north,bob
                """
            ),
        ]
        for (kind, text) in csv {
            let report = try await SyncService(storage: storage).importCSV(
                kind,
                data: Data(text.utf8),
                actor: "demo",
                now: now
            )
            guard report.rejected.isEmpty else {
                throw CLIError("demo_failed", "demo data rejected: \(report.lines.joined(separator: "; "))")
            }
        }
        return DemoData(aliceToken: alice.token, bobToken: bob.token, account: account)
    }
}

/// The story, told through the CLI's own commands.
struct DemoStory {
    let context: FieldContext
    let folder: URL
    let server: String
    let sample: DemoData

    private func home(_ rep: String) -> String { folder.appendingPathComponent(rep).path }

    /// Runs one `crm-field` command for `rep` and returns what it printed.
    @discardableResult
    private func run(_ rep: String, _ arguments: [String], show: Bool = false) async throws -> String {
        let console = Console(capturing: true)
        do {
            try await CRMField.run(arguments + ["--home", home(rep)], console: console)
        } catch {
            throw CLIError(
                "demo_failed",
                "crm-field \(arguments.joined(separator: " ")) failed for \(rep): "
                    + console.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
            )
        }
        if show {
            let shown = arguments.map { $0.contains(" ") ? "\"\($0)\"" : $0 }.joined(separator: " ")
            context.print("  \(rep.padding(toLength: 5, withPad: " ", startingAt: 0)) $ crm-field \(shown)")
        }
        return console.standardOutput
    }

    private func json(_ rep: String, _ arguments: [String]) async throws -> Any {
        let text = try await run(rep, arguments + ["--json"])
        return try JSONSerialization.jsonObject(with: Data(text.utf8))
    }

    private func say(_ text: String = "") { context.print(text) }

    private func indent(_ text: String, by prefix: String = "    ") -> String {
        text.trimmingCharacters(in: .newlines).split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.isEmpty ? "" : prefix + $0 }.joined(separator: "\n")
    }

    func tell() async throws {
        let account = sample.account
        say("crm-field demo: two field reps, one customer, no network in between.")
        say("")
        say("1. IT starts a sync server on an embedded SQLite database (\(server), \(folder.path))")
        say("   with reps alice and bob, both of territory north, two customers, a catalog and stock.")
        try await run("alice", ["init", "--server", server, "--token", sample.aliceToken])
        try await run("bob", ["init", "--server", server, "--token", sample.bobToken])
        say("2. Each rep sets up a laptop (crm-field init) and downloads the territory. alice adds a task:")
        let task = try await json(
            "alice",
            ["task", "add", "--account", account, "--title", "Send the quote", "--due-at", "tomorrow"]
        )
        let taskID = (task as? [String: Any])?["id"] as? String ?? ""
        try await run("alice", ["sync"])
        try await run("bob", ["sync"])
        say("")
        say("   Before, both laptops show:")
        try await showState(of: "bob", taskID: taskID)

        say("")
        say("3. The network is gone. Each rep works on their own laptop:")
        try await run("alice", ["account", "edit", account, "--phone", "+49 30 1234 000"], show: true)
        try await run(
            "bob",
            ["account", "edit", account, "--website", "https://mueller-haustechnik.example"],
            show: true
        )
        try await run("alice", ["account", "edit", account, "--industry", "Heating"], show: true)
        try await run("bob", ["account", "edit", account, "--industry", "Plumbing and heating"], show: true)
        try await run("alice", ["stock", "sell", sample.part, "3", "--account", account], show: true)
        try await run("bob", ["stock", "sell", sample.part, "3", "--account", account], show: true)
        try await run(
            "alice",
            ["log", "--account", account, "--kind", "call", "--subject", "Asked for the CP-100 price"],
            show: true
        )
        try await run(
            "bob",
            ["log", "--account", account, "--kind", "call", "--subject", "Confirmed the delivery date"],
            show: true
        )
        try await run("alice", ["task", "done", taskID], show: true)
        try await run("bob", ["task", "edit", taskID, "--title", "Send the revised quote"], show: true)

        say("")
        say("4. Back online, both sync (alice, bob, then alice again to receive bob's changes):")
        for rep in ["alice", "bob", "alice"] {
            let summary = try await json(rep, ["sync"]) as? [String: Any] ?? [:]
            say(
                "  \(rep.padding(toLength: 5, withPad: " ", startingAt: 0)) sent \(summary["sent"] ?? 0), "
                    + "received \(summary["received"] ?? 0), "
                    + "new conflicts \((summary["conflicts"] as? [Any])?.count ?? 0), "
                    + "rejected \((summary["rejected"] as? [Any])?.count ?? 0)"
            )
        }

        say("")
        say("5. After the sync, alice's laptop shows:")
        try await showState(of: "alice", taskID: taskID)
        say("")
        say("   The kept conflict (the same field, edited on both laptops; nothing is thrown away):")
        say(indent(try await run("alice", ["conflict", "list"])))
        // The JSON the CLI prints has sorted keys, so equal states print equal text.
        var same = true
        for arguments in [
            ["history", account, "--json"], ["stock", "show", sample.part, "--json"], ["conflict", "list", "--json"],
        ] {
            let aliceView = try await run("alice", arguments)
            let bobView = try await run("bob", arguments)
            same = same && aliceView == bobView
        }
        say("")
        say(
            "   bob's laptop shows exactly the same customer, history and stock: "
                + (same ? "yes" : "NO (this is a bug)")
        )
        say("")
        say("What happened: different fields both survived (phone from alice, website from bob); the same field")
        say("resolved the same way on both laptops and the other value is kept for review; both sales came off the")
        say("stock (20 - 3 - 3 = 14); both calls are in the history; the task is done and has bob's new title.")
        if !same { throw CLIError("demo_failed", "the two laptops disagree after the sync") }
    }

    private func showState(of rep: String, taskID: String) async throws {
        let account = sample.account
        let history = try await json(rep, ["history", account]) as? [String: Any] ?? [:]
        let card = history["account"] as? [String: Any] ?? [:]
        for field in ["name", "phone", "website", "industry"] {
            say("    \(field.padding(toLength: 12, withPad: " ", startingAt: 0)) \(card[field] as? String ?? "")")
        }
        let stock = try await json(rep, ["stock", "show", sample.part]) as? [[String: Any]] ?? []
        for row in stock {
            say(
                "    \("stock".padding(toLength: 12, withPad: " ", startingAt: 0)) \(sample.part) in \(row["warehouse"] ?? ""): \(row["quantity"] ?? "")"
            )
        }
        let task = try await json(rep, ["task", "list", "--all"]) as? [[String: Any]] ?? []
        for item in task where item["id"] as? String == taskID {
            say(
                "    \("task".padding(toLength: 12, withPad: " ", startingAt: 0)) \"\(item["title"] ?? "")\", \(item["status"] ?? "")"
            )
        }
        let interactions = history["interactions"] as? [[String: Any]] ?? []
        say(
            "    \("history".padding(toLength: 12, withPad: " ", startingAt: 0)) \(interactions.count) interactions, newest first:"
        )
        for item in interactions {
            let when = (item["occurred_at"] as? String).map(Render.localTime) ?? ""
            say("      \(when)  \(item["kind"] ?? "")  \(item["subject"] ?? "")  (\(item["author"] ?? ""))")
        }
    }
}
