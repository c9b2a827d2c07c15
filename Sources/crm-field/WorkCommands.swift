import ArgumentParser
import Foundation
import ReplicaStore
import SyncClient
import SyncProtocol

struct History: FieldCommand {
    static let configuration = CommandConfiguration(
        abstract: "Everything about one customer on one screen.",
        discussion: """
            The card, contacts, deals, open tasks, overdue invoices and every interaction, newest first; --changes
            adds who changed which field when, with old and new values.
            Example: crm-field history 01JD7Q8X4N1V3F2Y6Z0B9C8D7E --changes
            """
    )
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The account's id (or the start of it).") var account: String
    @Flag(help: "Add the field change history of the account and its contacts, deals, tasks and appointments.")
    var changes = false
    @Option(help: "Only changes and interactions since this time, e.g. 2026-11-01, -7d.") var since: String?
    @OptionGroup var list: ListOptions

    func execute(_ context: FieldContext) async throws {
        let record = try await context.existing(.account, account)
        let replica = try context.replica()
        let card = try await replica.accountCard(id: record.id, interactionLimit: list.value(context) ?? -1)
        if card.interactionTotal > card.interactions.count {
            context.console.err(
                "showing the newest \(card.interactions.count) of \(card.interactionTotal) interactions; "
                    + "--limit N shows more, --limit 0 all"
            )
        }
        var entries: [(StoredRecord?, HistoryEntry)] = []
        let sinceMillis = try since.map { text -> Int64 in
            guard let millis = FieldInput.parseTime(text, now: ReplicaConfiguration.systemNow(), endOfDay: false) else {
                throw CLIError.invalid("--since must be a time like \(FieldInput.timeExamples)")
            }
            return millis
        }
        // The customer's planned appointments from today on (the card's calendar part).
        let today = Day.window(days: 1, now: ReplicaConfiguration.systemNow()).from
        let upcoming = try await replica.appointments(
            AppointmentFilter(
                from: ISO8601.format(millisecondsSince1970: today),
                account: record.id,
                status: "planned"
            )
        ).records
        let documents = try await replica.documents(account: record.id)
        if changes { try await fetchEarlierChanges(record.id, replica, context) }
        if changes {
            let appointments = try await replica.appointments(AppointmentFilter(account: record.id)).records
            let related =
                [record] + card.contacts + card.deals + (try await tasks(of: record.id, replica)) + appointments
            for item in related {
                for entry in Self.causalOldValues(try await replica.history(item.entity, id: item.id)) {
                    entries.append((item, entry))
                }
            }
            if let sinceMillis { entries = entries.filter { $0.1.timestamp.wallMilliseconds >= sinceMillis } }
            entries.sort {
                ($0.1.timestamp.wallMilliseconds, $0.1.dot.description) < (
                    $1.1.timestamp.wallMilliseconds, $1.1.dot.description
                )
            }
        }
        if context.json {
            var object: [String: Any] = [
                "account": Render.json(card.account),
                "contacts": card.contacts.map(Render.json),
                "deals": card.deals.map(Render.json),
                "open_tasks": card.openTasks.map(Render.json),
                "overdue_invoices": card.overdueInvoices.map(Render.json),
                "appointments": upcoming.map(Render.json),
                "documents": documents.map(Render.json),
                "interactions": card.interactions.map(Render.json),
            ]
            if changes { object["changes"] = entries.map { Self.json($0.0, $0.1) } }
            context.printJSON(object)
            return
        }
        context.print("== \(record["name"]?.description ?? record.id.rawValue) ==")
        context.print(Render.card(card.account))
        section(context, "Contacts", card.contacts, ContactCommand.columns)
        section(context, "Deals", card.deals, DealCommand.columns(nil))
        section(context, "Open tasks", card.openTasks, TaskCommand.columns(nil))
        section(context, "Appointments", upcoming, MeetingCommand.columns([:]).filter { $0.header != "customer" })
        section(context, "Overdue invoices", card.overdueInvoices, InvoiceCommand.columns)
        section(context, "Documents", documents, DocumentCommand.cardColumns)
        section(
            context,
            "Interactions, newest first",
            card.interactions,
            [
                .field("occurred_at", "when"), .field("kind"), .field("subject"), .field("author"),
                Render.Column("contact") { record in
                    guard let id = record["contact_id"]?.stringValue else { return "" }
                    return card.contacts.first { $0.id.rawValue == id }.map(Self.personName) ?? id
                },
                .field("body"),
            ]
        )
        if changes { printChanges(entries, context, limit: list.value(context), account: record.id.rawValue) }
    }

    /// The changes for people: one block per change (newest first), its fields below it with labels, money and
    /// times as people read them, and the old value the author saw.
    private func printChanges(
        _ entries: [(StoredRecord?, HistoryEntry)],
        _ context: FieldContext,
        limit: Int?,
        account: String
    ) {
        var groups: [(StoredRecord?, [HistoryEntry])] = []
        for (item, entry) in entries.reversed() {
            if let last = groups.last, last.1.first?.dot == entry.dot, last.0?.id == item?.id {
                groups[groups.count - 1].1.insert(entry, at: 0)
            } else {
                groups.append((item, [entry]))
            }
        }
        let shown = limit.map { Array(groups.prefix($0)) } ?? groups
        // Writes no later write saw, whose value the record does not show: they lost to a concurrent write.
        var lost = Set<String>()
        let byRecord = Dictionary(grouping: entries, by: { $0.0?.id.rawValue ?? "" })
        for (_, recordEntries) in byRecord {
            for (item, entry) in recordEntries where entry.operation == "set" {
                guard let field = entry.field, let item else { continue }
                let superseded = recordEntries.contains { $0.1.field == field && $0.1.context.contains(entry.dot) }
                if !superseded, item[field] ?? .null != entry.newValue ?? .null {
                    lost.insert("\(entry.dot)/\(field)")
                }
            }
        }
        context.print("")
        context.print("Changes (\(groups.count)\(shown.count < groups.count ? ", newest \(shown.count) shown" : ""))")
        for (item, group) in shown {
            guard let first = group.first else { continue }
            let verb: String =
                switch first.operation {
                case "create", "append": "created"
                case "delete": "deleted"
                case "counter_delta": "moved stock"
                case "counter_reset": "recounted"
                default: "changed"
                }
            var note = ""
            switch first.status {
            case "pending": note = "  (not yet synced)"
            case "rejected": note = "  (refused by the server: crm-field status shows why)"
            default: break
            }
            let what = item.map { "\(Self.entityLabel($0.entity)) \"\(Self.label($0))\"" } ?? ""
            context.print(
                "\(Render.localTime(millis: first.timestamp.wallMilliseconds))  \(first.author)  \(verb) \(what)\(note)"
            )
            // Fields in the schema's order; the account this history is about goes without saying.
            let order = CRMSchema.schema(for: item?.entity ?? .account).fields.map(\.name)
            let sorted = group.filter { $0.field != "account_id" || $0.newValue?.stringValue != account }
                .sorted { (order.firstIndex(of: $0.field ?? "") ?? 99) < (order.firstIndex(of: $1.field ?? "") ?? 99) }
            let rows = sorted.compactMap { entry -> (String, String)? in
                guard let field = entry.field else {
                    return entry.newValue.map { ("quantity", $0.description) }
                }
                let new = Self.show(entry.newValue, field, item)
                let old = Self.show(entry.oldValue, field, item)
                let creating = first.operation == "create" || first.operation == "append"
                let change = creating || old.isEmpty ? new : "\(old) → \(new.isEmpty ? "(cleared)" : new)"
                let note = lost.contains("\(entry.dot)/\(field)") ? "  (a concurrent edit won)" : ""
                return (Self.fieldLabel(field), change + note)
            }
            if !rows.isEmpty { context.print(Render.pairs(rows, indent: "    ")) }
        }
    }

    /// A field's value for people, as the record's card shows it (money in the record's currency, local times).
    static func show(_ value: FieldValue?, _ field: String, _ record: StoredRecord?) -> String {
        guard let value, !value.isNull else { return "" }
        var values: [String: FieldValue] = [field: value]
        if let currency = record?["currency"], field != "currency" { values["currency"] = currency }
        let probe = StoredRecord(
            entity: record?.entity ?? .account,
            id: record?.id ?? RecordID("-"),
            values: values,
            isDeleted: false
        )
        return Render.display(probe, field)
    }

    static func fieldLabel(_ field: String) -> String {
        field.hasSuffix("_id") ? String(field.dropLast(3)) : field.replacingOccurrences(of: "_", with: " ")
    }

    static func entityLabel(_ entity: EntityKind) -> String {
        entity == .appointment ? "appointment" : entity.rawValue
    }

    /// The old value of each entry as its author saw it: the latest earlier write to the field that the change's
    /// context contains (causal order), not the one that happened to arrive before it here.
    static func causalOldValues(_ entries: [HistoryEntry]) -> [HistoryEntry] {
        var byField: [String: [HistoryEntry]] = [:]
        for entry in entries { if let field = entry.field { byField[field, default: []].append(entry) } }
        return entries.map { entry in
            guard let field = entry.field, entry.operation == "set" else { return entry }
            var fixed = entry
            let seen = (byField[field] ?? []).filter { $0.dot != entry.dot && entry.context.contains($0.dot) }
            fixed.oldValue =
                seen.max { ($0.timestamp, $0.dot.description) < ($1.timestamp, $1.dot.description) }?
                .newValue
            return fixed
        }
    }

    /// A laptop set up from the snapshot has no changes from before its set-up: the first `--changes` of an
    /// account fetches them from the server once (offline, it says where they are and shows what it has).
    private func fetchEarlierChanges(_ account: RecordID, _ replica: Replica, _ context: FieldContext) async throws {
        guard let setUp = try await replica.setUpFromSnapshotAt(),
            !(try await replica.hasServerHistory(account: account)),
            let server = try await replica.syncInfo().server
        else { return }
        let note =
            "note: changes made before this laptop was set up (\(Render.localTime(millis: setUp))) are on the "
            + "server; they show here once it can be reached"
        do {
            // A screen command: offline it must not wait long for a server it cannot reach.
            let fetched = try await context.withTransport(server: server, connectTimeout: .seconds(2)) { transport in
                try await transport.accountHistory(account)
            }
            guard let fetched else {
                return context.console.err(
                    note.replacingOccurrences(of: "once it can be reached", with: "with a newer server")
                )
            }
            try await replica.backfillHistory(account: account, changes: fetched)
        } catch let error as SyncClientError where error.code == .unreachable || error.isTransient {
            context.console.err(note)
        } catch let error as SyncClientError {
            // Whatever the server said (a revoked token, say), the laptop's own history is still shown.
            context.console.err("note: the changes from before this laptop was set up could not be fetched: \(error)")
        }
    }

    private func tasks(of account: RecordID, _ replica: Replica) async throws -> [StoredRecord] {
        try await replica.tasks(TaskFilter(status: nil, account: account)).records
    }

    private func section(
        _ context: FieldContext,
        _ title: String,
        _ records: [StoredRecord],
        _ columns: [Render.Column]
    ) {
        context.print("")
        context.print("\(title) (\(records.count))")
        if !records.isEmpty { context.print(Render.table(records, columns: columns)) }
    }

    /// An interaction list's columns (a deal's card).
    static let interactionColumns: [Render.Column] = [
        .id, .field("occurred_at", "when"),
        Render.Column("kind") { record in
            let kind = record["kind"]?.description ?? ""
            return record["direction"]?.stringValue.map { "\(kind) \($0)" } ?? kind
        },
        .field("subject"), .field("author"), .field("body"),
    ]

    static func personName(_ record: StoredRecord) -> String {
        [record["first_name"]?.description, record["last_name"]?.description].compactMap { $0 }.joined(separator: " ")
    }

    static func label(_ record: StoredRecord) -> String {
        switch record.entity {
        case .contact: personName(record)
        case .account: record["name"]?.description ?? record.id.rawValue
        default: record["title"]?.description ?? record.id.rawValue
        }
    }

    static func json(_ record: StoredRecord?, _ entry: HistoryEntry) -> [String: Any] {
        [
            "entity": record?.entity.rawValue ?? "", "id": record?.id.rawValue ?? "",
            "dot": entry.dot.description, "author": entry.author,
            "at": ISO8601.format(millisecondsSince1970: entry.timestamp.wallMilliseconds),
            "operation": entry.operation, "field": entry.field ?? NSNull(),
            "old_value": entry.oldValue.map(Render.jsonValue) ?? NSNull(),
            "new_value": entry.newValue.map(Render.jsonValue) ?? NSNull(),
            "origin": entry.origin, "status": entry.status ?? NSNull(),
        ]
    }
}

struct TaskCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "task",
        abstract: "Tasks and reminders.",
        subcommands: [List.self, Add.self, Done.self, Reopen.self, Cancel.self, Edit.self]
    )

    /// The list's columns; `customers` (account names by id) adds the customer's, nil leaves it out (a card).
    static func columns(_ customers: [String: String]?) -> [Render.Column] {
        [.id, .field("title")] + (customers.map { [Render.customer($0)] } ?? [])
            + [
                .field("due_at", "due"), .field("remind_at", "remind"), .field("priority"), .field("status"),
                .field("assignee"),
            ]
    }

    struct Fields: ParsableArguments {
        @Option(help: "What to do.") var title: String?
        @Option var notes: String?
        @Option(name: .customLong("due-at"), help: "When it is due, e.g. 2026-11-30, \"tomorrow 15:00\", +3d.")
        var dueAt: String?
        @Option(
            name: .customLong("remind-at"),
            help: "When crm-field today and remind bring it up, e.g. \"tomorrow 9:00\" or +2h."
        )
        var remindAt: String?
        @Option(help: "low, normal or high.") var priority: String?
        @Option(help: "Who does it (default: you).") var assignee: String?
        @Option(help: "A deal it belongs to.") var deal: String?

        func fill(_ input: inout FieldInput, _ context: FieldContext) async throws {
            try input.set("title", title)
            try input.set("notes", notes)
            try input.set("due_at", dueAt)
            try input.set("remind_at", remindAt, flag: "--remind-at")
            try input.set("priority", priority)
            try input.set("assignee", assignee)
            try input.set("deal_id", try await context.resolve(.deal, deal), flag: "--deal")
        }
    }

    struct List: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Your open tasks, soonest due first (--all: the team's, in every status).",
            discussion: """
                Shows the tasks assigned to you unless --all (everyone's, done and cancelled too) or --assignee \
                NAME; --status open|done|cancelled|any picks the status (default open).
                Example: crm-field task list --overdue
                """
        )
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Only tasks past their due time.") var overdue = false
        @Flag(help: "The whole team's tasks, in every status.") var all = false
        @Option(help: "open, done, cancelled or any (default: open; with --all any).") var status: String?
        @Option(help: "Only the tasks of this account.") var account: String?
        @Option(help: "Only the tasks of this person (\"me\": yours, the default).") var assignee: String?
        @OptionGroup var list: ListOptions

        func validate() throws {
            if let status, !["open", "done", "cancelled", "any"].contains(status) {
                throw ValidationError("--status must be open, done, cancelled or any")
            }
        }

        func execute(_ context: FieldContext) async throws {
            let replica = try context.replica()
            let now = ISO8601.format(millisecondsSince1970: ReplicaConfiguration.systemNow())
            let me = try await context.user()
            let who = assignee == "me" ? me : assignee ?? (all ? nil : me)
            let chosen = status ?? (all ? "any" : "open")
            let filter = TaskFilter(
                status: chosen == "any" ? nil : chosen,
                dueBefore: overdue ? now : nil,
                account: try await context.resolve(.account, account).map(RecordID.init),
                assignee: who
            )
            let page = try await replica.tasks(filter, limit: list.value(context))
            context.printPage(
                page,
                columns: TaskCommand.columns(try await context.accountNames(page.records)),
                empty: overdue ? "Nothing overdue." : all ? "No tasks." : "No tasks of yours (--all: the team's)."
            )
        }
    }

    struct Add: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a task, for an account or on its own.",
            discussion: "Example: crm-field task add --account 01JD7Q8X… --title \"Send the quote\" --due-at tomorrow"
        )
        @OptionGroup var global: GlobalOptions
        @Option(help: "The account it is about.") var account: String?
        @OptionGroup var fields: Fields

        func execute(_ context: FieldContext) async throws {
            guard fields.title != nil else { throw CLIError.invalid("give the task a --title") }
            var input = FieldInput(.task)
            try await fields.fill(&input, context)
            try input.set("account_id", try await context.resolve(.account, account), flag: "--account")
            input.set("status", value: .string("open"))
            if input.fields["assignee"] == nil { input.set("assignee", value: .string(try await context.user())) }
            if input.fields["priority"] == nil { input.set("priority", value: .string("normal")) }
            let record = try await context.replica().create(.task, fields: input.fields)
            context.printRecord(record, title: "Added task \(record.id).")
        }
    }

    static func setStatus(_ id: String, _ status: String, _ context: FieldContext, _ verb: String) async throws {
        let task = try await context.existing(.task, id)
        let record = try await context.replica().update(.task, id: task.id, fields: ["status": .string(status)])
        context.printRecord(record, title: "\(verb) task \(History.label(record)).")
    }

    struct Done: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Mark a task done.",
            discussion: "Example: crm-field task done 01JD7QC…"
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The task's id.") var id: String
        func execute(_ context: FieldContext) async throws { try await setStatus(id, "done", context, "Completed") }
    }

    struct Reopen: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open a done or cancelled task again.",
            discussion: "Example: crm-field task reopen 01JD7QC…"
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The task's id.") var id: String
        func execute(_ context: FieldContext) async throws { try await setStatus(id, "open", context, "Reopened") }
    }

    struct Cancel: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cancel a task.",
            discussion: "Example: crm-field task cancel 01JD7QC…"
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The task's id.") var id: String
        func execute(_ context: FieldContext) async throws {
            try await setStatus(id, "cancelled", context, "Cancelled")
        }
    }

    struct Edit: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a task (an empty value clears a field).",
            discussion: "Example: crm-field task edit 01JD7QC… --title \"Send the revised quote\" --priority high"
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The task's id.") var id: String
        @OptionGroup var fields: Fields

        func execute(_ context: FieldContext) async throws {
            try await context.edit(.task, id, example: "--title") { try await fields.fill(&$0, context) }
        }
    }
}

struct DealCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deal",
        abstract: "Deals and their stages.",
        subcommands: [List.self, Show.self, Add.self, Stage.self, Edit.self]
    )

    /// As ``TaskCommand/columns(_:)``.
    static func columns(_ customers: [String: String]?) -> [Render.Column] {
        [.id, .field("title")] + (customers.map { [Render.customer($0)] } ?? [])
            + [.field("stage"), .field("amount"), .field("expected_close", "close"), .field("owner")]
    }

    struct Fields: ParsableArguments {
        @Option(help: "What is being sold.") var title: String?
        @Option(help: "The value, e.g. 12000 or 12000.50 (stored in cents).") var amount: String?
        @Option(help: "A three-letter code, e.g. EUR.") var currency: String?
        @Option(name: .customLong("expected-close"), help: "A date, e.g. 2026-12-31.") var expectedClose: String?
        @Option(name: .customLong("lost-reason")) var lostReason: String?
        @Option(help: "The rep it belongs to (default: you, when you add it).") var owner: String?
        @Option(help: "Where it came from: website, referral, exhibition, cold_call, inbound_call or other.")
        var source: String?

        func fill(_ input: inout FieldInput) throws {
            try input.set("owner", owner)
            try input.set("source", source.map { $0.replacingOccurrences(of: "-", with: "_") })
            try input.set("title", title)
            try input.set("amount", amount)
            try input.set("currency", currency)
            try input.set("expected_close", expectedClose)
            try input.set("lost_reason", lostReason)
        }
    }

    struct List: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Your deals, optionally of one stage (--all: the team's).",
            discussion: """
                Shows the deals you own (and owner-less ones of accounts you own) unless --all or --owner NAME.
                Example: crm-field deal list --stage negotiation
                """
        )
        @OptionGroup var global: GlobalOptions
        @Option(help: "new, contacted, negotiation, decision, contract, won or lost.") var stage: String?
        @Option(help: "Only the deals of this account.") var account: String?
        @Flag(help: "The whole team's deals.") var all = false
        @Option(help: "Only the deals of this rep (\"me\": yours, the default).") var owner: String?
        @Flag(help: "Only deals longer in their stage than its norm (set by IT), most overdue first.") var stuck = false
        @OptionGroup var list: ListOptions

        func execute(_ context: FieldContext) async throws {
            if let stage, !CRMSchema.dealStages.contains(stage) {
                throw CLIError.invalid("--stage must be one of \(CRMSchema.dealStages.joined(separator: ", "))")
            }
            let me = try await context.user()
            let account = try await context.resolve(.account, account).map(RecordID.init)
            let who = owner == "me" ? me : owner ?? (all || account != nil ? nil : me)
            if stuck { return try await listStuck(context, account: account, who: who, me: me) }
            let deals = try await context.replica().deals(
                stage: stage,
                account: account,
                mine: who,
                limit: list.value(context)
            )
            context.printPage(
                deals,
                columns: DealCommand.columns(try await context.accountNames(deals.records)),
                empty: all ? "No deals." : "No deals of yours (--all: the team's)."
            )
        }
    }

    /// The stuck deals: in an open stage longer than its norm, by days over the norm.
    static func stuckDeals(_ context: FieldContext) async throws -> (StageNorms, [StoredRecord]) {
        let replica = try context.replica()
        var norms = try await StageNorms.load(replica, now: ReportCommand.now(), facts: false)
        guard !norms.days.isEmpty else { return (norms, []) }
        let found = try await replica.stuckDeals(norms: norms.days, now: norms.now)
        for (deal, since) in found { norms.facts[deal.id] = DealStageFacts(entered: since, stages: []) }
        let deals = found.map(\.deal)
        func over(_ deal: StoredRecord) -> Int64 { Int64(norms.daysInStage(deal) ?? 0) - (norms.norm(deal) ?? 0) }
        return (norms, deals.sorted { (over($1), $0.id) < (over($0), $1.id) })
    }

    struct Show: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "The deal's card: customer, stage and days in it, amount, owner, tasks, meetings, interactions.",
            discussion: "Example: crm-field deal show 01JD7QD"
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The deal's id (or the start of it).") var id: String

        func execute(_ context: FieldContext) async throws {
            let deal = try await context.existing(.deal, id)
            let replica = try context.replica()
            let now = ReplicaConfiguration.systemNow()
            var account: StoredRecord?
            if let accountID = deal["account_id"]?.stringValue {
                account = try await replica.record(.account, id: RecordID(accountID))
            }
            let parts = try await replica.dealParts(deal.id)
            let documents = try await replica.documents(deal: deal.id)
            // Each stage change, from the deal's history; the current stage's start is its winning write's stamp
            // (exact also on a laptop set up from the snapshot, whose history begins there).
            let stages = try await replica.history(.deal, id: deal.id).filter { $0.field == "stage" }
                .sorted { $0.timestamp < $1.timestamp }
            let entered = try await replica.winningEntry(.deal, id: deal.id, field: "stage")?.timestamp.wallMilliseconds
            let days = entered.map { max(0, Int((now - $0) / 86_400_000)) }
            var norms = try await StageNorms.load(replica, now: now, facts: false)
            norms.facts[deal.id] = DealStageFacts(entered: entered, stages: [])
            let norm = norms.norm(deal)
            let isStuck = norms.isStuck(deal)
            if context.json {
                return context.printJSON(
                    [
                        "deal": Render.json(deal), "account": account.map(Render.json) ?? NSNull(),
                        "stage_since": entered.map { ISO8601.format(millisecondsSince1970: $0) } ?? NSNull(),
                        "days_in_stage": days ?? NSNull(),
                        "norm_days": norm.map { NSNumber(value: $0) } ?? NSNull(), "stuck": isStuck,
                        "stages": stages.map {
                            [
                                "stage": $0.newValue?.stringValue ?? "", "by": $0.author,
                                "at": ISO8601.format(millisecondsSince1970: $0.timestamp.wallMilliseconds),
                            ]
                        },
                        "tasks": parts.tasks.map(Render.json), "appointments": parts.appointments.map(Render.json),
                        "documents": documents.map(Render.json), "interactions": parts.interactions.map(Render.json),
                    ] as [String: Any]
                )
            }
            context.print("== \(deal["title"]?.description ?? "") ==")
            let lines: [(String, String)] = [
                ("id", deal.id.rawValue),
                (
                    "customer",
                    account.map { "\($0["name"]?.description ?? "") (\(Render.shortID($0.id.rawValue)))" } ?? ""
                ),
                (
                    "stage",
                    "\(Render.display(deal, "stage"))" + (days.map { ", \($0) day\($0 == 1 ? "" : "s") in it" } ?? "")
                        + (norm.map { isStuck ? " — STUCK (norm \($0) days)" : " (norm \($0) days)" } ?? "")
                ),
                ("source", Render.display(deal, "source")),
                ("amount", Render.display(deal, "amount")),
                ("expected close", Render.display(deal, "expected_close")),
                ("owner", Render.display(deal, "owner")),
                ("created", Render.display(deal, "created_at")),
                ("closed", Render.display(deal, "closed_at")),
                ("lost reason", Render.display(deal, "lost_reason")),
            ]
            context.print(Render.pairs(lines.filter { !$0.1.isEmpty }))
            if !stages.isEmpty {
                context.print("")
                context.print("Stages")
                context.print(
                    Render.grid(
                        header: ["when", "stage", "who"],
                        rows: stages.map {
                            [
                                Render.localTime(millis: $0.timestamp.wallMilliseconds), $0.newValue?.description ?? "",
                                $0.author,
                            ]
                        }
                    )
                )
            }
            for (title, records, columns) in [
                ("Tasks", parts.tasks, TaskCommand.columns(nil)),
                ("Appointments", parts.appointments, MeetingCommand.columns([:])),
                ("Documents", documents, DocumentCommand.cardColumns),
                ("Interactions, newest first", parts.interactions, History.interactionColumns),
            ] {
                context.print("")
                context.print("\(title) (\(records.count))")
                if !records.isEmpty { context.print(Render.table(records, columns: columns)) }
            }
        }
    }

    struct Add: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a deal for an account (--source: where it came from).",
            discussion:
                "Example: crm-field deal add --account 01JD7Q8X… --title \"20 pumps\" --amount 12000 --currency EUR"
        )
        @OptionGroup var global: GlobalOptions
        @Option(help: "The account's id.") var account: String
        @Option(help: "The starting stage (default: new).") var stage: String?
        @OptionGroup var fields: Fields

        func execute(_ context: FieldContext) async throws {
            guard fields.title != nil else { throw CLIError.invalid("give the deal a --title") }
            let customer = try await context.existing(.account, account)
            var input = FieldInput(.deal)
            try fields.fill(&input)
            input.set("account_id", value: .string(customer.id.rawValue))
            try input.set("stage", stage ?? "new")
            // Fields of 0.16 (a laptop speaking an older schema, SchemaProfile, leaves them to newer ones).
            if CRMSchema.deal.fieldsByName["owner"] != nil {
                if input.fields["owner"] == nil { input.set("owner", value: .string(try await context.user())) }
                input.set("created_at", value: .string(ISO8601.format(millisecondsSince1970: input.now)))
                if let chosen = input.fields["stage"]?.stringValue, ["won", "lost"].contains(chosen) {
                    input.set("closed_at", value: .string(ISO8601.format(millisecondsSince1970: input.now)))
                }
            }
            let record = try await context.replica().create(.deal, fields: input.fields)
            context.printRecord(record, title: "Added deal \(record.id).")
        }
    }

    struct Stage: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move a deal to a stage.",
            discussion: "Example: crm-field deal stage 01JD7QD… lost --lost-reason \"price\""
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The deal's id.") var id: String
        @Argument(help: "new, contacted, negotiation, decision, contract, won or lost.") var stage: String
        @Option(name: .customLong("lost-reason"), help: "Why it was lost.") var lostReason: String?

        func execute(_ context: FieldContext) async throws {
            let deal = try await context.existing(.deal, id)
            var input = FieldInput(.deal)
            try input.set("stage", stage)
            try input.set("lost_reason", lostReason)
            // closed_at follows the stage: set when it reaches won or lost, cleared when it is reopened.
            let closes =
                ["won", "lost"].contains(stage.lowercased()) && CRMSchema.deal.fieldsByName["closed_at"] != nil
            let wasClosed = ["won", "lost"].contains(deal["stage"]?.stringValue ?? "")
            if closes && (!wasClosed || deal["stage"]?.stringValue != stage.lowercased()) {
                input.set("closed_at", value: .string(ISO8601.format(millisecondsSince1970: input.now)))
            } else if !closes, deal["closed_at"] != nil, CRMSchema.deal.fieldsByName["closed_at"] != nil {
                input.set("closed_at", value: .null)
            }
            let record = try await context.replica().update(.deal, id: deal.id, fields: input.fields)
            context.printRecord(record, title: "Deal \(History.label(record)) is now at \(stage.lowercased()).")
        }
    }

    struct Edit: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a deal (an empty value clears a field).",
            discussion: "Example: crm-field deal edit 01JD7QD… --amount 15000 --expected-close 2027-01-31"
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The deal's id.") var id: String
        @OptionGroup var fields: Fields

        func execute(_ context: FieldContext) async throws {
            try await context.edit(.deal, id, example: "--amount") { try fields.fill(&$0) }
        }
    }
}

struct Pipeline: FieldCommand {
    static let configuration = CommandConfiguration(
        abstract: "The deals by stage: how many, how much, how many stuck (--by rep: per rep, with conversion).",
        discussion: """
            A deal is stuck when it has been in an open stage longer than the stage's norm (set by IT). With \
            --by rep: per rep and stage the deals there now, how many ever reached the stage, and the share of \
            those that reached the next. Example: crm-field pipeline --by rep --chart
            """
    )
    @OptionGroup var global: GlobalOptions
    @Option(help: "rep: one block per rep, with conversion between stages.") var by: String?
    @OptionGroup var output: ReportOutput

    func validate() throws {
        if let by, by != "rep" { throw ValidationError("--by takes rep") }
    }

    func execute(_ context: FieldContext) async throws {
        if by == "rep" { return try await Pipeline.byRep(context, output: output) }
        let replica = try context.replica()
        let stages = try await replica.pipeline()
        let norms = try await StageNorms.load(replica, now: ReportCommand.now(), facts: false)
        let stuck = try await replica.stuckCounts(norms: norms.days, now: norms.now)
        if output.csv || output.chart || output.html != nil {
            let report = Report(
                name: "pipeline",
                title: "Pipeline",
                subtitle: "Every deal of this laptop by stage",
                columns: [
                    .init(key: "stage", header: "stage"), .init(key: "deals", header: "deals"),
                    .init(key: "amount", header: "amount"), .init(key: "stuck", header: "stuck"),
                ],
                rows: stages.map {
                    [
                        .text($0.stage), .count($0.count), .money(MoneySum($0.amount, $0.currency)),
                        .count(stuck[$0.stage] ?? 0),
                    ]
                },
                chart: ([0], 1)
            )
            return try output.show(report, context)
        }
        if context.json {
            context.printJSON(
                stages.map {
                    [
                        "stage": $0.stage, "count": $0.count, "amount": $0.amount, "currency": $0.currency ?? NSNull(),
                        "stuck": stuck[$0.stage] ?? 0,
                        "norm_days": norms.days[$0.stage].map { NSNumber(value: $0) } ?? NSNull(),
                    ] as [String: Any]
                }
            )
            return
        }
        let rows = stages.map {
            [
                $0.stage, String($0.count), Render.money($0.amount, currency: $0.currency),
                stuck[$0.stage].map { "\($0) stuck" } ?? "", norms.days[$0.stage].map { "norm \($0) d" } ?? "",
            ]
        }
        context.print(
            rows.isEmpty
                ? "No deals."
                : Render.grid(header: ["stage", "deals", "amount", "stuck", "norm"], rows: rows, rightAligned: [1, 2])
        )
        if norms.days.isEmpty && !rows.isEmpty {
            context.console.err("no stage norms yet: IT sets them (crm-sync-server import norms FILE.csv)")
        }
    }
}

extension DealCommand.List {
    /// `deal list --stuck`: the stuck deals of the same selection as the list, with days in stage and the norm.
    func listStuck(_ context: FieldContext, account: RecordID?, who: String?, me: String) async throws {
        let (norms, stuckDeals) = try await DealCommand.stuckDeals(context)
        if norms.days.isEmpty {
            context.console.err("no stage norms yet: IT sets them (crm-sync-server import norms FILE.csv)")
        }
        var team = try await Team.load(context, rep: nil)
        try await team.know(accountsOf: stuckDeals)
        let shown = stuckDeals.filter { deal in
            (stage == nil || deal["stage"]?.stringValue == stage)
                && (account == nil || deal["account_id"]?.stringValue == account?.rawValue)
                && (who == nil || team.owner(ofDeal: deal) == who)
        }
        if context.json {
            return context.printJSON(
                shown.map { deal -> [String: Any] in
                    var object = Render.json(deal)
                    object["days_in_stage"] = norms.daysInStage(deal) ?? 0
                    object["norm_days"] = norms.norm(deal).map { NSNumber(value: $0) } ?? NSNull()
                    return object
                }
            )
        }
        let columns =
            DealCommand.columns(try await context.accountNames(shown)) + [
                Render.Column("days in stage", alignRight: true) { String(norms.daysInStage($0) ?? 0) },
                Render.Column("norm", alignRight: true) { norms.norm($0).map(String.init) ?? "" },
            ]
        context.printRecords(
            shown,
            columns: columns,
            empty: all || who == nil ? "No stuck deals." : "No stuck deals of yours (--all: the team's)."
        )
    }
}
