import ArgumentParser
import Foundation
import ReplicaStore
import SyncProtocol

/// One unpaid invoice as the receivables desk sees it.
struct Receivable {
    var invoice: StoredRecord
    var due: Int64
    var now: Int64

    var isOverdue: Bool { due < now }
    /// Whole days past the due date (0 on the day it passed).
    var daysOverdue: Int { isOverdue ? Int((now - due) / 86_400_000) : 0 }
    /// Whole days until the due date, rounded up.
    var daysUntilDue: Int { isOverdue ? 0 : Int((due - now + 86_399_999) / 86_400_000) }
    var amount: MoneySum { MoneySum(invoice["amount"]?.integerValue ?? 0, invoice["currency"]?.stringValue) }
    var number: String { invoice["number"]?.stringValue ?? invoice.id.rawValue }
    var collection: String { invoice["collection_status"]?.stringValue ?? "none" }

    var whenText: String {
        if isOverdue { return "\(daysOverdue) day\(daysOverdue == 1 ? "" : "s") overdue" }
        return daysUntilDue == 0 ? "due today" : "due in \(daysUntilDue) day\(daysUntilDue == 1 ? "" : "s")"
    }

    var json: [String: Any] {
        [
            "id": invoice.id.rawValue, "number": number, "amount": invoice["amount"]?.integerValue ?? 0,
            "currency": invoice["currency"]?.stringValue ?? NSNull(), "due_at": invoice["due_at"]?.stringValue ?? "",
            "state": isOverdue ? "overdue" : "upcoming", "days_overdue": daysOverdue, "days_until_due": daysUntilDue,
            "collection_status": collection,
        ]
    }

    /// Unpaid invoices due before `until`, per account, in due order.
    static func load(_ replica: Replica, now: Int64, until: Int64) async throws -> [String: [Receivable]] {
        var byAccount: [String: [Receivable]] = [:]
        for invoice in try await replica.unpaidInvoices(dueBefore: ISO8601.format(millisecondsSince1970: until)) {
            guard let due = invoice.time("due_at"), let account = invoice["account_id"]?.stringValue else { continue }
            byAccount[account, default: []].append(Receivable(invoice: invoice, due: due, now: now))
        }
        return byAccount
    }
}

/// A customer's unpaid invoices with their totals.
struct Debtor {
    var account: StoredRecord?
    var accountID: String
    var invoices: [Receivable]
    var billing: StoredRecord?

    var name: String { account?["name"]?.stringValue ?? Render.shortID(accountID) }
    var standing: String { account?["payment_standing"]?.stringValue ?? "" }
    var overdue: [Receivable] { invoices.filter(\.isOverdue) }
    var upcoming: [Receivable] { invoices.filter { !$0.isOverdue } }
    var maxDays: Int { overdue.map(\.daysOverdue).max() ?? 0 }

    static func total(_ invoices: [Receivable]) -> MoneySum { invoices.reduce(MoneySum()) { $0 + $1.amount } }

    /// The contact a reminder goes to: a billing contact with an e-mail address (by name).
    static func billingContact(_ replica: Replica, account: String) async throws -> StoredRecord? {
        try await replica.contacts(ofAccount: RecordID(account)).first {
            $0["role"]?.stringValue == "billing" && !($0["email"]?.stringValue ?? "").isEmpty
        }
    }

    static func contactName(_ contact: StoredRecord) -> String {
        [contact["first_name"]?.stringValue, contact["last_name"]?.stringValue].compactMap { $0 }
            .filter { !$0.isEmpty }.joined(separator: " ")
    }

    var json: [String: Any] {
        [
            "account_id": accountID, "name": name, "payment_standing": standing.isEmpty ? NSNull() : standing,
            "owner": account?["owner"]?.stringValue ?? NSNull(),
            "billing_contact": billing.map {
                ["id": $0.id.rawValue, "name": Self.contactName($0), "email": $0["email"]?.stringValue ?? ""]
            } ?? NSNull(),
            "overdue": ["count": overdue.count, "total": Self.total(overdue).json, "max_days": maxDays],
            "upcoming": ["count": upcoming.count, "total": Self.total(upcoming).json],
            "invoices": invoices.map(\.json),
        ]
    }
}

struct Receivables: FieldCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Overdue invoices per customer with totals, days overdue and payment standing (--upcoming N: also those due within N days).",
        discussion: """
            The customers whose invoices are past due come first, most days overdue first. Send one a reminder with \
            crm-field invoice remind ACCOUNT (or INVOICE). Example: crm-field receivables --upcoming 7
            """
    )
    @OptionGroup var global: GlobalOptions
    @Option(help: "Also the invoices due within this many days (the notices to send before the due date).")
    var upcoming: Int?
    @Flag(help: "Only the upcoming ones (with --upcoming).") var onlyUpcoming = false
    @Flag(help: "CSV, one row per invoice.") var csv = false

    func validate() throws {
        if let upcoming, upcoming < 0 { throw ValidationError("--upcoming takes a number of days (0 or more)") }
        if onlyUpcoming, upcoming == nil { throw ValidationError("--only-upcoming needs --upcoming DAYS") }
    }

    func execute(_ context: FieldContext) async throws {
        let now = ReplicaConfiguration.systemNow()
        let replica = try context.replica()
        let until = upcoming.map { Period.adding(days: $0 + 1, to: Period.startOfDay(now)) } ?? now
        let byAccount = try await Receivable.load(replica, now: now, until: until)
        let accounts = try await replica.records(.account, ids: byAccount.keys.map(RecordID.init))
        var billing: [String: StoredRecord] = [:]
        for contact in try await replica.billingContacts(ofAccounts: byAccount.keys.map(RecordID.init))
        where !(contact["email"]?.stringValue ?? "").isEmpty {
            let account = contact["account_id"]?.stringValue ?? ""
            if billing[account] == nil { billing[account] = contact }
        }
        var debtors: [Debtor] = []
        for (account, invoices) in byAccount {
            let shown = onlyUpcoming ? invoices.filter { !$0.isOverdue } : invoices
            guard !shown.isEmpty else { continue }
            debtors.append(
                Debtor(
                    account: accounts[RecordID(account)],
                    accountID: account,
                    invoices: shown,
                    billing: billing[account]
                )
            )
        }
        // Most days overdue first, then the largest overdue amount (in the currency most of it is in), then name.
        let totals = debtors.map { Debtor.total($0.overdue) }
        let currency = totals.reduce(MoneySum(), +).main ?? ""
        debtors = zip(debtors, totals).map { (debtor: $0, days: $0.maxDays, amount: $1[currency]) }
            .sorted { a, b in
                (b.days, b.amount, a.debtor.name, a.debtor.accountID) < (
                    a.days, a.amount, b.debtor.name, b.debtor.accountID
                )
            }.map(\.debtor)
        let overdueAll = debtors.flatMap(\.overdue)
        let upcomingAll = debtors.flatMap(\.upcoming)
        if context.json {
            return context.printJSON(
                [
                    "as_of": Period.day(now),
                    "upcoming_days": upcoming.map { $0 as Any } ?? NSNull(),
                    "customers": debtors.map(\.json),
                    "totals": [
                        "overdue": ["count": overdueAll.count, "total": Debtor.total(overdueAll).json],
                        "upcoming": ["count": upcomingAll.count, "total": Debtor.total(upcomingAll).json],
                    ],
                ] as [String: Any]
            )
        }
        if csv {
            var lines = [
                "account_id,customer,payment_standing,number,amount,currency,due_at,state,days_overdue,days_until_due,collection_status"
            ]
            for debtor in debtors {
                for item in debtor.invoices {
                    lines.append(
                        [
                            debtor.accountID, debtor.name, debtor.standing, item.number,
                            Report.decimal(item.invoice["amount"]?.integerValue ?? 0),
                            item.invoice["currency"]?.stringValue ?? "", item.invoice["due_at"]?.stringValue ?? "",
                            item.isOverdue ? "overdue" : "upcoming", String(item.daysOverdue),
                            String(item.daysUntilDue), item.collection,
                        ].map(Report.csvField).joined(separator: ",")
                    )
                }
            }
            return context.console.outRaw(lines.joined(separator: "\r\n") + "\r\n")
        }
        if debtors.isEmpty {
            return context.print(upcoming == nil ? "No overdue invoices." : "No overdue or upcoming invoices.")
        }
        var summary =
            "\(overdueAll.count) overdue invoice\(overdueAll.count == 1 ? "" : "s"), "
            + Debtor.total(overdueAll).text
        if let upcoming {
            summary += "; \(upcomingAll.count) due within \(upcoming) days, \(Debtor.total(upcomingAll).text)"
        }
        context.print("Receivables on \(Period.day(now)): \(summary)")
        for debtor in debtors {
            var line = debtor.name
            if !debtor.standing.isEmpty {
                let code = Render.standingColour(debtor.standing)
                line +=
                    "  "
                    + (Render.colours && code != nil ? "\u{1B}[\(code!)m\(debtor.standing)\u{1B}[0m" : debtor.standing)
            }
            var parts: [String] = []
            if !debtor.overdue.isEmpty {
                parts.append("\(Debtor.total(debtor.overdue).text) overdue, up to \(debtor.maxDays) days")
            }
            if !debtor.upcoming.isEmpty { parts.append("\(Debtor.total(debtor.upcoming).text) due soon") }
            line += "  — " + parts.joined(separator: "; ")
            if debtor.billing == nil { line += "  (no billing contact with an e-mail)" }
            context.print("")
            context.print(line + "  [\(Render.shortID(debtor.accountID))]")
            context.print(
                Render.grid(
                    header: ["invoice", "amount", "due", "when", "collection"],
                    rows: debtor.invoices.map {
                        [
                            $0.number, $0.amount.text, Period.day($0.due), $0.whenText,
                            $0.collection == "none" ? "" : $0.collection,
                        ]
                    },
                    rightAligned: [1]
                ).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")
            )
        }
    }
}

/// A payment reminder (or a notice before the due date) as an e-mail file the rep's mail program sends.
enum Reminder {
    static let overdueTemplate = """
        Subject: Payment reminder: invoice {{numbers}}, {{total}} overdue

        Dear {{contact}},

        according to our records the following invoices of {{customer}} are past their due date:

        {{invoices}}

        Total overdue: {{total}}

        If you have paid in the meantime, please disregard this message. Otherwise we would be grateful for \
        your payment in the coming days, or a short reply telling us when we can expect it.

        Kind regards,
        {{sender}}

        """

    static let noticeTemplate = """
        Subject: Payment due soon: invoice {{numbers}}, {{total}} on {{due}}

        Dear {{contact}},

        a friendly note that the following invoices of {{customer}} fall due soon:

        {{invoices}}

        Total: {{total}}

        Kind regards,
        {{sender}}

        """

    static let placeholders: Set<String> = [
        "contact", "first_name", "last_name", "customer", "invoices", "numbers", "total", "count", "days", "due",
        "sender", "today",
    ]

    /// The template: `--template FILE`, else the config's, else IT's in /etc/crm-field, else the built-in one.
    static func template(kind: String, flag: String?, context: FieldContext) throws -> (text: String, from: String) {
        let key = "\(kind)-template"
        let candidates: [String?] = [
            flag, FieldConfig.load(context)[key], context.home.appendingPathComponent("templates/\(kind).txt").path,
            "/etc/crm-field/\(kind).txt",
        ]
        for (index, path) in candidates.enumerated() {
            guard let path, !path.isEmpty else { continue }
            if let data = FileManager.default.contents(atPath: path) {
                return (String(decoding: data, as: UTF8.self), path)
            }
            if index < 2 { throw CLIError.invalid("cannot read the template \(path)") }
        }
        return (kind == "reminder" ? overdueTemplate : noticeTemplate, "built in")
    }

    /// Fills `{{name}}` placeholders; an unknown one is an error that names it (a typo in IT's template).
    static func fill(_ template: String, _ values: [String: String]) throws -> String {
        var result = ""
        var rest = Substring(template)
        while let open = rest.range(of: "{{") {
            result += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                throw CLIError.invalid("the template has an unclosed {{")
            }
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            guard let value = values[name] else {
                throw CLIError.invalid(
                    "the template names {{\(name)}}, which is none of \(placeholders.sorted().joined(separator: ", "))"
                )
            }
            result += value
            rest = rest[close.upperBound...]
        }
        return result + rest
    }

    /// RFC 2047 encoded words for a header value that is not plain ASCII (each word under 76 characters).
    static func encodedHeader(_ text: String) -> String {
        if text.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7F }) { return text }
        var words: [String] = []
        var chunk: [UInt8] = []
        for character in text {
            let bytes = Array(String(character).utf8)
            if chunk.count + bytes.count > 45 {
                words.append("=?utf-8?b?\(Data(chunk).base64EncodedString())?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append("=?utf-8?b?\(Data(chunk).base64EncodedString())?=") }
        return words.joined(separator: "\r\n ")
    }

    /// `"Anna Schmidt" <anna@example.com>`, the name encoded when it is not ASCII.
    static func mailbox(name: String, address: String) -> String {
        guard !name.isEmpty else { return address }
        let plain = name.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F }
        if plain { return "\"\(name.replacingOccurrences(of: "\"", with: ""))\" <\(address)>" }
        return "\(encodedHeader(name)) <\(address)>"
    }

    static let dateFormatter: DateFormatter = {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone.current
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        return formatter
    }()

    /// The message: RFC 5322 headers, a UTF-8 plain-text body (8bit), CRLF line ends, `X-Unsent: 1` so mail
    /// programs open it as a draft to send.
    static func message(
        from: String,
        to: String,
        subject: String,
        body: String,
        now: Int64,
        id: String,
        extra: [(String, String)]
    ) -> String {
        var headers = [
            ("From", from), ("To", to), ("Subject", encodedHeader(subject)),
            ("Date", dateFormatter.string(from: Date(timeIntervalSince1970: Double(now) / 1000))),
            ("Message-ID", "<\(id)@crm-field.invalid>"), ("MIME-Version", "1.0"),
            ("Content-Type", "text/plain; charset=utf-8"), ("Content-Transfer-Encoding", "8bit"), ("X-Unsent", "1"),
        ]
        headers += extra
        let lines = body.replacingOccurrences(of: "\r\n", with: "\n").split(
            separator: "\n",
            omittingEmptySubsequences: false
        )
        return headers.map { "\($0.0): \($0.1)" }.joined(separator: "\r\n") + "\r\n\r\n"
            + lines.joined(separator: "\r\n")
    }
}

/// `crm-field config`: the laptop's settings, a small JSON file in the home folder.
enum FieldConfig {
    static let keys: [String: String] = [
        "mail-from": "the From of reminders, e.g. \"Olga Petrova <olga@firm.example>\"",
        "outbox": "the folder reminders are written to (default: HOME/outbox)",
        "reminder-template": "a reminder template file (default: /etc/crm-field/reminder.txt, else built in)",
        "notice-template": "a before-the-due-date notice template (default: /etc/crm-field/notice.txt)",
        "prefetch-mb": "how many MB of documents sync keeps on this laptop for offline use (default: 200)",
    ]

    static func path(_ context: FieldContext) -> String { context.home.appendingPathComponent("config.json").path }

    static func load(_ context: FieldContext) -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path(context)),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: String]
        else { return [:] }
        return object
    }

    static func save(_ values: [String: String], _ context: FieldContext) throws {
        try FileManager.default.createDirectory(at: context.home, withIntermediateDirectories: true)
        let data = try JSONSerialization.data(withJSONObject: values, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: path(context)), options: .atomic)
    }
}

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract:
            "This laptop's settings: where reminders go, who sends them, how much of the documents stays offline.",
        discussion: "Keys: " + FieldConfig.keys.keys.sorted().joined(separator: ", "),
        subcommands: [Set.self, Get.self, List.self]
    )

    static func check(_ key: String) throws {
        guard FieldConfig.keys[key] != nil else {
            throw CLIError.invalid(
                "no setting \(key) (known: \(FieldConfig.keys.keys.sorted().joined(separator: ", ")))"
            )
        }
    }

    struct Set: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a setting (an empty value removes it).",
            discussion: "Example: crm-field config set mail-from \"Olga Petrova <olga@firm.example>\""
        )
        @OptionGroup var global: GlobalOptions
        @Argument var key: String
        @Argument var value: String

        func execute(_ context: FieldContext) async throws {
            try ConfigCommand.check(key)
            if key == "prefetch-mb", !value.isEmpty, Int64(value).map({ $0 < 0 }) ?? true {
                throw CLIError.invalid("prefetch-mb must be a number of megabytes (0 or more), not \(value)")
            }
            var values = FieldConfig.load(context)
            values[key] = value.isEmpty ? nil : value
            try FieldConfig.save(values, context)
            context.json
                ? context.printJSON(values) : context.print(value.isEmpty ? "\(key) removed" : "\(key) = \(value)")
        }
    }

    struct Get: FieldCommand {
        static let configuration = CommandConfiguration(abstract: "Print one setting.")
        @OptionGroup var global: GlobalOptions
        @Argument var key: String

        func execute(_ context: FieldContext) async throws {
            try ConfigCommand.check(key)
            guard let value = FieldConfig.load(context)[key] else { throw CLIError.notFound("\(key) is not set") }
            context.json ? context.printJSON([key: value]) : context.print(value)
        }
    }

    struct List: FieldCommand {
        static let configuration = CommandConfiguration(abstract: "Every setting, set or not.")
        @OptionGroup var global: GlobalOptions

        func execute(_ context: FieldContext) async throws {
            let values = FieldConfig.load(context)
            if context.json { return context.printJSON(values) }
            context.print(
                Render.pairs(FieldConfig.keys.keys.sorted().map { ($0, values[$0] ?? "(\(FieldConfig.keys[$0]!))") })
            )
        }
    }
}

extension InvoiceCommand {
    struct Remind: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a payment reminder to the customer's billing contact as an .eml file, and log it.",
            discussion: """
                ACCOUNT: every overdue invoice of the customer (or, with --upcoming DAYS and nothing overdue, those \
                due within DAYS: a notice before the due date). INVOICE (its number or id): that one. The message \
                is written into the outbox folder (crm-field config set outbox DIR; default HOME/outbox) for your \
                mail program to send, and logged in the customer's history as an outgoing e-mail. The template is \
                IT's (/etc/crm-field/reminder.txt, notice.txt) or the built-in one; placeholders: \
                \(Reminder.placeholders.sorted().map { "{{\($0)}}" }.joined(separator: " ")).
                Example: crm-field invoice remind 2026-0042
                """
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The customer's id or an invoice's number or id.") var target: String
        @Option(help: "With an account: the invoices due within this many days when none is overdue.")
        var upcoming: Int?
        @Option(help: ArgumentHelp("A template file instead of IT's.", valueName: "file")) var template: String?
        @Option(help: ArgumentHelp("The folder to write into instead of the outbox.", valueName: "dir")) var outbox:
            String?

        func execute(_ context: FieldContext) async throws {
            let now = ReplicaConfiguration.systemNow()
            let replica = try context.replica()
            var invoices: [Receivable]
            let account: StoredRecord
            if let invoice = try await InvoiceCommand.find(target, context) {
                guard invoice["paid_at"]?.stringValue == nil else {
                    throw CLIError.invalid("invoice \(invoice["number"]?.description ?? "") is paid: nothing to remind")
                }
                guard let due = invoice.time("due_at"), let accountID = invoice["account_id"]?.stringValue else {
                    throw CLIError.invalid(
                        "invoice \(invoice["number"]?.description ?? "") has no due date or customer"
                    )
                }
                account = try await context.existing(.account, accountID)
                invoices = [Receivable(invoice: invoice, due: due, now: now)]
            } else {
                account = try await context.existing(.account, target)
                let until = upcoming.map { Period.adding(days: $0 + 1, to: Period.startOfDay(now)) } ?? now
                let all = try await Receivable.load(replica, now: now, until: until)[account.id.rawValue] ?? []
                invoices = all.filter(\.isOverdue)
                if invoices.isEmpty { invoices = all }
                guard !invoices.isEmpty else {
                    throw CLIError(
                        "nothing_due",
                        "\(account["name"]?.description ?? "") has no overdue invoice"
                            + (upcoming.map { " and none due within \($0) days" }
                                ?? " (--upcoming DAYS: a notice before the due date)"),
                        exitCode: 2
                    )
                }
            }
            let customer = account["name"]?.stringValue ?? account.id.rawValue
            guard let contact = try await Debtor.billingContact(replica, account: account.id.rawValue),
                let address = contact["email"]?.stringValue
            else {
                throw CLIError(
                    "no_billing_contact",
                    "\(customer) has no billing contact with an e-mail address: add one with "
                        + "crm-field contact add --account \(Render.shortID(account.id.rawValue)) --role billing --email …",
                    exitCode: 2
                )
            }
            let overdue = invoices.contains(where: \.isOverdue)
            let kind = overdue ? "reminder" : "notice"
            let (text, _) = try Reminder.template(kind: kind, flag: template, context: context)
            let config = FieldConfig.load(context)
            let me = try await context.user()
            let sender = config["mail-from"] ?? ProcessInfo.processInfo.environment["CRM_FIELD_MAIL_FROM"]
            if sender == nil {
                context.console.err(
                    "note: From is \(me)@localhost; set yours: crm-field config set mail-from \"Name <you@firm.example>\""
                )
            }
            let from = sender ?? "\(me)@localhost"
            let total = Debtor.total(invoices)
            let table = invoices.map {
                "  \($0.number)   \($0.amount.text)   due \(Period.day($0.due))   \($0.whenText)"
            }.joined(separator: "\n")
            let values: [String: String] = [
                "contact": Debtor.contactName(contact).isEmpty ? customer : Debtor.contactName(contact),
                "first_name": contact["first_name"]?.stringValue ?? "",
                "last_name": contact["last_name"]?.stringValue ?? "",
                "customer": customer, "invoices": table, "numbers": invoices.map(\.number).joined(separator: ", "),
                "total": total.text, "count": String(invoices.count),
                "days": String(invoices.map(\.daysOverdue).max() ?? 0),
                "due": Period.day(invoices.map(\.due).min() ?? now),
                "sender": sender.map {
                    $0.contains("<")
                        ? $0.components(separatedBy: "<")[0].trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
                        : $0
                } ?? me,
                "today": Period.day(now),
            ]
            let filled = try Reminder.fill(text, values)
            var subject = "Payment reminder"
            var body = filled
            if filled.hasPrefix("Subject:") {
                let end = filled.firstIndex(of: "\n") ?? filled.endIndex
                subject = filled[filled.index(filled.startIndex, offsetBy: 8)..<end].trimmingCharacters(
                    in: .whitespaces
                )
                body = String(filled[end...]).trimmingCharacters(in: .newlines) + "\n"
            }
            let messageID = RecordIDGenerator.ulid()
            let message = Reminder.message(
                from: from,
                to: Reminder.mailbox(name: Debtor.contactName(contact), address: address),
                subject: subject,
                body: body,
                now: now,
                id: messageID,
                extra: [
                    ("X-CRM-Account", account.id.rawValue),
                    ("X-CRM-Invoices", invoices.map(\.number).joined(separator: ", ")),
                ]
            )
            let folder = URL(
                fileURLWithPath: outbox ?? config["outbox"] ?? context.home.appendingPathComponent("outbox").path
            )
            let stamp = Render.localFormatter("yyyyMMdd-HHmmss").string(
                from: Date(timeIntervalSince1970: Double(now) / 1000)
            )
            let safe = String(
                (invoices.count == 1 ? invoices[0].number : customer).map {
                    $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "_"
                }.prefix(40)
            )
            let file = folder.appendingPathComponent("\(stamp)-\(kind)-\(safe).eml")
            do {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                try Data(message.utf8).write(to: file, options: .atomic)
            } catch {
                throw CLIError.invalid("cannot write \(file.path): \(error.localizedDescription)")
            }
            var input = FieldInput(.activity)
            input.set("account_id", value: .string(account.id.rawValue))
            input.set("contact_id", value: .string(contact.id.rawValue))
            try input.set("kind", "email")
            if CRMSchema.activity.fieldsByName["direction"] != nil { try input.set("direction", "out") }
            try input.set("subject", String(subject.prefix(500)))
            try input.set("body", body)
            try input.set("occurred_at", "now")
            input.set("author", value: .string(me))
            let logged = try await replica.create(.activity, fields: input.fields)
            if context.json {
                return context.printJSON(
                    [
                        "file": file.path, "to": address, "subject": subject, "kind": kind,
                        "invoices": invoices.map(\.number), "total": total.json, "activity_id": logged.id.rawValue,
                    ] as [String: Any]
                )
            }
            context.print(
                "Wrote a \(kind) to \(Debtor.contactName(contact)) <\(address)> about \(invoices.count) invoice"
                    + "\(invoices.count == 1 ? "" : "s") (\(total.text)): \(file.path)"
            )
            context.print(
                "Logged in \(customer)'s history as an outgoing e-mail (\(Render.shortID(logged.id.rawValue)))."
            )
        }
    }

    struct Show: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "One invoice: amounts, dates, days overdue and its collection status with their history.",
            discussion: "Example: crm-field invoice show 2026-0042"
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The invoice's number or id.") var invoice: String

        func execute(_ context: FieldContext) async throws {
            guard let record = try await InvoiceCommand.find(invoice, context) else {
                throw CLIError.notFound("no invoice \(invoice) (crm-field invoice list)")
            }
            let replica = try context.replica()
            let steps = try await replica.history(.invoice, id: record.id).filter { $0.field == "collection_status" }
                .sorted { $0.timestamp < $1.timestamp }
            let customer =
                try await record["account_id"]?.stringValue.asyncMap {
                    try await replica.record(.account, id: RecordID($0))
                } ?? nil
            let now = ReplicaConfiguration.systemNow()
            let state = record.time("due_at").map { Receivable(invoice: record, due: $0, now: now) }
            if context.json {
                var object = Render.json(record)
                object["customer"] = customer?["name"]?.stringValue ?? NSNull()
                object["days_overdue"] = record["paid_at"] == nil ? (state?.daysOverdue ?? 0) : 0
                object["collection_history"] = steps.map {
                    [
                        "status": $0.newValue?.stringValue ?? "",
                        "at": ISO8601.format(millisecondsSince1970: $0.timestamp.wallMilliseconds), "by": $0.author,
                    ]
                }
                return context.printJSON(object)
            }
            context.print("== Invoice \(record["number"]?.description ?? "") ==")
            var lines: [(String, String)] = [
                (
                    "customer",
                    customer.map { "\($0["name"]?.description ?? "") (\(Render.shortID($0.id.rawValue)))" } ?? ""
                ),
                ("amount", Render.display(record, "amount")), ("issued", Render.display(record, "issued_at")),
                ("due", Render.display(record, "due_at")), ("paid", Render.display(record, "paid_at")),
                ("collection", record["collection_status"]?.stringValue ?? "none"),
            ]
            if record["paid_at"] == nil, let state { lines.append(("state", state.whenText)) }
            context.print(Render.pairs(lines.filter { !$0.1.isEmpty }))
            if !steps.isEmpty {
                context.print("")
                context.print("Collection steps")
                context.print(
                    Render.grid(
                        header: ["when", "status", "by"],
                        rows: steps.map {
                            [
                                Render.localTime(millis: $0.timestamp.wallMilliseconds),
                                $0.newValue?.description ?? "none", $0.author,
                            ]
                        }
                    )
                )
            }
        }
    }

    /// An invoice by number (`2026-0042`), id (`invoice-2026-0042`) or id prefix; nil when none matches.
    static func find(_ text: String, _ context: FieldContext) async throws -> StoredRecord? {
        let replica = try context.replica()
        let typed = text.trimmingCharacters(in: .whitespaces)
        for id in ["invoice-" + typed, typed] where RecordID.isValid(id) {
            if let record = try await replica.record(.invoice, id: RecordID(id)), !record.isDeleted { return record }
        }
        return nil
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
