#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// ``CRMSchema`` as a language-neutral document: `conformance/schema.json` is this, written out, and the test
/// command checks that the committed file is what the code enforces (PROTOCOL.md §6).
extension CRMSchema {
    /// The schema document, pretty-printed with sorted keys and a final newline.
    public static func documentJSON() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(SchemaDocument())
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

/// The document's shape; keys are snake_case.
struct SchemaDocument: Encodable {
    struct Limits: Encodable {
        var recordIDBytes = 128
        var replicaIDBytes = 64
        var authorBytes = 128
        var contextEntries = VectorClock.maximumWireEntries
        var integerMinimum = Int64.min
        var integerMaximum = Int64.max
        var nestingDepth = StrictJSON.maximumDepth

        enum CodingKeys: String, CodingKey {
            case recordIDBytes = "record_id_bytes"
            case replicaIDBytes = "replica_id_bytes"
            case authorBytes = "author_bytes"
            case contextEntries = "context_entries"
            case integerMinimum = "integer_minimum"
            case integerMaximum = "integer_maximum"
            case nestingDepth = "json_nesting_depth"
        }
    }

    struct Scope: Encodable {
        /// `territory` (the record's own field), `account` (through a reference field), `everyone`.
        var by: String
        var field: String?
    }

    struct Field: Encodable {
        var type: String
        var maxBytes: Int?
        var values: [String]?
        var entity: String?
        var minimum: Int64?
        var required: Bool
        /// `replica`, `server_after_create` (a replica may set it in the create of a new record, then only the
        /// server) or `server`.
        var ownership: String
        /// `last_writer_wins` or `ordered_state`.
        var rule: String
        /// Lowest rank first; values in one inner list share a rank (ordered state only).
        var order: [[String]]?
        /// Concurrent pairs that are a conflict for a person (ordered state only).
        var conflictingPairs: [[String]]?
        var format: String?

        enum CodingKeys: String, CodingKey {
            case type, values, entity, minimum, required, ownership, rule, order, format
            case maxBytes = "max_bytes"
            case conflictingPairs = "conflicting_pairs"
        }
    }

    struct Entity: Encodable {
        /// `mutable`, `append_only` or `counter`.
        var kind: String
        var counterField: String?
        var scope: Scope
        var deletePolicy: String
        /// What a replica may send; every other operation is the server's.
        var replicaOperations: [String]
        var fields: [String: Field]

        enum CodingKeys: String, CodingKey {
            case kind, scope, fields
            case counterField = "counter_field"
            case deletePolicy = "delete_policy"
            case replicaOperations = "replica_operations"
        }
    }

    var protocolVersion = WireVersion.current
    var description =
        "The CRM schema of protocol version 1, generated from Sources/SyncProtocol/Schema/CRMSchema.swift "
        + "(crm-sync-server schema). PROTOCOL.md section 6 says how to read it."
    var limits = Limits()
    var entities: [String: Entity]

    enum CodingKeys: String, CodingKey {
        case description, limits, entities
        case protocolVersion = "protocol_version"
    }

    init() {
        var entities: [String: Entity] = [:]
        for (kind, schema) in CRMSchema.entities {
            entities[kind.rawValue] = Self.entity(schema)
        }
        self.entities = entities
    }

    private static func entity(_ schema: EntitySchema) -> Entity {
        let kind: String
        var counterField: String?
        switch schema.kind {
        case .mutable: kind = "mutable"
        case .appendOnly: kind = "append_only"
        case .counter(let field):
            kind = "counter"
            counterField = field
        }
        let scope: Scope
        switch schema.scope {
        case .territory(let field): scope = Scope(by: "territory", field: field)
        case .account(let field): scope = Scope(by: "account", field: field)
        case .everyone: scope = Scope(by: "everyone", field: nil)
        }
        var fields: [String: Field] = [:]
        for field in schema.fields { fields[field.name] = Self.field(field) }
        return Entity(
            kind: kind,
            counterField: counterField,
            scope: scope,
            deletePolicy: schema.deletePolicy.rawValue,
            replicaOperations: schema.replicaOperations.sorted(),
            fields: fields
        )
    }

    private static func field(_ field: FieldSchema) -> Field {
        var result = Field(
            type: "",
            required: field.isRequired,
            ownership: {
                switch field.ownership {
                case .replica: "replica"
                case .serverAfterCreate: "server_after_create"
                case .server: "server"
                }
            }(),
            rule: "last_writer_wins"
        )
        switch field.type {
        case .text(let maxBytes):
            result.type = "text"
            result.maxBytes = maxBytes
        case .enumeration(let values):
            result.type = "enumeration"
            result.values = values
        case .integer: result.type = "integer"
        case .nonNegativeInteger:
            result.type = "integer"
            result.minimum = 0
        case .timestamp:
            result.type = "timestamp"
            result.format = "ISO 8601 UTC, 2026-11-23T09:30:00Z (fraction optional, Z or +00:00)"
        case .date:
            result.type = "date"
            result.format = "YYYY-MM-DD"
        case .bool: result.type = "bool"
        case .currency:
            result.type = "currency"
            result.format = "ISO 4217: three upper-case letters"
        case .reference(let entity):
            result.type = "reference"
            result.entity = entity.rawValue
        case .digest:
            result.type = "digest"
            result.format = "SHA-256 of the content: 64 lower-case hexadecimal digits"
        }
        if case .orderedState(let rule) = field.rule {
            result.rule = "ordered_state"
            let ranks = Dictionary(grouping: rule.ranks, by: \.value)
            result.order = ranks.keys.sorted().map { rank in ranks[rank]!.map(\.key).sorted() }
            let pairs = rule.conflictingPairs.map { $0.sorted() }.sorted {
                $0.joined(separator: ",") < $1.joined(separator: ",")
            }
            result.conflictingPairs = pairs.isEmpty ? nil : pairs
        }
        return result
    }
}
