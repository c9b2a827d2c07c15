import Foundation
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import ReplicaStore
import SyncProtocol
import SyncServer
import SyncTestSupport
import Testing

@Suite("Two servers on one PostgreSQL")
struct TwoServerTests {
    @Test(
        "two server processes' worth of servers share a database: pushes to both apply once, pulls from either agree",
        .enabled(if: PostgresForTests.runs, "POSTGRES_URL is not set")
    )
    func twoServers() async throws {
        let url = try await ServerHarness.freshDatabase()
        let storageA = try PostgresChangeStorage(url: url, logger: ServerHarness.logger)
        let storageB = try PostgresChangeStorage(url: url, logger: ServerHarness.logger)
        let appA = try buildApplication(
            configuration: ServerConfiguration(port: 0),
            storage: storageA,
            logger: ServerHarness.logger
        )
        let appB = try buildApplication(
            configuration: ServerConfiguration(port: 0),
            storage: storageB,
            logger: ServerHarness.logger
        )
        // Each application runs its own pool and migrates before serving (both at once: the schema lock orders them).
        let admin = Tokens.generate()
        try await appA.test(.live) { a in
            try await appB.test(.live) { b in
                try await storageA.addUser(User(name: "it-admin", role: .admin, territories: []), tokenHash: admin.hash)
                let clientA = ServerHarness.Client(client: a, adminToken: admin.token)
                let clientB = ServerHarness.Client(client: b, adminToken: admin.token)
                let aliceToken = try await clientA.addUser("alice", territories: ["north"])
                let bobToken = try await clientA.addUser("bob", territories: ["north"])
                let alice = try await makeReplica(user: "alice", territories: ["north"])
                let bob = try await makeReplica(user: "bob", territories: ["north"])
                let account = try await alice.create(.account, fields: ["name": "Acme", "territory": "north"])
                for index in 0..<20 {
                    try await alice.update(.account, id: account.id, fields: ["phone": .string("\(index)")])
                }
                let pending = try await alice.pendingChanges()
                // The same batch to both servers at once: applied once, both answer consistently.
                async let viaA = clientA.push(pending, replica: alice.replicaID, token: aliceToken)
                async let viaB = clientB.push(pending, replica: alice.replicaID, token: aliceToken)
                let (resultA, resultB) = try await (viaA, viaB)
                let statuses = [resultA.1?.results.map(\.status), resultB.1?.results.map(\.status)]
                #expect(statuses.contains { $0 == Array(repeating: .accepted, count: 21) })
                #expect(statuses.contains { $0 == Array(repeating: .duplicate, count: 21) })
                #expect(try await storageB.stats().changes == 21)
                try await alice.acknowledge(resultA.1?.results ?? [])
                // Bob pulls half through each server and ends where a full pull ends.
                _ = try await clientB.sync(bob, token: bobToken)
                #expect(try await bob.record(.account, id: account.id)?["phone"] == "19")
                let fromA = try await clientA.send(.get, "/v1/pull?replica_id=other&limit=100", token: bobToken)
                let fromB = try await clientB.send(.get, "/v1/pull?replica_id=other&limit=100", token: bobToken)
                #expect(fromA.body == fromB.body)
            }
        }
    }
}
