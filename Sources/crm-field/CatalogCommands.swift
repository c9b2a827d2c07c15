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
            abstract: "Find products by any part of their part number or name, with their stock.",
            discussion: "Example: crm-field product search pump"
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Part of a part number or name (three letters or more match anywhere).") var text: String

        func execute(_ context: FieldContext) async throws {
            let replica = try context.replica()
            let found = try await replica.products(containing: text)
            let stock = try await replica.stock(partNumbers: found.compactMap { $0["part_number"]?.stringValue })
            if context.json {
                context.printJSON(
                    found.map { product -> [String: Any] in
                        var object = Render.json(product)
                        object["stock"] = (stock[product["part_number"]?.stringValue ?? ""] ?? []).map(Render.json)
                        return object
                    }
                )
                return
            }
            let inStock = Render.Column("in stock", alignRight: true) { product in
                let rows = stock[product["part_number"]?.stringValue ?? ""] ?? []
                return rows.isEmpty ? "" : String(rows.reduce(0) { $0 + ($1["quantity"]?.integerValue ?? 0) })
            }
            let perWarehouse = Render.Column("per warehouse") { product in
                (stock[product["part_number"]?.stringValue ?? ""] ?? []).map {
                    "\($0["warehouse"]?.description ?? "") \($0["quantity"]?.integerValue ?? 0)"
                }.joined(separator: ", ")
            }
            context.printRecords(
                found,
                columns: ProductCommand.columns + [inStock, perWarehouse],
                empty: "No product matches \(text)."
            )
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
        @Option(help: "The customer: the movement is logged in its history as a sale line.") var account: String?
        @Option(help: "With --account: the price list, list (the default), dealer or promo.") var price: String?
    }

    /// The sale line of a movement logged for a customer: the part, the signed quantity (negative: a return), the
    /// unit price of the chosen price list as the catalog has it now, and the currency.
    static func saleLine(
        _ note: inout FieldInput,
        part: String,
        quantity: Int64,
        price: String?,
        _ context: FieldContext
    ) async throws {
        let list = (price ?? "list").lowercased()
        guard CRMSchema.priceLists.contains(list) else {
            throw CLIError.invalid("--price must be list, dealer or promo (got '\(list)')")
        }
        let product = try await context.replica().record(.product, id: RecordID(part))
        let column = list == "list" ? "price_list" : "price_\(list)"
        guard let unit = product?[column]?.integerValue else {
            throw CLIError.invalid("\(part) has no \(list) price in the catalog (crm-field product show \(part))")
        }
        note.set("part_number", value: .string(part))
        note.set("quantity", value: .integer(quantity))
        note.set("unit_price", value: .integer(unit))
        note.set("price_list", value: .string(list))
        if let currency = product?["currency"] { note.set("currency", value: currency) }
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
        if movement.price != nil, account == nil {
            throw CLIError.invalid("--price needs --account (the customer the sale line is logged for)")
        }
        var edits = [Replica.Edit(.stock, id: row.id, .counterDelta(sign * quantity))]
        if let account {
            let customer = try await context.existing(.account, account).id.rawValue
            var note = FieldInput(.activity)
            note.set("account_id", value: .string(customer))
            if CRMSchema.activity.fieldsByName["unit_price"] != nil {
                try await StockCommand.saleLine(
                    &note,
                    part: part,
                    quantity: sign * -quantity,
                    price: movement.price,
                    context
                )
            }
            try note.set("kind", "note")
            let price = note.fields["unit_price"]?.integerValue.map {
                " at \(Render.money($0, currency: note.fields["currency"]?.stringValue)) "
                    + "(\(note.fields["price_list"]?.stringValue ?? "list"))"
            }
            try note.set(
                "subject",
                "\(sign < 0 ? "Sold" : "Returned") \(quantity) × \(part) (\(row["warehouse"]?.description ?? ""))"
                    + (price ?? "")
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
        var line =
            "\(sign < 0 ? "Sold" : "Took back") \(quantity) of \(part) from \(after["warehouse"]?.description ?? ""): "
            + "\(left) left."
        if stored.count > 1, let unit = stored[1]["unit_price"]?.integerValue {
            let currency = stored[1]["currency"]?.stringValue
            line +=
                " Logged for the customer at \(Render.money(unit, currency: currency)) each "
                + "(\(stored[1]["price_list"]?.description ?? "list") price), "
                + "\(Render.money(unit * quantity, currency: currency))."
        }
        context.print(line)
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
        abstract: "Invoices from accounting: list, show, and reminders to the customer.",
        subcommands: [List.self, Show.self, Remind.self]
    )

    static let columns: [Render.Column] = [
        .field("number"), .field("amount"), .field("issued_at", "issued"), .field("due_at", "due"),
        .field("paid_at", "paid"), .field("collection_status", "collection"),
    ]

    struct List: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Invoices of your customers (--overdue: unpaid after their due date).",
            discussion: "Example: crm-field invoice list --overdue"
        )
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Only unpaid invoices past their due date.") var overdue = false
        @Option(help: "Only the invoices of this account.") var account: String?
        @OptionGroup var list: ListOptions

        func execute(_ context: FieldContext) async throws {
            let replica = try context.replica()
            let now = ISO8601.format(millisecondsSince1970: ReplicaConfiguration.systemNow())
            let invoices = try await replica.invoices(
                InvoiceFilter(unpaidDueBefore: overdue ? now : nil, account: account.map(RecordID.init)),
                limit: list.value(context)
            )
            // The names of the customers on this page only.
            let accounts = try await replica.records(
                .account,
                ids: invoices.records.compactMap { $0["account_id"]?.stringValue.map(RecordID.init) }
            )
            let customer = Render.Column("customer") {
                accounts[RecordID($0["account_id"]?.stringValue ?? "")]?["name"]?.description ?? ""
            }
            context.printPage(
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

    /// A conflict's short handle: 7 characters of a hash of its id (FNV-1a), the same on every laptop.
    static func handle(_ conflict: Conflict) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in conflict.id.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let text = String(hash, radix: 36)
        return String((String(repeating: "0", count: max(0, 7 - text.count)) + text).prefix(7))
    }

    static func json(_ conflict: Conflict) -> [String: Any] {
        func side(_ entry: FieldEntry) -> [String: Any] {
            [
                "value": Render.jsonValue(entry.value), "author": entry.author, "dot": entry.dot.description,
                "at": ISO8601.format(millisecondsSince1970: entry.timestamp.wallMilliseconds),
            ]
        }
        return [
            "id": conflict.id, "handle": handle(conflict), "entity": conflict.entity.rawValue,
            "record_id": conflict.recordID.rawValue,
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
                context.print(
                    "\(ConflictCommand.handle(conflict))  \(conflict.entity) \(label), field \(conflict.field)"
                )
                context.print("  shown   \(Self.describe(conflict.winner, conflict))")
                context.print("  other   \(Self.describe(conflict.loser, conflict))")
            }
            context.print("")
            context.print("Resolve with: crm-field conflict resolve HANDLE --keep | --take-other | --value V")
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
            discussion: "Example: crm-field conflict resolve k3x9a2q --take-other (the handle conflict list shows)"
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The conflict's handle, or the start of it, or its full id (crm-field conflict list).")
        var id: String
        @Flag(help: "Keep the value shown now.") var keep = false
        @Flag(name: .customLong("take-other"), help: "Take the other value.") var takeOther = false
        @Option(help: "Write another value.") var value: String?

        func validate() throws {
            let chosen = [keep, takeOther, value != nil].filter { $0 }.count
            guard chosen == 1 else { throw ValidationError("choose exactly one of --keep, --take-other, --value V") }
        }

        func execute(_ context: FieldContext) async throws {
            let replica = try context.replica()
            let open = try await replica.openConflicts()
            let typed = id.lowercased()
            let matches =
                open.filter { $0.id == id }.isEmpty
                ? open.filter { ConflictCommand.handle($0).hasPrefix(typed) && !typed.isEmpty }
                : open.filter { $0.id == id }
            guard let conflict = matches.first else {
                throw CLIError.notFound("no open conflict \(id) (crm-field conflict list)")
            }
            guard matches.count == 1 else {
                throw CLIError(
                    "ambiguous_id",
                    "\(id) matches \(matches.count) conflicts: \(matches.map(ConflictCommand.handle).joined(separator: ", "))",
                    exitCode: 2
                )
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
            let record = try await replica.resolveConflict(id: conflict.id, resolution)
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
        let entities = [
            "account", "contact", "activity", "task", "deal", "appointment", "product", "stock", "invoice", "plan",
            "stage_norm", "document", "document_version",
        ].filter { CRMSchema.entities[EntityKind($0)] != nil }
        for entity in entities {
            let kind = EntityKind(entity)
            let file = folder.appendingPathComponent("\(entity)s.\(format)")
            // Streamed a page at a time into a temporary file that replaces the old one when complete; in id
            // order, so two laptops with the same data write the same files.
            let partial = folder.appendingPathComponent(".\(entity)s.\(format).partial")
            guard FileManager.default.createFile(atPath: partial.path, contents: nil),
                let handle = FileHandle(forWritingAtPath: partial.path)
            else { throw CLIError.invalid("cannot write to \(folder.path)") }
            var count = 0
            do {
                let schema = CRMSchema.schema(for: kind)
                var columns = ["id"] + schema.fields.map(\.name)
                if case .counter(let field) = schema.kind { columns.append(field) }
                try handle.write(
                    contentsOf: Data((format == "json" ? "[" : columns.joined(separator: ",") + "\r\n").utf8)
                )
                try await replica.forEachRecord(kind) { page in
                    var chunk = Data()
                    for record in page {
                        if format == "json" {
                            let object = try JSONSerialization.data(
                                withJSONObject: Render.json(record),
                                options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                            )
                            let indented = String(decoding: object, as: UTF8.self)
                                .split(separator: "\n", omittingEmptySubsequences: false)
                                .map { "  " + $0 }.joined(separator: "\n")
                            chunk.append(Data(((count == 0 ? "\n" : ",\n") + indented).utf8))
                        } else {
                            let line = columns.map {
                                Self.csvField($0 == "id" ? record.id.rawValue : record[$0]?.description ?? "")
                            }
                            chunk.append(Data((line.joined(separator: ",") + "\r\n").utf8))
                        }
                        count += 1
                    }
                    try handle.write(contentsOf: chunk)
                }
                if format == "json" { try handle.write(contentsOf: Data((count == 0 ? "]" : "\n]").utf8)) }
                try handle.synchronize()
                try handle.close()
            } catch {
                try? handle.close()
                try? FileManager.default.removeItem(at: partial)
                throw error
            }
            guard rename(partial.path, file.path) == 0 else {
                throw CLIError.invalid("cannot write \(file.path): \(String(cString: strerror(errno)))")
            }
            written[entity + "s." + format] = count
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
