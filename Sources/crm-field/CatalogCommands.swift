import ArgumentParser
import Foundation
import ReplicaStore
import SyncProtocol

struct ProductCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "product",
        abstract: "The product catalog with prices and stock.",
        subcommands: [Search.self, Show.self]
    )

    static let columns: [Render.Column] = [
        .field("part_number", "part"), .field("name"), .field("unit"), .field("price_list", "list price"),
        .field("price_dealer", "dealer"), .field("price_promo", "promo"),
    ]

    struct Search: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Find products by the start of their part number or name.",
            discussion: "Example: crm-field product search pump"
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The start of a part number or name.") var text: String

        func execute(_ context: FieldContext) async throws {
            let replica = try context.replica()
            var found = try await replica.products(partNumberPrefix: text)
            for product in try await replica.products(namePrefix: text)
            where !found.contains(where: { $0.id == product.id }) {
                found.append(product)
            }
            if found.isEmpty {
                // Words inside the name, too.
                let needle = text.lowercased()
                found = try await replica.records(.product, limit: 1_000_000).filter {
                    ($0["name"]?.description.lowercased() ?? "").contains(needle)
                }
            }
            context.printRecords(found, columns: ProductCommand.columns, empty: "No product matches \(text).")
        }
    }

    struct Show: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "One product with its prices and stock per warehouse.",
            discussion: "Example: crm-field product show P-100"
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The part number.") var part: String

        func execute(_ context: FieldContext) async throws {
            let product = try await context.existing(.product, part)
            let stock = try await context.replica().stock(partNumber: part)
            if context.json {
                var object = Render.json(product)
                object["stock"] = stock.map(Render.json)
                context.printJSON(object)
                return
            }
            context.print(Render.card(product))
            context.print("")
            context.print(stock.isEmpty ? "No stock recorded." : Render.table(stock, columns: StockCommand.columns))
        }
    }
}

struct StockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stock",
        abstract: "Stock per warehouse: look it up, sell, take returns.",
        subcommands: [Show.self, Sell.self, Return.self]
    )

    static let columns: [Render.Column] = [
        .field("part_number", "part"), .field("warehouse"), .field("quantity"),
        Render.Column("note") { ($0["quantity"]?.integerValue ?? 0) < 0 ? "OVERSOLD" : "" },
    ]

    struct Show: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stock of a part in every warehouse.",
            discussion: "Example: crm-field stock show P-100"
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The part number.") var part: String

        func execute(_ context: FieldContext) async throws {
            let stock = try await context.replica().stock(partNumber: part)
            if stock.isEmpty, try await context.replica().record(.product, id: RecordID(part)) == nil {
                throw CLIError.notFound("no product \(part) (crm-field product search)")
            }
            context.printRecords(stock, columns: StockCommand.columns, empty: "No stock recorded for \(part).")
        }
    }

    /// What `stock sell` and `stock return` take.
    struct Movement: ParsableArguments {
        @Argument(help: "The part number.") var part: String
        @Argument(help: "How many units.") var quantity: Int64
        @Option(help: "The warehouse (needed when the part is in several).") var warehouse: String?
        @Option(help: "The customer: the movement is logged in its history.") var account: String?
    }

    /// Moves `sign × quantity` units of a part; with an account, logs the movement in the customer's history in the
    /// same transaction.
    static func move(_ movement: Movement, sign: Int64, context: FieldContext) async throws {
        let (part, quantity, warehouse, account) = (
            movement.part, movement.quantity, movement.warehouse, movement.account
        )
        guard quantity > 0 else { throw CLIError.invalid("the quantity must be a whole number above zero") }
        let replica = try context.replica()
        let rows = try await replica.stock(partNumber: part)
        let row: StoredRecord
        if let warehouse {
            guard let match = rows.first(where: { $0["warehouse"]?.stringValue == warehouse }) else {
                let known = rows.compactMap { $0["warehouse"]?.stringValue }
                throw CLIError.notFound(
                    "no stock of \(part) in warehouse \(warehouse)"
                        + (known.isEmpty ? "" : " (known: \(known.joined(separator: ", ")))")
                )
            }
            row = match
        } else {
            guard let only = rows.first else { throw CLIError.notFound("no stock recorded for \(part)") }
            guard rows.count == 1 else {
                let known = rows.compactMap { $0["warehouse"]?.stringValue }.joined(separator: ", ")
                throw CLIError.invalid("\(part) is stocked in several warehouses (\(known)): name one with --warehouse")
            }
            row = only
        }
        var edits = [Replica.Edit(.stock, id: row.id, .counterDelta(sign * quantity))]
        if let account {
            _ = try await context.existing(.account, account)
            var note = FieldInput(.activity)
            try note.set("account_id", account)
            try note.set("kind", "note")
            try note.set(
                "subject",
                "\(sign < 0 ? "Sold" : "Returned") \(quantity) × \(part) (\(row["warehouse"]?.description ?? ""))"
            )
            try note.set("occurred_at", "now")
            note.set("author", value: .string(try await context.user()))
            edits.append(Replica.Edit(.activity, id: RecordID(RecordIDGenerator.ulid()), .append(note.fields)))
        }
        let stored = try await replica.writeBatch(edits)
        let after = stored[0]
        if context.json {
            context.printJSON(Render.json(after))
            return
        }
        let left = after["quantity"]?.integerValue ?? 0
        context.print(
            "\(sign < 0 ? "Sold" : "Took back") \(quantity) of \(part) from \(after["warehouse"]?.description ?? ""): "
                + "\(left) left."
        )
        if left < 0 { context.console.err("warning: \(part) is oversold by \(-left) in this warehouse") }
    }

    struct Sell: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sell units of a part (taken off the stock; other reps' sales add up).",
            discussion: "Example: crm-field stock sell P-100 3 --account 01JD7Q8X…"
        )
        @OptionGroup var global: GlobalOptions
        @OptionGroup var movement: Movement

        func execute(_ context: FieldContext) async throws {
            try await StockCommand.move(movement, sign: -1, context: context)
        }
    }

    struct Return: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "return",
            abstract: "Take units of a part back into stock.",
            discussion: "Example: crm-field stock return P-100 1 --warehouse berlin"
        )
        @OptionGroup var global: GlobalOptions
        @OptionGroup var movement: Movement

        func execute(_ context: FieldContext) async throws {
            try await StockCommand.move(movement, sign: 1, context: context)
        }
    }
}

struct InvoiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "invoice",
        abstract: "Invoices from accounting.",
        subcommands: [List.self]
    )

    static let columns: [Render.Column] = [
        .field("number"), .field("amount"), .field("issued_at", "issued"), .field("due_at", "due"),
        .field("paid_at", "paid"),
    ]

    struct List: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Invoices of your customers (--overdue: unpaid after their due date).",
            discussion: "Example: crm-field invoice list --overdue"
        )
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Only unpaid invoices past their due date.") var overdue = false
        @Option(help: "Only the invoices of this account.") var account: String?

        func execute(_ context: FieldContext) async throws {
            let replica = try context.replica()
            let now = ISO8601.format(millisecondsSince1970: ReplicaConfiguration.systemNow())
            var invoices = try await replica.records(.invoice, limit: 1_000_000)
            if overdue {
                invoices = invoices.filter { invoice in
                    invoice["paid_at"] == nil && (invoice["due_at"]?.stringValue.map { $0 < now } ?? false)
                }
            }
            if let account { invoices = invoices.filter { $0["account_id"]?.stringValue == account } }
            invoices.sort { ($0["due_at"]?.description ?? "") < ($1["due_at"]?.description ?? "") }
            var names: [String: String] = [:]
            for account in try await replica.records(.account, limit: 1_000_000) {
                names[account.id.rawValue] = account["name"]?.description
            }
            let accountNames = names
            let customer = Render.Column("customer") { accountNames[$0["account_id"]?.stringValue ?? ""] ?? "" }
            context.printRecords(
                invoices,
                columns: [InvoiceCommand.columns[0], customer] + InvoiceCommand.columns.dropFirst(),
                empty: overdue ? "No overdue invoices." : "No invoices."
            )
        }
    }
}

struct ConflictCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conflict",
        abstract: "Review what concurrent edits lost, and choose.",
        subcommands: [List.self, Resolve.self]
    )

    static func json(_ conflict: Conflict) -> [String: Any] {
        func side(_ entry: FieldEntry) -> [String: Any] {
            [
                "value": Render.jsonValue(entry.value), "author": entry.author, "dot": entry.dot.description,
                "at": ISO8601.format(millisecondsSince1970: entry.timestamp.wallMilliseconds),
            ]
        }
        return [
            "id": conflict.id, "entity": conflict.entity.rawValue, "record_id": conflict.recordID.rawValue,
            "field": conflict.field, "current": side(conflict.winner), "other": side(conflict.loser),
        ]
    }

    struct List: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open conflicts: both values, who wrote them and when.",
            discussion: "Example: crm-field conflict list"
        )
        @OptionGroup var global: GlobalOptions

        func execute(_ context: FieldContext) async throws {
            let conflicts = try await context.replica().openConflicts()
            if context.json {
                context.printJSON(conflicts.map(ConflictCommand.json))
                return
            }
            guard !conflicts.isEmpty else {
                context.print("No open conflicts.")
                return
            }
            for conflict in conflicts {
                let record = try await context.replica().record(conflict.entity, id: conflict.recordID)
                let label = record.map(History.label) ?? conflict.recordID.rawValue
                context.print("\(conflict.id)")
                context.print("  \(conflict.entity) \(label), field \(conflict.field)")
                context.print("  shown   \(Self.describe(conflict.winner, conflict))")
                context.print("  other   \(Self.describe(conflict.loser, conflict))")
            }
            context.print("")
            context.print("Resolve with: crm-field conflict resolve ID --keep | --take-other | --value V")
        }

        static func describe(_ entry: FieldEntry, _ conflict: Conflict) -> String {
            let value =
                if Render.moneyFields.contains(conflict.field), let minor = entry.value.integerValue {
                    Render.money(minor, currency: nil)
                } else {
                    entry.value.isNull ? "(empty)" : "\"\(entry.value.description)\""
                }
            return "\(value)  by \(entry.author), \(Render.localTime(millis: entry.timestamp.wallMilliseconds))"
        }
    }

    struct Resolve: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Settle a conflict; the choice is an ordinary change that syncs to everyone.",
            discussion: "Example: crm-field conflict resolve account/01JD7Q8X…/phone/01JD…:4 --take-other"
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The conflict's id (crm-field conflict list).") var id: String
        @Flag(help: "Keep the value shown now.") var keep = false
        @Flag(name: .customLong("take-other"), help: "Take the other value.") var takeOther = false
        @Option(help: "Write another value.") var value: String?

        func validate() throws {
            let chosen = [keep, takeOther, value != nil].filter { $0 }.count
            guard chosen == 1 else { throw ValidationError("choose exactly one of --keep, --take-other, --value V") }
        }

        func execute(_ context: FieldContext) async throws {
            let replica = try context.replica()
            guard let conflict = try await replica.openConflicts().first(where: { $0.id == id }) else {
                throw CLIError.notFound("no open conflict \(id) (crm-field conflict list)")
            }
            let resolution: Replica.Resolution
            if keep {
                resolution = .keep
            } else if takeOther {
                resolution = .takeOther
            } else {
                resolution = .value(
                    try FieldInput.value(
                        value ?? "",
                        entity: conflict.entity,
                        field: conflict.field,
                        now: ReplicaConfiguration.systemNow()
                    )
                )
            }
            let record = try await replica.resolveConflict(id: id, resolution)
            context.printRecord(
                record,
                title: "Resolved; \(conflict.field) is now \(Render.display(record, conflict.field))."
            )
        }
    }
}

struct Export: FieldCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the replica's data to files, one per kind of record, for your own use.",
        discussion: "Example: crm-field export --format csv --out ~/crm-export"
    )
    @OptionGroup var global: GlobalOptions
    @Option(help: "csv or json.") var format: String
    @Option(help: "The folder to write into (created if missing).") var out: String

    func validate() throws {
        guard ["csv", "json"].contains(format) else { throw ValidationError("--format must be csv or json") }
    }

    func execute(_ context: FieldContext) async throws {
        let replica = try context.replica()
        let folder = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var written: [String: Int] = [:]
        for entity in ["account", "contact", "activity", "task", "deal", "product", "stock", "invoice"] {
            let kind = EntityKind(entity)
            // In id order, so two laptops with the same data write the same files.
            let records = try await replica.records(kind, limit: Int.max).sorted { $0.id < $1.id }
            let file = folder.appendingPathComponent("\(entity)s.\(format)")
            let data: Data
            if format == "json" {
                data = try JSONSerialization.data(
                    withJSONObject: records.map(Render.json),
                    options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                )
            } else {
                let schema = CRMSchema.schema(for: kind)
                var columns = ["id"] + schema.fields.map(\.name)
                if case .counter(let field) = schema.kind { columns.append(field) }
                var lines = [columns.joined(separator: ",")]
                for record in records {
                    lines.append(
                        columns.map { Self.csvField($0 == "id" ? record.id.rawValue : record[$0]?.description ?? "") }
                            .joined(separator: ",")
                    )
                }
                data = Data((lines.joined(separator: "\r\n") + "\r\n").utf8)
            }
            try data.write(to: file, options: .atomic)
            written[entity + "s." + format] = records.count
        }
        if context.json {
            context.printJSON(["folder": folder.path, "files": written])
        } else {
            context.print("Wrote \(written.count) files to \(folder.path):")
            for (file, count) in written.sorted(by: { $0.key < $1.key }) {
                context.print("  \(file)  \(count) records")
            }
        }
    }

    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
