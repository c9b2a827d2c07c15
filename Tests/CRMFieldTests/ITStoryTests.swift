import Foundation
import SyncTestSupport
import Testing

@testable import crm_field

/// IT's side as a deployment needs it, through the `crm-sync-server` executable and `crm-field` on both backends:
/// accounting's real exports, imports that respect reps' work, deletes by role and undelete, territories and users
/// as managed objects, the audit log and the stats.
@Suite("IT's side", .serialized)
struct ITStoryTests {
    /// The accounting exports under `Fixtures/imports` (see its README).
    static func fixture(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/imports/\(name)")
            .path
    }

    @Test(
        "accounting's exports import as they are: BOM, ; and tab, decimal commas, DD.MM.YYYY, extra columns, orphans",
        arguments: ITServer.Backend.available
    )
    func realExports(backend: ITServer.Backend) async throws {
        let it = try ITServer(backend)
        defer { it.cleanUp() }
        let alice = try it.addRep("alice")
        _ = try it.addRep("bob")

        // A dry run reports what would happen and writes nothing.
        let products = Self.fixture("products-semicolon-bom.csv")
        let dry = try it.run(["import", "products", products, "--dry-run", "--db", it.database])
        #expect(dry.status == 2, "\(dry.output)")
        #expect(dry.output.contains("dry run, nothing written: would have created 3"), "\(dry.output)")
        let real = try it.run(["import", "products", products, "--db", it.database])
        #expect(real.output.hasPrefix("created 3, updated 0, unchanged 0"), "the dry run wrote nothing: \(real.output)")
        #expect(real.output.contains("warning: ignored column 'vat_rate'"), "\(real.output)")
        // Every problem of the bad row, with its line.
        let bad = real.output.split(separator: "\n").first { $0.hasPrefix("line 5:") } ?? ""
        #expect(bad.contains("price_list must be an amount"), "\(real.output)")
        #expect(bad.contains("price_dealer must not be negative"), "\(real.output)")
        #expect(bad.contains("active must be true or false"), "\(real.output)")
        #expect(real.status == 2)
        let again = try it.run(["import", "products", products, "--json", "--db", it.database])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(again.output.utf8)) as? [String: Any])
        #expect(report["unchanged"] as? Int == 3 && report["created"] as? Int == 0, "\(again.output)")
        #expect((report["file_sha256"] as? String)?.count == 64)

        let stock = try it.run(["import", "stock", Self.fixture("stock-tab.csv"), "--db", it.database])
        #expect(stock.output.contains("created 2"), "\(stock.output)")
        #expect(stock.output.contains("line 4: unknown part 'NOPE-1'"), "\(stock.output)")

        let accounts = try it.run(["import", "accounts", Self.fixture("accounts.csv"), "--db", it.database])
        #expect(accounts.output.contains("created 2"), "\(accounts.output)")
        #expect(accounts.output.contains("line 4: unknown owner 'zoe' (no such user)"), "\(accounts.output)")
        #expect(accounts.output.contains("line 5: unknown territory 'nowhere' (known: north)"), "\(accounts.output)")

        let invoices = try it.run(["import", "invoices", Self.fixture("invoices-german.csv"), "--db", it.database])
        #expect(invoices.output.contains("created 1"), "\(invoices.output)")
        #expect(invoices.output.contains("warning: ignored column 'customer_name'"), "\(invoices.output)")
        #expect(invoices.output.contains("line 3: unknown account 'acc-unknown'"), "\(invoices.output)")
        #expect(invoices.output.contains("line 4: issued_at must be a date like"), "\(invoices.output)")

        // What the laptop gets: minor units from the decimals, midnight UTC from the dotted dates.
        let server = try await it.serve()
        defer { server.stop() }
        let home = try await it.laptop(alice, server: server)
        let siphon = await cli(["product", "show", "SIP-40", "--json"], home: home).object
        #expect(siphon["price_list"] as? Int == 12500 && siphon["price_dealer"] as? Int == 9850, "\(siphon)")
        let pump = await cli(["product", "show", "P-100", "--json"], home: home).object
        #expect(pump["price_list"] as? Int == 125_000, "1.250,00 with . grouping: \(pump)")
        #expect(pump["price_promo"] as? Int == 90000, "899,995 rounds half away from zero: \(pump)")
        #expect(pump["name"] as? String == "Circulation pump CP-100; 230 V")
        let yen = await cli(["product", "show", "JP-1", "--json"], home: home).object
        #expect(yen["price_list"] as? Int == 15000 && yen["currency"] as? String == "JPY", "\(yen)")
        let invoiceList = await cli(["invoice", "list", "--json"], home: home)
        let invoice = invoiceList.array.first { $0["number"] as? String == "2026-0042" }
        #expect(invoice?["amount"] as? Int == 125_050, "\(invoiceList.out)")
        #expect(invoice?["due_at"] as? String == "2026-11-01T00:00:00.000Z", "\(invoiceList.out)")
    }

    @Test(
        "a weekly re-import of a stale file keeps the rep's corrections; accounting's own changes still arrive",
        arguments: ITServer.Backend.available
    )
    func reimportKeepsRepsWork(backend: ITServer.Backend) async throws {
        let it = try ITServer(backend)
        defer { it.cleanUp() }
        let alice = try it.addRep("alice")
        _ = try it.addRep("bob")
        let file = Self.fixture("accounts.csv")
        _ = try it.run(["import", "accounts", file, "--db", it.database])
        let server = try await it.serve()
        defer { server.stop() }
        let home = try await it.laptop(alice, server: server)
        _ = await cli(
            ["account", "edit", "acc-mueller", "--phone", "+49 30 999", "--email", "anna@mueller.example"],
            home: home
        )
        #expect(await cli(["sync"], home: home).exitCode == 0)

        let stale = try it.run(["import", "accounts", file, "--db", it.database])
        #expect(stale.output.contains("updated 0, unchanged 2, kept 1"), "\(stale.output)")
        #expect(stale.output.contains("kept the rep's newer value: email 1, phone 1"), "\(stale.output)")
        #expect(await cli(["sync"], home: home).exitCode == 0)
        let kept = await cli(["account", "show", "acc-mueller", "--json"], home: home).object
        #expect(kept["phone"] as? String == "+49 30 999" && kept["email"] as? String == "anna@mueller.example")

        // Accounting changes the e-mail (and the server-owned standing): those are new values, written.
        let changed = it.folder.appendingPathComponent("accounts-changed.csv").path
        try String(contentsOfFile: file, encoding: .utf8)
            .replacingOccurrences(
                of: "info@mueller.example,north,alice,hesitant",
                with: "billing@mueller.example,north,alice,disloyal"
            )
            .write(toFile: changed, atomically: true, encoding: .utf8)
        let fresh = try it.run(["import", "accounts", changed, "--db", it.database])
        #expect(fresh.output.contains("updated 1"), "\(fresh.output)")
        #expect(fresh.output.contains("kept the rep's newer value: phone 1"), "\(fresh.output)")
        #expect(await cli(["sync"], home: home).exitCode == 0)
        let merged = await cli(["account", "show", "acc-mueller", "--json"], home: home).object
        #expect(merged["email"] as? String == "billing@mueller.example", "\(merged)")
        #expect(merged["phone"] as? String == "+49 30 999", "\(merged)")
        #expect(merged["payment_standing"] as? String == "disloyal", "\(merged)")
    }

    @Test(
        "deletes by role: a rep may not delete a customer, a manager may, IT undeletes and the laptops get it back",
        arguments: ITServer.Backend.available
    )
    func deletesByRole(backend: ITServer.Backend) async throws {
        let it = try ITServer(backend)
        defer { it.cleanUp() }
        let alice = try it.addRep("alice")
        _ = try it.addRep("bob")
        let manager = try it.admin(["user", "add", "mia", "--role", "manager", "--territory", "north"])
        let file = Self.fixture("accounts.csv")
        _ = try it.run(["import", "accounts", file, "--db", it.database])
        let server = try await it.serve()
        defer { server.stop() }
        let aliceHome = try await it.laptop(alice, server: server)
        let miaHome = try await it.laptop(manager, server: server)

        let refused = await cli(["account", "delete", "acc-mueller", "--yes"], home: aliceHome)
        #expect(refused.exitCode == 2 && refused.err.contains("reps may not delete accounts"), "\(refused.err)")
        let unconfirmed = await cli(["account", "delete", "acc-mueller"], home: miaHome)
        #expect(unconfirmed.exitCode == 2 && unconfirmed.err.contains("--yes"), "\(unconfirmed.err)")
        #expect(await cli(["account", "delete", "acc-mueller", "--yes"], home: miaHome).exitCode == 0)
        #expect(await cli(["sync"], home: miaHome).exitCode == 0)
        #expect(await cli(["sync"], home: aliceHome).exitCode == 0)
        #expect(await cli(["account", "show", "acc-mueller"], home: aliceHome).exitCode != 0)

        let reimport = try it.run(["import", "accounts", file, "--db", it.database])
        #expect(reimport.output.contains("deleted 1"), "\(reimport.output)")
        #expect(reimport.output.contains("line 2: acc-mueller was deleted on the server"), "\(reimport.output)")

        #expect(try it.admin(["record", "restore", "account", "acc-mueller"]) == "restored account acc-mueller")
        let twice = try it.run(["record", "restore", "account", "acc-mueller", "--db", it.database])
        #expect(twice.status != 0 && twice.output.contains("is not deleted"), "\(twice.output)")
        #expect(await cli(["sync"], home: aliceHome).exitCode == 0)
        let back = await cli(["account", "show", "acc-mueller", "--json"], home: aliceHome)
        #expect(back.object["name"] as? String == "Müller Haustechnik GmbH", "\(back.out) \(back.err)")
        #expect(back.object["phone"] as? String == "+49 30 1234 567", "every value comes back: \(back.out)")

        let audit = try it.admin(["audit", "--json"]).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let actions = audit.map { "\($0["action"] ?? "") \($0["target"] ?? "")" }
        #expect(actions.contains("record.delete account/acc-mueller"), "\(actions)")
        #expect(actions.contains("record.restore account/acc-mueller"), "\(actions)")
        #expect(audit.first { $0["action"] as? String == "record.delete" }?["actor"] as? String == "mia")
    }

    @Test(
        "territories and users are managed: unknown ones refused, moves say what moved, renames and role changes",
        arguments: ITServer.Backend.available
    )
    func territoriesAndUsers(backend: ITServer.Backend) async throws {
        let it = try ITServer(backend)
        defer { it.cleanUp() }
        let alice = try it.addRep("alice")
        _ = try it.addRep("bob")
        _ = try it.run(["import", "accounts", Self.fixture("accounts.csv"), "--db", it.database])

        let typo = try it.run(["territory", "assign", "acc-mueller", "nowhere", "--db", it.database])
        #expect(typo.status != 0 && typo.output.contains("no territory nowhere (known: north)"), "\(typo.output)")
        #expect(try it.admin(["territory", "add", "south"]) == "added territory south")
        let duplicate = try it.run(["territory", "add", "south", "--db", it.database])
        #expect(duplicate.status != 0 && duplicate.output.contains("exists"), "\(duplicate.output)")
        _ = try it.addRep("erin", territory: "south")
        let list = try it.admin(["territory", "list"])
        #expect(list.contains("north") && list.contains("alice, bob") && list.contains("erin"), "\(list)")

        let server = try await it.serve()
        defer { server.stop() }
        let aliceHome = try await it.laptop(alice, server: server)
        _ = await cli(
            ["log", "--account", "acc-mueller", "--kind", "call", "--subject", "asked for a quote"],
            home: aliceHome
        )
        #expect(await cli(["sync"], home: aliceHome).exitCode == 0)
        let moved = try it.admin(["territory", "assign", "acc-mueller", "south"])
        #expect(
            moved.contains("moved account acc-mueller (Müller Haustechnik GmbH) from north to south with 1 records"),
            "\(moved)"
        )
        #expect(moved.contains("gain it: erin; lose it: alice, bob"), "\(moved)")
        #expect(await cli(["sync"], home: aliceHome).exitCode == 0)
        #expect(await cli(["account", "show", "acc-mueller"], home: aliceHome).exitCode != 0)

        // Renaming keeps everyone's view: erin's laptop follows at its next sync.
        let erinToken = try it.admin(["user", "token", "erin"])
        let erinHome = try await it.laptop(erinToken, server: server)
        let renamed = try it.admin(["territory", "rename", "south", "sued"])
        #expect(renamed == "renamed south to sued: 1 accounts, users erin", "\(renamed)")
        #expect(await cli(["sync"], home: erinHome).exitCode == 0)
        let card = await cli(["account", "show", "acc-mueller", "--json"], home: erinHome).object
        #expect(card["territory"] as? String == "sued", "\(card)")

        // A user's role and territories change; unknown territories are refused.
        let wrong = try it.run(["user", "set", "alice", "--territory", "mars", "--db", it.database])
        #expect(wrong.status != 0 && wrong.output.contains("no territory mars"), "\(wrong.output)")
        let set = try it.admin([
            "user", "set", "alice", "--role", "manager", "--territory", "north", "--territory", "sued",
        ])
        #expect(set.contains("alice: rep of north → manager of north, sued"), "\(set)")
        #expect(await cli(["sync"], home: aliceHome).exitCode == 0)
        let status = await cli(["status", "--json"], home: aliceHome)
        #expect(status.out.contains("sued"), "\(status.out)")
        // The territory she gained arrives whole at that sync: the account and its history from before.
        let gained = await cli(["account", "show", "acc-mueller", "--json"], home: aliceHome)
        #expect(gained.object["territory"] as? String == "sued", "\(gained.out) \(gained.err)")
        #expect(await cli(["history", "acc-mueller"], home: aliceHome).out.contains("asked for a quote"))

        let audit = try it.admin(["audit"])
        for action in [
            "user.add", "user.token", "import", "territory.add", "territory.assign", "territory.rename", "user.set",
        ] {
            #expect(audit.contains("\t\(action)\t"), "\(action) is audited: \(audit)")
        }
        #expect(!audit.contains("crm_"), "no token in the audit log")
        #expect(!audit.contains("+49 30"), "no customer value in the audit log")
    }

    @Test(
        "a rep moved to another territory: her offline edit is handed on, the old accounts leave, the new ones arrive",
        arguments: ITServer.Backend.available
    )
    func userMovedToAnotherTerritory(backend: ITServer.Backend) async throws {
        let it = try ITServer(backend)
        defer { it.cleanUp() }
        let alice = try it.addRep("alice")
        let bob = try it.addRep("bob")
        try it.importAccounts()
        let server = try await it.serve()
        defer { server.stop() }
        let aliceHome = try await it.laptop(alice, server: server)
        let bobHome = try await it.laptop(bob, server: server)
        // Offline at the customer's, before IT moves her to the south.
        _ = await cli(["account", "edit", "acc-mueller", "--phone", "+49 30 4242"], home: aliceHome)
        try it.admin(["user", "set", "alice", "--territory", "south"])
        let run = await cli(["sync", "--json"], home: aliceHome)
        #expect(run.exitCode == 0, "\(run.err)")
        #expect((run.object["rejected"] as? [[String: Any]])?.isEmpty == true, "handed on: \(run.out)")
        #expect(await cli(["account", "show", "acc-mueller"], home: aliceHome).exitCode != 0, "north left her laptop")
        let south = await cli(["account", "show", "acc-south", "--json"], home: aliceHome)
        #expect(south.object["name"] as? String == "Süd Wärme KG", "the south arrived: \(south.out) \(south.err)")
        #expect(await cli(["sync"], home: bobHome).exitCode == 0)
        let shown = await cli(["account", "show", "acc-mueller", "--json"], home: bobHome).object
        #expect(shown["phone"] as? String == "+49 30 4242", "\(shown)")
    }

    @Test(
        "the audit log is hash-chained: verify passes, and a changed entry is found",
        arguments: ITServer.Backend.available
    )
    func auditChain(backend: ITServer.Backend) async throws {
        let it = try ITServer(backend)
        defer { it.cleanUp() }
        _ = try it.addRep("alice")
        _ = try it.addRep("bob")
        _ = try it.run(["import", "accounts", Self.fixture("accounts.csv"), "--db", it.database])
        try it.admin(["user", "revoke", "bob"])
        let intact = try it.admin(["audit", "verify"])
        #expect(intact.hasPrefix("the audit log is intact: 4 entries, last hash "), "\(intact)")
        let since = try it.admin(["audit", "--since", "2000-01-01"])
        #expect(since.split(separator: "\n").count == 4, "\(since)")

        // The database refuses to change or delete an entry.
        let sql = "UPDATE audit_log SET actor = 'someone' WHERE seq = 2"
        let refused: String
        switch it.backend {
        case .sqlite: refused = (try? ITServer.shell(["sqlite3", it.database, sql])) ?? "refused"
        case .postgresql:
            refused = (try? ITServer.shell(["psql", it.database, "-v", "ON_ERROR_STOP=1", "-c", sql])) ?? "refused"
        }
        #expect(refused == "refused", "\(refused)")
        // Someone with the database's owner rights drops the guard and edits an entry: verify finds it.
        switch it.backend {
        case .sqlite:
            _ = try ITServer.shell(["sqlite3", it.database, "DROP TRIGGER audit_log_no_update; \(sql)"])
        case .postgresql:
            _ = try ITServer.shell([
                "psql", it.database, "-q", "-c", "DROP TRIGGER audit_log_append_only ON audit_log; \(sql)",
            ])
        }
        let broken = try it.run(["audit", "verify", "--db", it.database])
        #expect(broken.status == 1, "\(broken.output)")
        #expect(
            broken.output.contains("broken at entry 2: entry 2 was changed after it was written"),
            "\(broken.output)"
        )
    }

    @Test(
        "stats show the last push and the last pull apart, as a table and as JSON",
        arguments: ITServer.Backend.available
    )
    func statsTable(backend: ITServer.Backend) async throws {
        let it = try ITServer(backend)
        defer { it.cleanUp() }
        let alice = try it.addRep("alice")
        let bob = try it.addRep("bob")
        _ = try it.run(["import", "accounts", Self.fixture("accounts.csv"), "--db", it.database])
        let server = try await it.serve()
        defer { server.stop() }
        let aliceHome = try await it.laptop(alice, server: server)
        let bobHome = try await it.laptop(bob, server: server)
        _ = await cli(["account", "edit", "acc-mueller", "--website", "mueller.example"], home: aliceHome)
        #expect(await cli(["sync"], home: aliceHome).exitCode == 0)
        #expect(await cli(["sync"], home: bobHome).exitCode == 0)

        let stats = try it.admin(["stats", "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(stats.utf8)) as? [String: Any])
        let replicas = object["replicas"] as? [[String: Any]] ?? []
        let aliceRow = replicas.first { $0["user"] as? String == "alice" }
        let bobRow = replicas.first { $0["user"] as? String == "bob" }
        #expect(aliceRow?["last_push"] is String && aliceRow?["last_pull"] is String, "\(replicas)")
        #expect(bobRow?["last_push"] == nil && bobRow?["last_pull"] is String, "a rep who only pulled: \(replicas)")
        #expect(aliceRow?["pending"] as? Int == 0, "\(replicas)")
        let table = try it.admin(["stats"])
        #expect(table.contains("USER") && table.contains("LAST PUSH") && table.contains("LAST PULL"), "\(table)")
        let bobLine = table.split(separator: "\n").first { $0.hasPrefix("bob") } ?? ""
        #expect(bobLine.contains("never"), "bob never pushed: \(table)")
    }
}
