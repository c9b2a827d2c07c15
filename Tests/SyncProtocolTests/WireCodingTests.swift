import Foundation
import SyncProtocol
import Testing

@Suite("Wire coding")
struct WireCodingTests {
    static let laptop = ReplicaID(unchecked: "laptop-a")

    static func change(_ operation: Change.Operation, counter: UInt64 = 1) -> Change {
        Change(
            dot: Dot(replica: laptop, counter: counter),
            context: VectorClock([(ReplicaID.server, UInt64(4))]),
            timestamp: HybridTimestamp(wallMilliseconds: 1_795_428_000_000, logical: 2),
            author: "alice",
            entity: .deal,
            recordID: RecordID("01JD7Q8X4N1V3F2Y6Z0B9C8D7E"),
            operation: operation
        )
    }

    @Test("every operation survives encoding and decoding")
    func roundTripEveryOperation() throws {
        let operations: [Change.Operation] = [
            .create(["title": "Pumps", "amount": 1_250_000, "closed": false, "notes": nil]),
            .set(["stage": "won"]), .delete, .counterDelta(-3), .counterReset(40), .append(["subject": "Call"]),
        ]
        let request = PushRequest(
            replicaID: Self.laptop,
            changes: operations.enumerated().map {
                Self.change($0.element, counter: UInt64($0.offset + 1))
            }
        )
        let data = try WireCoding.encode(request)
        #expect(try WireCoding.decodeMessage(PushRequest.self, from: data) == request)
    }

    @Test("encoding is stable: keys sorted, field names snake_case, money as integers")
    func stableEncoding() throws {
        let text = String(decoding: try WireCoding.encode(Self.change(.set(["amount": 1999]))), as: UTF8.self)
        #expect(
            text == #"{"author":"alice","context":{"server":4},"dot":{"counter":1,"replica":"laptop-a"},"#
                + #""entity":"deal","fields":{"amount":1999},"hlc":"2026-11-23T10:00:00.000Z/2","op":"set","#
                + #""record_id":"01JD7Q8X4N1V3F2Y6Z0B9C8D7E"}"#
        )
    }

    @Test("a record state survives encoding, conflicts and counters included")
    func recordStateRoundTrip() throws {
        var state = RecordState(entity: .stock, id: RecordID.stock(partNumber: "P-1", warehouse: "main"))
        let schema = CRMSchema.stock
        var create = Self.change(.create(["part_number": "P-1", "warehouse": "main"]))
        create.entity = .stock
        create.recordID = state.id
        _ = state.apply(create, schema: schema, authority: .server)
        var sale = create
        sale.dot.counter = 2
        sale.operation = .counterDelta(-3)
        _ = state.apply(sale, schema: schema, authority: .server)
        let decoded = try WireCoding.decode(RecordState.self, from: WireCoding.encode(state))
        #expect(decoded == state)
        #expect(decoded.values(schema: schema)["quantity"] == -3)
    }

    @Test("decoding errors name the place and never quote field values")
    func errorsNameThePlace() {
        let json =
            #"{"protocol_version":1,"replica_id":"a","changes":[{"dot":{"replica":"a","counter":1},"#
            + #""context":{},"hlc":"2026-11-23T10:00:00.000Z/0","author":"a","entity":"account","#
            + #""record_id":"x","op":"set","fields":{"secret-customer-name":1.25}}]}"#
        do {
            _ = try WireCoding.decodeMessage(PushRequest.self, from: Data(json.utf8))
            Issue.record("a floating-point value was accepted")
        } catch {
            #expect(error.code == .invalidValue)
            #expect(error.message.hasPrefix("changes[0].fields.secret-customer-name:"))
            #expect(!error.message.contains("1.25"))
        }
    }
}

@Suite("CRM schema")
struct CRMSchemaTests {
    @Test("every entity and field of PRODUCT.md is in the schema")
    func matchesProduct() {
        let expected: [EntityKind: [String]] = [
            .account: [
                "name", "kind", "industry", "region", "status", "address", "phone", "email", "website",
                "territory", "owner", "payment_standing",
            ],
            .contact: ["account_id", "first_name", "last_name", "role", "title", "phone", "mobile", "email"],
            .activity: [
                "account_id", "contact_id", "deal_id", "kind", "subject", "body", "occurred_at", "author", "direction",
                "part_number", "quantity", "unit_price", "price_list", "currency",
            ],
            .task: [
                "account_id", "deal_id", "title", "notes", "due_at", "assignee", "priority", "status", "remind_at",
            ],
            .deal: [
                "account_id", "title", "stage", "amount", "currency", "expected_close", "lost_reason", "owner",
                "created_at", "closed_at", "source",
            ],
            .appointment: [
                "account_id", "deal_id", "contact_id", "title", "starts_at", "ends_at", "place", "notes", "assignee",
                "status",
            ],
            .product: [
                "part_number", "name", "unit", "price_list", "price_dealer", "price_promo", "currency", "active",
            ],
            .stock: ["part_number", "warehouse"],
            .invoice: [
                "account_id", "number", "amount", "currency", "issued_at", "due_at", "paid_at", "collection_status",
            ],
            .plan: ["rep", "month", "amount", "currency"],
            .stageNorm: ["stage", "days"],
            // 0.19; `document_version.account_id` (its document's, for scope) and `against_lock` are beyond
            // PRODUCT.md's list (PROTOCOL.md §6.3).
            .document: [
                "account_id", "deal_id", "activity_id", "title", "kind", "notes", "current_version", "locked_by",
                "locked_at",
            ],
            .documentVersion: [
                "document_id", "account_id", "digest", "size", "media_type", "file_name", "author", "created_at",
                "against_lock",
            ],
        ]
        #expect(Set(CRMSchema.entities.keys) == Set(expected.keys))
        for (entity, fields) in expected {
            #expect(CRMSchema.schema(for: entity).fields.map(\.name) == fields, "\(entity)")
        }
        if case .counter(let field) = CRMSchema.stock.kind {
            #expect(field == "quantity")
        } else {
            Issue.record("stock is not a counter")
        }
        #expect(CRMSchema.product.replicaOperations.isEmpty && CRMSchema.invoice.replicaOperations.isEmpty)
        #expect(CRMSchema.activity.replicaOperations == ["append"])
    }
}
