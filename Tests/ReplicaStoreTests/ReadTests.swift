import Foundation
import ReplicaStore
import SyncProtocol
import Testing

/// Builds server changes (catalog, stock, invoices) for a replica to apply.
struct ServerFeed {
    var counter: UInt64 = 0

    mutating func change(_ entity: EntityKind, _ id: String, _ operation: Change.Operation) -> Change {
        counter += 1
        return Change(
            dot: Dot(replica: .server, counter: counter),
            context: VectorClock(),
            timestamp: HybridTimestamp(wallMilliseconds: TestReplica.baseTime - 86_400_000 + Int64(counter)),
            author: "it-admin",
            entity: entity,
            recordID: RecordID(id),
            operation: operation
        )
    }
}

@Suite("Reads")
struct ReadTests {
    @Test(
        "the account card shows the record, contacts, deals, open tasks, overdue invoices and interactions newest first"
    )
    func accountCard() async throws {
        let test = try await TestReplica()
        let replica = test.replica
        let account = try await replica.create(.account, fields: ["name": "Acme", "territory": "north"])
        let other = try await replica.create(.account, fields: ["name": "Other", "territory": "north"])
        let accountID = FieldValue.string(account.id.rawValue)
        _ = try await replica.create(
            .contact,
            fields: ["account_id": accountID, "first_name": "Ada", "last_name": "Lovelace", "role": "decision_maker"]
        )
        _ = try await replica.create(
            .contact,
            fields: ["account_id": .string(other.id.rawValue), "last_name": "Elsewhere"]
        )
        _ = try await replica.create(
            .deal,
            fields: [
                "account_id": accountID, "title": "Pumps", "stage": "negotiation", "amount": 1_250_000,
                "currency": "EUR",
            ]
        )
        let done = try await replica.create(
            .task,
            fields: ["account_id": accountID, "title": "Done", "status": "open"]
        )
        try await replica.update(.task, id: done.id, fields: ["status": "done"])
        _ = try await replica.create(
            .task,
            fields: ["account_id": accountID, "title": "Call back", "status": "open", "due_at": "2026-11-22T09:00:00Z"]
        )
        for (index, day) in ["2026-11-20", "2026-11-22", "2026-11-21"].enumerated() {
            _ = try await replica.create(
                .activity,
                fields: [
                    "account_id": accountID, "kind": "call", "subject": .string("Call \(index)"),
                    "occurred_at": .string("\(day)T10:00:00Z"),
                ]
            )
        }
        var feed = ServerFeed()
        try await replica.applyRemote([
            feed.change(
                .invoice,
                "inv-1",
                .create(["account_id": accountID, "number": "R-1", "amount": 5000, "due_at": "2026-11-01T00:00:00Z"])
            ),
            feed.change(
                .invoice,
                "inv-2",
                .create(["account_id": accountID, "number": "R-2", "amount": 7000, "due_at": "2026-12-31T00:00:00Z"])
            ),
            feed.change(
                .invoice,
                "inv-3",
                .create([
                    "account_id": accountID, "number": "R-3", "amount": 9000, "due_at": "2026-11-01T00:00:00Z",
                    "paid_at": "2026-11-02T00:00:00Z",
                ])
            ),
        ])
        let card = try await replica.accountCard(id: account.id)
        #expect(card.account["name"] == "Acme")
        #expect(card.contacts.map { $0["last_name"] } == ["Lovelace"])
        #expect(card.deals.map { $0["title"] } == ["Pumps"])
        #expect(card.openTasks.map { $0["title"] } == ["Call back"])
        #expect(card.overdueInvoices.map { $0["number"] } == ["R-1"])
        #expect(card.interactions.map { $0["subject"] } == ["Call 1", "Call 2", "Call 0"])
        await #expect(throws: ReplicaError.self) { try await replica.accountCard(id: RecordID("missing")) }
        try await expectIntact(replica)
    }

    @Test("tasks overdue and due, the pipeline, products, stock and name search")
    func listsAndSearch() async throws {
        let test = try await TestReplica()
        let replica = test.replica
        let account = try await replica.create(.account, fields: ["name": "Müller Maschinenbau", "territory": "north"])
        _ = try await replica.create(
            .contact,
            fields: ["account_id": .string(account.id.rawValue), "first_name": "José", "last_name": "García"]
        )
        _ = try await replica.create(
            .task,
            fields: ["title": "Overdue", "status": "open", "due_at": "2026-11-22T09:00:00Z"]
        )
        _ = try await replica.create(
            .task,
            fields: ["title": "Tomorrow", "status": "open", "due_at": "2026-11-24T09:00:00Z"]
        )
        _ = try await replica.create(
            .task,
            fields: ["title": "Next month", "status": "open", "due_at": "2026-12-24T09:00:00Z"]
        )
        let (overdue, due) = try await replica.openTasks(dueBefore: "2026-11-30T00:00:00.000Z")
        #expect(overdue.map { $0["title"] } == ["Overdue"])
        #expect(due.map { $0["title"] } == ["Tomorrow"])

        let accountID = FieldValue.string(account.id.rawValue)
        for (stage, amount) in [("new", 100), ("negotiation", 200), ("negotiation", 300), ("won", 400)] {
            _ = try await replica.create(
                .deal,
                fields: [
                    "account_id": accountID, "title": "D", "stage": .string(stage), "amount": .integer(Int64(amount)),
                    "currency": "EUR",
                ]
            )
        }
        let pipeline = try await replica.pipeline()
        #expect(pipeline.map(\.stage) == ["new", "negotiation", "won"])
        #expect(pipeline.map(\.count) == [1, 2, 1])
        #expect(pipeline.map(\.amount) == [100, 500, 400])

        var feed = ServerFeed()
        try await replica.applyRemote([
            feed.change(
                .product,
                "PU-100",
                .create(["part_number": "PU-100", "name": "Pump small", "price_list": 19900, "currency": "EUR"])
            ),
            feed.change(
                .product,
                "PU-200",
                .create(["part_number": "PU-200", "name": "pump large", "price_list": 29900, "currency": "EUR"])
            ),
            feed.change(
                .product,
                "VA-1",
                .create(["part_number": "VA-1", "name": "Valve", "price_list": 900, "currency": "EUR"])
            ),
            feed.change(.stock, "PU-100@main", .create(["part_number": "PU-100", "warehouse": "main"])),
            feed.change(.stock, "PU-100@van", .create(["part_number": "PU-100", "warehouse": "van"])),
        ])
        #expect(try await replica.products(partNumberPrefix: "PU").map(\.id.rawValue) == ["PU-100", "PU-200"])
        #expect(try await replica.products(namePrefix: "PUMP").map(\.id.rawValue) == ["PU-200", "PU-100"])
        try await replica.adjustCounter(.stock, id: RecordID("PU-100@van"), by: -2)
        let stock = try await replica.stock(partNumber: "PU-100")
        #expect(stock.map { $0["warehouse"] } == ["main", "van"])
        #expect(stock.map { $0["quantity"] } == [0, -2])

        #expect(try await replica.search("muller").map { $0["name"] } == ["Müller Maschinenbau"])
        #expect(try await replica.search("garc").map { $0["last_name"] } == ["García"])
        #expect(try await replica.search("jose garcia").count == 1)
        #expect(try await replica.search("nobody").isEmpty)
        try await expectIntact(replica)
    }
}
