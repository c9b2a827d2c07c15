import ArgumentParser
import Foundation
import ReplicaStore
import SyncProtocol

/// The calendar: appointments with a time, a place and a customer.
struct MeetingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meeting",
        abstract: "Appointments: book, list, hold, cancel and move meetings.",
        subcommands: [List.self, Add.self, Done.self, Cancel.self, Move.self, Show.self]
    )

    static func columns(_ customers: [String: String]) -> [Render.Column] {
        [
            .id, .field("starts_at", "when"),
            Render.Column("until") { record in
                record.time("ends_at").map(Render.clock) ?? ""
            },
            .field("title"), Render.customer(customers), .field("place"), .field("status"), .field("assignee"),
        ]
    }

    struct List: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Your appointments from today on (--days N, default 7; --all: the team's).",
            discussion: "Example: crm-field meeting list --days 14"
        )
        @OptionGroup var global: GlobalOptions
        @Option(help: "How many days from today (default 7).") var days: Int = 7
        @Flag(help: "The whole team's appointments.") var all = false
        @Option(help: "Only the appointments of this account.") var account: String?
        @OptionGroup var list: ListOptions

        func validate() throws {
            guard (1...3_660).contains(days) else { throw ValidationError("--days must be between 1 and 3660") }
        }

        func execute(_ context: FieldContext) async throws {
            let window = Day.window(days: days, now: ReplicaConfiguration.systemNow())
            let page = try await context.replica().appointments(
                AppointmentFilter(
                    from: ISO8601.format(millisecondsSince1970: window.from),
                    until: ISO8601.format(millisecondsSince1970: window.until),
                    assignee: all ? nil : try await context.user(),
                    account: try await context.resolve(.account, account).map(RecordID.init)
                ),
                limit: list.value(context)
            )
            context.printPage(
                page,
                columns: MeetingCommand.columns(try await context.accountNames(page.records)),
                empty: "No appointments in the next \(days) days."
            )
        }
    }

    struct Add: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Book an appointment (with a customer, or on its own).",
            discussion: """
                Times as you type them, in your time zone: "2026-12-08 10:00", "08.12.2026 10:00", \
                "tomorrow 10:00", +2d.
                Example: crm-field meeting add --account 01JD7Q8X --title "Demo of the P-200" --at "tomorrow 10:00" \
                --until "tomorrow 11:30" --place "Müller GmbH, Berlin"
                """
        )
        @OptionGroup var global: GlobalOptions
        @Option(help: "The account it is with.") var account: String?
        @Option(help: "What it is about.") var title: String
        @Option(help: "When it starts.") var at: String
        @Option(help: "When it ends.") var until: String?
        @Option(help: "Where.") var place: String?
        @Option(help: "Notes.") var notes: String?
        @Option(help: "The deal it is for.") var deal: String?
        @Option(help: "The contact you meet.") var contact: String?
        @Option(help: "Who goes (default: you).") var assignee: String?

        func execute(_ context: FieldContext) async throws {
            var input = FieldInput(.appointment)
            let customer = try await context.resolve(.account, account)
            if let customer {
                input.set("account_id", value: .string(customer))
                try input.set("deal_id", try await context.belonging(.deal, deal, to: customer), flag: "--deal")
                try input.set(
                    "contact_id",
                    try await context.belonging(.contact, contact, to: customer),
                    flag: "--contact"
                )
            } else if deal != nil || contact != nil {
                throw CLIError.invalid("--deal and --contact need the --account they belong to")
            }
            try input.set("title", title)
            try input.set("starts_at", at, flag: "--at")
            try input.set("ends_at", until, flag: "--until")
            try Day.checkOrder(input)
            try input.set("place", place)
            try input.set("notes", notes)
            let me = try await context.user()
            try input.set("assignee", assignee ?? me)
            input.set("status", value: .string("planned"))
            let record = try await context.replica().create(.appointment, fields: input.fields)
            try await Day.warnOverlaps(record, context)
            context.printRecord(record, title: "Booked \(Day.describe(record)).")
        }
    }

    struct Show: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one appointment.",
            discussion: "Example: crm-field meeting show 01JD7QE"
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The appointment's id (or the start of it).") var id: String
        func execute(_ context: FieldContext) async throws {
            context.printRecord(try await context.existing(.appointment, id))
        }
    }

    struct Done: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Mark an appointment held: it is logged as a meeting in the customer's history.",
            discussion: "Example: crm-field meeting done 01JD7QE --notes \"They want 30 units in January\""
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The appointment's id (or the start of it).") var id: String
        @Option(help: "What came of it (the logged meeting's notes).") var notes: String?

        func execute(_ context: FieldContext) async throws {
            let meeting = try await context.existing(.appointment, id)
            guard meeting["status"]?.stringValue != "done" else {
                throw CLIError("already_done", "\(Day.describe(meeting)) is already marked done", exitCode: 2)
            }
            var edits = [Replica.Edit(.appointment, id: meeting.id, .set(["status": .string("done")]))]
            var logged: RecordID?
            if let account = meeting["account_id"]?.stringValue {
                let now = ReplicaConfiguration.systemNow()
                let starts = meeting.time("starts_at") ?? now
                var activity = FieldInput(.activity)
                activity.set("account_id", value: .string(account))
                try activity.set("kind", "meeting")
                try activity.set("subject", meeting["title"]?.description ?? "Meeting")
                let body = [
                    meeting["place"].map { "Place: \($0.description)" }, meeting["notes"]?.description, notes,
                ].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: "\n")
                try activity.set("body", body.isEmpty ? nil : body)
                if let contact = meeting["contact_id"] { activity.set("contact_id", value: contact) }
                if let deal = meeting["deal_id"] { activity.set("deal_id", value: deal) }
                activity.set("occurred_at", value: .string(ISO8601.format(millisecondsSince1970: min(starts, now))))
                activity.set("author", value: .string(try await context.user()))
                let id = RecordID(RecordIDGenerator.ulid())
                edits.append(Replica.Edit(.activity, id: id, .append(activity.fields)))
                logged = id
            }
            // One transaction: the appointment is done exactly when its meeting is in the history.
            let stored = try await context.replica().writeBatch(edits)
            if context.json {
                var object = Render.json(stored[0])
                object["logged_activity_id"] = logged?.rawValue ?? NSNull()
                return context.printJSON(object)
            }
            context.print(
                "Held \(Day.describe(stored[0]))"
                    + (logged == nil ? " (no account: nothing logged)." : "; logged in the customer's history.")
            )
        }
    }

    struct Cancel: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cancel an appointment.",
            discussion: "Example: crm-field meeting cancel 01JD7QE"
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The appointment's id (or the start of it).") var id: String

        func execute(_ context: FieldContext) async throws {
            let meeting = try await context.existing(.appointment, id)
            let record = try await context.replica().update(
                .appointment,
                id: meeting.id,
                fields: ["status": .string("cancelled")]
            )
            context.printRecord(record, title: "Cancelled \(Day.describe(record)).")
        }
    }

    struct Move: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move an appointment to another time (its length stays unless --until says otherwise).",
            discussion: "Example: crm-field meeting move 01JD7QE --at \"09.12.2026 14:00\""
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The appointment's id (or the start of it).") var id: String
        @Option(help: "The new start.") var at: String
        @Option(help: "The new end.") var until: String?
        @Option(help: "A new place.") var place: String?

        func execute(_ context: FieldContext) async throws {
            let meeting = try await context.existing(.appointment, id)
            var input = FieldInput(.appointment)
            try input.set("starts_at", at, flag: "--at")
            if let until {
                try input.set("ends_at", until, flag: "--until")
            } else if let oldStart = meeting.time("starts_at"),
                let oldEnd = meeting.time("ends_at"),
                let newStart = input.fields["starts_at"]?.stringValue.flatMap(ISO8601.parseTimestamp)
            {
                input.set(
                    "ends_at",
                    value: .string(ISO8601.format(millisecondsSince1970: newStart + oldEnd - oldStart))
                )
            }
            try Day.checkOrder(input)
            try input.set("place", place)
            // A cancelled appointment that is moved is planned again.
            if meeting["status"]?.stringValue == "cancelled" { input.set("status", value: .string("planned")) }
            let record = try await context.replica().update(.appointment, id: meeting.id, fields: input.fields)
            try await Day.warnOverlaps(record, context)
            context.printRecord(record, title: "Moved to \(Day.describe(record)).")
        }
    }
}

extension StoredRecord {
    /// A timestamp field in milliseconds since 1970, nil when unset or unreadable.
    func time(_ field: String) -> Int64? { self[field]?.stringValue.flatMap(ISO8601.parseTimestamp) }
}

/// Helpers of the day's commands.
enum Day {
    /// From the start of today to the start of the day `days` later, in the laptop's time zone.
    static func window(days: Int, now: Int64) -> (from: Int64, until: Int64) {
        let calendar = Calendar.current
        let start = calendar.startOfDay(for: Date(timeIntervalSince1970: Double(now) / 1000))
        let end =
            calendar.date(byAdding: .day, value: days, to: start) ?? start.addingTimeInterval(Double(days) * 86_400)
        return (Int64(start.timeIntervalSince1970 * 1000), Int64(end.timeIntervalSince1970 * 1000))
    }

    static func checkOrder(_ input: FieldInput) throws {
        guard let start = input.fields["starts_at"]?.stringValue.flatMap(ISO8601.parseTimestamp),
            let end = input.fields["ends_at"]?.stringValue.flatMap(ISO8601.parseTimestamp)
        else { return }
        if end <= start { throw CLIError.invalid("--until must be after --at") }
    }

    /// `"Demo" on 2026-12-08 10:00–11:30 at Berlin`.
    static func describe(_ meeting: StoredRecord) -> String {
        var text = "\"\(meeting["title"]?.description ?? "")\" on \(Render.display(meeting, "starts_at"))"
        if let end = meeting.time("ends_at") { text += "–\(Render.clock(end))" }
        if let place = meeting["place"]?.description, !place.isEmpty { text += " at \(place)" }
        return text
    }

    /// A note on standard error when the assignee has another planned appointment at that time.
    static func warnOverlaps(_ meeting: StoredRecord, _ context: FieldContext) async throws {
        guard let start = meeting.time("starts_at") else { return }
        let end = meeting.time("ends_at") ?? start + 3_600_000
        let nearby = try await context.replica().appointments(
            AppointmentFilter(
                from: ISO8601.format(millisecondsSince1970: start - 12 * 3_600_000),
                until: ISO8601.format(millisecondsSince1970: end),
                assignee: meeting["assignee"]?.stringValue,
                status: "planned"
            )
        )
        for other in nearby.records where other.id != meeting.id {
            guard let otherStart = other.time("starts_at") else { continue }
            let otherEnd = other.time("ends_at") ?? otherStart + 3_600_000
            if otherStart < end && start < otherEnd {
                context.console.err("note: it overlaps \(describe(other)) (\(Render.shortID(other.id.rawValue)))")
            }
        }
    }
}

/// One line of the rep's day: an appointment, a task due, a reminder, an overdue invoice.
struct AgendaItem {
    var at: Int64
    /// `meeting`, `task`, `call-back`, `reminder` or `invoice`.
    var kind: String
    var record: StoredRecord
    var title: String
    var customer: String
    var overdue: Bool
    var detail: String

    var json: [String: Any] {
        [
            "at": ISO8601.format(millisecondsSince1970: at), "kind": kind, "entity": record.entity.rawValue,
            "id": record.id.rawValue, "title": title, "customer": customer,
            "account_id": record["account_id"]?.stringValue ?? NSNull(), "overdue": overdue, "detail": detail,
        ]
    }
}

/// What `today`, `agenda` and `remind` gather from the replica: the rep's own appointments, open tasks and
/// reminders, and the overdue invoices of the accounts they own.
enum Agenda {
    static func items(
        _ context: FieldContext,
        from: Int64,
        until: Int64,
        now: Int64,
        includeOverdue: Bool
    ) async throws -> [AgendaItem] {
        let replica = try context.replica()
        let me = try await context.user()
        let iso = { (millis: Int64) in ISO8601.format(millisecondsSince1970: millis) }
        var records: [(StoredRecord, String, Int64)] = []
        for meeting in try await replica.appointments(
            AppointmentFilter(from: iso(from), until: iso(until), assignee: me, status: "planned")
        ).records {
            if let at = meeting.time("starts_at") {
                records.append((meeting, "meeting", at))
            }
        }
        var seen = Set<RecordID>()
        for task in try await replica.tasksToRemind(before: iso(until), assignee: me) {
            guard let at = task.time("remind_at"),
                includeOverdue || at >= from
            else { continue }
            records.append((task, "reminder", at))
            seen.insert(task.id)
        }
        for task in try await replica.tasks(TaskFilter(status: "open", dueBefore: iso(until), assignee: me)).records
        where !seen.contains(task.id) {
            guard let at = task.time("due_at"), includeOverdue || at >= from
            else { continue }
            let title = task["title"]?.description.lowercased() ?? ""
            let callBack = ["call", "ring", "phone", "rückruf"].contains { title.hasPrefix($0) }
            records.append((task, callBack ? "call-back" : "task", at))
        }
        for invoice in try await replica.invoices(InvoiceFilter(unpaidDueBefore: iso(now))).records {
            guard let at = invoice.time("due_at") else { continue }
            records.append((invoice, "invoice", at))
        }
        let accounts = try await replica.records(
            .account,
            ids: records.compactMap { $0.0["account_id"]?.stringValue.map(RecordID.init) }
        )
        var items: [AgendaItem] = []
        for (record, kind, at) in records {
            let account = record["account_id"]?.stringValue.flatMap { accounts[RecordID($0)] }
            // Overdue invoices of the accounts the rep owns (a manager's laptop holds the team's).
            if kind == "invoice", account?["owner"]?.stringValue != me { continue }
            var detail = ""
            var title = record["title"]?.description ?? ""
            switch kind {
            case "meeting":
                detail = [
                    record.time("ends_at").map { "until \(Render.clock($0))" },
                    record["place"]?.description,
                ].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ", ")
            case "invoice":
                title = "invoice \(record["number"]?.description ?? "") unpaid"
                detail = Render.display(record, "amount") + ", \(max(0, (now - at) / 86_400_000)) days overdue"
            case "reminder":
                detail = record["due_at"] == nil ? "" : "due \(Render.display(record, "due_at"))"
            default:
                detail = record["priority"]?.stringValue == "high" ? "high priority" : ""
            }
            items.append(
                AgendaItem(
                    at: at,
                    kind: kind,
                    record: record,
                    title: title,
                    customer: account?["name"]?.description ?? "",
                    overdue: kind == "invoice" || (kind != "meeting" && at < now),
                    detail: detail
                )
            )
        }
        return items.sorted { ($0.at, $0.kind, $0.record.id.rawValue) < ($1.at, $1.kind, $1.record.id.rawValue) }
    }

    static func print(_ items: [AgendaItem], _ context: FieldContext, empty: String, byDay: Bool) {
        if context.json { return context.printJSON(items.map(\.json)) }
        guard !items.isEmpty else { return context.print(empty) }
        var day = ""
        var rows: [[String]] = []
        func flush() {
            if !rows.isEmpty {
                context.print(Render.grid(header: ["when", "what", "title", "customer", "detail", "id"], rows: rows))
                rows = []
            }
        }
        for item in items {
            let local = Render.localTime(millis: item.at)
            // Overdue things come first, under today's heading.
            let itemDay =
                item.overdue
                ? String(Render.localTime(millis: ReplicaConfiguration.systemNow()).prefix(10))
                : String(local.prefix(10))
            if byDay, itemDay != day {
                flush()
                if !day.isEmpty { context.print("") }
                day = itemDay
                context.print(
                    item.overdue ? Render.dayHeading(ReplicaConfiguration.systemNow()) : Render.dayHeading(item.at)
                )
            }
            let when =
                item.overdue && item.kind != "invoice" ? "\(local) late" : (byDay ? Render.clock(item.at) : local)
            rows.append([
                when, item.kind, item.title, item.customer, item.detail, Render.shortID(item.record.id.rawValue),
            ])
        }
        flush()
    }
}

struct Today: FieldCommand {
    static let configuration = CommandConfiguration(
        abstract: "Your day: appointments, tasks and call-backs due or overdue, reminders, overdue invoices.",
        discussion: """
            In time order, overdue first. crm-field agenda --days 7 shows the days ahead.
            Example: crm-field today
            """
    )
    @OptionGroup var global: GlobalOptions

    func execute(_ context: FieldContext) async throws {
        let now = ReplicaConfiguration.systemNow()
        let window = Day.window(days: 1, now: now)
        let items = try await Agenda.items(
            context,
            from: window.from,
            until: window.until,
            now: now,
            includeOverdue: true
        )
        if !context.json { context.print(Render.dayHeading(now)) }
        Agenda.print(items, context, empty: "Nothing booked or due today.", byDay: false)
    }
}

struct AgendaCommand: FieldCommand {
    static let configuration = CommandConfiguration(
        commandName: "agenda",
        abstract: "The days ahead: your appointments, tasks due and reminders, day by day (overdue first).",
        discussion: "Example: crm-field agenda --days 5"
    )
    @OptionGroup var global: GlobalOptions
    @Option(help: "How many days from today (default 7).") var days: Int = 7

    func validate() throws {
        guard (1...366).contains(days) else { throw ValidationError("--days must be between 1 and 366") }
    }

    func execute(_ context: FieldContext) async throws {
        let now = ReplicaConfiguration.systemNow()
        let window = Day.window(days: days, now: now)
        let items = try await Agenda.items(
            context,
            from: window.from,
            until: window.until,
            now: now,
            includeOverdue: true
        )
        Agenda.print(items, context, empty: "Nothing booked or due in the next \(days) days.", byDay: true)
    }
}

struct Remind: FieldCommand {
    static let configuration = CommandConfiguration(
        abstract: "What is due now: reminders that have come, meetings about to start (exit 0), or nothing (exit 1).",
        discussion: """
            Each reminder is told once (--again tells every one due); meetings starting within --ahead minutes \
            (default 15). Made for a timer: a systemd user timer or cron line runs it every few minutes and \
            hands its output to notify-send, e.g.
              */5 * * * * crm-field remind | xargs -r -d '\\n' -n1 notify-send "CRM"
            (the README shows the systemd units).
            """
    )
    @OptionGroup var global: GlobalOptions
    @Option(help: "Minutes ahead a meeting is announced (default 15).") var ahead: Int = 15
    @Flag(help: "Tell every reminder due, also those told before.") var again = false

    var toldPath: (FieldContext) -> String { { $0.home.appendingPathComponent("reminded.json").path } }

    func execute(_ context: FieldContext) async throws {
        let now = ReplicaConfiguration.systemNow()
        let items = try await Agenda.items(
            context,
            from: now - 7 * 86_400_000,
            until: now + Int64(max(0, ahead)) * 60_000,
            now: now,
            includeOverdue: false
        ).filter { item in
            switch item.kind {
            case "meeting": item.at >= now - 5 * 60_000
            case "reminder": item.at <= now
            default: false
            }
        }
        // What was told already (by id and the time it was for), so a timer does not repeat itself.
        let path = toldPath(context)
        var told =
            (try? JSONDecoder().decode([String: Int64].self, from: Data(contentsOf: URL(fileURLWithPath: path))))
            ?? [:]
        let fresh = again ? items : items.filter { told[$0.record.id.rawValue] != $0.at }
        if context.json {
            context.printJSON(fresh.map(\.json))
        } else {
            for item in fresh {
                let when = item.kind == "meeting" ? "at \(Render.clock(item.at))" : "reminder"
                let customer = item.customer.isEmpty ? "" : " (\(item.customer))"
                context.print("\(when): \(item.title)\(customer)\(item.detail.isEmpty ? "" : ", \(item.detail)")")
            }
        }
        for item in fresh { told[item.record.id.rawValue] = item.at }
        told = told.filter { $0.value > now - 30 * 86_400_000 }
        if let data = try? JSONEncoder().encode(told) {
            try? data.write(to: URL(fileURLWithPath: path), options: .atomic)
        }
        if fresh.isEmpty { throw ExitCode(1) }
    }
}

struct ActivityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "activity",
        abstract: "Interactions logged with customers.",
        subcommands: [Show.self]
    )

    struct Show: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "One interaction in full (its whole body).",
            discussion: "Example: crm-field activity show 01JD7QF"
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The activity's id (or the start of it).") var id: String

        func execute(_ context: FieldContext) async throws {
            let activity = try await context.existing(.activity, id)
            if context.json { return context.printJSON(Render.json(activity)) }
            let names = try await context.accountNames([activity])
            var lines = [
                "\(Render.display(activity, "kind")) \(Render.display(activity, "occurred_at")) "
                    + "by \(Render.display(activity, "author"))",
                "customer: \(names[activity["account_id"]?.stringValue ?? ""] ?? "")",
                "subject:  \(Render.display(activity, "subject"))",
            ]
            if let body = activity["body"]?.description, !body.isEmpty { lines += ["", body] }
            lines.insert("id: \(activity.id)", at: 0)
            context.print(lines.joined(separator: "\n"))
        }
    }
}
