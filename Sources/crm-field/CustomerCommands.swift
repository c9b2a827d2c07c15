import ArgumentParser
import Foundation
import ReplicaStore
import SyncProtocol

extension FieldContext {
    /// A live record of this replica by its id or a unique case-insensitive prefix of it (as git takes one), or
    /// an error that names the records an ambiguous prefix matches, or says none does.
    func existing(_ entity: EntityKind, _ id: String) async throws -> StoredRecord {
        let typed = id.trimmingCharacters(in: .whitespaces)
        if RecordID.isValid(typed), let record = try await replica().record(entity, id: RecordID(typed)),
            !record.isDeleted
        {
            return record
        }
        let matches = typed.isEmpty ? [] : try await replica().records(entity, idPrefix: typed, limit: 8)
        if matches.count == 1 { return matches[0] }
        guard matches.isEmpty else {
            let listed = matches.prefix(8).map { "\($0.id) (\(History.label($0)))" }.joined(separator: ", ")
            throw CLIError(
                "ambiguous_id",
                "\(typed) matches \(matches.count > 8 ? "more than 8" : "\(matches.count)") \(entity)s: \(listed); "
                    + "type more of the id",
                exitCode: 2
            )
        }
        let hint = entity == .account ? " in your territories (crm-field account list)" : ""
        throw CLIError.notFound("no \(entity) \(typed)\(hint)")
    }

    /// The full id of a record named by its id or a prefix (see ``existing(_:_:)``); nil stays nil, and an empty
    /// text stays empty (it clears a reference).
    func resolve(_ entity: EntityKind, _ id: String?) async throws -> String? {
        guard let id else { return nil }
        if id.trimmingCharacters(in: .whitespaces).isEmpty { return "" }
        return try await existing(entity, id).id.rawValue
    }

    /// `… edit ID --field value…`: checks the record exists, reads the flags through `fill`, refuses an edit that
    /// names no field (`example` is a flag to suggest), writes one change and prints the record.
    func edit(
        _ entity: EntityKind,
        _ id: String,
        example: String,
        _ fill: (inout FieldInput) async throws -> Void
    ) async throws {
        let existing = try await existing(entity, id)
        var input = FieldInput(entity)
        try await fill(&input)
        guard !input.isEmpty else { throw CLIError.invalid("name at least one field to change, e.g. \(example)") }
        let record = try await replica().update(entity, id: existing.id, fields: input.fields)
        printRecord(record, title: "Changed \(entity) \(History.label(record)).")
    }

    /// The full id of a contact or deal named by `id` (or a prefix), checked to belong to `account`.
    func belonging(_ entity: EntityKind, _ id: String?, to account: String) async throws -> String? {
        guard let id, !id.trimmingCharacters(in: .whitespaces).isEmpty else { return id }
        let record = try await existing(entity, id)
        guard record["account_id"]?.stringValue == account else {
            throw CLIError.invalid("\(entity) \(id) belongs to another account")
        }
        return record.id.rawValue
    }

    /// The signed-in rep (set by `init`).
    func user() async throws -> String {
        guard let user = try await replica().syncInfo().user else {
            throw CLIError("not_initialized", "this replica has no user: run crm-field init first")
        }
        return user
    }
}

struct AccountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "account",
        abstract: "Customers and other accounts of your territories.",
        subcommands: [List.self, Show.self, Add.self, Edit.self, Delete.self]
    )

    static let columns: [Render.Column] = [
        .id, .field("name"), .field("kind"), .field("status"), .field("region"), .field("phone"),
        .field("territory"), .field("owner"), .standing,
    ]

    /// The flags of the account fields a rep may set.
    struct Fields: ParsableArguments {
        @Option(help: "customer, prospect, supplier or partner.") var kind: String?
        @Option var industry: String?
        @Option var region: String?
        @Option(help: "active or passive.") var status: String?
        @Option var address: String?
        @Option var phone: String?
        @Option var email: String?
        @Option var website: String?

        func fill(_ input: inout FieldInput) throws {
            try input.set("kind", kind)
            try input.set("industry", industry)
            try input.set("region", region)
            try input.set("status", status)
            try input.set("address", address)
            try input.set("phone", phone)
            try input.set("email", email)
            try input.set("website", website)
        }
    }

    struct List: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "List accounts, or find them by name.",
            discussion: "Example: crm-field account list --search müller"
        )
        @OptionGroup var global: GlobalOptions
        @Option(
            help:
                "Words of the account's or a contact's name (accents and case ignored), or a phone number (spaces and dashes ignored)."
        ) var search: String?
        @OptionGroup var list: ListOptions

        func execute(_ context: FieldContext) async throws {
            let replica = try context.replica()
            var records: [StoredRecord]
            var listed: RecordPage?
            let digits = search.map { $0.filter(\.isNumber) } ?? ""
            let looksLikePhone =
                digits.count >= 4
                && (search ?? "").allSatisfy { $0.isNumber || " +-./()".contains($0) }
            if looksLikePhone {
                records = try await replica.accounts(phoneDigits: String(digits))
            } else if let search, !search.trimmingCharacters(in: .whitespaces).isEmpty {
                var ids: [RecordID] = []
                for hit in try await replica.search(search) {
                    let id = hit.entity == .account ? hit.id : hit["account_id"]?.stringValue.map(RecordID.init)
                    if let id, !ids.contains(id) { ids.append(id) }
                }
                let found = try await replica.records(.account, ids: ids)
                records = ids.compactMap { found[$0] }
                if records.count >= 50 {
                    context.console.err("showing the first \(records.count) matches; add words to narrow the search")
                }
            } else {
                let page = try await replica.accounts(limit: list.value(context))
                records = page.records
                listed = page
            }
            context.printPage(
                listed ?? RecordPage(records: records, total: records.count),
                columns: AccountCommand.columns,
                empty: search == nil ? "No accounts yet." : "No account matches \(search ?? "")."
            )
        }
    }

    struct Show: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one account (crm-field history ID shows everything about it).",
            discussion: "Example: crm-field account show 01JD7Q8X4N1V3F2Y6Z0B9C8D7E"
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The account's id.") var id: String

        func execute(_ context: FieldContext) async throws {
            context.printRecord(try await context.existing(.account, id))
        }
    }

    struct Add: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an account in one of your territories; you become its owner.",
            discussion: "Example: crm-field account add --name \"Müller GmbH\" --kind customer --phone \"+49 30 1234\""
        )
        @OptionGroup var global: GlobalOptions
        @Option(help: "The account's name.") var name: String
        @Option(help: "One of your territories (default: your first).") var territory: String?
        @Flag(help: "Add it even when an account of that name exists.") var force = false
        @OptionGroup var fields: Fields

        func execute(_ context: FieldContext) async throws {
            let replica = try context.replica()
            let info = try await replica.syncInfo()
            let namesakes = try await replica.accounts(named: name.trimmingCharacters(in: .whitespaces))
            if !namesakes.isEmpty && !force {
                let listed = namesakes.prefix(3).map {
                    "\(Render.shortID($0.id.rawValue)) in \($0["territory"]?.description ?? "?")"
                }
                throw CLIError(
                    "duplicate_name",
                    "an account named \(name) exists (\(listed.joined(separator: ", "))); "
                        + "crm-field history ID shows it, --force adds another",
                    exitCode: 2
                )
            }
            let user = try await context.user()
            guard let first = info.territories.first else {
                throw CLIError("no_territory", "you have no territory, so you cannot add accounts; ask IT")
            }
            let chosen = territory ?? first
            guard info.territories.contains(chosen) else {
                throw CLIError.invalid(
                    "--territory \(chosen) is not one of yours (\(info.territories.joined(separator: ", ")))"
                )
            }
            var input = FieldInput(.account)
            try input.set("name", name)
            try fields.fill(&input)
            input.set("territory", value: .string(chosen))
            input.set("owner", value: .string(user))
            if input.fields["kind"] == nil { input.set("kind", value: .string("customer")) }
            if input.fields["status"] == nil { input.set("status", value: .string("active")) }
            let record = try await replica.create(.account, fields: input.fields)
            context.printRecord(record, title: "Added account \(record.id).")
        }
    }

    struct Edit: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change fields of an account (an empty value clears a field).",
            discussion: "Example: crm-field account edit 01JD7Q8X… --phone \"+49 30 9999\" --website \"\""
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The account's id.") var id: String
        @Option(help: "The account's name.") var name: String?
        @OptionGroup var fields: Fields

        func execute(_ context: FieldContext) async throws {
            try await context.edit(.account, id, example: "--phone") { input in
                try input.set("name", name)
                try fields.fill(&input)
            }
        }
    }

    struct Delete: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete an account (managers and admins; reps set status passive instead).",
            discussion: """
                Reps may not delete accounts (they set `status passive`); managers and admins may. IT can undelete \
                any record (crm-sync-server record restore). The history stays, and an edit made elsewhere \
                meanwhile brings the account back. Asks before it deletes; --yes answers for a script.
                Example: crm-field account delete 01JD7Q8X4N1V3F2Y6Z0B9C8D7E --yes
                """
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The account's id.") var id: String
        @Flag(help: "Delete without asking.") var yes = false

        func execute(_ context: FieldContext) async throws {
            let record = try await context.existing(.account, id)
            // The rule the replica and the server apply, asked before the confirmation.
            let info = try await context.replica().syncInfo()
            if let rejection = DeletePermission.rejection(
                role: info.role,
                user: info.user ?? "",
                entity: .account,
                record: nil
            ) {
                throw CLIError(
                    "not_permitted",
                    "\(rejection.reason): crm-field account edit \(id) --status passive",
                    exitCode: 2
                )
            }
            let name = record["name"]?.description ?? ""
            if !yes {
                guard isatty(STDIN_FILENO) == 1 else {
                    throw CLIError(
                        "confirmation_needed",
                        "deleting \(name) needs --yes when not asked on a terminal",
                        exitCode: 2
                    )
                }
                FileHandle.standardError.write(Data("Delete account \(id) (\(name)) for everyone? [y/N] ".utf8))
                guard let answer = readLine(), ["y", "yes"].contains(answer.lowercased()) else {
                    context.print("Not deleted.")
                    return
                }
            }
            try await context.replica().delete(.account, id: record.id)
            if context.json {
                var object = Render.json(record)
                object["deleted"] = true
                context.printJSON(object)
            } else {
                context.print("Deleted account \(id) (\(record["name"]?.description ?? "")).")
            }
        }
    }
}

struct ContactCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contact",
        abstract: "People at your customers, with their roles.",
        subcommands: [List.self, Show.self, Add.self, Edit.self]
    )

    static let columns: [Render.Column] = [
        .id, .field("first_name", "first name"), .field("last_name", "last name"), .field("role"), .field("title"),
        .field("phone"), .field("mobile"), .field("email"),
    ]

    struct Fields: ParsableArguments {
        @Option(name: .customLong("first-name")) var firstName: String?
        @Option(name: .customLong("last-name")) var lastName: String?
        @Option(help: "billing, marketing, decision_maker, technical or other.") var role: String?
        @Option var title: String?
        @Option var phone: String?
        @Option var mobile: String?
        @Option var email: String?

        func fill(_ input: inout FieldInput) throws {
            try input.set("first_name", firstName)
            try input.set("last_name", lastName)
            try input.set("role", role.map { $0.replacingOccurrences(of: "-", with: "_") })
            try input.set("title", title)
            try input.set("phone", phone)
            try input.set("mobile", mobile)
            try input.set("email", email)
        }
    }

    struct List: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "The contacts of an account.",
            discussion: "Example: crm-field contact list --account 01JD7Q8X4N1V3F2Y6Z0B9C8D7E"
        )
        @OptionGroup var global: GlobalOptions
        @Option(help: "The account's id.") var account: String

        func execute(_ context: FieldContext) async throws {
            let record = try await context.existing(.account, account)
            let card = try await context.replica().accountCard(id: record.id, interactionLimit: 0)
            context.printRecords(card.contacts, columns: ContactCommand.columns, empty: "No contacts yet.")
        }
    }

    struct Show: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one contact.",
            discussion: "Example: crm-field contact show 01JD7QA…"
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The contact's id.") var id: String

        func execute(_ context: FieldContext) async throws {
            context.printRecord(try await context.existing(.contact, id))
        }
    }

    struct Add: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a contact to an account.",
            discussion: """
                Example: crm-field contact add --account 01JD7Q8X… --first-name Anna --last-name Weber \\
                           --role decision_maker --phone "+49 30 555"
                """
        )
        @OptionGroup var global: GlobalOptions
        @Option(help: "The account's id.") var account: String
        @OptionGroup var fields: Fields

        func execute(_ context: FieldContext) async throws {
            let customer = try await context.existing(.account, account)
            var input = FieldInput(.contact)
            try fields.fill(&input)
            guard input.fields["first_name"] != nil || input.fields["last_name"] != nil else {
                throw CLIError.invalid("give the contact a --first-name or a --last-name")
            }
            input.set("account_id", value: .string(customer.id.rawValue))
            let record = try await context.replica().create(.contact, fields: input.fields)
            context.printRecord(record, title: "Added contact \(record.id).")
        }
    }

    struct Edit: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change fields of a contact (an empty value clears a field).",
            discussion: "Example: crm-field contact edit 01JD7QA… --mobile \"+49 170 1234\""
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The contact's id.") var id: String
        @OptionGroup var fields: Fields

        func execute(_ context: FieldContext) async throws {
            try await context.edit(.contact, id, example: "--phone") { try fields.fill(&$0) }
        }
    }
}

struct Log: FieldCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record a call, meeting, visit, email or note with a customer (it can never be lost or changed).",
        discussion: """
            Example: crm-field log --account 01JD7Q8X… --kind call --subject "Asked for a quote" --at "2026-11-23 10:30"
            """
    )
    @OptionGroup var global: GlobalOptions
    @Option(help: "The account's id.") var account: String
    @Option(help: "call, meeting, visit, email or note.") var kind: String
    @Option(help: "What it was about.") var subject: String
    @Option(help: "Notes.") var body: String?
    @Option(help: "The contact's id.") var contact: String?
    @Option(help: "The deal's id.") var deal: String?
    @Option(help: "When it happened (default: now), e.g. \"2026-11-23 10:30\" in your time zone.") var at: String?
    @Option(help: "Calls and e-mails: in (the customer called or wrote) or out (you did; the default).")
    var direction: String?

    func execute(_ context: FieldContext) async throws {
        let customer = try await context.existing(.account, account).id.rawValue
        let contactID = try await context.belonging(.contact, contact, to: customer)
        let dealID = try await context.belonging(.deal, deal, to: customer)
        var input = FieldInput(.activity)
        input.set("account_id", value: .string(customer))
        try input.set("kind", kind)
        try input.set("subject", subject)
        try input.set("body", body)
        try input.set("contact_id", contactID, flag: "--contact")
        try input.set("deal_id", dealID, flag: "--deal")
        try input.set("occurred_at", at ?? "now", flag: "--at")
        let kindValue = input.fields["kind"]?.stringValue ?? ""
        if let direction, !["call", "email"].contains(kindValue) {
            throw CLIError.invalid("--direction \(direction) is for calls and e-mails, not a \(kindValue)")
        }
        if ["call", "email"].contains(kindValue), CRMSchema.activity.fieldsByName["direction"] != nil {
            try input.set("direction", direction ?? "out")
        }
        if let occurred = input.fields["occurred_at"]?.stringValue, let millis = ISO8601.parseTimestamp(occurred),
            millis > input.now + 5 * 60_000
        {
            throw CLIError.invalid(
                "--at is in the future: log records what happened; book it with "
                    + "crm-field meeting add --account \(account) --title … --at \"\(at ?? "")\""
            )
        }
        input.set("author", value: .string(try await context.user()))
        let record = try await context.replica().create(.activity, fields: input.fields)
        context.printRecord(record, title: "Logged \(kind) \(record.id).")
    }
}
