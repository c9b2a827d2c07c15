/// The CRM's data model (PRODUCT.md, "The data") as data: every entity, field, type, merge rule and owner.
///
/// Replicas and the server read the rules from here, so a rule changes in one place.
public enum CRMSchema {
    /// Task status: among concurrent writes done > cancelled > open.
    public static let taskStatus = OrderedState(order: [["open"], ["cancelled"], ["done"]])

    /// Deal stage: among concurrent writes the furthest stage wins; won and lost are equally far, and concurrent
    /// won vs lost is a conflict for a person (last-writer-wins order decides what shows meanwhile).
    public static let dealStage = OrderedState(
        order: [["new"], ["contacted"], ["negotiation"], ["decision"], ["contract"], ["won", "lost"]],
        conflictingPairs: [("won", "lost")]
    )

    public static let dealStages = ["new", "contacted", "negotiation", "decision", "contract", "won", "lost"]

    /// 0.17: where a deal came from.
    public static let dealSources = ["website", "referral", "exhibition", "cold_call", "inbound_call", "other"]

    /// 0.17: how far accounting has taken an unpaid invoice, in order.
    public static let collectionStatuses = ["none", "reminded", "promised", "overdue_notice", "legal"]

    /// 0.17: the price lists a sale may use (the product's `price_list`, `price_dealer`, `price_promo`).
    public static let priceLists = ["list", "dealer", "promo"]

    /// Appointment status: among concurrent writes done > cancelled > planned.
    public static let appointmentStatus = OrderedState(order: [["planned"], ["cancelled"], ["done"]])

    /// The release whose schema this process speaks (``SchemaProfile``): the newest unless a test asks for an
    /// older laptop's.
    public static let profile = SchemaProfile.current

    private static let text = ValueType.text(maxBytes: 200)
    private static let longText = ValueType.text(maxBytes: 65_536)
    private static let mutableOperations: Set<String> = ["create", "set", "delete"]

    public static let account = EntitySchema(
        .account,
        scope: .territory(field: "territory"),
        replicaOperations: mutableOperations,
        fields: [
            FieldSchema("name", text, required: true),
            FieldSchema("kind", .enumeration(["customer", "prospect", "supplier", "partner"])),
            FieldSchema("industry", text),
            FieldSchema("region", text),
            FieldSchema("status", .enumeration(["active", "passive"])),
            FieldSchema("address", .text(maxBytes: 1000)),
            FieldSchema("phone", .text(maxBytes: 64)),
            FieldSchema("email", text),
            FieldSchema("website", text),
            FieldSchema("territory", .text(maxBytes: 64), ownership: .serverAfterCreate, required: true),
            FieldSchema("owner", .text(maxBytes: 128), ownership: .serverAfterCreate),
            FieldSchema("payment_standing", .enumeration(["strict", "hesitant", "disloyal"]), ownership: .server),
        ]
    )

    public static let contact = EntitySchema(
        .contact,
        scope: .account(field: "account_id"),
        replicaOperations: mutableOperations,
        fields: [
            FieldSchema("account_id", .reference(.account), ownership: .serverAfterCreate, required: true),
            FieldSchema("first_name", text),
            FieldSchema("last_name", text),
            FieldSchema("role", .enumeration(["billing", "marketing", "decision_maker", "technical", "other"])),
            FieldSchema("title", text),
            FieldSchema("phone", .text(maxBytes: 64)),
            FieldSchema("mobile", .text(maxBytes: 64)),
            FieldSchema("email", text),
        ]
    )

    public static let activity = EntitySchema(
        .activity,
        kind: .appendOnly,
        scope: .account(field: "account_id"),
        replicaOperations: ["append"],
        fields: [
            FieldSchema("account_id", .reference(.account), required: true),
            FieldSchema("contact_id", .reference(.contact)),
            FieldSchema("deal_id", .reference(.deal)),
            FieldSchema("kind", .enumeration(["call", "meeting", "visit", "email", "note"]), required: true),
            FieldSchema("subject", .text(maxBytes: 500), required: true),
            FieldSchema("body", longText),
            FieldSchema("occurred_at", .timestamp, required: true),
            FieldSchema("author", .text(maxBytes: 128)),
            // 0.17: calls and e-mails in or out; a sale line (`stock sell --account`): the part, the signed
            // quantity (a return is negative), the unit price in minor units and the price list it came from.
            FieldSchema("direction", .enumeration(["in", "out"])),
            FieldSchema("part_number", .text(maxBytes: 64)),
            FieldSchema("quantity", .integer),
            FieldSchema("unit_price", .nonNegativeInteger),
            FieldSchema("price_list", .enumeration(priceLists)),
            FieldSchema("currency", .currency),
        ].filter { profile.knows(field: $0.name, of: .activity) }
    )

    public static let task = EntitySchema(
        .task,
        scope: .account(field: "account_id"),
        replicaOperations: mutableOperations,
        fields: [
            FieldSchema("account_id", .reference(.account), ownership: .serverAfterCreate),
            FieldSchema("deal_id", .reference(.deal)),
            FieldSchema("title", .text(maxBytes: 500), required: true),
            FieldSchema("notes", longText),
            FieldSchema("due_at", .timestamp),
            FieldSchema("assignee", .text(maxBytes: 128)),
            FieldSchema("priority", .enumeration(["low", "normal", "high"])),
            FieldSchema(
                "status",
                .enumeration(["open", "cancelled", "done"]),
                rule: .orderedState(taskStatus),
                required: true
            ),
            // 0.16
            FieldSchema("remind_at", .timestamp),
        ].filter { profile.knows(field: $0.name, of: .task) }
    )

    public static let deal = EntitySchema(
        .deal,
        scope: .account(field: "account_id"),
        replicaOperations: mutableOperations,
        fields: [
            FieldSchema("account_id", .reference(.account), ownership: .serverAfterCreate, required: true),
            FieldSchema("title", .text(maxBytes: 500), required: true),
            FieldSchema("stage", .enumeration(dealStages), rule: .orderedState(dealStage), required: true),
            FieldSchema("amount", .integer),
            FieldSchema("currency", .currency),
            FieldSchema("expected_close", .date),
            FieldSchema("lost_reason", .text(maxBytes: 1000)),
            // 0.16: the rep it belongs to (the creating rep unless set), when it was created, when it reached won
            // or lost (cleared when it is reopened).
            FieldSchema("owner", .text(maxBytes: 128)),
            FieldSchema("created_at", .timestamp),
            FieldSchema("closed_at", .timestamp),
            // 0.17
            FieldSchema("source", .enumeration(dealSources)),
        ].filter { profile.knows(field: $0.name, of: .deal) }
    )

    /// 0.16: the calendar. Scoped like a task (through its account; an account-less one is its creator's).
    public static let appointment = EntitySchema(
        .appointment,
        scope: .account(field: "account_id"),
        replicaOperations: mutableOperations,
        fields: [
            FieldSchema("account_id", .reference(.account), ownership: .serverAfterCreate),
            FieldSchema("deal_id", .reference(.deal)),
            FieldSchema("contact_id", .reference(.contact)),
            FieldSchema("title", .text(maxBytes: 500), required: true),
            FieldSchema("starts_at", .timestamp, required: true),
            FieldSchema("ends_at", .timestamp),
            FieldSchema("place", .text(maxBytes: 1000)),
            FieldSchema("notes", longText),
            FieldSchema("assignee", .text(maxBytes: 128)),
            FieldSchema(
                "status",
                .enumeration(["planned", "done", "cancelled"]),
                rule: .orderedState(appointmentStatus),
                required: true
            ),
        ]
    )

    public static let product = EntitySchema(
        .product,
        scope: .everyone,
        replicaOperations: [],
        fields: [
            FieldSchema("part_number", .text(maxBytes: 64), required: true),
            FieldSchema("name", text, required: true),
            FieldSchema("unit", .text(maxBytes: 32)),
            FieldSchema("price_list", .nonNegativeInteger),
            FieldSchema("price_dealer", .nonNegativeInteger),
            FieldSchema("price_promo", .nonNegativeInteger),
            FieldSchema("currency", .currency),
            FieldSchema("active", .bool),
        ]
    )

    public static let stock = EntitySchema(
        .stock,
        kind: .counter(field: "quantity"),
        scope: .everyone,
        replicaOperations: ["counter_delta"],
        fields: [
            FieldSchema("part_number", .text(maxBytes: 64), required: true),
            FieldSchema("warehouse", .text(maxBytes: 64), required: true),
        ]
    )

    public static let invoice = EntitySchema(
        .invoice,
        scope: .account(field: "account_id"),
        replicaOperations: [],
        fields: [
            FieldSchema("account_id", .reference(.account), required: true),
            FieldSchema("number", .text(maxBytes: 64), required: true),
            FieldSchema("amount", .integer, required: true),
            FieldSchema("currency", .currency),
            FieldSchema("issued_at", .timestamp),
            FieldSchema("due_at", .timestamp),
            FieldSchema("paid_at", .timestamp),
            // 0.17: accounting's dunning step; its history is the record's change history.
            FieldSchema("collection_status", .enumeration(collectionStatuses)),
        ].filter { profile.knows(field: $0.name, of: .invoice) }
    )

    /// 0.17: a rep's sales target for a month (import from accounting). The id is `plan-<rep>-<YYYY-MM>`.
    public static let plan = EntitySchema(
        .plan,
        scope: .everyone,
        replicaOperations: [],
        fields: [
            FieldSchema("rep", .text(maxBytes: 128), required: true),
            FieldSchema("month", .text(maxBytes: 7), required: true),
            FieldSchema("amount", .nonNegativeInteger, required: true),
            FieldSchema("currency", .currency),
        ]
    )

    /// 0.17: how many days a deal normally stays in a stage (set by IT). The id is `stage-<stage>`.
    public static let stageNorm = EntitySchema(
        .stageNorm,
        scope: .everyone,
        replicaOperations: [],
        fields: [
            FieldSchema("stage", .enumeration(Array(dealStages.prefix(5))), required: true),
            FieldSchema("days", .nonNegativeInteger, required: true),
        ]
    )

    /// 0.19: the document kinds.
    public static let documentKinds = ["offer", "contract", "order", "other"]

    /// 0.19: a document attached to a customer (and a deal or an interaction of it). `current_version` is a
    /// register like any field: two versions added offline are a kept conflict. The lock (`locked_by`,
    /// `locked_at`) is advisory: it is shown, never enforced.
    public static let document = EntitySchema(
        .document,
        scope: .account(field: "account_id"),
        replicaOperations: mutableOperations,
        fields: [
            FieldSchema("account_id", .reference(.account), ownership: .serverAfterCreate, required: true),
            FieldSchema("deal_id", .reference(.deal)),
            FieldSchema("activity_id", .reference(.activity)),
            FieldSchema("title", .text(maxBytes: 500), required: true),
            FieldSchema("kind", .enumeration(documentKinds), required: true),
            FieldSchema("notes", longText),
            FieldSchema("current_version", .reference(.documentVersion)),
            FieldSchema("locked_by", .text(maxBytes: 128)),
            FieldSchema("locked_at", .timestamp),
        ]
    )

    /// 0.19: one immutable version of a document. Its content is a blob named by `digest`, moved apart from the
    /// records (PROTOCOL.md §10). `account_id` is the document's, so the version is scoped like it; `against_lock`
    /// names who had the document checked out when this version was added, if someone else had.
    ///
    /// Immutable by its operations, not by the append-only kind: replicas may only `create` a version (a `set` or
    /// `delete` is the server's alone), so laptops of 0.18 and earlier, which refuse an `append` to an entity they
    /// do not know (PROTOCOL.md §6.4), keep and pass on versions like any record.
    public static let documentVersion = EntitySchema(
        .documentVersion,
        scope: .account(field: "account_id"),
        replicaOperations: ["create"],
        fields: [
            FieldSchema("document_id", .reference(.document), required: true),
            FieldSchema("account_id", .reference(.account), required: true),
            FieldSchema("digest", .digest, required: true),
            FieldSchema("size", .nonNegativeInteger, required: true),
            FieldSchema("media_type", .text(maxBytes: 255)),
            FieldSchema("file_name", .text(maxBytes: 255)),
            FieldSchema("author", .text(maxBytes: 128)),
            FieldSchema("created_at", .timestamp, required: true),
            FieldSchema("against_lock", .text(maxBytes: 128)),
        ]
    )

    /// Every entity, by name.
    public static let entities: [EntityKind: EntitySchema] = Dictionary(
        uniqueKeysWithValues: ([
            account, contact, activity, task, deal, product, stock, invoice, appointment, plan, stageNorm,
            document, documentVersion,
        ])
        .filter { profile.knows($0.entity) }.map { ($0.entity, $0) }
    )

    /// The schema of `entity`, or ``EntitySchema/unknown(_:)`` for an entity this build does not know.
    public static func schema(for entity: EntityKind) -> EntitySchema {
        // A switch on the name, not a dictionary lookup: this runs for every change applied, and comparing short
        // strings is far cheaper than hashing them.
        switch entity.rawValue {
        case "account": account
        case "contact": contact
        case "activity": activity
        case "task": task
        case "deal": deal
        case "product": product
        case "stock": stock
        case "invoice": invoice
        case "appointment" where profile.knowsAppointments: appointment
        case "plan" where profile.knows(.plan): plan
        case "stage_norm" where profile.knows(.stageNorm): stageNorm
        case "document" where profile.knows(.document): document
        case "document_version" where profile.knows(.documentVersion): documentVersion
        default: .unknown(entity)
        }
    }
}
