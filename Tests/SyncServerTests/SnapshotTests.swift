import Foundation
import Hummingbird
import ReplicaStore
import SyncClient
import SyncProtocol
import SyncServer
import Testing

@Suite("Initial sync")
struct SnapshotTests {
    @Test(
        "a new laptop takes a paged snapshot of its scope, then pulls from its cursor, and matches a full replay",
        arguments: Backend.available
    )
    func snapshotThenPull(backend: Backend) async throws {
        let harness = try await ServerHarness(backend: backend)
        try await harness.run { client in
            let aliceToken = try await client.addUser("alice", territories: ["north"])
            let bobToken = try await client.addUser("bob", territories: ["north"])
            let alice = try await makeReplica(user: "alice", territories: ["north"])
            var accounts: [RecordID] = []
            for index in 0..<5 {
                let account = try await alice.create(
                    .account,
                    fields: ["name": .string("Account \(index)"), "territory": "north"]
                )
                try await alice.update(.account, id: account.id, fields: ["phone": .string("\(index)")])
                _ = try await alice.create(
                    .contact,
                    fields: ["account_id": .string(account.id.rawValue), "last_name": "X"]
                )
                accounts.append(account.id)
            }
            _ = try await client.send(
                .post,
                "/v1/admin/import/products",
                token: client.adminToken,
                body: Data("part_number,name\nP-1,Pump\n".utf8)
            )
            _ = try await client.sync(alice, token: aliceToken)
            // A foreign account that must not be in Bob's snapshot.
            _ = try await client.send(
                .post,
                "/v1/admin/import/accounts",
                token: client.adminToken,
                body: Data("id,name,territory\nsouth-1,Far,south\n".utf8)
            )

            let bob = try await makeReplica(user: "bob", territories: ["north"])
            var after = ""
            var cursor: String?
            var pages = 0
            while true {
                var uri = "/v1/snapshot?replica_id=\(bob.replicaID)&limit=3&after=\(after)"
                if let cursor { uri += "&cursor=\(cursor)" }
                let reply = try await client.send(.get, uri, token: bobToken)
                let page = try WireCoding.decodeMessage(SnapshotResponse.self, from: reply.body)
                cursor = cursor ?? page.cursor
                try await bob.installSnapshot(page.records)
                pages += 1
                guard page.hasMore, let next = page.next else { break }
                after = next
            }
            #expect(pages == 4, "11 records in pages of 3")
            try await bob.saveCursor(cursor!)
            // Alice edits after the snapshot; Bob's pull brings it.
            try await alice.update(.account, id: accounts[0], fields: ["website": "late.example"])
            _ = try await client.sync(alice, token: aliceToken)
            _ = try await client.sync(bob, token: bobToken)

            let carol = try await makeReplica(user: "bob", territories: ["north"])
            _ = try await client.sync(carol, token: bobToken)  // the same scope by full replay
            for id in accounts {
                let fromSnapshot = try await bob.record(.account, id: id)
                #expect(fromSnapshot != nil)
                #expect(fromSnapshot == (try await carol.record(.account, id: id)))
            }
            #expect(try await bob.record(.account, id: accounts[0])?["website"] == "late.example")
            #expect(try await bob.record(.account, id: RecordID("south-1")) == nil, "nothing from another territory")
            #expect(try await bob.products(partNumberPrefix: "P").count == 1)
            #expect(try await bob.records(.contact).count == 5)
            #expect(try await bob.integrityCheck() == "ok")
        }
    }
}

@Suite("Territory moves")
struct TerritoryMoveTests {
    @Test(
        "IT moves an account: the new rep receives it with its history, the old rep drops it and keeps unsynced edits",
        arguments: Backend.available
    )
    func move(backend: Backend) async throws {
        let harness = try await ServerHarness(backend: backend)
        try await harness.run { client in
            let aliceToken = try await client.addUser("alice", territories: ["north"])
            let carolToken = try await client.addUser("carol", territories: ["south"])
            let alice = try await makeReplica(user: "alice", territories: ["north"])
            let carol = try await makeReplica(user: "carol", territories: ["south"])
            let account = try await alice.create(.account, fields: ["name": "Acme", "territory": "north"])
            let contact = try await alice.create(
                .contact,
                fields: ["account_id": .string(account.id.rawValue), "last_name": "Li"]
            )
            _ = try await alice.create(
                .activity,
                fields: [
                    "account_id": .string(account.id.rawValue), "kind": "call", "subject": "Intro",
                    "occurred_at": "2026-11-20T10:00:00Z",
                ]
            )
            _ = try await client.sync(alice, token: aliceToken)
            _ = try await client.sync(carol, token: carolToken)
            #expect(try await carol.record(.account, id: account.id) == nil)

            try await alice.update(.account, id: account.id, fields: ["phone": "unsynced"])
            let body = try JSONSerialization.data(withJSONObject: [
                "account_id": account.id.rawValue, "territory": "south",
            ])
            #expect(
                try await client.send(.post, "/v1/admin/territory", token: client.adminToken, body: body).status == .ok
            )

            _ = try await client.sync(carol, token: carolToken)
            #expect(try await carol.record(.account, id: account.id)?["territory"] == "south")
            #expect(try await carol.record(.contact, id: contact.id)?["last_name"] == "Li")
            #expect(try await carol.accountCard(id: account.id).interactions.count == 1)
            #expect(
                try await carol.history(.account, id: account.id).contains { $0.field == "name" },
                "with its history"
            )

            // Alice's edit was made before her laptop learned of the move: it is pushed first and handed on to the
            // new territory (the hand-off period); then her pull drops the account.
            let aliceSync = try await client.sync(alice, token: aliceToken)
            #expect(aliceSync.rejected.isEmpty)
            #expect(aliceSync.handedOff == 1)
            #expect(try await alice.record(.account, id: account.id) == nil)
            #expect(try await alice.record(.contact, id: contact.id) == nil)
            #expect(try await alice.rejectedChanges().isEmpty)
            _ = try await client.sync(carol, token: carolToken)
            #expect(try await carol.record(.account, id: account.id)?["phone"] == "unsynced")
        }
    }
}
