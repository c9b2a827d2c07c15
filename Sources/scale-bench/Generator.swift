import Foundation
import ReplicaStore
import SyncProtocol

/// A seeded generator (SplitMix64): the same seed makes the same territory on every machine.
struct Generator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }

    mutating func int(_ range: Range<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }

    mutating func pick<T>(_ items: [T]) -> T { items[int(0..<items.count)] }
}

/// Names as a distributor's customers have them: German, Polish, Czech and French with their diacritics, and
/// Russian and Ukrainian in Cyrillic.
enum Names {
    static let latinFirst = [
        "Jürgen", "Müller", "Zoë", "Łukasz", "Štěpán", "Renée", "François", "Ágnes", "Søren", "Jiří", "Małgorzata",
        "Björn", "Inês", "Dvořák", "Anaïs", "Günter", "Zdeněk", "Agnieszka", "Hélène", "Matthias",
    ]
    static let latinLast = [
        "Müller", "Schäfer", "Wójcik", "Dvořáková", "Lefèvre", "Großmann", "Nowak", "Kovář", "Bézier", "Jäger",
        "Łęcki", "Šťastný", "Gauthier", "Köhler", "Zieliński", "Černá", "Weiß", "Dubois", "Brandt", "Hoffmann",
    ]
    static let cyrillicFirst = [
        "Иван", "Ольга", "Дмитрий", "Наталья", "Сергей", "Анна", "Алексей", "Юлия", "Олег", "Марина",
    ]
    static let cyrillicLast = [
        "Иванов", "Смирнова", "Кузнецов", "Попова", "Соколов", "Лебедева", "Козлов", "Новикова", "Морозов", "Шевченко",
    ]
    static let companyLatin = [
        "Haustechnik GmbH", "Bau AG", "Wärme KG", "Sp. z o.o.", "s.r.o.", "SARL", "Installationen OHG", "Sanitär e.K.",
    ]
    static let companyCyrillic = ["ООО «Тепло»", "АО «Стройснаб»", "ООО «Водоканал»", "ИП", "ООО «Сантехмонтаж»"]
    static let cities = [
        "Berlin", "Kraków", "Brno", "Lyon", "München", "Łódź", "Plzeň", "Zürich", "Москва", "Київ", "Köln", "Nantes",
    ]

    static func person(_ generator: inout Generator) -> (first: String, last: String) {
        generator.int(0..<4) == 0
            ? (generator.pick(cyrillicFirst), generator.pick(cyrillicLast))
            : (generator.pick(latinFirst), generator.pick(latinLast))
    }

    static func company(_ generator: inout Generator) -> String {
        generator.int(0..<4) == 0
            ? "\(generator.pick(companyCyrillic)) \(generator.pick(cyrillicLast))"
            : "\(generator.pick(latinLast)) \(generator.pick(companyLatin))"
    }
}

/// One territory's data: its accounts and invoices as accounting's CSV, and its rep's work as local edits.
struct Territory {
    let name: String
    let accounts: Int
    let prefix: String

    func id(_ index: Int) -> String { "\(prefix)-\(String(format: "%06d", index))" }

    static func csv(_ field: String) -> String {
        field.contains(where: { $0 == "," || $0 == "\"" })
            ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
    }

    func accountsCSV(_ generator: inout Generator) -> String {
        var lines = ["id,name,kind,industry,region,status,phone,territory,owner"]
        lines.reserveCapacity(accounts + 1)
        for index in 1...accounts {
            let kind = generator.pick(["customer", "customer", "prospect", "partner"])
            let industry = generator.pick(["Plumbing", "Heating", "Construction", "Facility management"])
            lines.append(
                [
                    id(index), Self.csv(Names.company(&generator)), kind, industry,
                    Self.csv(generator.pick(Names.cities)),
                    "active", "+49 30 \(generator.int(1_000_000..<9_999_999))", name, "",
                ].joined(separator: ",")
            )
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func invoicesCSV(_ generator: inout Generator) -> String {
        var lines = ["number,account_id,amount,currency,issued_at,due_at,paid_at"]
        for index in 1...max(1, accounts / 2) {
            let month = generator.int(1..<12)
            let paid = generator.int(0..<3) > 0 ? "2026-\(String(format: "%02d", month + 1))-15T00:00:00Z" : ""
            lines.append(
                "\(prefix)R-\(index),\(id(generator.int(1..<(accounts + 1)))),\(generator.int(1_000..<500_000)),EUR,"
                    + "2026-\(String(format: "%02d", month))-01T00:00:00Z,2026-\(String(format: "%02d", month + 1))-01T00:00:00Z,\(paid)"
            )
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The rep's work in batches of 20,000 edits: 3 contacts, 10 interactions, 1 task per account, a deal for every
    /// second one.
    func work(_ generator: inout Generator) -> [[Replica.Edit]] {
        var batches: [[Replica.Edit]] = []
        var batch: [Replica.Edit] = []
        func add(_ edit: Replica.Edit) {
            batch.append(edit)
            if batch.count == 20_000 {
                batches.append(batch)
                batch = []
            }
        }
        let kinds = ["call", "meeting", "visit", "email", "note"]
        let stages = CRMSchema.dealStages
        for index in 1...accounts {
            let account = FieldValue.string(id(index))
            for contact in 0..<3 {
                let person = Names.person(&generator)
                add(
                    .init(
                        .contact,
                        id: RecordID("\(id(index))-c\(contact)"),
                        .create([
                            "account_id": account, "first_name": .string(person.first),
                            "last_name": .string(person.last),
                            "role": .string(["billing", "decision_maker", "technical"][contact]),
                            "phone": .string("+49 170 \(generator.int(1_000_000..<9_999_999))"),
                        ])
                    )
                )
            }
            for interaction in 0..<10 {
                let day = generator.int(1..<28)
                add(
                    .init(
                        .activity,
                        id: RecordID("\(id(index))-a\(interaction)"),
                        .append([
                            "account_id": account, "kind": .string(generator.pick(kinds)),
                            "subject": .string("Besprechung \(interaction) — \(Names.person(&generator).last)"),
                            "occurred_at": .string(
                                "2026-\(String(format: "%02d", generator.int(1..<12)))-\(String(format: "%02d", day))T10:00:00Z"
                            ),
                            "author": .string("rep"),
                        ])
                    )
                )
            }
            let due =
                "2026-\(String(format: "%02d", generator.int(1..<13)))-\(String(format: "%02d", generator.int(1..<28)))T09:00:00Z"
            add(
                .init(
                    .task,
                    id: RecordID("\(id(index))-t"),
                    .create([
                        "account_id": account, "title": .string("Call back about the offer"), "due_at": .string(due),
                        "status": .string(generator.int(0..<3) == 0 ? "done" : "open"), "assignee": .string("rep"),
                        "priority": .string("normal"),
                    ])
                )
            )
            if index % 2 == 0 {
                add(
                    .init(
                        .deal,
                        id: RecordID("\(id(index))-d"),
                        .create([
                            "account_id": account, "title": .string("Heating renovation"),
                            "stage": .string(generator.pick(Array(stages.prefix(5)))),
                            "amount": .integer(Int64(generator.int(100_000..<5_000_000))), "currency": .string("EUR"),
                            "expected_close": .string("2027-\(String(format: "%02d", generator.int(1..<13)))-01"),
                        ])
                    )
                )
            }
        }
        if !batch.isEmpty { batches.append(batch) }
        return batches
    }
}

/// The product catalog: part numbers like `SIP-10023`, names of what a plumbing wholesaler sells.
enum Catalog {
    static let families = ["SIP", "CP", "BV", "HX", "TRV", "PEX"]
    static let names = [
        "Circulation pump", "Ball valve", "Heat exchanger", "Thermostatic valve", "Pipe", "Pressure gauge",
        "Expansion vessel", "Flow meter", "Heizkörperventil", "Насос циркуляционный",
    ]

    static func part(_ index: Int) -> String { "\(families[index % families.count])-\(10_000 + index)" }

    static func productsCSV(_ generator: inout Generator, count: Int) -> String {
        var lines = ["part_number,name,unit,price_list,price_dealer,price_promo,currency,active"]
        for index in 0..<count {
            let list = generator.int(500..<200_000)
            lines.append(
                "\(part(index)),\(generator.pick(names)) \(part(index)) DN\(generator.int(10..<80)),pcs,\(list),\(list * 8 / 10),,EUR,true"
            )
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func stockCSV(count: Int) -> String {
        var lines = ["part_number,warehouse,quantity"]
        for index in 0..<count { lines.append("\(part(index)),berlin,\(index % 200)") }
        return lines.joined(separator: "\n") + "\n"
    }
}
