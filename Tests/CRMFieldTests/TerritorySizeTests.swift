import Foundation
import ReplicaStore
import SyncProtocol
import Testing

/// What a laptop with a big territory relies on: lists that read one page and say how many more match, searches
/// that find any part of a product's code, counts without scans, and the history from before its set-up.
@Suite("crm-field at a territory's size", .serialized)
struct TerritorySizeTests {
    @Test("lists show a page and the count of the rest; --limit 0 and --json show all; filters by assignee")
    func pagedLists() async throws {
        try await CLIServer.with { server in
            try await server.loadSample()
            let alice = try await server.laptop(try await server.addRep("alice"))
            let replica = try Replica(path: alice + "/replica.sqlite")
            try await replica.writeBatch(
                (0..<250).map { index in
                    Replica.Edit(
                        .task,
                        id: RecordID("task-\(index)"),
                        .create([
                            "account_id": "acc-mueller", "title": .string("Call \(index)"),
                            "status": "open", "assignee": .string(index % 5 == 0 ? "bob" : "alice"),
                            "due_at": .string("2026-01-\(String(format: "%02d", index % 28 + 1))T09:00:00Z"),
                        ])
                    )
                }
            )
            try replica.close()
            let screen = await cli(["task", "list", "--all"], home: alice)
            #expect(screen.exitCode == 0)
            #expect(screen.err.contains("showing 200 of 250"), "\(screen.err)")
            #expect(await cli(["task", "list", "--all", "--limit", "0", "--json"], home: alice).array.count == 250)
            #expect(await cli(["task", "list", "--all", "--json"], home: alice).array.count == 250, "scripts get all")
            #expect(await cli(["task", "list", "--json"], home: alice).array.count == 200, "mine first")
            let ten = await cli(["task", "list", "--overdue", "--limit", "10", "--json"], home: alice)
            #expect(ten.array.count == 10)
            let dues = ten.array.compactMap { $0["due_at"] as? String }
            #expect(dues == dues.sorted(), "soonest due first")
            #expect(await cli(["task", "list", "--assignee", "bob", "--json"], home: alice).array.count == 50)
            #expect(await cli(["task", "list", "--assignee", "me", "--json"], home: alice).array.count == 200)
            #expect(await cli(["task", "list", "--limit", "-1"], home: alice).exitCode != 0)
            let status = await cli(["status", "--json"], home: alice).object
            #expect((status["records"] as? [String: Any])?["task"] as? Int == 250)
            #expect((status["records"] as? [String: Any])?["account"] as? Int == 2)
        }
    }

    @Test("product search finds any part of a code or name, with its stock")
    func productSearch() async throws {
        try await CLIServer.with { server in
            try await server.loadSample()
            let alice = try await server.laptop(try await server.addRep("alice"))
            let inside = await cli(["product", "search", "alve", "--json"], home: alice).array
            #expect(inside.map { $0["part_number"] as? String } == ["V-20"], "inside the name")
            let code = await cli(["product", "search", "100", "--json"], home: alice).array
            #expect(code.map { $0["part_number"] as? String } == ["P-100"], "inside the code")
            #expect((code.first?["stock"] as? [[String: Any]])?.first?["quantity"] as? Int == 20)
            #expect(await cli(["product", "search", "V-", "--json"], home: alice).array.count == 1, "short: starts")
            #expect(await cli(["product", "search", "pump"], home: alice).out.contains("IN STOCK"))
            #expect(await cli(["product", "search", "zzz", "--json"], home: alice).array.isEmpty)
        }
    }

    @Test("a laptop set up from the snapshot fetches an account's earlier changes once, then syncs on")
    func historyBeforeSetUp() async throws {
        try await CLIServer.with { server in
            try await server.loadSample()
            let alice = try await server.laptop(try await server.addRep("alice"))
            #expect(await cli(["account", "edit", "acc-mueller", "--phone", "+49 30 111"], home: alice).exitCode == 0)
            #expect(await cli(["sync"], home: alice).exitCode == 0)
            let bob = try await server.laptop(try await server.addRep("bob"))
            // After bob's set-up alice changes it again: bob's history fetch brings that change before his pull.
            #expect(await cli(["account", "edit", "acc-mueller", "--phone", "+49 30 222"], home: alice).exitCode == 0)
            #expect(await cli(["sync"], home: alice).exitCode == 0)

            let history = await cli(["history", "acc-mueller", "--changes", "--json"], home: bob)
            #expect(history.exitCode == 0, "\(history.err)")
            let phones = (history.object["changes"] as? [[String: Any]] ?? []).filter {
                $0["field"] as? String == "phone"
            }
            let values = phones.map { "\($0["old_value"] as? String ?? "-") → \($0["new_value"] as? String ?? "-")" }
            // What bob's records hold: the import's phone and alice's first edit, with its old value. Her second edit
            // is newer than bob's download: it comes with his pull, not as history.
            #expect(values == ["- → +49 30 1234 567", "+49 30 1234 567 → +49 30 111"])
            #expect(
                phones.contains { $0["author"] as? String == "alice" && $0["new_value"] as? String == "+49 30 111" }
            )
            // The pull brings alice's second edit again: it is known and skipped, nothing breaks.
            let sync = await cli(["sync", "--json"], home: bob)
            #expect(sync.exitCode == 0, "\(sync.err)")
            #expect(
                await cli(["account", "show", "acc-mueller", "--json"], home: bob).object["phone"] as? String
                    == "+49 30 222"
            )
            let again = await cli(["history", "acc-mueller", "--changes", "--json"], home: bob)
            let after = (again.object["changes"] as? [[String: Any]] ?? []).filter { $0["field"] as? String == "phone" }
                .map { "\($0["old_value"] as? String ?? "-") → \($0["new_value"] as? String ?? "-")" }
            #expect(
                after == ["- → +49 30 1234 567", "+49 30 1234 567 → +49 30 111", "+49 30 111 → +49 30 222"],
                "fetched once, never doubled, the pulled edit after it"
            )
        }
    }
}
