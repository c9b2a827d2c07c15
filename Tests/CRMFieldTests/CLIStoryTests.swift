import Foundation
import Testing

@testable import crm_field

/// Several laptops through the real CLI against a real server on 127.0.0.1.
@Suite("crm-field end to end")
struct CLIStoryTests {
    @Test("two reps collide offline in every way; after sync both laptops show the exact merged state")
    func twoReps() async throws {
        try await CLIServer.with { server in
            try await server.loadSample()
            let alice = try await server.laptop(try await server.addRep("alice"))
            let bob = try await server.laptop(try await server.addRep("bob"))
            let task = await cli(
                ["task", "add", "--account", "acc-mueller", "--title", "Send the quote", "--json"],
                home: alice
            )
            let taskID = try #require(task.object["id"] as? String)
            let deal = await cli(
                [
                    "deal", "add", "--account", "acc-mueller", "--title", "20 pumps", "--amount", "3980", "--currency",
                    "EUR", "--json",
                ],
                home: alice
            )
            let dealID = try #require(deal.object["id"] as? String)
            #expect(deal.object["amount"] as? Int == 398_000, "money is stored in cents")
            _ = await cli(["sync"], home: alice)
            _ = await cli(["sync"], home: bob)

            // Offline.
            let edits: [(String, [String])] = [
                (alice, ["account", "edit", "acc-mueller", "--phone", "+49 30 1234 000"]),
                (bob, ["account", "edit", "acc-mueller", "--website", "https://mueller.example"]),
                (alice, ["account", "edit", "acc-mueller", "--industry", "Heating"]),
                (bob, ["account", "edit", "acc-mueller", "--industry", "Plumbing and heating"]),
                (alice, ["stock", "sell", "P-100", "3", "--account", "acc-mueller"]),
                (bob, ["stock", "sell", "P-100", "3"]),
                (alice, ["log", "--account", "acc-mueller", "--kind", "call", "--subject", "Price asked"]),
                (bob, ["log", "--account", "acc-mueller", "--kind", "call", "--subject", "Date confirmed"]),
                (alice, ["task", "done", taskID]),
                (bob, ["task", "edit", taskID, "--title", "Send the revised quote"]),
                (alice, ["deal", "stage", dealID, "negotiation"]),
                (bob, ["deal", "stage", dealID, "contacted"]),
            ]
            for (home, arguments) in edits {
                let result = await cli(arguments, home: home)
                #expect(result.exitCode == 0, "\(arguments): \(result.err)")
            }
            #expect(
                await cli(["status", "--json"], home: alice).object["pending"] as? Int == 7,
                "six edits and the sale's note"
            )

            let first = await cli(["sync", "--json"], home: alice)
            #expect(first.object["sent"] as? Int == 7)
            let second = await cli(["sync", "--json"], home: bob)
            #expect(second.object["sent"] as? Int == 6)
            #expect((second.object["conflicts"] as? [Any])?.count == 1)
            _ = await cli(["sync"], home: alice)

            for home in [alice, bob] {
                let history = await cli(["history", "acc-mueller", "--json"], home: home).object
                let account = try #require(history["account"] as? [String: Any])
                #expect(account["phone"] as? String == "+49 30 1234 000")
                #expect(account["website"] as? String == "https://mueller.example")
                let interactions = try #require(history["interactions"] as? [[String: Any]])
                #expect(
                    Set(interactions.compactMap { $0["subject"] as? String }).isSuperset(of: [
                        "Price asked", "Date confirmed",
                    ])
                )
                #expect(interactions.count == 3, "two calls and alice's sale note")
                let stock = await cli(["stock", "show", "P-100", "--json"], home: home).array
                #expect(stock.first?["quantity"] as? Int == 14)
                let tasks = await cli(["task", "list", "--all", "--json"], home: home).array
                let merged = try #require(tasks.first { $0["id"] as? String == taskID })
                #expect(merged["status"] as? String == "done")
                #expect(merged["title"] as? String == "Send the revised quote")
                let deals = await cli(["deal", "list", "--all", "--json"], home: home).array
                #expect(deals.first?["stage"] as? String == "negotiation", "the furthest stage wins")
                let conflicts = await cli(["conflict", "list", "--json"], home: home).array
                #expect(conflicts.count == 1)
                #expect(conflicts.first?["field"] as? String == "industry")
                let values = Set(
                    conflicts.flatMap {
                        [($0["current"] as? [String: Any])?["value"], ($0["other"] as? [String: Any])?["value"]]
                    }
                    .compactMap { $0 as? String }
                )
                #expect(values == ["Heating", "Plumbing and heating"], "both values, who and when")
                #expect(
                    account["industry"] as? String == (conflicts.first?["current"] as? [String: Any])?["value"]
                        as? String
                )
            }
            #expect(
                await cli(
                    ["export", "--format", "json", "--out", server.folder.appendingPathComponent("a").path],
                    home: alice
                ).exitCode == 0
            )
            #expect(
                await cli(
                    ["export", "--format", "json", "--out", server.folder.appendingPathComponent("b").path],
                    home: bob
                ).exitCode == 0
            )
            for file in ["accounts.json", "activitys.json", "tasks.json", "deals.json", "stocks.json", "contacts.json"]
            {
                let a = FileManager.default.contents(atPath: server.folder.appendingPathComponent("a/\(file)").path)
                let b = FileManager.default.contents(atPath: server.folder.appendingPathComponent("b/\(file)").path)
                #expect(a != nil && a == b, "\(file) differs between the laptops")
            }

            // Resolving is a normal change that reaches the other laptop.
            let conflictID = try #require(
                await cli(["conflict", "list", "--json"], home: bob).array.first?["id"] as? String
            )
            let resolved = await cli(["conflict", "resolve", conflictID, "--value", "Heating systems"], home: bob)
            #expect(resolved.exitCode == 0, "\(resolved.err)")
            _ = await cli(["sync"], home: bob)
            _ = await cli(["sync"], home: alice)
            for home in [alice, bob] {
                #expect(await cli(["conflict", "list", "--json"], home: home).array.isEmpty)
                let account = await cli(["account", "show", "acc-mueller", "--json"], home: home).object
                #expect(account["industry"] as? String == "Heating systems")
            }
        }
    }

    @Test("a laptop's home copied to a second laptop: both keep syncing, every edit reaches every laptop")
    func copiedLaptop() async throws {
        try await CLIServer.with { server in
            try await server.loadSample()
            let alice = try await server.laptop(try await server.addRep("alice"))
            let bob = try await server.laptop(try await server.addRep("bob"))
            _ = await cli(["account", "edit", "acc-mueller", "--phone", "+49 30 1"], home: alice)
            #expect(await cli(["sync"], home: alice).exitCode == 0)
            // IT gives alice a second laptop by copying her home folder (replica file and token).
            let copy = server.folder.appendingPathComponent("copied-home").path
            try FileManager.default.copyItem(atPath: alice, toPath: copy)
            _ = await cli(["account", "edit", "acc-mueller", "--email", "original@mueller.example"], home: alice)
            _ = await cli(["account", "edit", "acc-mueller", "--website", "copy.mueller.example"], home: copy)
            #expect(await cli(["sync"], home: alice).exitCode == 0)
            let second = await cli(["sync", "--json"], home: copy)
            #expect(second.exitCode == 0, "\(second.err)")
            // The copy finds its dots taken, moves its unsent edit to a new identity and receives the original's.
            #expect((second.object["rejected"] as? [[String: Any]])?.isEmpty == true, "\(second.out)")
            let renamed = second.object["new_replica_id"] as? [String: Any]
            #expect(renamed?["restamped"] as? Int == 1, "\(second.out)")
            // Edit on both again, sync both twice: every edit on every laptop, the colleague's too.
            _ = await cli(["account", "edit", "acc-mueller", "--phone", "+49 30 2"], home: alice)
            _ = await cli(
                ["log", "--account", "acc-mueller", "--kind", "call", "--subject", "from the copy"],
                home: copy
            )
            for _ in 0..<2 {
                for home in [alice, copy, bob] { #expect(await cli(["sync"], home: home).exitCode == 0) }
            }
            for home in [alice, copy, bob] {
                let shown = await cli(["account", "show", "acc-mueller", "--json"], home: home)
                #expect(shown.object["email"] as? String == "original@mueller.example", "\(home)")
                #expect(shown.object["website"] as? String == "copy.mueller.example", "\(home)")
                #expect(shown.object["phone"] as? String == "+49 30 2", "\(home)")
                let history = await cli(["history", "acc-mueller"], home: home)
                #expect(history.out.contains("from the copy"), "\(home): \(history.out)")
                let status = await cli(["status", "--json"], home: home)
                #expect(status.object["pending"] as? Int == 0, "\(home): \(status.out)")
                #expect((status.object["rejected"] as? [[String: Any]])?.isEmpty == true, "\(home): \(status.out)")
            }
        }
    }

    @Test("three laptops converge to identical exports")
    func threeLaptops() async throws {
        try await CLIServer.with { server in
            try await server.loadSample()
            var homes: [String] = []
            for name in ["alice", "bob", "dave"] {
                homes.append(try await server.laptop(try await server.addRep(name)))
            }
            for (index, home) in homes.enumerated() {
                for round in 0..<5 {
                    let writes = [
                        ["stock", "sell", "V-20", "\(index + 1)", "--warehouse", "hamburg"],
                        ["account", "edit", "acc-schmidt", "--region", "R\(index)-\(round)"],
                        [
                            "contact", "add", "--account", "acc-schmidt", "--first-name", "P\(index)", "--last-name",
                            "\(round)",
                        ],
                    ]
                    for arguments in writes {
                        let write = await cli(arguments, home: home)
                        #expect(write.exitCode == 0, "\(arguments): \(write.err)")
                    }
                }
            }
            for _ in 0..<2 { for home in homes { #expect(await cli(["sync"], home: home).exitCode == 0) } }
            // Each laptop's export must succeed and hold rows (a header alone, or a missing file, is a failure),
            // and the three must be identical file by file.
            var exports: [[String: String]] = []
            for (index, home) in homes.enumerated() {
                let out = server.folder.appendingPathComponent("export-\(index)").path
                let export = await cli(["export", "--format", "csv", "--out", out], home: home)
                try #require(export.exitCode == 0, "export on laptop \(index): \(export.err)")
                var files: [String: String] = [:]
                for file in ["accounts.csv", "contacts.csv", "stocks.csv"] {
                    let data = try #require(
                        FileManager.default.contents(atPath: out + "/" + file),
                        "laptop \(index) wrote no \(file)"
                    )
                    let text = String(decoding: data, as: UTF8.self)
                    #expect(text.split(whereSeparator: \.isNewline).count > 1, "laptop \(index)'s \(file) has no rows")
                    files[file] = text
                }
                exports.append(files)
            }
            #expect(exports.count == 3 && exports[0] == exports[1] && exports[1] == exports[2])
            let stock = await cli(["stock", "show", "V-20", "--json"], home: homes[0]).array
            #expect(
                stock.first { $0["warehouse"] as? String == "hamburg" }?["quantity"] as? Int == 60 - 5 * (1 + 2 + 3)
            )
            #expect(
                await cli(["contact", "list", "--account", "acc-schmidt", "--json"], home: homes[2]).array.count == 15
            )
        }
    }
}
