import ArgumentParser
import Foundation
import ReplicaStore
import SyncProtocol

/// How a report is shown: a table (default), `--json` (global), `--csv`, `--chart`, `--html FILE`.
struct ReportOutput: ParsableArguments {
    @Flag(help: "CSV for a spreadsheet (RFC 4180; money as decimals with a currency column).") var csv = false
    @Flag(help: "Bars in the terminal.") var chart = false
    @Option(help: ArgumentHelp("Write a self-contained HTML page with an SVG chart.", valueName: "file"))
    var html: String?

    func show(_ report: Report, _ context: FieldContext) throws {
        if let html {
            let generated = Render.localTime(millis: ReplicaConfiguration.systemNow())
            do {
                try Data(report.html(generated: generated).utf8).write(to: URL(fileURLWithPath: html), options: .atomic)
            } catch {
                throw CLIError.invalid("cannot write \(html): \(error.localizedDescription)")
            }
            if !context.json { context.console.err("wrote \(html)") }
        }
        if context.json {
            context.printJSON(report.json)
        } else if csv {
            context.console.outRaw(report.csv)
        } else if chart {
            context.print(report.bars(colours: Render.colours))
        } else if html == nil {
            context.print(report.table)
        }
    }
}

/// The reps whose figures a viewer sees: a rep their own; a manager (or admin) the reps of the territories their
/// laptop holds (the owners of its accounts and deals), or one of them with `--rep`.
struct Team {
    var me: String
    var reps: [String]
    /// The names and owners of the accounts a report has asked about (``know(_:)``).
    var accounts: [RecordID: (name: String, owner: String?)] = [:]
    let replica: Replica

    static func load(_ context: FieldContext, rep: String?) async throws -> Team {
        let replica = try context.replica()
        let info = try await replica.syncInfo()
        guard let me = info.user else {
            throw CLIError("not_initialized", "this replica has no user: run crm-field init first")
        }
        if info.role ?? "rep" == "rep" {
            if let rep, rep != me, rep != "me" {
                throw CLIError("forbidden", "a rep sees their own figures (you are \(me)); a manager sees the team's")
            }
            return Team(me: me, reps: [me], replica: replica)
        }
        var names = try await replica.accountOwners().union(try await replica.dealOwners())
        names.remove("")
        let all = names.sorted()
        if let rep {
            let wanted = rep == "me" ? me : rep
            guard all.contains(wanted) else {
                throw CLIError.notFound(
                    "\(wanted) is no rep of your territories (known: \(all.joined(separator: ", ")))"
                )
            }
            return Team(me: me, reps: [wanted], replica: replica)
        }
        return Team(me: me, reps: all, replica: replica)
    }

    /// Looks up the names and owners of these accounts (one query for those not known yet).
    mutating func know(_ ids: some Sequence<String>) async throws {
        let missing = Set(ids).filter { accounts[RecordID($0)] == nil }
        guard !missing.isEmpty else { return }
        for (id, entry) in try await replica.accountDirectory(ids: missing.map(RecordID.init)) { accounts[id] = entry }
    }

    /// Looks up the accounts `records` name in `field`.
    mutating func know(accountsOf records: [StoredRecord], field: String = "account_id") async throws {
        try await know(records.compactMap { $0[field]?.stringValue })
    }

    func owner(ofAccount id: String?) -> String? {
        id.flatMap { accounts[RecordID($0)]?.owner }
    }

    /// A deal's rep: its owner, else its account's.
    func owner(ofDeal deal: StoredRecord) -> String? {
        deal["owner"]?.stringValue ?? owner(ofAccount: deal["account_id"]?.stringValue)
    }

    func name(ofAccount id: String?) -> String {
        id.flatMap { accounts[RecordID($0)]?.name } ?? id.map(Render.shortID) ?? ""
    }
}

/// A range of local calendar days, `[from, until)` in milliseconds.
struct Period {
    var from: Int64
    var until: Int64
    /// `2026-11-01 – 2026-11-30`.
    var label: String

    static let dayFormatter = Render.localFormatter("yyyy-MM-dd")
    static let monthFormatter = Render.localFormatter("yyyy-MM")

    static func day(_ millis: Int64) -> String {
        dayFormatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }
    static func month(_ millis: Int64) -> String {
        monthFormatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }

    static func startOfDay(_ millis: Int64) -> Int64 {
        let date = Calendar.current.startOfDay(for: Date(timeIntervalSince1970: Double(millis) / 1000))
        return Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    static func adding(days: Int = 0, months: Int = 0, to millis: Int64) -> Int64 {
        var components = DateComponents()
        components.day = days
        components.month = months
        let date = Calendar.current.date(byAdding: components, to: Date(timeIntervalSince1970: Double(millis) / 1000))!
        return Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    static func startOfMonth(_ millis: Int64) -> Int64 {
        let date = Date(timeIntervalSince1970: Double(millis) / 1000)
        let start = Calendar.current.dateInterval(of: .month, for: date)!.start
        return Int64((start.timeIntervalSince1970 * 1000).rounded())
    }

    init(from: Int64, until: Int64) {
        self.from = from
        self.until = until
        let last = Self.day(until - 1)
        let first = Self.day(from)
        label = first == last ? first : "\(first) – \(last)"
    }

    /// The days of `--from` through `--to` (each a date or a time form crm-field reads), or `default`.
    static func parse(from: String?, to: String?, now: Int64, default fallback: Period) throws -> Period {
        func day(_ text: String, _ flag: String) throws -> Int64 {
            guard let millis = FieldInput.parseTime(text, now: now, endOfDay: false) else {
                throw CLIError.invalid("\(flag) '\(text)' is not a date (e.g. 2026-11-01, 01.11.2026, today, -30d)")
            }
            return startOfDay(millis)
        }
        let start = try from.map { try day($0, "--from") } ?? fallback.from
        let end =
            try to.map { adding(days: 1, to: try day($0, "--to")) }
            ?? (from == nil ? fallback.until : adding(days: 1, to: startOfDay(now)))
        guard end > start else { throw CLIError.invalid("--to is before --from") }
        return Period(from: start, until: end)
    }

    static func thisMonth(_ now: Int64) -> Period {
        let start = startOfMonth(now)
        return Period(from: start, until: adding(months: 1, to: start))
    }

    func contains(_ millis: Int64?) -> Bool { millis.map { $0 >= from && $0 < until } ?? false }

    /// The months (`YYYY-MM`) the period touches.
    var months: [String] { monthStarts.map(\.key) }

    /// The months the period touches with the time each starts.
    var monthStarts: [(start: Int64, key: String)] {
        var months: [(Int64, String)] = []
        var cursor = Self.startOfMonth(from)
        while cursor < until {
            months.append((cursor, Self.month(cursor)))
            cursor = Self.adding(months: 1, to: cursor)
        }
        return months
    }

    var fromISO: String { ISO8601.format(millisecondsSince1970: from) }
    var untilISO: String { ISO8601.format(millisecondsSince1970: until) }
    var json: [String: Any] { ["from": Self.day(from), "to": Self.day(until - 1)] }
}

/// Revenue: invoices issued (attributed to the owner of the invoice's account) and sale lines logged with
/// `stock sell --account` (quantity × unit price, attributed to the rep who logged them).
struct Revenue {
    var invoiced = MoneySum()
    var sold = MoneySum()
    var total: MoneySum { invoiced + sold }

    static func saleAmount(_ line: StoredRecord) -> Int64 {
        (line["quantity"]?.integerValue ?? 0) * (line["unit_price"]?.integerValue ?? 0)
    }
}

/// Stage norms (days per stage, set by IT) and what they make of a deal.
struct StageNorms {
    var days: [String: Int64]
    var facts: [RecordID: DealStageFacts]
    var now: Int64

    /// The norms; with `facts`, when each open deal entered its stage (and with `history`, every deal's stages).
    static func load(
        _ replica: Replica,
        now: Int64,
        facts: Bool = true,
        history: Bool = false
    ) async throws
        -> StageNorms
    {
        var days: [String: Int64] = [:]
        if CRMSchema.entities[.stageNorm] != nil {
            for norm in try await replica.allRecords(.stageNorm) {
                if let stage = norm["stage"]?.stringValue, let value = norm["days"]?.integerValue {
                    days[stage] = value
                }
            }
        }
        // Without norms nothing is stuck, and only conversion needs the stages.
        let needed = history || (facts && !days.isEmpty)
        return StageNorms(
            days: days,
            facts: needed ? try await replica.dealStageFacts(history: history) : [:],
            now: now
        )
    }

    /// Whole days since the deal entered its stage.
    func daysInStage(_ deal: StoredRecord) -> Int? {
        facts[deal.id]?.entered.map { max(0, Int((now - $0) / 86_400_000)) }
    }

    func norm(_ deal: StoredRecord) -> Int64? { deal["stage"]?.stringValue.flatMap { days[$0] } }

    /// Longer in an open stage than its norm.
    func isStuck(_ deal: StoredRecord) -> Bool {
        guard let stage = deal["stage"]?.stringValue, !["won", "lost"].contains(stage), let norm = days[stage],
            let days = daysInStage(deal)
        else { return false }
        return Int64(days) > norm
    }

    /// The stages a deal has reached: those its history shows and every open stage before the furthest of them.
    func reached(_ deal: StoredRecord) -> Set<String> {
        var stages = facts[deal.id]?.stages ?? []
        if let stage = deal["stage"]?.stringValue { stages.insert(stage) }
        let open = Array(CRMSchema.dealStages.prefix(5))
        let furthest =
            stages.compactMap { stage -> Int? in
                stage == "won" ? 5 : open.firstIndex(of: stage)
            }.max() ?? 0
        for index in 0...min(furthest, 4) { stages.insert(open[index]) }
        return stages
    }
}

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "The manager's reports, offline from this laptop's replica.",
        discussion: """
            A rep sees their own figures; a manager the reps of their territories (or one with --rep). Every \
            report prints a table, or --json, --csv (a spreadsheet), --chart (bars in the terminal) or --html FILE \
            (a page with a chart). Days are your time zone's. Revenue is the invoices issued to a rep's customers \
            plus the sales they logged with `stock sell --account` (quantity × unit price); money is summed per \
            currency, never across currencies.
            """,
        subcommands: [Daily.self, Sales.self, Sources.self, SlowStock.self, KeyCustomers.self]
    )

    static func now() -> Int64 { ReplicaConfiguration.systemNow() }

    /// Revenue per rep in a period.
    static func revenue(
        _ team: Team,
        _ period: Period,
        invoices: [StoredRecord],
        sales: [StoredRecord],
        key: (_ rep: String, _ at: Int64) -> String?
    ) -> [String: Revenue] {
        var figures: [String: Revenue] = [:]
        for invoice in invoices {
            guard let at = invoice.time("issued_at"), period.contains(at),
                let rep = team.owner(ofAccount: invoice["account_id"]?.stringValue), team.reps.contains(rep),
                let bucket = key(rep, at)
            else { continue }
            figures[bucket, default: Revenue()].invoiced.add(
                invoice["amount"]?.integerValue ?? 0,
                invoice["currency"]?.stringValue
            )
        }
        for line in sales {
            guard let at = line.time("occurred_at"), period.contains(at), let rep = line["author"]?.stringValue,
                team.reps.contains(rep), let bucket = key(rep, at)
            else { continue }
            figures[bucket, default: Revenue()].sold.add(Revenue.saleAmount(line), line["currency"]?.stringValue)
        }
        return figures
    }

    /// Plans per rep and month (`rep` → `YYYY-MM` → amount).
    static func plans(_ replica: Replica) async throws -> [String: [String: MoneySum]] {
        guard CRMSchema.entities[.plan] != nil else { return [:] }
        var plans: [String: [String: MoneySum]] = [:]
        for plan in try await replica.allRecords(.plan) {
            guard let rep = plan["rep"]?.stringValue, let month = plan["month"]?.stringValue else { continue }
            plans[rep, default: [:]][month, default: MoneySum()].add(
                plan["amount"]?.integerValue ?? 0,
                plan["currency"]?.stringValue
            )
        }
        return plans
    }

    /// Sales against plan in the plan's (main) currency.
    static func completion(_ total: MoneySum, plan: MoneySum) -> Double? {
        guard let currency = plan.main else { return nil }
        return percent(total[currency], of: plan[currency])
    }

    struct Daily: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "One day per rep: deals created, won and cancelled, calls and e-mails in and out, plan and sales.",
            discussion: "Example: crm-field report daily --date yesterday --rep olga"
        )
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this rep (a manager; default: every rep of your territories).") var rep: String?
        @Option(help: "The day (default: today), e.g. 2026-11-30 or yesterday.") var date: String?
        @OptionGroup var output: ReportOutput

        func execute(_ context: FieldContext) async throws {
            let now = ReportCommand.now()
            var team = try await Team.load(context, rep: rep)
            let day = try Period.parse(from: date ?? "today", to: date ?? "today", now: now, default: .thisMonth(now))
            let month = Period(from: Period.startOfMonth(day.from), until: day.until)
            let replica = try context.replica()
            let deals = try await replica.deals(createdOrClosedFrom: day.fromISO, until: day.untilISO)
            let activities = try await replica.activities(occurredFrom: day.fromISO, until: day.untilISO)
            let invoices = try await replica.invoices(issuedFrom: month.fromISO, until: month.untilISO)
            let sales = try await replica.saleLines(from: month.fromISO, until: month.untilISO)
            let plans = try await ReportCommand.plans(replica)
            try await team.know(accountsOf: deals + invoices)
            let monthKey = Period.month(day.from)
            let onDay = ReportCommand.revenue(team, day, invoices: invoices, sales: sales) { rep, _ in rep }
            let toDate = ReportCommand.revenue(team, month, invoices: invoices, sales: sales) { rep, _ in rep }
            var rows: [[ReportCell]] = []
            for rep in team.reps {
                var created = (0, MoneySum())
                var won = (0, MoneySum())
                var lost = (0, MoneySum())
                for deal in deals where team.owner(ofDeal: deal) == rep {
                    let amount = MoneySum(deal["amount"]?.integerValue ?? 0, deal["currency"]?.stringValue)
                    if day.contains(deal.time("created_at")) {
                        created.0 += 1
                        created.1 = created.1 + amount
                    }
                    if day.contains(deal.time("closed_at")) {
                        if deal["stage"]?.stringValue == "won" {
                            won.0 += 1
                            won.1 = won.1 + amount
                        } else if deal["stage"]?.stringValue == "lost" {
                            lost.0 += 1
                            lost.1 = lost.1 + amount
                        }
                    }
                }
                var contacts: [String: Int] = [:]
                for activity in activities where activity["author"]?.stringValue == rep {
                    let kind = activity["kind"]?.stringValue ?? ""
                    if kind == "call" || kind == "email" {
                        contacts["\(kind)_\(activity["direction"]?.stringValue ?? "out")", default: 0] += 1
                    } else if kind == "meeting" || kind == "visit" {
                        contacts["meetings", default: 0] += 1
                    }
                }
                let plan = plans[rep]?[monthKey] ?? MoneySum()
                let sold = toDate[rep]?.total ?? MoneySum()
                rows.append([
                    .text(rep), .count(created.0), .money(created.1), .count(won.0), .money(won.1), .count(lost.0),
                    .money(lost.1), .count(contacts["call_in"] ?? 0), .count(contacts["call_out"] ?? 0),
                    .count(contacts["email_in"] ?? 0), .count(contacts["email_out"] ?? 0),
                    .count(contacts["meetings"] ?? 0), .money(onDay[rep]?.total ?? MoneySum()), .money(sold),
                    .money(plan), .percent(ReportCommand.completion(sold, plan: plan)),
                ])
            }
            let report = Report(
                name: "daily",
                title: "Daily report, \(day.label)",
                subtitle: "Reps: \(team.reps.joined(separator: ", ")); plan and sales of \(monthKey) up to that day",
                columns: [
                    .init(key: "rep", header: "rep"), .init(key: "deals_created", header: "new deals"),
                    .init(key: "deals_created_amount", header: "new amount"), .init(key: "deals_won", header: "won"),
                    .init(key: "deals_won_amount", header: "won amount"),
                    .init(key: "deals_cancelled", header: "cancelled"),
                    .init(key: "deals_cancelled_amount", header: "cancelled amount"),
                    .init(key: "calls_in", header: "calls in"), .init(key: "calls_out", header: "calls out"),
                    .init(key: "emails_in", header: "mails in"), .init(key: "emails_out", header: "mails out"),
                    .init(key: "meetings", header: "meetings"), .init(key: "sales_day", header: "sales"),
                    .init(key: "sales_month", header: "month to date"), .init(key: "plan", header: "plan"),
                    .init(key: "plan_completion", header: "of plan"),
                ],
                rows: rows,
                chart: ([0], 13),
                facts: ["date": Period.day(day.from), "month": monthKey, "reps": team.reps]
            )
            try output.show(report, context)
        }
    }

    struct Sales: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sales per rep or per month, against plan.",
            discussion: "Example: crm-field report sales --by month --from 2026-01-01 --to 2026-12-31"
        )
        @OptionGroup var global: GlobalOptions
        @Option(help: "rep (default) or month.") var by = "rep"
        @Option(help: "The first day (default: the 1st of this month).") var from: String?
        @Option(help: "The last day (default: the end of this month, or today with --from).") var to: String?
        @Option(help: "Only this rep (a manager).") var rep: String?
        @OptionGroup var output: ReportOutput

        func validate() throws {
            guard ["rep", "month"].contains(by) else { throw ValidationError("--by must be rep or month") }
        }

        func execute(_ context: FieldContext) async throws {
            let now = ReportCommand.now()
            var team = try await Team.load(context, rep: rep)
            let period = try Period.parse(from: from, to: to, now: now, default: .thisMonth(now))
            let replica = try context.replica()
            let invoices = try await replica.invoices(issuedFrom: period.fromISO, until: period.untilISO)
            let sales = try await replica.saleLines(from: period.fromISO, until: period.untilISO)
            let deals = try await replica.deals(closedFrom: period.fromISO, until: period.untilISO)
            let plans = try await ReportCommand.plans(replica)
            try await team.know(accountsOf: deals + invoices)
            let byRep = by == "rep"
            let months = period.monthStarts
            let keys = byRep ? team.reps : months.map(\.key)
            // The month of a time by binary search of the months' starts (no date formatting per record).
            func month(_ at: Int64) -> String {
                var (low, high) = (0, months.count - 1)
                while low < high {
                    let middle = (low + high + 1) / 2
                    if months[middle].start <= at { low = middle } else { high = middle - 1 }
                }
                return months[low].key
            }
            let figures = ReportCommand.revenue(team, period, invoices: invoices, sales: sales) { rep, at in
                byRep ? rep : month(at)
            }
            var won: [String: (Int, MoneySum)] = [:]
            for deal in deals where deal["stage"]?.stringValue == "won" {
                guard let at = deal.time("closed_at"), period.contains(at), let rep = team.owner(ofDeal: deal),
                    team.reps.contains(rep)
                else { continue }
                let key = byRep ? rep : month(at)
                won[key, default: (0, MoneySum())].0 += 1
                won[key]!.1.add(deal["amount"]?.integerValue ?? 0, deal["currency"]?.stringValue)
            }
            var rows: [[ReportCell]] = []
            for key in keys {
                var plan = MoneySum()
                for rep in byRep ? [key] : team.reps {
                    for month in byRep ? months.map(\.key) : [key] {
                        plan = plan + (plans[rep]?[month] ?? MoneySum())
                    }
                }
                let revenue = figures[key] ?? Revenue()
                rows.append([
                    .text(key), .money(revenue.invoiced), .money(revenue.sold), .money(revenue.total),
                    .count(won[key]?.0 ?? 0), .money(won[key]?.1 ?? MoneySum()), .money(plan),
                    .percent(ReportCommand.completion(revenue.total, plan: plan)),
                ])
            }
            let report = Report(
                name: "sales",
                title: "Sales by \(by), \(period.label)",
                subtitle:
                    "Reps: \(team.reps.joined(separator: ", ")); plans of \(period.months.joined(separator: ", "))",
                columns: [
                    .init(key: by, header: by), .init(key: "invoiced", header: "invoiced"),
                    .init(key: "sold", header: "sold on site"), .init(key: "total", header: "total"),
                    .init(key: "deals_won", header: "deals won"), .init(key: "deals_won_amount", header: "won amount"),
                    .init(key: "plan", header: "plan"), .init(key: "plan_completion", header: "of plan"),
                ],
                rows: rows,
                chart: ([0], 3),
                facts: ["period": period.json, "by": by, "reps": team.reps]
            )
            try output.show(report, context)
        }
    }

    struct Sources: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Where deals and customers came from: deals, customers, won and lost per source.",
            discussion: "Example: crm-field report sources --from 2026-01-01"
        )
        @OptionGroup var global: GlobalOptions
        @Option(help: "Deals created from this day (default: every deal).") var from: String?
        @Option(help: "Deals created up to this day.") var to: String?
        @Option(help: "Only this rep (a manager).") var rep: String?
        @OptionGroup var output: ReportOutput

        func execute(_ context: FieldContext) async throws {
            let now = ReportCommand.now()
            var team = try await Team.load(context, rep: rep)
            let everything = Period(from: Int64.min / 2, until: Int64.max / 2)
            let period =
                from == nil && to == nil
                ? nil : try Period.parse(from: from ?? "1970-01-01", to: to, now: now, default: everything)
            var groups: [String: (deals: Int, accounts: Set<String>, won: Int, wonAmount: MoneySum, lost: Int)] = [:]
            let deals = try await context.replica().allRecords(.deal)
            try await team.know(accountsOf: deals.filter { $0["owner"] == nil })
            for deal in deals {
                guard let rep = team.owner(ofDeal: deal), team.reps.contains(rep) else { continue }
                if let period, !period.contains(deal.time("created_at")) { continue }
                let source = deal["source"]?.stringValue ?? "unknown"
                var group = groups[source] ?? (0, [], 0, MoneySum(), 0)
                group.deals += 1
                if let account = deal["account_id"]?.stringValue { group.accounts.insert(account) }
                switch deal["stage"]?.stringValue {
                case "won":
                    group.won += 1
                    group.wonAmount.add(deal["amount"]?.integerValue ?? 0, deal["currency"]?.stringValue)
                case "lost": group.lost += 1
                default: break
                }
                groups[source] = group
            }
            let order = CRMSchema.dealSources + ["unknown"]
            let rows: [[ReportCell]] = groups.sorted {
                ($1.value.deals, order.firstIndex(of: $0.key) ?? 99) < (
                    $0.value.deals, order.firstIndex(of: $1.key) ?? 99
                )
            }.map { source, group in
                [
                    .text(source), .count(group.deals), .count(group.accounts.count), .count(group.won),
                    .money(group.wonAmount), .count(group.lost),
                    .percent(percent(Int64(group.won), of: Int64(group.won + group.lost))),
                ]
            }
            let report = Report(
                name: "sources",
                title: "Sources of deals\(period.map { ", created \($0.label)" } ?? "")",
                subtitle: "Reps: \(team.reps.joined(separator: ", ")); win rate = won of won and lost",
                columns: [
                    .init(key: "source", header: "source"), .init(key: "deals", header: "deals"),
                    .init(key: "customers", header: "customers"), .init(key: "won", header: "won"),
                    .init(key: "won_amount", header: "won amount"), .init(key: "lost", header: "lost"),
                    .init(key: "win_rate", header: "win rate"),
                ],
                rows: rows,
                chart: ([0], 1),
                facts: ["period": period?.json ?? NSNull(), "reps": team.reps]
            )
            try output.show(report, context)
        }
    }

    struct SlowStock: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "slow-stock",
            abstract: "Stock with no sale in N days, and how much of those parts each rep sold.",
            discussion: """
                A part is slow when units are in stock and no sale line (`stock sell --account`) of it is newer \
                than N days; its value is at the list price. Example: crm-field report slow-stock --days 60
                """
        )
        @OptionGroup var global: GlobalOptions
        @Option(help: "Days without a sale (default 90).") var days = 90
        @Option(help: "part (default: the parts) or rep (what each rep sold of them).") var by = "part"
        @OptionGroup var output: ReportOutput

        func validate() throws {
            guard days > 0 else { throw ValidationError("--days must be above zero") }
            guard ["part", "rep"].contains(by) else { throw ValidationError("--by must be part or rep") }
        }

        func execute(_ context: FieldContext) async throws {
            let now = ReportCommand.now()
            let team = try await Team.load(context, rep: nil)
            let replica = try context.replica()
            let cutoff = Period.adding(days: -days, to: Period.startOfDay(now))
            var onHand: [String: Int64] = [:]
            for row in try await replica.allRecords(.stock) {
                onHand[row["part_number"]?.stringValue ?? "", default: 0] += row["quantity"]?.integerValue ?? 0
            }
            let lines = try await replica.saleLines()
            var lastSale: [String: Int64] = [:]
            for line in lines where (line["quantity"]?.integerValue ?? 0) > 0 {
                guard let part = line["part_number"]?.stringValue, let at = line.time("occurred_at") else { continue }
                lastSale[part] = max(lastSale[part] ?? at, at)
            }
            let products = try await replica.records(.product, ids: onHand.keys.map(RecordID.init))
            var slow: [(part: String, name: String, quantity: Int64, value: MoneySum, last: Int64?)] = []
            for (part, quantity) in onHand where quantity > 0 {
                if let last = lastSale[part], last >= cutoff { continue }
                let product = products[RecordID(part)]
                let value = MoneySum(
                    quantity * (product?["price_list"]?.integerValue ?? 0),
                    product?["currency"]?.stringValue
                )
                slow.append((part, product?["name"]?.stringValue ?? "", quantity, value, lastSale[part]))
            }
            let currency = slow.reduce(MoneySum()) { $0 + $1.value }.main ?? ""
            slow.sort { ($1.value[currency], $0.part) < ($0.value[currency], $1.part) }
            let slowParts = Set(slow.map(\.part))
            var perRep: [String: (units: Int64, amount: MoneySum, parts: Set<String>)] = [:]
            for line in lines {
                guard let part = line["part_number"]?.stringValue, slowParts.contains(part),
                    let rep = line["author"]?.stringValue, team.reps.contains(rep)
                else { continue }
                var entry = perRep[rep] ?? (0, MoneySum(), [])
                entry.units += line["quantity"]?.integerValue ?? 0
                entry.amount.add(Revenue.saleAmount(line), line["currency"]?.stringValue)
                entry.parts.insert(part)
                perRep[rep] = entry
            }
            let partRows: [[ReportCell]] = slow.map {
                [
                    .text($0.part), .text($0.name), .count(Int($0.quantity)), .money($0.value),
                    .date($0.last.map(Period.day)),
                    $0.last.map { .count(Int((now - $0) / 86_400_000)) } ?? .text("never"),
                ]
            }
            let repRows: [[ReportCell]] = team.reps.map { rep in
                let entry = perRep[rep] ?? (0, MoneySum(), [])
                return [.text(rep), .count(entry.parts.count), .count(Int(entry.units)), .money(entry.amount)]
            }
            let repColumns: [Report.Column] = [
                .init(key: "rep", header: "rep"), .init(key: "parts", header: "slow parts sold"),
                .init(key: "units", header: "units"), .init(key: "amount", header: "amount"),
            ]
            let partColumns: [Report.Column] = [
                .init(key: "part_number", header: "part"), .init(key: "name", header: "name"),
                .init(key: "on_hand", header: "on hand"), .init(key: "value", header: "value (list)"),
                .init(key: "last_sold", header: "last sold"), .init(key: "days_since", header: "days"),
            ]
            let subtitle =
                "No sale since \(Period.day(cutoff)) (\(days) days); reps: \(team.reps.joined(separator: ", "))"
            let byRepJSON: [[String: Any]] = repRows.map { row in
                var object: [String: Any] = [:]
                for (column, cell) in zip(repColumns, row) { object[column.key] = cell.json }
                return object
            }
            let facts: [String: Any] = [
                "days": days, "since": Period.day(cutoff), "reps": team.reps, "by_rep": byRepJSON,
            ]
            let columns = by == "rep" ? repColumns : partColumns
            let rows = by == "rep" ? repRows : partRows
            var report = Report(
                name: "slow-stock",
                title: by == "rep" ? "Slow stock sold, per rep" : "Slow stock",
                subtitle: subtitle,
                columns: columns,
                rows: rows,
                chart: ([0], 3),
                facts: facts
            )
            if by == "part" && !repRows.isEmpty {
                report.notes =
                    ["Sold of these parts, per rep (ever):"]
                    + Render.grid(
                        header: repColumns.map(\.header),
                        rows: repRows.map { $0.map(\.display) },
                        rightAligned: [1, 2, 3]
                    ).split(separator: "\n").map(String.init)
            }
            try output.show(report, context)
        }
    }

    struct KeyCustomers: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "key-customers",
            abstract: "The customers that make up 80% of each rep's revenue.",
            discussion: """
                Per rep, their customers (the accounts they own) by revenue, largest first, until the share is \
                reached; ranked in the rep's main currency. Example: crm-field report key-customers --share 70
                """
        )
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this rep (a manager).") var rep: String?
        @Option(help: "The share of revenue, in percent (default 80).") var share = 80
        @Option(help: "The first day (default: 12 months ago).") var from: String?
        @Option(help: "The last day (default: today).") var to: String?
        @OptionGroup var output: ReportOutput

        func validate() throws {
            guard (1...100).contains(share) else { throw ValidationError("--share must be 1 to 100") }
        }

        func execute(_ context: FieldContext) async throws {
            let now = ReportCommand.now()
            var team = try await Team.load(context, rep: rep)
            let today = Period.startOfDay(now)
            let year = Period(
                from: Period.adding(months: -12, to: Period.adding(days: 1, to: today)),
                until: Period.adding(days: 1, to: today)
            )
            let period = try Period.parse(from: from, to: to, now: now, default: year)
            let replica = try context.replica()
            var revenue: [String: MoneySum] = [:]
            for invoice in try await replica.invoices(issuedFrom: period.fromISO, until: period.untilISO) {
                guard period.contains(invoice.time("issued_at")), let account = invoice["account_id"]?.stringValue
                else { continue }
                revenue[account, default: MoneySum()].add(
                    invoice["amount"]?.integerValue ?? 0,
                    invoice["currency"]?.stringValue
                )
            }
            for line in try await replica.saleLines(from: period.fromISO, until: period.untilISO) {
                guard let account = line["account_id"]?.stringValue else { continue }
                revenue[account, default: MoneySum()].add(Revenue.saleAmount(line), line["currency"]?.stringValue)
            }
            try await team.know(revenue.keys)
            var rows: [[ReportCell]] = []
            for rep in team.reps {
                let mine = revenue.filter { team.owner(ofAccount: $0.key) == rep }
                let total = mine.values.reduce(MoneySum(), +)
                guard let currency = total.main, total[currency] > 0 else { continue }
                let whole = total[currency]
                let ranked = mine.filter { $0.value[currency] > 0 }.map {
                    (id: $0.key, name: team.name(ofAccount: $0.key), amount: $0.value[currency])
                }.sorted { ($1.amount, $0.name, $0.id) < ($0.amount, $1.name, $1.id) }
                var before: Int64 = 0
                for (rank, customer) in ranked.enumerated() {
                    guard before * 100 < Int64(share) * whole else { break }
                    before += customer.amount
                    rows.append([
                        .text(rep), .count(rank + 1), .text(customer.name), .text(customer.id),
                        .money(MoneySum(customer.amount, currency.isEmpty ? nil : currency)),
                        .percent(percent(customer.amount, of: whole)), .percent(percent(before, of: whole)),
                    ])
                }
            }
            let report = Report(
                name: "key-customers",
                title: "Key customers (\(share)% of revenue), \(period.label)",
                subtitle: "Reps: \(team.reps.joined(separator: ", ")); invoices issued and sales logged",
                columns: [
                    .init(key: "rep", header: "rep"), .init(key: "rank", header: "#"),
                    .init(key: "customer", header: "customer"), .init(key: "account_id", header: "id"),
                    .init(key: "revenue", header: "revenue"), .init(key: "share", header: "share"),
                    .init(key: "cumulative", header: "cumulative"),
                ],
                rows: rows,
                chart: ([2], 4),
                facts: ["period": period.json, "share": share, "reps": team.reps]
            )
            try output.show(report, context)
        }
    }
}

extension Pipeline {
    /// `pipeline --by rep`: per rep and stage, the deals there now, their amount, how many are stuck, how many
    /// ever reached the stage, and the conversion to the next stage (reached next / reached this).
    static func byRep(_ context: FieldContext, output: ReportOutput) async throws {
        let now = ReportCommand.now()
        var team = try await Team.load(context, rep: nil)
        let replica = try context.replica()
        let norms = try await StageNorms.load(replica, now: now, history: true)
        let deals = try await replica.allRecords(.deal)
        try await team.know(accountsOf: deals.filter { $0["owner"] == nil })
        let ladder = ["new", "contacted", "negotiation", "decision", "contract", "won"]
        var rows: [[ReportCell]] = []
        for rep in team.reps {
            let mine = deals.filter { team.owner(ofDeal: $0) == rep }
            let reached = mine.map(norms.reached)
            for stage in CRMSchema.dealStages {
                let here = mine.filter { $0["stage"]?.stringValue == stage }
                let amount = here.reduce(into: MoneySum()) {
                    $0.add($1["amount"]?.integerValue ?? 0, $1["currency"]?.stringValue)
                }
                let count = reached.filter { $0.contains(stage) }.count
                var conversion: Double?
                if let index = ladder.firstIndex(of: stage), index + 1 < ladder.count {
                    let next = reached.filter { $0.contains(ladder[index + 1]) }.count
                    conversion = percent(Int64(next), of: Int64(count))
                }
                rows.append([
                    .text(rep), .text(stage), .count(here.count), .money(amount),
                    .count(here.filter(norms.isStuck).count), .count(stage == "lost" ? here.count : count),
                    .percent(conversion),
                ])
            }
        }
        let report = Report(
            name: "pipeline",
            title: "Pipeline by rep",
            subtitle:
                "Reps: \(team.reps.joined(separator: ", ")); conversion = reached the next stage of reached this one",
            columns: [
                .init(key: "rep", header: "rep"), .init(key: "stage", header: "stage"),
                .init(key: "deals", header: "deals"), .init(key: "amount", header: "amount"),
                .init(key: "stuck", header: "stuck"), .init(key: "reached", header: "reached"),
                .init(key: "conversion", header: "to next"),
            ],
            rows: rows,
            chart: ([0, 1], 2),
            facts: ["reps": team.reps, "norms": norms.days.mapValues { NSNumber(value: $0) }]
        )
        try output.show(report, context)
    }
}
