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
    @Argument(help: "The account's id.") var account: String
    @Flag(help: "Add the field change history of the account and its contacts, deals and tasks.") var changes = false
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
        if changes { try await fetchEarlierChanges(record.id, replica, context) }
        if changes {
            let related = [record] + card.contacts + card.deals + (try await tasks(of: record.id, replica))
            for item in related {
                for entry in try await replica.history(item.entity, id: item.id) { entries.append((item, entry)) }
            }
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
                "interactions": card.interactions.map(Render.json),
            ]
            if changes { object["changes"] = entries.map { Self.json($0.0, $0.1) } }
            context.printJSON(object)
            return
        }
        context.print("== \(record["name"]?.description ?? record.id.rawValue) ==")
        context.print(Render.card(card.account))
        section(context, "Contacts", card.contacts, ContactCommand.columns)
        section(context, "Deals", card.deals, DealCommand.columns)
        section(context, "Open tasks", card.openTasks, TaskCommand.columns)
        section(context, "Overdue invoices", card.overdueInvoices, InvoiceCommand.columns)
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
        if changes {
            context.print("")
            context.print("Changes (\(entries.count))")
            let rows = entries.map { item, entry -> [String] in
                [
                    Render.localTime(millis: entry.timestamp.wallMilliseconds), entry.author,
                    "\(item?.entity.rawValue ?? "") \(item.map(Self.label) ?? "")", entry.operation,
                    entry.field ?? "", entry.oldValue?.description ?? "", entry.newValue?.description ?? "",
                    entry.status ?? "",
                ]
            }
            if !rows.isEmpty {
                context.print(
                    Render.grid(header: ["when", "who", "record", "change", "field", "old", "new", "note"], rows: rows)
                )
            }
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

    static let columns: [Render.Column] = [
        .id, .field("title"), .field("due_at", "due"), .field("priority"), .field("status"), .field("assignee"),
    ]

    struct Fields: ParsableArguments {
        @Option(help: "What to do.") var title: String?
        @Option var notes: String?
        @Option(name: .customLong("due-at"), help: "When it is due, e.g. 2026-11-30, \"2026-11-30 15:00\", tomorrow.")
        var dueAt: String?
        @Option(help: "low, normal or high.") var priority: String?
        @Option(help: "Who does it (default: you).") var assignee: String?
        @Option(help: "A deal it belongs to.") var deal: String?

        func fill(_ input: inout FieldInput, _ context: FieldContext) async throws {
            try input.set("title", title)
            try input.set("notes", notes)
            try input.set("due_at", dueAt)
            try input.set("priority", priority)
            try input.set("assignee", assignee)
            if let deal, !deal.isEmpty { _ = try await context.existing(.deal, deal) }
            try input.set("deal_id", deal, flag: "--deal")
        }
    }

    struct List: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open tasks, soonest due first (--overdue: only late ones; --all: done and cancelled too).",
            discussion: "Example: crm-field task list --overdue"
        )
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Only tasks past their due time.") var overdue = false
        @Flag(help: "Every task, also done and cancelled ones.") var all = false
        @Option(help: "Only the tasks of this account.") var account: String?
        @Option(help: "Only the tasks of this person (\"me\": yours).") var assignee: String?
        @OptionGroup var list: ListOptions

        func validate() throws {
            if overdue && all { throw ValidationError("--overdue and --all cannot go together") }
        }

        func execute(_ context: FieldContext) async throws {
            let replica = try context.replica()
            let now = ISO8601.format(millisecondsSince1970: ReplicaConfiguration.systemNow())
            let who = assignee == "me" ? try await context.user() : assignee
            let filter = TaskFilter(
                status: all ? nil : "open",
                dueBefore: overdue ? now : nil,
                account: account.map(RecordID.init),
                assignee: who
            )
            context.printPage(
                try await replica.tasks(filter, limit: list.value(context)),
                columns: TaskCommand.columns,
                empty: overdue ? "Nothing overdue." : "No tasks."
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
            if let account { _ = try await context.existing(.account, account) }
            var input = FieldInput(.task)
            try await fields.fill(&input, context)
            try input.set("account_id", account, flag: "--account")
            input.set("status", value: .string("open"))
            if input.fields["assignee"] == nil { input.set("assignee", value: .string(try await context.user())) }
            if input.fields["priority"] == nil { input.set("priority", value: .string("normal")) }
            let record = try await context.replica().create(.task, fields: input.fields)
            context.printRecord(record, title: "Added task \(record.id).")
        }
    }

    static func setStatus(_ id: String, _ status: String, _ context: FieldContext, _ verb: String) async throws {
        _ = try await context.existing(.task, id)
        let record = try await context.replica().update(.task, id: RecordID(id), fields: ["status": .string(status)])
        context.printRecord(record, title: "\(verb) task \(id).")
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
        subcommands: [List.self, Add.self, Stage.self, Edit.self]
    )

    static let columns: [Render.Column] = [
        .id, .field("title"), .field("stage"), .field("amount"), .field("expected_close", "close"),
    ]

    struct Fields: ParsableArguments {
        @Option(help: "What is being sold.") var title: String?
        @Option(help: "The value, e.g. 12000 or 12000.50 (stored in cents).") var amount: String?
        @Option(help: "A three-letter code, e.g. EUR.") var currency: String?
        @Option(name: .customLong("expected-close"), help: "A date, e.g. 2026-12-31.") var expectedClose: String?
        @Option(name: .customLong("lost-reason")) var lostReason: String?

        func fill(_ input: inout FieldInput) throws {
            try input.set("title", title)
            try input.set("amount", amount)
            try input.set("currency", currency)
            try input.set("expected_close", expectedClose)
            try input.set("lost_reason", lostReason)
        }
    }

    struct List: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "List deals, optionally of one stage.",
            discussion: "Example: crm-field deal list --stage negotiation"
        )
        @OptionGroup var global: GlobalOptions
        @Option(help: "new, contacted, negotiation, decision, contract, won or lost.") var stage: String?
        @Option(help: "Only the deals of this account.") var account: String?
        @OptionGroup var list: ListOptions

        func execute(_ context: FieldContext) async throws {
            if let stage, !CRMSchema.dealStages.contains(stage) {
                throw CLIError.invalid("--stage must be one of \(CRMSchema.dealStages.joined(separator: ", "))")
            }
            let deals = try await context.replica().deals(
                stage: stage,
                account: account.map(RecordID.init),
                limit: list.value(context)
            )
            context.printPage(deals, columns: DealCommand.columns, empty: "No deals.")
        }
    }

    struct Add: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a deal for an account.",
            discussion:
                "Example: crm-field deal add --account 01JD7Q8X… --title \"20 pumps\" --amount 12000 --currency EUR"
        )
        @OptionGroup var global: GlobalOptions
        @Option(help: "The account's id.") var account: String
        @Option(help: "The starting stage (default: new).") var stage: String?
        @OptionGroup var fields: Fields

        func execute(_ context: FieldContext) async throws {
            guard fields.title != nil else { throw CLIError.invalid("give the deal a --title") }
            _ = try await context.existing(.account, account)
            var input = FieldInput(.deal)
            try fields.fill(&input)
            try input.set("account_id", account, flag: "--account")
            try input.set("stage", stage ?? "new")
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
            _ = try await context.existing(.deal, id)
            var input = FieldInput(.deal)
            try input.set("stage", stage)
            try input.set("lost_reason", lostReason)
            let record = try await context.replica().update(.deal, id: RecordID(id), fields: input.fields)
            context.printRecord(record, title: "Deal \(id) is now at \(stage.lowercased()).")
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
        abstract: "Your deals by stage: how many and how much.",
        discussion: "Example: crm-field pipeline"
    )
    @OptionGroup var global: GlobalOptions

    func execute(_ context: FieldContext) async throws {
        let stages = try await context.replica().pipeline()
        if context.json {
            context.printJSON(
                stages.map {
                    ["stage": $0.stage, "count": $0.count, "amount": $0.amount, "currency": $0.currency ?? NSNull()]
                        as [String: Any]
                }
            )
            return
        }
        let rows = stages.map { [$0.stage, String($0.count), Render.money($0.amount, currency: $0.currency)] }
        context.print(rows.isEmpty ? "No deals." : Render.grid(header: ["stage", "deals", "amount"], rows: rows))
    }
}
