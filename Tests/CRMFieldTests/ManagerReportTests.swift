import Foundation
import ReplicaStore
import SyncProtocol
import SyncServer
import SyncTestSupport
import Synchronization
import Testing

@testable import crm_field

/// The time a test replica writes with, moved by the generator.
final class FakeClock: Sendable {
    private let value: Mutex<Int64>

    init(_ start: Int64) { value = Mutex(start) }

    var now: Int64 { value.withLock { $0 } }
    func set(_ millis: Int64) { value.withLock { $0 = millis } }
}

/// A month of a team's work, generated from a seed, written through the reps' real replicas (with a clock set to
/// that month), synced through a real server, and the manager's reports checked figure by figure against what
/// this test computes from the generated records itself.
@Suite("The manager's reports", .serialized)
struct ManagerReportTests {
    static let seed: UInt64 = ProcessInfo.processInfo.environment["REPORT_SEED"].flatMap(UInt64.init) ?? 2026_11

    /// The catalog: part, list, dealer and promo prices (cents, EUR), stock.
    static let catalog: [(part: String, list: Int64, dealer: Int64, promo: Int64, stock: Int64)] = [
        ("P-1", 19_900, 15_900, 14_900, 40), ("P-2", 2_450, 1_990, 1_790, 300), ("P-3", 89_000, 79_000, 75_000, 5),
        ("P-4", 1_200, 990, 900, 0), ("P-5", 35_000, 30_000, 28_000, 12), ("P-6", 4_500, 3_900, 3_500, 80),
    ]
    /// Parts the reps sell during the month (P-5 and P-6 never: slow stock).
    static let sold = ["P-1", "P-2", "P-3", "P-4"]
    static let reps = [("nils", "north"), ("olga", "north"), ("sven", "south")]
    static let norms: [String: Int64] = ["new": 3, "contacted": 5, "negotiation": 7, "decision": 10, "contract": 5]

    struct Deal {
        var id: String
        var owner: String
        var account: String
        var amount: Int64
        var source: String?
        var created: Int64
        var stage = "new"
        var entered: Int64
        var closed: Int64?
        var reached: Set<String> = ["new"]
    }

    struct Activity {
        var author: String
        var kind: String
        var direction: String?
        var at: Int64
    }

    struct Sale {
        var author: String
        var account: String
        var part: String
        var quantity: Int64
        var unit: Int64
        var at: Int64
    }

    struct Invoice {
        var number: String
        var account: String
        var amount: Int64
        var issued: Int64
        var due: Int64
        var paid: Bool
    }

    /// Everything the generator wrote.
    struct World {
        var accounts: [String: (name: String, owner: String)] = [:]
        var deals: [Deal] = []
        var activities: [Activity] = []
        var sales: [Sale] = []
        var invoices: [Invoice] = []
        var plans: [String: [String: Int64]] = [:]
    }

    /// Local midnight of a day of November 2026 (day 31 is 1 December).
    static func midnight(_ day: Int) -> Int64 {
        var components = DateComponents()
        (components.year, components.month, components.day) = (2026, 11, day)
        return Int64(Calendar.current.date(from: components)!.timeIntervalSince1970 * 1000)
    }

    static func iso(_ millis: Int64) -> String { ISO8601.format(millisecondsSince1970: millis) }

    static func pct(_ part: Int64, _ whole: Int64) -> Any {
        whole > 0 ? Double((part * 1000 + whole / 2) / whole) / 10 : NSNull()
    }

    static func money(_ minor: Int64) -> [String: Any] { minor == 0 ? [:] : ["EUR": minor] }

    static func canonical(_ value: Any) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]), as: UTF8.self)
    }

    static func day(_ millis: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }

    /// Writes one rep's month into their replica, the clock following the generated times.
    static func generate(
        rep: String,
        territory: String,
        home: String,
        random: inout SeededGenerator,
        world: inout World
    ) async throws {
        let clock = FakeClock(midnight(1))
        let replica = try Replica(
            path: home + "/replica.sqlite",
            configuration: ReplicaConfiguration(now: { clock.now })
        )
        defer { try? replica.close() }
        func at(_ millis: Int64) { clock.set(millis) }
        var mine: [String] = []
        for index in 1...4 {
            at(midnight(1) + Int64(index) * 60_000)
            let name = "Kunde \(rep) \(index)"
            let account = try await replica.create(
                .account,
                fields: [
                    "name": .string(name), "kind": .string("customer"), "territory": .string(territory),
                    "owner": .string(rep),
                ]
            )
            _ = try await replica.create(
                .contact,
                fields: [
                    "account_id": .string(account.id.rawValue), "first_name": .string("Buch"),
                    "last_name": .string("Haltung \(index)"), "role": .string("billing"),
                    "email": .string("billing\(index)@\(rep).example"),
                ]
            )
            world.accounts[account.id.rawValue] = (name, rep)
            mine.append(account.id.rawValue)
        }
        let ladder = ["new", "contacted", "negotiation", "decision", "contract"]
        let sources: [String?] = CRMSchema.dealSources + [nil]
        for day in 1...30 {
            // Events 20 minutes apart from 07:30 on, at whole minutes.
            var step = -1
            func next() -> Int64 {
                step += 1
                let time = midnight(day) + 450 * 60_000 + Int64(step) * 20 * 60_000
                at(time)
                return time
            }
            for _ in 0..<Int.random(in: 0...3, using: &random) {
                let kind = ["call", "call", "email", "meeting", "visit", "note"].randomElement(using: &random)!
                let direction = kind == "call" || kind == "email" ? ["in", "out"].randomElement(using: &random)! : nil
                let time = next()
                var fields: [String: FieldValue] = [
                    "account_id": .string(mine.randomElement(using: &random)!), "kind": .string(kind),
                    "subject": .string("\(kind) on day \(day)"), "occurred_at": .string(iso(time)),
                    "author": .string(rep),
                ]
                if let direction { fields["direction"] = .string(direction) }
                _ = try await replica.create(.activity, fields: fields)
                world.activities.append(Activity(author: rep, kind: kind, direction: direction, at: time))
            }
            if Int.random(in: 0..<10, using: &random) < 4 {
                let time = next()
                let account = mine.randomElement(using: &random)!
                let amount = Int64.random(in: 10...500, using: &random) * 10_000
                let source = sources.randomElement(using: &random)!
                var fields: [String: FieldValue] = [
                    "account_id": .string(account), "title": .string("Deal of \(rep) on day \(day)"),
                    "stage": .string("new"), "amount": .integer(amount), "currency": .string("EUR"),
                    "owner": .string(rep), "created_at": .string(iso(time)),
                ]
                if let source { fields["source"] = .string(source) }
                let record = try await replica.create(.deal, fields: fields)
                world.deals.append(
                    Deal(
                        id: record.id.rawValue,
                        owner: rep,
                        account: account,
                        amount: amount,
                        source: source,
                        created: time,
                        entered: time
                    )
                )
            }
            for index in world.deals.indices where world.deals[index].owner == rep {
                let deal = world.deals[index]
                guard deal.closed == nil, deal.created < midnight(day) else { continue }
                let roll = Int.random(in: 0..<100, using: &random)
                var stage: String?
                if roll < 4 {
                    stage = "lost"
                } else if deal.stage == "contract", roll < 30 {
                    stage = "won"
                } else if deal.stage != "contract", roll < 18 {
                    stage = ladder[ladder.firstIndex(of: deal.stage)! + 1]
                }
                guard let stage else { continue }
                let time = next()
                var fields: [String: FieldValue] = ["stage": .string(stage)]
                if stage == "won" || stage == "lost" { fields["closed_at"] = .string(iso(time)) }
                _ = try await replica.update(.deal, id: RecordID(deal.id), fields: fields)
                world.deals[index].stage = stage
                world.deals[index].entered = time
                world.deals[index].reached.insert(stage)
                if stage == "won" || stage == "lost" { world.deals[index].closed = time }
            }
            for _ in 0..<Int.random(in: 0...2, using: &random) {
                let part = sold.randomElement(using: &random)!
                let item = catalog.first { $0.part == part }!
                let list = ["list", "dealer", "promo"].randomElement(using: &random)!
                let unit = list == "list" ? item.list : list == "dealer" ? item.dealer : item.promo
                let quantity = Int.random(in: 0..<8, using: &random) == 0 ? -1 : Int64.random(in: 1...6, using: &random)
                let account = mine.randomElement(using: &random)!
                let time = next()
                _ = try await replica.create(
                    .activity,
                    fields: [
                        "account_id": .string(account), "kind": .string("note"),
                        "subject": .string("Sold \(quantity) × \(part)"), "occurred_at": .string(iso(time)),
                        "author": .string(rep), "part_number": .string(part), "quantity": .integer(quantity),
                        "unit_price": .integer(unit), "price_list": .string(list), "currency": .string("EUR"),
                    ]
                )
                world.sales.append(
                    Sale(author: rep, account: account, part: part, quantity: quantity, unit: unit, at: time)
                )
            }
        }
    }

    /// Invoices, plans, the catalog, stock and the stage norms, as IT imports them.
    static func importBooks(_ server: CLIServer, random: inout SeededGenerator, world: inout World) async throws {
        var products = "part_number,name,price_list,price_dealer,price_promo,currency\n"
        var stock = "part_number,warehouse,quantity\n"
        for item in catalog {
            products += "\(item.part),Part \(item.part),\(item.list),\(item.dealer),\(item.promo),EUR\n"
            stock += "\(item.part),main,\(item.stock)\n"
        }
        try await server.importCSV(.products, products)
        try await server.importCSV(.stock, stock)
        var invoices = "number,account_id,amount,currency,issued_at,due_at,paid_at\n"
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        for account in world.accounts.keys.sorted() {
            for _ in 0..<Int.random(in: 0...3, using: &random) {
                let number = "R-\(world.invoices.count + 100)"
                let issued = midnight(Int.random(in: 1...30, using: &random)) + 10 * 3_600_000 + 30 * 60_000
                // Due in 14 days, or a few days from now (upcoming); a third paid.
                let due = world.invoices.count % 5 == 4 ? now + 3 * 86_400_000 : issued + 14 * 86_400_000
                let paid = Int.random(in: 0..<3, using: &random) == 0
                let amount = Int64.random(in: 1...300, using: &random) * 1_000
                invoices += "\(number),\(account),\(amount),EUR,\(iso(issued)),\(iso(due)),\(paid ? iso(issued) : "")\n"
                world.invoices.append(
                    Invoice(number: number, account: account, amount: amount, issued: issued, due: due, paid: paid)
                )
            }
        }
        try await server.importCSV(.invoices, invoices)
        var plans = "rep,month,amount,currency\n"
        for (rep, _) in reps {
            for month in ["2026-10", "2026-11"] {
                let amount = Int64.random(in: 50...400, using: &random) * 100_000
                plans += "\(rep),\(month),\(amount),EUR\n"
                world.plans[rep, default: [:]][month] = amount
            }
        }
        try await server.importCSV(.plans, plans)
        try await server.importCSV(
            .norms,
            "stage,days\n" + norms.sorted { $0.key < $1.key }.map { "\($0.key),\($0.value)" }.joined(separator: "\n")
        )
    }

    /// Revenue of `rep` in `[from, until)`: invoices of their customers issued then, and the sale lines they logged.
    static func revenue(_ world: World, rep: String, from: Int64, until: Int64) -> (Int64, Int64) {
        let invoiced = world.invoices.filter {
            world.accounts[$0.account]?.owner == rep && $0.issued >= from && $0.issued < until
        }.reduce(0) { $0 + $1.amount }
        let sold = world.sales.filter { $0.author == rep && $0.at >= from && $0.at < until }
            .reduce(0) { $0 + $1.quantity * $1.unit }
        return (invoiced, sold)
    }

    static func rows(_ result: CLIResult) throws -> String {
        #expect(result.exitCode == 0, "\(result.err)")
        let object = try #require(result.json as? [String: Any], "not JSON: \(result.out.prefix(300)) \(result.err)")
        return canonical(try #require(object["rows"]))
    }

    @Test("a month of three reps: every report's figures equal the test's own, and two laptops print the same JSON")
    func month() async throws {
        print("report seed: \(Self.seed) (REPORT_SEED=\(Self.seed) replays it)")
        try await CLIServer.with { server in
            let service = SyncService(storage: server.storage)
            for territory in ["north", "south"] { try await service.addTerritory(territory, actor: "test", now: 0) }
            var homes: [String: String] = [:]
            for (rep, territory) in Self.reps {
                homes[rep] = try await server.laptop(try await server.addRep(rep, territories: [territory]))
            }
            let managerToken = try await server.addRep("max", territories: ["north", "south"], role: .manager)
            let managers = [try await server.laptop(managerToken), try await server.laptop(managerToken)]
            var random = SeededGenerator(seed: Self.seed)
            var world = World()
            for (rep, territory) in Self.reps {
                try await Self.generate(
                    rep: rep,
                    territory: territory,
                    home: homes[rep]!,
                    random: &random,
                    world: &world
                )
                let synced = await cli(["sync"], home: homes[rep]!)
                #expect(synced.exitCode == 0, "\(synced.err)")
            }
            try await Self.importBooks(server, random: &random, world: &world)
            for home in managers + Array(homes.values) {
                let synced = await cli(["sync"], home: home)
                try #require(synced.exitCode == 0, "\(synced.err)")
            }
            let manager = managers[0]
            let team = Self.reps.map(\.0)
            print(
                "generated: \(world.deals.count) deals, \(world.activities.count) interactions, \(world.sales.count) sale lines, \(world.invoices.count) invoices"
            )

            // report daily, three days.
            for day in [3, 17, 28] {
                let (from, until) = (Self.midnight(day), Self.midnight(day + 1))
                var expected: [[String: Any]] = []
                for rep in team {
                    let deals = world.deals.filter { $0.owner == rep }
                    let created = deals.filter { $0.created >= from && $0.created < until }
                    let closed = deals.filter { ($0.closed ?? 0) >= from && ($0.closed ?? 0) < until }
                    let won = closed.filter { $0.stage == "won" }
                    let lost = closed.filter { $0.stage == "lost" }
                    let acts = world.activities.filter { $0.author == rep && $0.at >= from && $0.at < until }
                    func count(_ kind: String, _ direction: String) -> Int {
                        acts.filter { $0.kind == kind && $0.direction == direction }.count
                    }
                    let (dayInvoiced, daySold) = Self.revenue(world, rep: rep, from: from, until: until)
                    let (monthInvoiced, monthSold) = Self.revenue(world, rep: rep, from: Self.midnight(1), until: until)
                    let plan = world.plans[rep]!["2026-11"]!
                    expected.append([
                        "rep": rep, "deals_created": created.count,
                        "deals_created_amount": Self.money(created.reduce(0) { $0 + $1.amount }),
                        "deals_won": won.count, "deals_won_amount": Self.money(won.reduce(0) { $0 + $1.amount }),
                        "deals_cancelled": lost.count,
                        "deals_cancelled_amount": Self.money(lost.reduce(0) { $0 + $1.amount }),
                        "calls_in": count("call", "in"), "calls_out": count("call", "out"),
                        "emails_in": count("email", "in"), "emails_out": count("email", "out"),
                        "meetings": acts.filter { $0.kind == "meeting" || $0.kind == "visit" }.count,
                        "sales_day": Self.money(dayInvoiced + daySold),
                        "sales_month": Self.money(monthInvoiced + monthSold), "plan": Self.money(plan),
                        "plan_completion": Self.pct(monthInvoiced + monthSold, plan),
                    ])
                }
                let arguments = ["report", "daily", "--date", "2026-11-\(day < 10 ? "0" : "")\(day)", "--json"]
                #expect(try Self.rows(await cli(arguments, home: manager)) == Self.canonical(expected), "day \(day)")
                let second = await cli(arguments, home: managers[1])
                #expect(await cli(arguments, home: manager).out == second.out)
                // A rep sees their own row, the same figures.
                let own = try Self.rows(await cli(arguments, home: homes["olga"]!))
                #expect(own == Self.canonical(expected.filter { $0["rep"] as? String == "olga" }))
            }

            // report sales, by rep and by month.
            let november = (Self.midnight(1), Self.midnight(31))
            var byRep: [[String: Any]] = []
            for rep in team {
                let (invoiced, sold) = Self.revenue(world, rep: rep, from: november.0, until: november.1)
                let won = world.deals.filter { $0.owner == rep && $0.stage == "won" }
                let plan = world.plans[rep]!["2026-11"]!
                byRep.append([
                    "rep": rep, "invoiced": Self.money(invoiced), "sold": Self.money(sold),
                    "total": Self.money(invoiced + sold), "deals_won": won.count,
                    "deals_won_amount": Self.money(won.reduce(0) { $0 + $1.amount }), "plan": Self.money(plan),
                    "plan_completion": Self.pct(invoiced + sold, plan),
                ])
            }
            let sales = ["report", "sales", "--by", "rep", "--from", "2026-11-01", "--to", "2026-11-30", "--json"]
            #expect(try Self.rows(await cli(sales, home: manager)) == Self.canonical(byRep))
            var byMonth: [[String: Any]] = []
            for (month, from, until) in [
                ("2026-10", Self.midnight(1) - 31 * 86_400_000, Self.midnight(1)), ("2026-11", november.0, november.1),
            ] {
                let figures = team.map { Self.revenue(world, rep: $0, from: from, until: until) }
                let invoiced = figures.reduce(0) { $0 + $1.0 }
                let sold = figures.reduce(0) { $0 + $1.1 }
                let won = world.deals.filter {
                    $0.stage == "won" && ($0.closed ?? 0) >= from && ($0.closed ?? 0) < until
                }
                let plan = team.reduce(0) { $0 + world.plans[$1]![month]! }
                byMonth.append([
                    "month": month, "invoiced": Self.money(invoiced), "sold": Self.money(sold),
                    "total": Self.money(invoiced + sold), "deals_won": won.count,
                    "deals_won_amount": Self.money(won.reduce(0) { $0 + $1.amount }), "plan": Self.money(plan),
                    "plan_completion": Self.pct(invoiced + sold, plan),
                ])
            }
            let monthly = ["report", "sales", "--by", "month", "--from", "2026-10-01", "--to", "2026-11-30", "--json"]
            #expect(try Self.rows(await cli(monthly, home: manager)) == Self.canonical(byMonth))

            // report sources.
            let order = CRMSchema.dealSources + ["unknown"]
            let grouped = Dictionary(grouping: world.deals) { $0.source ?? "unknown" }
            let sources: [[String: Any]] = grouped.sorted {
                ($1.value.count, order.firstIndex(of: $0.key)!) < ($0.value.count, order.firstIndex(of: $1.key)!)
            }.map { source, deals in
                let won = deals.filter { $0.stage == "won" }
                let lost = deals.filter { $0.stage == "lost" }.count
                return [
                    "source": source, "deals": deals.count, "customers": Set(deals.map(\.account)).count,
                    "won": won.count, "won_amount": Self.money(won.reduce(0) { $0 + $1.amount }), "lost": lost,
                    "win_rate": Self.pct(Int64(won.count), Int64(won.count + lost)),
                ]
            }
            #expect(
                try Self.rows(await cli(["report", "sources", "--json"], home: manager)) == Self.canonical(sources)
            )

            // report key-customers, November.
            var keys: [[String: Any]] = []
            for rep in team {
                var revenue: [String: Int64] = [:]
                for invoice in world.invoices where invoice.issued >= november.0 && invoice.issued < november.1 {
                    revenue[invoice.account, default: 0] += invoice.amount
                }
                for sale in world.sales { revenue[sale.account, default: 0] += sale.quantity * sale.unit }
                let ranked = revenue.filter { world.accounts[$0.key]!.owner == rep && $0.value > 0 }
                    .map { (id: $0.key, name: world.accounts[$0.key]!.name, amount: $0.value) }
                    .sorted { ($1.amount, $0.name) < ($0.amount, $1.name) }
                let total = revenue.filter { world.accounts[$0.key]!.owner == rep }.values.reduce(0, +)
                var before: Int64 = 0
                for (rank, customer) in ranked.enumerated() where before * 100 < 80 * total {
                    before += customer.amount
                    keys.append([
                        "rep": rep, "rank": rank + 1, "customer": customer.name, "account_id": customer.id,
                        "revenue": Self.money(customer.amount), "share": Self.pct(customer.amount, total),
                        "cumulative": Self.pct(before, total),
                    ])
                }
            }
            let key = ["report", "key-customers", "--from", "2026-11-01", "--to", "2026-11-30", "--json"]
            #expect(try Self.rows(await cli(key, home: manager)) == Self.canonical(keys))

            // report slow-stock: no sale since 25 November.
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let today = Int64(Calendar.current.startOfDay(for: Date()).timeIntervalSince1970 * 1000)
            let days = Int((today - Self.midnight(25) + 3_600_000) / 86_400_000)
            let cutoff = Int64(
                Calendar.current.date(byAdding: .day, value: -days, to: Calendar.current.startOfDay(for: Date()))!
                    .timeIntervalSince1970 * 1000
            )
            var slow: [(part: String, value: Int64, row: [String: Any])] = []
            for item in Self.catalog where item.stock > 0 {
                let last = world.sales.filter { $0.part == item.part && $0.quantity > 0 }.map(\.at).max()
                if let last, last >= cutoff { continue }
                slow.append(
                    (
                        item.part, item.stock * item.list,
                        [
                            "part_number": item.part, "name": "Part \(item.part)", "on_hand": Int(item.stock),
                            "value": Self.money(item.stock * item.list), "last_sold": last.map(Self.day) ?? NSNull(),
                            "days_since": last.map { Int((now - $0) / 86_400_000) as Any } ?? "never",
                        ]
                    )
                )
            }
            slow.sort { ($1.value, $0.part) < ($0.value, $1.part) }
            let slowParts = Set(slow.map(\.part))
            #expect(slowParts.isSuperset(of: ["P-5", "P-6"]) && !slowParts.contains("P-4"), "\(slowParts)")
            let stockResult = await cli(["report", "slow-stock", "--days", String(days), "--json"], home: manager)
            #expect(try Self.rows(stockResult) == Self.canonical(slow.map(\.row)))
            let perRep: [[String: Any]] = team.map { rep in
                let lines = world.sales.filter { $0.author == rep && slowParts.contains($0.part) }
                return [
                    "rep": rep, "parts": Set(lines.map(\.part)).count,
                    "units": Int(lines.reduce(0) { $0 + $1.quantity }),
                    "amount": Self.money(lines.reduce(0) { $0 + $1.quantity * $1.unit }),
                ]
            }
            #expect(Self.canonical((stockResult.json as? [String: Any])?["by_rep"] ?? []) == Self.canonical(perRep))

            // pipeline --by rep and the stuck deals.
            let stuckNow = Int64(Date().timeIntervalSince1970 * 1000)
            func isStuck(_ deal: Deal) -> Bool {
                guard let norm = Self.norms[deal.stage] else { return false }
                return Int64((stuckNow - deal.entered) / 86_400_000) > norm
            }
            let ladder = ["new", "contacted", "negotiation", "decision", "contract", "won"]
            var pipeline: [[String: Any]] = []
            for rep in team {
                let deals = world.deals.filter { $0.owner == rep }
                for stage in CRMSchema.dealStages {
                    let here = deals.filter { $0.stage == stage }
                    let reached = deals.filter { $0.reached.contains(stage) }.count
                    var conversion: Any = NSNull()
                    if let index = ladder.firstIndex(of: stage), index + 1 < ladder.count {
                        let next = deals.filter { $0.reached.contains(ladder[index + 1]) }.count
                        conversion = Self.pct(Int64(next), Int64(reached))
                    }
                    pipeline.append([
                        "rep": rep, "stage": stage, "deals": here.count,
                        "amount": Self.money(here.reduce(0) { $0 + $1.amount }), "stuck": here.filter(isStuck).count,
                        "reached": reached, "conversion": conversion,
                    ])
                }
            }
            #expect(
                try Self.rows(await cli(["pipeline", "--by", "rep", "--json"], home: manager))
                    == Self.canonical(pipeline)
            )
            let stuck = await cli(["deal", "list", "--stuck", "--all", "--json"], home: manager)
            let listed = Dictionary(
                uniqueKeysWithValues: stuck.array.map { ($0["id"] as? String ?? "", $0["days_in_stage"] as? Int ?? -1) }
            )
            let expectedStuck = world.deals.filter(isStuck)
            #expect(stuck.exitCode == 0 && !expectedStuck.isEmpty, "the generated month has stuck deals: \(stuck.err)")
            #expect(Set(listed.keys) == Set(expectedStuck.map(\.id)))
            for deal in expectedStuck { #expect(listed[deal.id] == Int((stuckNow - deal.entered) / 86_400_000)) }
            let card = await cli(["deal", "show", expectedStuck[0].id, "--json"], home: manager)
            #expect(
                card.object["stuck"] as? Bool == true
                    && card.object["norm_days"] as? Int == Int(Self.norms[expectedStuck[0].stage]!)
            )

            // receivables: overdue per customer.
            let receivables = await cli(["receivables", "--upcoming", "10", "--json"], home: manager)
            #expect(receivables.exitCode == 0, "\(receivables.err)")
            let customers = (receivables.object["customers"] as? [[String: Any]]) ?? []
            let unpaid = world.invoices.filter { !$0.paid }
            let owing = Dictionary(grouping: unpaid.filter { $0.due < now }) { $0.account }
            for (account, invoices) in owing {
                let shown = try #require(customers.first { $0["account_id"] as? String == account })
                let overdue = shown["overdue"] as? [String: Any]
                #expect(overdue?["count"] as? Int == invoices.count)
                #expect(
                    Self.canonical(overdue?["total"] ?? [:])
                        == Self.canonical(Self.money(invoices.reduce(0) { $0 + $1.amount }))
                )
                #expect(overdue?["max_days"] as? Int == invoices.map { Int((now - $0.due) / 86_400_000) }.max())
            }
            let upcomingCount = customers.reduce(0) { $0 + (($1["upcoming"] as? [String: Any])?["count"] as? Int ?? 0) }
            let horizon = Int64(
                Calendar.current.date(byAdding: .day, value: 11, to: Calendar.current.startOfDay(for: Date()))!
                    .timeIntervalSince1970 * 1000
            )
            #expect(upcomingCount == unpaid.filter { $0.due >= now && $0.due < horizon }.count)

            // Every report is the same JSON on the manager's second laptop.
            for arguments in [
                sales, monthly, key, ["report", "sources", "--json"], ["pipeline", "--by", "rep", "--json"],
                ["receivables", "--json"],
            ] {
                let first = await cli(arguments, home: managers[0])
                let second = await cli(arguments, home: managers[1])
                #expect(first.exitCode == 0 && first.out == second.out, "\(arguments)")
            }
            // A rep sees only their own figures.
            let foreign = await cli(["report", "sales", "--rep", "nils"], home: homes["olga"]!)
            #expect(foreign.exitCode != 0 && foreign.err.contains("own figures"), "\(foreign.err)")
            // People's forms: a table, CSV, terminal bars without colour codes off a terminal.
            let table = await cli(["report", "sales", "--from", "2026-11-01", "--to", "2026-11-30"], home: manager)
            #expect(table.exitCode == 0 && table.out.contains("Sales by rep, 2026-11-01 – 2026-11-30"))
            let csv = await cli(
                ["report", "sales", "--from", "2026-11-01", "--to", "2026-11-30", "--csv"],
                home: manager
            )
            #expect(csv.out.hasPrefix("rep,invoiced,invoiced_currency,sold,sold_currency,total,total_currency,"))
            #expect(csv.out.components(separatedBy: "\r\n").count == team.count + 2)
            let bars = await cli(
                ["report", "sales", "--from", "2026-11-01", "--to", "2026-11-30", "--chart"],
                home: manager
            )
            #expect(bars.out.contains("█") && !bars.out.contains("\u{1B}["), "\(bars.out)")

            // A stage change that reaches the manager's laptop later (an update of a deal it holds) ends that
            // deal's stuckness there.
            let moved = expectedStuck[0]
            let nextStage = ladder[(ladder.firstIndex(of: moved.stage) ?? 0) + 1]
            let staged = await cli(["deal", "stage", moved.id, nextStage], home: homes[moved.owner]!)
            #expect(staged.exitCode == 0, "\(staged.err)")
            #expect(await cli(["sync"], home: homes[moved.owner]!).exitCode == 0)
            #expect(await cli(["sync"], home: manager).exitCode == 0)
            let after = await cli(["deal", "list", "--stuck", "--all", "--json"], home: manager)
            let stillStuck = Set(after.array.compactMap { $0["id"] as? String })
            #expect(after.exitCode == 0 && stillStuck == Set(expectedStuck.dropFirst().map(\.id)), "\(after.err)")
            let movedCard = await cli(["deal", "show", moved.id, "--json"], home: manager)
            #expect(movedCard.object["stuck"] as? Bool == false && movedCard.object["days_in_stage"] as? Int == 0)
        }
    }
}

@Suite("Reminders and HTML reports", .serialized)
struct ReminderTests {
    @Test("invoice remind writes an .eml a real mail parser reads back, logs it, and refuses without a billing contact")
    func reminder() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("remind-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let outbox = folder.appendingPathComponent("outbox")
        let html = folder.appendingPathComponent("sales.html").path
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        try await CLIServer.with { server in
            try await server.loadSample()
            // R-1 (1,250.00 EUR, due 2026-10-01) is overdue; R-9 falls due in four days; Schmidt owes R-8.
            try await server.importCSV(
                .invoices,
                """
                number,account_id,amount,currency,issued_at,due_at,paid_at,collection_status
                R-1,acc-mueller,125000,EUR,2026-09-01T00:00:00Z,2026-10-01T00:00:00Z,,reminded
                R-8,acc-schmidt,9900,EUR,2026-09-01T00:00:00Z,2026-10-01T00:00:00Z,,
                R-9,acc-mueller,30000,EUR,2026-11-01T00:00:00Z,\(ISO8601.format(millisecondsSince1970: now + 4 * 86_400_000)),,
                """
            )
            let home = try await server.laptop(try await server.addRep("alice"))
            let contact = await cli(
                [
                    "contact", "add", "--account", "acc-mueller", "--first-name", "Jürgen", "--last-name", "Groß",
                    "--role", "billing", "--email", "j.gross@mueller.example", "--json",
                ],
                home: home
            )
            #expect(contact.exitCode == 0, "\(contact.err)")
            #expect(await cli(["config", "set", "outbox", outbox.path], home: home).exitCode == 0)
            #expect(
                await cli(["config", "set", "mail-from", "Alice Vogel <alice@firm.example>"], home: home).exitCode == 0
            )

            let list = await cli(["receivables", "--upcoming", "7", "--json"], home: home)
            let mueller = (list.object["customers"] as? [[String: Any]])?.first {
                $0["account_id"] as? String == "acc-mueller"
            }
            #expect((mueller?["overdue"] as? [String: Any])?["count"] as? Int == 1)
            #expect((mueller?["upcoming"] as? [String: Any])?["count"] as? Int == 1)
            #expect((mueller?["invoices"] as? [[String: Any]])?.first?["collection_status"] as? String == "reminded")

            let sent = await cli(["invoice", "remind", "acc-mueller", "--json"], home: home)
            #expect(sent.exitCode == 0, "\(sent.err)")
            #expect(sent.object["invoices"] as? [String] == ["R-1"])
            let history = await cli(["history", "acc-mueller", "--json"], home: home)
            let logged = (history.object["interactions"] as? [[String: Any]])?.first {
                $0["id"] as? String == sent.object["activity_id"] as? String
            }
            #expect(
                logged?["kind"] as? String == "email" && logged?["direction"] as? String == "out",
                "\(history.out.prefix(400))"
            )
            #expect((logged?["subject"] as? String)?.contains("R-1") == true)

            // Before the due date: the notice for R-9 alone.
            let notice = await cli(["invoice", "remind", "R-9", "--json"], home: home)
            #expect(notice.exitCode == 0 && notice.object["kind"] as? String == "notice", "\(notice.err)")

            // Schmidt has no billing contact: refused, nothing written, nothing logged.
            let before = try FileManager.default.contentsOfDirectory(atPath: outbox.path).count
            let refused = await cli(["invoice", "remind", "acc-schmidt"], home: home)
            #expect(
                refused.exitCode == 2 && refused.err.contains("no billing contact with an e-mail address"),
                "\(refused.err)"
            )
            let refusedJSON = await cli(["invoice", "remind", "acc-schmidt", "--json"], home: home)
            #expect(refusedJSON.failure?.code == "no_billing_contact")
            #expect(try FileManager.default.contentsOfDirectory(atPath: outbox.path).count == before)
            let schmidt = await cli(["history", "acc-schmidt", "--json"], home: home)
            #expect(((schmidt.object["interactions"] as? [[String: Any]]) ?? []).isEmpty)
            #expect(await cli(["report", "sales", "--html", html, "--from", "2026-09-01"], home: home).exitCode == 0)
        }

        // Python's email package reads the message back.
        let files = try FileManager.default.contentsOfDirectory(atPath: outbox.path).filter { $0.contains("reminder") }
        let file = try #require(files.first.map { outbox.appendingPathComponent($0).path })
        let parse = """
            import email, email.policy, json, sys
            m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=email.policy.default)
            to = m['To'].addresses[0]
            print(json.dumps({'to': to.addr_spec, 'name': to.display_name, 'from': m['From'].addresses[0].addr_spec,
                'subject': str(m['Subject']), 'type': m.get_content_type(), 'charset': m.get_content_charset(),
                'date': m['Date'].datetime is not None, 'body': m.get_content(), 'defects': len(m.defects)}))
            """
        let parsed = try await RepDayTests.run(URL(fileURLWithPath: "/usr/bin/python3"), ["-c", parse, file])
        #expect(parsed.status == 0, "\(parsed.output)")
        let mail = try #require(try JSONSerialization.jsonObject(with: Data(parsed.output.utf8)) as? [String: Any])
        #expect(mail["to"] as? String == "j.gross@mueller.example")
        #expect(mail["name"] as? String == "Jürgen Groß")
        #expect(mail["from"] as? String == "alice@firm.example")
        #expect(mail["subject"] as? String == "Payment reminder: invoice R-1, 1,250.00 EUR overdue")
        #expect(mail["type"] as? String == "text/plain" && mail["charset"] as? String == "utf-8")
        #expect(mail["date"] as? Bool == true && mail["defects"] as? Int == 0)
        let body = mail["body"] as? String ?? ""
        let days = Int((now - 1_790_812_800_000) / 86_400_000)  // 2026-10-01T00:00:00Z
        #expect(body.contains("Dear Jürgen Groß,") && body.contains("Müller Haustechnik GmbH"), "\(body)")
        #expect(body.contains("R-1   1,250.00 EUR   due 2026-10-01   \(days) days overdue"), "\(body)")
        #expect(body.contains("Total overdue: 1,250.00 EUR") && body.contains("Alice Vogel"), "\(body)")

        // The HTML report opens in Chromium: its chart has a bar per rep.
        let chromium = StatusPageTests.chromium
        try #require(FileManager.default.isExecutableFile(atPath: chromium), "install Debian's chromium (.ci/run does)")
        let profile = folder.appendingPathComponent("profile").path
        let browser = ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile)"]
        let dom = try await RepDayTests.run(URL(fileURLWithPath: chromium), browser + ["--dump-dom", "file://\(html)"])
        #expect(
            dom.status == 0 && dom.output.contains("<svg") && dom.output.contains("<h1>Sales by rep"),
            "\(dom.output.suffix(1500))"
        )
        #expect(dom.output.components(separatedBy: "<rect").count - 1 == 1, "one rep, one bar")
        let shot = folder.appendingPathComponent("sales.png").path
        let screenshot = try await RepDayTests.run(
            URL(fileURLWithPath: chromium),
            browser + ["--screenshot=\(shot)", "--window-size=1000,600", "file://\(html)"]
        )
        #expect(screenshot.status == 0)
        let png = try Data(contentsOf: URL(fileURLWithPath: shot))
        #expect(png.count > 5_000 && png.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
    }
}
