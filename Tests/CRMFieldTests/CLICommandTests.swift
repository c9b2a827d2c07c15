import Foundation
import ReplicaStore
import SyncClient
import SyncProtocol
import SyncServer
import SyncTestSupport
import Testing

@testable import crm_field

@Suite("crm-field commands")
struct CLICommandTests {
    @Test("every command of PRODUCT.md's table works against the server, for people and with --json")
    func everyCommand() async throws {
        try await CLIServer.with { server in
            try await server.loadSample()
            let home = try await server.laptop(try await server.addRep("alice"))

            let status = await cli(["status", "--json"], home: home).object
            #expect(status["user"] as? String == "alice")
            #expect(status["territories"] as? [String] == ["north"])
            #expect(status["pending"] as? Int == 0)
            #expect(status["last_sync"] is String)
            #expect(await cli(["status"], home: home).out.contains("pending     0 changes to send"))
            #expect(
                CRMField.hoistingGlobalOptions(["--home", "/x", "--json", "status"]) == [
                    "status", "--home", "/x", "--json",
                ]
            )
            #expect(
                CRMField.hoistingGlobalOptions(["account", "edit", "a", "--json"]) == [
                    "account", "edit", "a", "--json",
                ]
            )

            // Accounts: only the territory's.
            let accounts = await cli(["account", "list", "--json"], home: home).array
            #expect(Set(accounts.compactMap { $0["id"] as? String }) == ["acc-mueller", "acc-schmidt"])
            let table = await cli(["account", "list"], home: home).out
            #expect(table.hasPrefix("ID") && table.contains("Müller Haustechnik GmbH"))
            #expect(await cli(["account", "list", "--search", "mull", "--json"], home: home).array.count == 1)
            let added = await cli(
                ["account", "add", "--name", "Neu GmbH", "--phone", "+49 1", "--kind", "prospect", "--json"],
                home: home
            )
            #expect(added.exitCode == 0, "\(added.err)")
            #expect(added.object["territory"] as? String == "north")
            #expect(added.object["owner"] as? String == "alice")
            let newID = try #require(added.object["id"] as? String)
            #expect(await cli(["account", "edit", newID, "--phone", "", "--json"], home: home).object["phone"] == nil)
            #expect(await cli(["account", "show", newID], home: home).out.contains("Neu GmbH"))
            // A rep may not delete an account (PRODUCT.md), even one they made: they set it passive.
            let refused = await cli(["account", "delete", newID, "--yes"], home: home)
            #expect(refused.exitCode == 2 && refused.err.contains("--status passive"), "\(refused.err)")
            #expect(await cli(["account", "show", newID], home: home).exitCode == 0)

            // Contacts, interactions, history.
            let contact = await cli(
                [
                    "contact", "add", "--account", "acc-mueller", "--first-name", "Anna", "--last-name", "Weber",
                    "--role", "decision_maker", "--json",
                ],
                home: home
            ).object
            let contactID = try #require(contact["id"] as? String)
            #expect(
                await cli(["contact", "edit", contactID, "--mobile", "+49 170 1", "--json"], home: home).object[
                    "mobile"
                ] as? String == "+49 170 1"
            )
            #expect(await cli(["contact", "list", "--account", "acc-mueller", "--json"], home: home).array.count == 1)
            #expect(await cli(["contact", "show", contactID], home: home).out.contains("Weber"))
            let logged = await cli(
                [
                    "log", "--account", "acc-mueller", "--kind", "visit", "--subject", "Site visit", "--contact",
                    contactID,
                    "--at", "2026-11-20 10:30", "--json",
                ],
                home: home
            ).object
            #expect(logged["author"] as? String == "alice")
            #expect((logged["occurred_at"] as? String)?.hasSuffix("Z") == true, "stored in UTC")
            let history = await cli(["history", "acc-mueller", "--changes"], home: home)
            #expect(history.out.contains("Site visit") && history.out.contains("Anna Weber"))
            #expect(history.out.contains("Overdue invoices (1)"), "R-1 is unpaid and past due; R-2 is paid")
            #expect(history.out.contains("Changes ("))
            let historyJSON = await cli(["history", "acc-mueller", "--changes", "--json"], home: home).object
            #expect((historyJSON["changes"] as? [Any])?.isEmpty == false)

            // Tasks.
            let task = await cli(
                [
                    "task", "add", "--account", "acc-mueller", "--title", "Call back", "--due-at", "2020-01-01",
                    "--json",
                ],
                home: home
            ).object
            let taskID = try #require(task["id"] as? String)
            #expect(await cli(["task", "list", "--overdue", "--json"], home: home).array.count == 1)
            #expect(
                await cli(["task", "edit", taskID, "--priority", "high", "--json"], home: home).object["priority"]
                    as? String == "high"
            )
            #expect(await cli(["task", "done", taskID, "--json"], home: home).object["status"] as? String == "done")
            #expect(await cli(["task", "list", "--json"], home: home).array.isEmpty)
            #expect(await cli(["task", "reopen", taskID, "--json"], home: home).object["status"] as? String == "open")
            #expect(await cli(["task", "list", "--all", "--json"], home: home).array.count == 1)

            // Deals and the pipeline.
            let deal = await cli(
                [
                    "deal", "add", "--account", "acc-mueller", "--title", "Pumps", "--amount", "1,500.50", "--currency",
                    "eur",
                    "--json",
                ],
                home: home
            ).object
            #expect(deal["amount"] as? Int == 150_050 && deal["currency"] as? String == "EUR")
            let dealID = try #require(deal["id"] as? String)
            #expect(
                await cli(["deal", "stage", dealID, "won", "--json"], home: home).object["stage"] as? String == "won"
            )
            #expect(
                await cli(["deal", "edit", dealID, "--expected-close", "2026-12-31", "--json"], home: home).object[
                    "expected_close"
                ] as? String == "2026-12-31"
            )
            #expect(await cli(["deal", "list", "--stage", "won", "--json"], home: home).array.count == 1)
            let pipeline = await cli(["pipeline"], home: home).out
            #expect(pipeline.contains("won") && pipeline.contains("1,500.50 EUR"))

            // Catalog, stock, invoices.
            #expect(await cli(["product", "search", "P-1", "--json"], home: home).array.count == 1)
            #expect(
                await cli(["product", "search", "ball", "--json"], home: home).array.first?["id"] as? String == "V-20"
            )
            let product = await cli(["product", "show", "V-20"], home: home).out
            #expect(product.contains("24.50 EUR") && product.contains("hamburg"))
            #expect(await cli(["stock", "sell", "V-20", "5"], home: home).exitCode != 0, "two warehouses: name one")
            #expect(
                await cli(["stock", "sell", "V-20", "5", "--warehouse", "hamburg", "--json"], home: home).object[
                    "quantity"
                ] as? Int == 55
            )
            #expect(
                await cli(["stock", "return", "V-20", "2", "--warehouse", "hamburg", "--json"], home: home).object[
                    "quantity"
                ] as? Int == 57
            )
            let oversold = await cli(["stock", "sell", "P-100", "25"], home: home)
            #expect(oversold.exitCode == 0 && oversold.err.contains("oversold"))
            #expect(
                await cli(["stock", "show", "P-100", "--json"], home: home).array.first?["oversold"] as? Bool == true
            )
            #expect(await cli(["invoice", "list", "--json"], home: home).array.count == 2, "not the south's invoice")
            #expect(
                await cli(["invoice", "list", "--overdue", "--json"], home: home).array.map { $0["number"] as? String }
                    == ["R-1"]
            )

            // Everything reaches the server.
            let sync = await cli(["sync", "--json"], home: home)
            #expect(sync.exitCode == 0, "\(sync.err)")
            #expect((sync.object["rejected"] as? [Any])?.isEmpty == true, "\(sync.out)")
            #expect(await cli(["status", "--json"], home: home).object["pending"] as? Int == 0)
            let other = try await server.laptop(try await server.addRep("bob"))
            #expect(
                await cli(["stock", "show", "V-20", "--json"], home: other).array.first {
                    $0["warehouse"] as? String == "hamburg"
                }?["quantity"] as? Int == 57
            )

            // Export.
            let out = server.folder.appendingPathComponent("export").path
            #expect(await cli(["export", "--format", "csv", "--out", out], home: home).exitCode == 0)
            let csv = String(
                decoding: FileManager.default.contents(atPath: out + "/accounts.csv") ?? Data(),
                as: UTF8.self
            )
            #expect(csv.hasPrefix("id,name,kind") && csv.contains("Müller Haustechnik GmbH"))
        }
    }

    @Test("completion scripts for bash, zsh and fish, as README and the package ask for them")
    func completionScripts() async throws {
        for shell in ["bash", "zsh", "fish"] {
            for arguments in [["--generate-completion-script", shell], ["--generate-completion-script=\(shell)"]] {
                let (status, output) = try ITServer.run(SyncTestSupport.builtExecutable("crm-field"), arguments)
                #expect(status == 0 && output.contains("crm-field") && output.contains("document"), "\(arguments)")
            }
        }
    }

    @Test("bad input: one readable line, a non-zero exit, nothing written")
    func badInput() async throws {
        try await CLIServer.with { server in
            try await server.loadSample()
            let home = try await server.laptop(try await server.addRep("alice"))
            let cases: [([String], String)] = [
                (["account", "edit", "no-such-account", "--phone", "1"], "no account no-such-account"),
                (["account", "show", "acc-south"], "no account acc-south"),
                (["account", "add", "--name", "X", "--kind", "friend"], "--kind must be one of"),
                (["account", "add", "--name", "X", "--territory", "south"], "not one of yours"),
                (["contact", "add", "--account", "nope", "--first-name", "A"], "no account nope"),
                (
                    ["contact", "add", "--account", "acc-mueller", "--first-name", "A", "--role", "boss"],
                    "--role must be one of"
                ),
                (
                    ["log", "--account", "acc-mueller", "--kind", "call", "--subject", "x", "--at", "yesterday-ish"],
                    "--at must be a time"
                ),
                (["log", "--account", "acc-mueller", "--kind", "fax", "--subject", "x"], "--kind must be one of"),
                (["task", "add", "--title", "x", "--due-at", "2026-13-45"], "--due-at must be a time"),
                (["task", "done", "no-task"], "no task no-task"),
                (
                    ["deal", "add", "--account", "acc-mueller", "--title", "x", "--amount", "12.345"],
                    "--amount must be an amount"
                ),
                (
                    ["deal", "add", "--account", "acc-mueller", "--title", "x", "--currency", "euro"],
                    "--currency must be a three-letter"
                ),
                (["deal", "stage", "no-deal", "won"], "no deal no-deal"),
                (["deal", "list", "--stage", "closed"], "--stage must be one of"),
                (["stock", "sell", "P-100", "-3"], "quantity"),
                (["stock", "sell", "P-100", "three"], "quantity"),
                (["stock", "sell", "P-100", "0"], "above zero"),
                (["stock", "sell", "NOPE", "1"], "no stock recorded for NOPE"),
                (["stock", "sell", "V-20", "1", "--warehouse", "paris"], "no stock of V-20 in warehouse paris"),
                (["conflict", "resolve", "x/y/z", "--keep"], "no open conflict"),
                (["conflict", "resolve", "x/y/z"], "exactly one of"),
                (["export", "--format", "xml", "--out", "/tmp/x"], "--format must be csv or json"),
                (["account", "edit", "acc-mueller"], "at least one field"),
            ]
            for (arguments, expected) in cases {
                let result = await cli(arguments, home: home)
                #expect(result.exitCode != 0, "\(arguments) should fail")
                let message = result.err.trimmingCharacters(in: .whitespacesAndNewlines)
                #expect(message.contains(expected), "\(arguments): \(message)")
                #expect(
                    !message.isEmpty && (message.split(separator: "\n").count == 1 || message.contains("Usage")),
                    "\(arguments): \(message)"
                )
                // With --json the same refusal is a JSON error on standard output, and nothing on standard error.
                let json = await cli(arguments + ["--json"], home: home)
                #expect(json.exitCode == result.exitCode, "\(arguments) --json: exit \(json.exitCode)")
                #expect(json.failure?.message.contains(expected) == true, "\(arguments) --json: \(json.out)")
                #expect(json.err.isEmpty, "\(arguments) --json wrote to standard error: \(json.err)")
            }
            #expect(await cli(["status", "--json"], home: home).object["pending"] as? Int == 0, "nothing was written")

            // No replica yet; a bad token; a home that belongs to someone else.
            let empty = server.folder.appendingPathComponent("empty").path
            let none = await cli(["account", "list"], home: empty)
            #expect(none.exitCode != 0 && none.err.contains("crm-field init"))
            let badToken = await cli(["init", "--server", server.url, "--token", "crm_wrong"], home: empty)
            #expect(badToken.exitCode != 0 && badToken.err.contains("refused the token"))
            #expect(
                !FileManager.default.fileExists(atPath: empty + "/replica.sqlite"),
                "nothing written on a bad token"
            )
            let bobToken = try await server.addRep("bob")
            let other = await cli(["init", "--server", server.url, "--token", bobToken], home: home)
            #expect(other.exitCode != 0 && other.err.contains("alice"))
        }
    }

    @Test("no network: one line, exit 3, local data and outbox untouched")
    func noNetwork() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("offline-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let home = folder.appendingPathComponent("alice").path
        let saved = LockedBox<(String, String)>()
        try await CLIServer.with { server in
            try await server.loadSample()
            let token = try await server.addRep("alice")
            #expect(await cli(["init", "--server", server.url, "--token", token], home: home).exitCode == 0)
            saved.set((server.url, token))
        }
        // The server is gone.
        #expect(await cli(["account", "edit", "acc-mueller", "--phone", "+49 1"], home: home).exitCode == 0)
        let offline = await cli(["sync", "--retries", "1"], home: home)
        #expect(offline.exitCode == 3)
        #expect(offline.err.contains("cannot reach the server"), "\(offline.err)")
        #expect(offline.err.contains("1 change wait"), "\(offline.err)")
        #expect(offline.err.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count == 1)
        let json = await cli(["sync", "--retries", "0", "--json"], home: home)
        #expect(json.failure?.code == "unreachable")
        #expect(await cli(["status", "--json"], home: home).object["pending"] as? Int == 1)
        #expect(
            await cli(["account", "show", "acc-mueller", "--json"], home: home).object["phone"] as? String == "+49 1"
        )
        _ = saved
    }

    @Test("a territory move hands on the edits made before the laptop learned of it, and removes the account")
    func rejectionsAndMoves() async throws {
        try await CLIServer.with { server in
            try await server.loadSample()
            let home = try await server.laptop(try await server.addRep("alice"))
            #expect(await cli(["account", "edit", "acc-schmidt", "--phone", "+49 2"], home: home).exitCode == 0)
            #expect(
                await cli(["log", "--account", "acc-schmidt", "--kind", "note", "--subject", "kept"], home: home)
                    .exitCode == 0
            )
            // IT moves the account away before the laptop syncs.
            try await SyncService(storage: server.storage).assignTerritory(
                account: RecordID("acc-schmidt"),
                territory: "south",
                now: Int64(Date().timeIntervalSince1970 * 1000)
            )
            let sync = await cli(["sync", "--json"], home: home)
            #expect(sync.exitCode == 0)
            #expect((sync.object["rejected"] as? [[String: Any]])?.isEmpty == true, "\(sync.out)")
            #expect(sync.object["handed_off"] as? Int == 2, "\(sync.out)")
            #expect((sync.object["removed"] as? [Any])?.isEmpty == false)
            let status = await cli(["status", "--json"], home: home).object
            #expect((status["rejected"] as? [Any])?.isEmpty == true)
            #expect(status["pending"] as? Int == 0)
            let moved = try await server.storage.withReadTransaction {
                try await $0.states(after: nil, visibleTo: User(name: "it", role: .admin, territories: []), limit: 100)
            }
            let schmidt = moved.first { $0.id == RecordID("acc-schmidt") }
            #expect(schmidt?.values(schema: CRMSchema.account)["phone"] == "+49 2", "the edit reached the server")
            #expect(await cli(["account", "show", "acc-schmidt"], home: home).exitCode != 0, "left the territory")
        }
    }

    @Test("a laptop clock a year ahead: a warning with the offset, and its changes are refused and kept")
    func clockAhead() async throws {
        try await CLIServer.with { server in
            try await server.loadSample()
            let token = try await server.addRep("alice")
            let home = try await server.laptop(token)
            let yearAhead: Int64 = 365 * 86_400_000
            let replica = try Replica(
                path: home + "/replica.sqlite",
                configuration: ReplicaConfiguration(now: { ReplicaConfiguration.systemNow() + yearAhead })
            )
            try await replica.update(.account, id: RecordID("acc-mueller"), fields: ["phone": .string("+49 9")])
            let transport = try HTTPSyncTransport(server: server.url, token: token)
            let engine = SyncEngine(
                replica: replica,
                transport: transport,
                now: { ReplicaConfiguration.systemNow() + yearAhead }
            )
            let summary = try await engine.sync()
            try await transport.shutdown()
            try replica.close()
            #expect(
                summary.clockWarning?.contains("days ahead of the server") == true,
                "\(summary.clockWarning ?? "none")"
            )
            #expect(summary.rejected.map(\.rejection.code) == [.clockSkew])
            #expect(await cli(["status", "--json"], home: home).object["rejected"].map { ($0 as? [Any])?.count } == 1)
        }
    }
}

final class LockedBox<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value?
    func set(_ new: Value) { lock.withLock { value = new } }
    var current: Value? { lock.withLock { value } }
}
