import Foundation
import SyncProtocol
import SyncTestSupport
import Testing

/// `conformance/schema.json` is the schema the code enforces, written out (`crm-sync-server schema`).
@Suite("The published schema")
struct SchemaDocumentTests {
    static let path = ConformanceVector.root.appendingPathComponent("schema.json")

    @Test("conformance/schema.json matches CRMSchema (regenerate: crm-sync-server schema > conformance/schema.json)")
    func committedFileMatches() throws {
        let committed = try String(contentsOf: Self.path, encoding: .utf8)
        let generated = try CRMSchema.documentJSON()
        if committed != generated, ProcessInfo.processInfo.environment["CRM_WRITE_SCHEMA"] == "1" {
            try generated.write(to: Self.path, atomically: true, encoding: .utf8)
        }
        #expect(committed == generated, "conformance/schema.json is out of date: run crm-sync-server schema")
    }

    @Test("what the document says is what validation does: required fields, ownership, text limits")
    func documentAgreesWithValidation() throws {
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: Self.path)) as? [String: Any]
        )
        let entities = try #require(document["entities"] as? [String: [String: Any]])
        #expect(Set(entities.keys) == Set(CRMSchema.entities.keys.map(\.rawValue)))
        for (name, entity) in entities {
            let schema = CRMSchema.schema(for: EntityKind(name))
            let fields = try #require(entity["fields"] as? [String: [String: Any]])
            for (field, description) in fields {
                let declared = try #require(schema.fieldsByName[field])
                #expect(description["required"] as? Bool == declared.isRequired, "\(name).\(field)")
                if let maxBytes = description["max_bytes"] as? Int {
                    let change = { (text: String) in
                        Change(
                            dot: Dot(replica: ReplicaID(unchecked: "a"), counter: 2),
                            context: VectorClock(),
                            timestamp: HybridTimestamp(wallMilliseconds: 0),
                            author: "a",
                            entity: EntityKind(name),
                            recordID: RecordID("r"),
                            operation: .set([field: .string(text)])
                        )
                    }
                    let fits = schema.validate(change(String(repeating: "x", count: maxBytes)), authority: .server)
                    let over = schema.validate(change(String(repeating: "x", count: maxBytes + 1)), authority: .server)
                    #expect(fits?.code != .invalidValue, "\(name).\(field) takes \(maxBytes) bytes")
                    #expect(over?.code == .invalidValue || over?.code == .immutableRecord, "\(name).\(field)")
                }
            }
        }
    }
}
