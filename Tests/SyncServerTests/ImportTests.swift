import Foundation
import Hummingbird
import ReplicaStore
import SyncProtocol
import SyncTestSupport
import Testing

@testable import SyncServer

@Suite("CSV import")
struct ImportTests {
    @Test("the CSV reader handles quotes, escaped quotes, commas and newlines in fields, CRLF")
    func csvParser() throws {
        let text = "a,b,c\r\n1,\"two, too\",\"say \"\"hi\"\"\"\r\n\"multi\nline\",,x\n"
        let records = try CSVParser.parse(text)
        #expect(
            records.map(\.fields) == [["a", "b", "c"], ["1", "two, too", "say \"hi\""], ["multi\nline", "", "x"]]
        )
        #expect(records.map(\.line) == [1, 2, 3])
        #expect(throws: CSVParser.Failure.self) { try CSVParser.parse("a\n\"open") }
        #expect(throws: CSVParser.Failure.self) { try CSVParser.parse("a\nx\"y") }
    }

    @Test("money is read from its digits: . or , decimals in the row's currency, grouping, minor units, rounding")
    func money() {
        let cases: [(String, Int, Int64?)] = [
            ("125.00", 2, 12500), ("125,00", 2, 12500), ("125,5", 2, 12550), ("1.250,50", 2, 125_050),
            ("1,250.50", 2, 125_050), ("1 250,50", 2, 125_050), ("1'250.50", 2, 125_050), ("1.250.000", 2, 125_000_000),
            ("12500", 2, 12500), ("-3,20", 2, -320), ("0,005", 2, 1), ("0,004", 2, 0), ("-0,005", 2, -1),
            ("2,675", 2, 268), ("15000", 0, 15000), ("15.000,4", 0, 15000), ("1,2345", 3, 1235), (".5", 2, 50),
            ("twelve", 2, nil), ("1.2.3,4,5", 2, nil), ("1,250.50.1", 2, nil), ("", 2, nil),
            ("9223372036854775807,99", 2, nil),
        ]
        for (text, exponent, expected) in cases {
            #expect(CSVImport.money(text, exponent: exponent) == expected, "\(text) with \(exponent) decimals")
        }
        #expect(Money.exponent(of: "JPY") == 0 && Money.exponent(of: "KWD") == 3 && Money.exponent(of: "EUR") == 2)
    }

    @Test("dates: ISO, DD.MM.YYYY with or without a time, impossible days refused")
    func dates() {
        #expect(CSVImport.timestamp("2026-11-01") == ISO8601.parseTimestamp("2026-11-01T00:00:00Z"))
        #expect(CSVImport.timestamp("01.11.2026") == ISO8601.parseTimestamp("2026-11-01T00:00:00Z"))
        #expect(CSVImport.timestamp("1.2.2026 14:30") == ISO8601.parseTimestamp("2026-02-01T14:30:00Z"))
        #expect(CSVImport.timestamp("2026-11-01T10:00:00Z") == ISO8601.parseTimestamp("2026-11-01T10:00:00Z"))
        #expect(CSVImport.timestamp("32.10.2026") == nil && CSVImport.timestamp("29.02.2026") == nil)
        #expect(CSVImport.date("29.02.2028") == "2028-02-29" && CSVImport.date("2026-13-01") == nil)
    }

    @Test("the separator is found from the header; a byte order mark is dropped; quotes keep separators")
    func separators() throws {
        let semicolon = try CSVParser.parseDetecting("\u{FEFF}a;b;c\r\n1;\"x;y\";3\r\n")
        #expect(
            semicolon.separator == ";" && semicolon.records.map(\.fields) == [["a", "b", "c"], ["1", "x;y", "3"]]
        )
        #expect(try CSVParser.parseDetecting("a\tb\n1\t2\n").records.map(\.fields) == [["a", "b"], ["1", "2"]])
        #expect(try CSVParser.parseDetecting("\"a,b\";c;d\n").separator == ";")
        #expect(try CSVParser.parseDetecting("single\nx\n").separator == ",")
        let parsed = CSVImport.parse(.products, csv: "\u{FEFF}part_number;name;vat_rate;VAT_RATE\nP-1;Pump;19;19\n")
        #expect(parsed.rows.count == 1 && parsed.rejected.isEmpty)
        #expect(
            parsed.warnings.count == 1 && parsed.warnings[0].hasPrefix("ignored column 'vat_rate'"),
            "\(parsed.warnings)"
        )
        let missing = CSVImport.parse(.stock, csv: "part_number,quantity\nP-1,3\n")
        #expect(missing.rejected.first?.reason == "the header has no warehouse column")
    }

    @Test(
        "products upsert by part number; a re-import changes nothing; bad rows are reported by line",
        arguments: Backend.available
    )
    func products(backend: Backend) async throws {
        let harness = try await ServerHarness(backend: backend)
        try await harness.run { client in
            let csv = """
                part_number,name,unit,price_list,price_dealer,currency,active
                PU-100,Pump small,piece,19900,15900,EUR,true
                PU-200,"Pump, large",piece,29900,23900,EUR,yes
                VA-1,Valve,piece,12.50,9,EUR,true
                ,Nameless,piece,100,90,EUR,true
                """
            let first = try await client.send(
                .post,
                "/v1/admin/import/products",
                token: client.adminToken,
                body: Data(csv.utf8)
            )
            #expect(first.status == .ok)
            // 12.50 is a decimal amount (1250 minor units); 9 without a separator is minor units.
            #expect(first.json["created"] as? Int == 3)
            let rejected = try #require(first.json["rejected"] as? [[String: Any]])
            #expect(rejected.map { $0["line"] as? Int } == [5])
            #expect((rejected.first?["reason"] as? String)?.contains("part_number is missing") == true)

            let again = try await client.send(
                .post,
                "/v1/admin/import/products",
                token: client.adminToken,
                body: Data(csv.utf8)
            )
            #expect(
                again.json["created"] as? Int == 0 && again.json["updated"] as? Int == 0
                    && again.json["unchanged"] as? Int == 3
            )
            let repriced = csv.replacingOccurrences(of: "19900,15900", with: "18900,15900")
            let third = try await client.send(
                .post,
                "/v1/admin/import/products",
                token: client.adminToken,
                body: Data(repriced.utf8)
            )
            #expect(third.json["updated"] as? Int == 1 && third.json["unchanged"] as? Int == 2)

            let token = try await client.addUser("alice", territories: ["north"])
            let alice = try await makeReplica(user: "alice", territories: ["north"])
            _ = try await client.sync(alice, token: token)
            let pumps = try await alice.products(partNumberPrefix: "PU")
            #expect(pumps.map { $0["name"] } == ["Pump small", "Pump, large"])
            #expect(pumps.first?["price_list"] == 18900 && pumps.last?["active"] == true)

            let wrongKind = try await client.send(
                .post,
                "/v1/admin/import/spaceships",
                token: client.adminToken,
                body: Data("a\n".utf8)
            )
            #expect(wrongKind.status == .notFound)
            let repOnly = try await client.send(.post, "/v1/admin/import/products", token: token, body: Data(csv.utf8))
            #expect(repOnly.status == .forbidden)
        }
    }

    @Test(
        "a stock recount keeps the sales it had not seen; invoices and accounts import too",
        arguments: Backend.available
    )
    func stockInvoicesAccounts(backend: Backend) async throws {
        let harness = try await ServerHarness(backend: backend)
        try await harness.run { client in
            let token = try await client.addUser("alice", territories: ["north"])
            let alice = try await makeReplica(user: "alice", territories: ["north"])
            _ = try await client.send(
                .post,
                "/v1/admin/import/products",
                token: client.adminToken,
                body: Data("part_number,name\nPU-100,Pump small\n".utf8)
            )
            let stock = "part_number,warehouse,quantity\nPU-100,main,10\n"
            let imported = try await client.send(
                .post,
                "/v1/admin/import/stock",
                token: client.adminToken,
                body: Data(stock.utf8)
            )
            #expect(imported.json["created"] as? Int == 1)
            _ = try await client.sync(alice, token: token)
            let id = RecordID.stock(partNumber: "PU-100", warehouse: "main")
            try await alice.adjustCounter(.stock, id: id, by: -3)
            _ = try await client.sync(alice, token: token)
            // Accounting's recount of 20 was taken after the sale reached the server: it already counts it.
            let recount = "part_number,warehouse,quantity\nPU-100,main,20\n"
            _ = try await client.send(
                .post,
                "/v1/admin/import/stock",
                token: client.adminToken,
                body: Data(recount.utf8)
            )
            _ = try await client.sync(alice, token: token)
            #expect(try await alice.stock(partNumber: "PU-100").first?["quantity"] == 20)

            let accounts = "id,name,territory,payment_standing\nacc-1,Acme,north,hesitant\n,Newco,north,\n,Nowhere,,\n"
            let accountReport = try await client.send(
                .post,
                "/v1/admin/import/accounts",
                token: client.adminToken,
                body: Data(accounts.utf8)
            )
            #expect(accountReport.json["created"] as? Int == 2)
            #expect((accountReport.json["rejected"] as? [[String: Any]])?.first?["line"] as? Int == 4)
            let invoices = "number,account_id,amount,currency,due_at\nR-1,acc-1,50000,EUR,2026-11-01\n"
            let invoiceReport = try await client.send(
                .post,
                "/v1/admin/import/invoices",
                token: client.adminToken,
                body: Data(invoices.utf8)
            )
            #expect(invoiceReport.json["created"] as? Int == 1)
            _ = try await client.sync(alice, token: token)
            let card = try await alice.accountCard(id: RecordID("acc-1"))
            #expect(card.account["payment_standing"] == "hesitant")
            #expect(card.overdueInvoices.map { $0["number"] } == ["R-1"])
            #expect(card.overdueInvoices.first?["due_at"] == "2026-11-01T00:00:00.000Z")
        }
    }

    @Test(
        "plans and stage norms import by rep and month and by stage; a collection status keeps its history",
        arguments: Backend.available
    )
    func plansNormsCollection(backend: Backend) async throws {
        let harness = try await ServerHarness(backend: backend)
        try await harness.run { client in
            let token = try await client.addUser("alice", territories: ["north"])
            let alice = try await makeReplica(user: "alice", territories: ["north"])
            func post(_ kind: String, _ csv: String) async throws -> [String: Any] {
                try await client.send(.post, "/v1/admin/import/\(kind)", token: client.adminToken, body: Data(csv.utf8))
                    .json
            }
            let plans =
                "rep;month;amount;currency\nalice;2026-11;40.000,00;EUR\nnobody;2026-11;1,00;EUR\n"
                + "alice;2026-13;1,00;EUR\nalice;11/2026;1,00;EUR\n"
            let planReport = try await post("plans", plans)
            #expect(planReport["created"] as? Int == 1)
            let rejected = (planReport["rejected"] as? [[String: Any]]) ?? []
            #expect(rejected.map { $0["line"] as? Int } == [3, 4, 5])
            #expect((rejected.first?["reason"] as? String)?.contains("unknown rep 'nobody'") == true)
            #expect((rejected.last?["reason"] as? String)?.contains("month must be YYYY-MM") == true)
            // The same file again changes nothing; a corrected amount updates the one record.
            #expect(try await post("plans", plans)["unchanged"] as? Int == 1)
            #expect(try await post("plans", "rep,month,amount\nalice,2026-11,45000.00\n")["updated"] as? Int == 1)
            let norms = try await post("norms", "stage,days\nnegotiation,14\ncontract,7\nwon,3\n,4\n")
            #expect(norms["created"] as? Int == 2)
            #expect(((norms["rejected"] as? [[String: Any]]) ?? []).map { $0["line"] as? Int } == [4, 5])
            _ = try await post("accounts", "id,name,territory\nacc-1,Acme,north\n")
            _ = try await client.sync(alice, token: token)
            // Each step of accounting's dunning, as the laptop receives it.
            for status in ["none", "reminded", "legal"] {
                _ = try await post("invoices", "number,account_id,amount,collection_status\nR-1,acc-1,500,\(status)\n")
                _ = try await client.sync(alice, token: token)
            }
            let refused = try await post(
                "invoices",
                "number,account_id,amount,collection_status\nR-1,acc-1,500,court\n"
            )
            #expect(((refused["rejected"] as? [[String: Any]]) ?? []).count == 1)
            _ = try await client.sync(alice, token: token)
            let plan = try await alice.record(.plan, id: RecordID("plan-alice-2026-11"))
            #expect(plan?["amount"] == .integer(4_500_000) && plan?["month"] == "2026-11")
            #expect(try await alice.record(.stageNorm, id: RecordID("stage-negotiation"))?["days"] == .integer(14))
            let steps = try await alice.history(.invoice, id: RecordID("invoice-R-1"))
                .filter { $0.field == "collection_status" }.map { $0.newValue }
            #expect(steps == ["none", "reminded", "legal"])
            // A rep cannot write them.
            await #expect(throws: (any Error).self) {
                _ = try await alice.update(.plan, id: RecordID("plan-alice-2026-11"), fields: ["amount": .integer(1)])
            }
        }
    }
}

/// The CSV fuzzer's seed corpus and crash inputs (fuzz/corpus/csv, fuzz/crashes/csv) through `CSVImport.parse` in every
/// test run (see FuzzCorpusTests): the first byte picks the kind, as in fuzz-csv; every refusal names a line.
@Suite("Fuzz corpora replayed: CSV")
struct CSVFuzzCorpusTests {
    @Test("every CSV seed and crash input parses to rows or refusals, each refusal on a line of the file")
    func csvCorpus() throws {
        let inputs = FuzzCorpus.inputs("csv")
        try #require(inputs.count >= 5, "the CSV corpus is missing (\(inputs.count) files)")
        var rows = 0
        for (name, bytes) in inputs where !bytes.isEmpty {
            let kind = ImportKind.allCases[Int(bytes[0]) % ImportKind.allCases.count]
            let text = String(decoding: bytes.dropFirst(), as: UTF8.self)
            let parsed = CSVImport.parse(kind, csv: text)
            rows += parsed.rows.count
            let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).count
            #expect(parsed.rejected.allSatisfy { $0.line >= 1 && $0.line <= max(lines, 1) }, "\(name)")
        }
        #expect(rows > 0, "no CSV seed gives a row: the corpus no longer reaches the row checks")
    }
}
