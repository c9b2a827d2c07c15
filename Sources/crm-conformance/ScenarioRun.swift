import Crypto
import Foundation
import ReplicaStore
import SyncClient
import SyncProtocol

/// Where and how scenarios run: the server, the admin client, a tag that keeps this run's users, territories and
/// records apart from everything else on the server, and a folder for the laptops' replica files.
struct RunEnvironment: Sendable {
    var server: String
    var adminToken: String
    var caCertificate: String?
    var tag: String
    var folder: URL

    func transport(token: String) throws -> HTTPSyncTransport {
        try HTTPSyncTransport(
            server: server,
            token: token,
            caCertificateFile: caCertificate,
            connectTimeout: .seconds(5),
            requestTimeout: .seconds(30)
        )
    }
}

/// Runs one scenario: sets up its users and data through the admin API, then its steps in order. Throws at the
/// first step that fails, saying what differed.
final class ScenarioRun {
    let scenario: Scenario
    let environment: RunEnvironment
    let admin: AdminClient
    /// `$alias` → the name or ID it stands for in this run.
    private var aliases: [String: String] = [:]
    private var tokens: [String: String] = [:]
    private var laptops: [String: Laptop] = [:]
    private var laptopOrder: [String] = []
    private var auditor: Laptop?
    private var rawCounters: [String: Int64] = [:]
    /// The bytes of each content alias in this run (its text and the run's tag).
    private var contents: [String: Data] = [:]
    private let prefix: String
    private let folder: URL

    init(scenario: Scenario, number: Int, environment: RunEnvironment, admin: AdminClient) throws {
        self.scenario = scenario
        self.environment = environment
        self.admin = admin
        prefix = "\(environment.tag)-\(number)-"
        folder = environment.folder.appendingPathComponent("\(number)-\(scenario.name)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    /// Closes the replicas and the connections, and revokes this scenario's users so no token outlives the run.
    func finish() async {
        for laptop in Array(laptops.values) + (auditor.map { [$0] } ?? []) {
            try? laptop.replica.close()
            await laptop.transport.shutdown()
        }
        for user in scenario.users { try? await admin.revoke(prefix + user.alias) }
        if let auditor { try? await admin.revoke(auditor.user) }
    }

    func run() async throws {
        try await setUp()
        for step in scenario.steps {
            do {
                try await perform(step)
            } catch let error as StepError {
                throw StepError("\(step.label): \(error.description)")
            } catch {
                throw StepError("\(step.label): unexpected error: \(error)")
            }
        }
    }

    // MARK: - Names

    /// `$name` is a name defined by the setup or an earlier step; `$+name` names a new record ID unique to this run
    /// (defined on first use, `$name` afterwards).
    private func resolve(_ alias: String) throws -> String {
        if alias.hasPrefix("+") {
            let name = String(alias.dropFirst())
            if let value = aliases[name] { return value }
            aliases[name] = prefix + name
            return prefix + name
        }
        if alias.hasPrefix("laptop:") {
            let name = String(alias.dropFirst("laptop:".count))
            guard let laptop = laptops[name] else { throw StepError("no laptop '\(name)' for $\(alias)") }
            return laptop.replica.replicaID.rawValue
        }
        guard let value = aliases[alias] else { throw StepError("unknown alias $\(alias)") }
        return value
    }

    private func resolved(_ value: JSONValue) throws -> JSONValue { try value.resolving(resolve) }

    private func territory(_ name: String) -> String { prefix + name }

    private func fields(_ value: JSONValue?) throws -> [String: FieldValue] {
        guard let object = value?.object else { throw StepError("'fields' (an object) is missing") }
        var fields: [String: FieldValue] = [:]
        for (key, item) in object {
            // `$size:alias`: a content's size in bytes, the integer a `document_version` carries.
            if let text = item.string, text.hasPrefix("$size:") {
                guard let size = Int64(try resolve(String(text.dropFirst()))) else {
                    throw StepError("\(text) is not a content's size")
                }
                fields[key] = .integer(size)
                continue
            }
            guard let field = try resolved(item).fieldValue else {
                throw StepError("field values are strings, integers, booleans or null")
            }
            fields[key] = field
        }
        return fields
    }

    private func entity(_ step: Step) throws -> EntityKind {
        let name = try step.string("entity")
        let kind = EntityKind(name)
        guard CRMSchema.entities[kind] != nil else { throw StepError("unknown entity '\(name)'") }
        return kind
    }

    private func recordID(_ step: Step, _ key: String = "record") throws -> RecordID {
        guard let value = try step[key].map(resolved)?.string else { throw StepError("'\(key)' is missing") }
        return RecordID(value)
    }

    private func laptop(_ step: Step) throws -> Laptop {
        let name = try step.string("laptop")
        guard let laptop = laptops[name] else { throw StepError("no laptop '\(name)' (set it up first)") }
        return laptop
    }

    // MARK: - Setup

    private func setUp() async throws {
        for (alias, text) in scenario.contents {
            // The run's tag in the bytes: a second run on the same server must not find the first run's upload.
            let data = Data("\(text)\n(\(prefix)\(alias))\n".utf8)
            contents[alias] = data
            aliases[alias] = Self.sha256(data)
            aliases["size:" + alias] = String(data.count)
        }
        for user in scenario.users {
            aliases[user.alias] = prefix + user.alias
            for name in user.user.territories { aliases[name] = territory(name) }
        }
        for user in scenario.users {
            tokens[user.alias] = try await admin.addUser(
                prefix + user.alias,
                role: user.user.role,
                territories: user.user.territories.map(territory)
            )
        }
        var accountRows: [[String: JSONValue]] = []
        for (alias, row) in scenario.accounts {
            aliases[alias] = prefix + alias
            var row = try row.mapValues(resolved)
            row["id"] = .string(prefix + alias)
            if let name = row["territory"]?.string {
                aliases[name] = territory(name)
                row["territory"] = .string(territory(name))
            }
            accountRows.append(row)
        }
        var productRows: [[String: JSONValue]] = []
        for (alias, row) in scenario.products {
            aliases[alias] = prefix + alias
            var row = try row.mapValues(resolved)
            row["part_number"] = .string(prefix + alias)
            productRows.append(row)
        }
        var stockRows: [[String: JSONValue]] = []
        for (alias, row) in scenario.stock {
            var row = try row.mapValues(resolved)
            guard let part = row.removeValue(forKey: "product")?.string, let warehouse = row["warehouse"]?.string else {
                throw StepError("stock.\(alias) needs product ($alias) and warehouse")
            }
            aliases[alias] = RecordID.stock(partNumber: part, warehouse: warehouse).rawValue
            row["part_number"] = .string(part)
            stockRows.append(row)
        }
        var invoiceRows: [[String: JSONValue]] = []
        for (alias, row) in scenario.invoices {
            var row = try row.mapValues(resolved)
            let number = prefix + alias
            aliases[alias] = "invoice-" + number
            row["number"] = .string(number)
            if let account = row.removeValue(forKey: "account") { row["account_id"] = account }
            invoiceRows.append(row)
        }
        for (kind, rows) in [
            ("accounts", accountRows), ("products", productRows), ("stock", stockRows), ("invoices", invoiceRows),
        ] where !rows.isEmpty {
            let rejected = try await admin.importRows(kind, rows)
            if !rejected.isEmpty { throw StepError("setup: the \(kind) import refused \(rejected)") }
        }
        for laptop in scenario.laptops {
            try await initLaptop(laptop.name, user: laptop.user, offset: 0)
        }
    }

    @discardableResult
    private func initLaptop(_ name: String, user: String, offset: Int64) async throws -> SyncSummary {
        guard laptops[name] == nil else { throw StepError("laptop '\(name)' exists already") }
        guard let token = tokens[user] else { throw StepError("unknown user '\(user)'") }
        let transport = ScriptedTransport(try environment.transport(token: token))
        let laptop = try Laptop(
            name: name,
            user: prefix + user,
            path: folder.appendingPathComponent("\(name).sqlite").path,
            transport: transport,
            offsetMilliseconds: offset,
            replicaID: try await transport.registerReplica()
        )
        laptops[name] = laptop
        laptopOrder.append(name)
        let engine = laptop.engine()
        try await engine.register(server: environment.server)
        return try await engine.sync()
    }

    /// A second laptop made from a copy of `from`'s replica file (the rep's folder copied, or a laptop restored from
    /// its backup): the same replica ID, counters and cursor, the same token.
    private func copyLaptop(from source: String, to name: String) async throws {
        guard laptops[name] == nil else { throw StepError("laptop '\(name)' exists already") }
        guard let original = laptops[source] else { throw StepError("unknown laptop '\(source)'") }
        let path = folder.appendingPathComponent("\(name).sqlite").path
        try await original.replica.backup(to: path)
        let alias = original.user.hasPrefix(prefix) ? String(original.user.dropFirst(prefix.count)) : original.user
        guard let token = tokens[alias] else { throw StepError("unknown user of laptop '\(source)'") }
        laptops[name] = try Laptop(
            name: name,
            user: original.user,
            path: path,
            transport: ScriptedTransport(try environment.transport(token: token)),
            offsetMilliseconds: original.offset.value,
            replicaID: nil
        )
        laptopOrder.append(name)
    }

    /// A laptop of an admin user made for this scenario: it sees everything, so its replica is the server's
    /// merged state (a snapshot on first use, then pulls).
    private func serverView() async throws -> Laptop {
        if auditor == nil {
            let name = prefix + "auditor"
            let token = try await admin.addUser(name, role: "admin", territories: [])
            let transport = ScriptedTransport(try environment.transport(token: token))
            let laptop = try Laptop(
                name: "server",
                user: name,
                path: folder.appendingPathComponent("server-view.sqlite").path,
                transport: transport,
                offsetMilliseconds: 0,
                replicaID: try await transport.registerReplica()
            )
            try await laptop.engine().register(server: environment.server)
            auditor = laptop
        }
        let auditor = auditor!
        _ = try await auditor.engine().sync()
        return auditor
    }

    // MARK: - Steps

    private func perform(_ step: Step) async throws {
        switch step.action {
        case "create", "set", "delete", "adjust", "resolve":
            try await localWrite(step)
        case "sync":
            try await sync(step)
        case "sync_all":
            let rounds = Int(step["rounds"]?.integer ?? 2)
            for _ in 0..<rounds {
                for name in laptopOrder {
                    _ = try await laptops[name]!.engine().sync()
                }
            }
        case "init":
            let user = try step.string("user")
            try await expectingError(of: step, done: "the laptop was set up") {
                try await initLaptop(
                    try step.string("laptop"),
                    user: user,
                    offset: step["clock_offset_ms"]?.integer ?? 0
                )
            }
        case "copy_laptop":
            try await copyLaptop(from: try step.string("from"), to: try step.string("to"))
        case "fetch_history":
            // GET /v1/history: the account's log from the server, added to the laptop's history (PROTOCOL.md §9).
            let laptop = try laptop(step)
            let account = try recordID(step, "account")
            guard let changes = try await laptop.transport.accountHistory(account) else {
                throw StepError("the server does not offer GET /v1/history for \(account)")
            }
            if let expected = step["expect_changes"]?.integer, changes.count != Int(expected) {
                throw StepError("GET /v1/history gave \(changes.count) changes, expected \(expected)")
            }
            try await laptop.replica.backfillHistory(account: account, changes: changes)
        case "set_clock":
            try laptop(step).offset.value = step["offset_ms"]?.integer ?? 0
        case "push":
            try await rawPush(step)
        case "pull":
            try await rawPull(step)
        case "revoke":
            try await admin.revoke(try resolve(try step.string("user")))
        case "new_token":
            let alias = try step.string("user")
            let token = try await admin.newToken(try resolve(alias))
            tokens[alias] = token
            for laptop in laptops.values where laptop.user == prefix + alias {
                laptop.transport.replace(with: try environment.transport(token: token))
            }
        case "move_account":
            try await admin.moveAccount(
                try recordID(step, "account").rawValue,
                to: territory(try step.string("territory"))
            )
        case "import":
            let rows = try (step["rows"]?.array ?? []).map { row in
                guard let object = try resolved(row).object else { throw StepError("rows are objects") }
                return object
            }
            let rejected = try await admin.importRows(try step.string("kind"), rows)
            let expected = Int(step["expect_rejected"]?.integer ?? 0)
            if rejected.count != expected {
                throw StepError("the import refused \(rejected.count) rows, expected \(expected): \(rejected)")
            }
        case "upload", "upload_status", "download":
            try await blob(step)
        case "expect":
            try await Expectations(run: self, step: step).check()
        default:
            throw StepError("unknown action")
        }
    }

    /// Runs `body`; with the step's `expect_error` it must fail with that code, without it it must succeed.
    private func expectingError(of step: Step, done: String, _ body: () async throws -> Void) async throws {
        let expected = step["expect_error"]?.string
        do {
            try await body()
        } catch let error as StepError {
            throw error
        } catch {
            try expectError(error, expected)
            return
        }
        if let expected { throw StepError("expected the error \(expected), but \(done)") }
    }

    private func expectError(_ error: any Error, _ expected: String?) throws {
        let codes: [String]
        switch error {
        case let error as ReplicaError:
            codes = [error.code.rawValue] + (error.rejection.map { [$0.code.rawValue] } ?? [])
        case let error as SyncClientError: codes = [error.code.rawValue]
        default: codes = []
        }
        guard let expected else { throw StepError("failed: \(error)") }
        guard codes.contains(expected) else {
            throw StepError("expected the error \(expected), got \(codes.joined(separator: "/")): \(error)")
        }
    }

    private func localWrite(_ step: Step) async throws {
        let laptop = try laptop(step)
        let replica = laptop.replica
        try await expectingError(of: step, done: "the local write was made") {
            switch step.action {
            case "create":
                let id = try step["id"].map { _ in try recordID(step, "id") } ?? RecordID(RecordIDGenerator.ulid())
                let entity = try entity(step)
                try await replica.create(entity, id: id, fields: try fields(step["fields"]))
                if let alias = step["as"]?.string { aliases[alias] = id.rawValue }
            case "set":
                try await replica.update(try entity(step), id: try recordID(step), fields: try fields(step["fields"]))
            case "delete":
                try await replica.delete(try entity(step), id: try recordID(step))
            case "adjust":
                guard let delta = step["delta"]?.integer else { throw StepError("'delta' (an integer) is missing") }
                try await replica.adjustCounter(.stock, id: try recordID(step), by: delta)
            default:
                let entity = try entity(step)
                let id = try recordID(step)
                let field = try step.string("field")
                let conflict = try await replica.openConflicts().first {
                    $0.entity == entity && $0.recordID == id && $0.field == field
                }
                guard let conflict else { throw StepError("no open conflict on \(entity)/\(id).\(field)") }
                let resolution: Replica.Resolution
                if let value = step["value"] {
                    guard let chosen = try resolved(value).fieldValue else {
                        throw StepError("'value' is not a field value")
                    }
                    resolution = .value(chosen)
                } else {
                    switch step["resolution"]?.string {
                    case "keep": resolution = .keep
                    case "take_other": resolution = .takeOther
                    default: throw StepError("'resolution' is keep or take_other (or give 'value')")
                    }
                }
                try await replica.resolveConflict(id: conflict.id, resolution)
            }
        }
    }

    private func sync(_ step: Step) async throws {
        let laptop = try laptop(step)
        let expect = try step["expect"].map(resolved)?.object ?? [:]
        if let fault = step["fault"]?.string {
            guard let scripted = ScriptedFault(rawValue: fault) else { throw StepError("unknown fault '\(fault)'") }
            laptop.transport.setFault(scripted)
        }
        defer { laptop.transport.setFault(nil) }
        let engine = laptop.engine(
            retries: Int(step["retries"]?.integer ?? 2),
            pushBatch: Int(step["push_batch"]?.integer ?? 1_000)
        )
        let summary: SyncSummary
        do {
            summary = try await engine.sync()
        } catch {
            try expectError(error, expect["error"]?.string ?? "(no error)")
            return
        }
        if let error = expect["error"]?.string {
            throw StepError("expected the sync to fail with \(error), it succeeded")
        }
        var problems: [String] = []
        func compare(_ key: String, _ actual: Int) {
            if let wanted = expect[key]?.integer, wanted != Int64(actual) {
                problems.append("\(key): expected \(wanted), got \(actual)")
            }
        }
        compare("sent", summary.sent)
        compare("accepted", summary.accepted)
        compare("duplicates", summary.duplicates)
        compare("removed", summary.removed.count)
        compare("conflicts_opened", summary.newConflicts.count)
        compare("pending", summary.pending)
        if let wanted = expect["rejected"]?.array?.compactMap(\.string) {
            let actual = summary.rejected.map(\.rejection.code.rawValue)
            if wanted.sorted() != actual.sorted() { problems.append("rejected: expected \(wanted), got \(actual)") }
        }
        if expect["clock_warning"]?.bool == true, summary.clockWarning == nil {
            problems.append("expected a clock warning, got none")
        }
        if !problems.isEmpty { throw StepError("sync of \(laptop.name): " + problems.joined(separator: "; ")) }
    }

    /// A push written out change by change: for what a correct client never sends (server-owned writes, other
    /// authors, gaps), so the server's own checks are what is tested.
    private func rawPush(_ step: Step) async throws {
        let alias = try step.string("user")
        guard let token = tokens[alias] else { throw StepError("unknown user '\(alias)'") }
        // `replica` is a name of this run (prefixed), or `$laptop:NAME` (that laptop's id); `raw_replica` is sent as
        // it is (`server`).
        let replica: String
        if let raw = step["raw_replica"]?.string {
            replica = raw
        } else if let named = step["replica"]?.string, named.hasPrefix("$") {
            replica = try resolve(String(named.dropFirst()))
        } else {
            replica = prefix + (step["replica"]?.string ?? "raw-\(alias)")
        }
        var changes: [[String: Any]] = []
        for item in step["changes"]?.array ?? [] {
            guard let change = try resolved(item).object else { throw StepError("changes are objects") }
            let counter = change["counter"]?.integer ?? ((rawCounters[replica] ?? 0) + 1)
            rawCounters[replica] = max(rawCounters[replica] ?? 0, counter)
            let wall = ReplicaConfiguration.systemNow() + (change["hlc_offset_ms"]?.integer ?? 0)
            var json: [String: Any] = [
                "dot": ["replica": change["dot_replica"]?.string.map { prefix + $0 } ?? replica, "counter": counter],
                "context": Dictionary(
                    uniqueKeysWithValues: try (change["context"]?.object ?? [:]).map { key, value in
                        (key.hasPrefix("$") ? try resolve(String(key.dropFirst())) : key, value.integer ?? 0)
                    }
                ),
                "hlc": change["hlc"]?.string ?? HybridTimestamp(wallMilliseconds: wall).description,
                "author": change["author"]?.string ?? (prefix + alias),
                "entity": change["entity"]?.string ?? "",
                "record_id": change["record"]?.string ?? "",
                "op": change["op"]?.string ?? "",
            ]
            for key in ["fields", "delta", "quantity"] {
                if let value = change[key] {
                    json[key] = try JSONSerialization.jsonObject(
                        with: Data(value.description.utf8),
                        options: .fragmentsAllowed
                    )
                }
            }
            changes.append(json)
        }
        var body = try JSONSerialization.data(
            withJSONObject: ["protocol_version": 1, "replica_id": replica, "changes": changes] as [String: Any]
        )
        if let text = step["body"]?.string {
            // A body written out as text, for what JSON libraries cannot produce (duplicate keys, 1e3, 1500.0).
            body = Data(
                try resolvingBraces(text).replacingOccurrences(of: "{replica}", with: replica)
                    .replacingOccurrences(of: "{user}", with: prefix + alias)
                    .replacingOccurrences(
                        of: "{hlc}",
                        with: HybridTimestamp(wallMilliseconds: ReplicaConfiguration.systemNow()).description
                    )
                    .utf8
            )
        }
        let answer = try await send(token: token, "POST", "/v1/push", body: body)
        let object = (try? JSONDecoder().decode(JSONValue.self, from: answer.body))?.object ?? [:]
        if try checkHTTP(step, answer) { return }
        guard answer.status == 200 else {
            throw StepError(
                "the push answered \(answer.status): \(String(decoding: answer.body.prefix(300), as: UTF8.self))"
            )
        }
        let results: [String] = (object["results"]?.array ?? []).map { result in
            let status = result.object?["status"]?.string ?? "?"
            guard let code = result.object?["rejection"]?.object?["code"]?.string else { return status }
            return "\(status):\(code)"
        }
        if let wanted = step["expect_results"]?.array?.compactMap(\.string), wanted != results {
            throw StepError("push results: expected \(wanted), got \(results)")
        }
    }

    // MARK: - Contents (PROTOCOL.md §10)

    static func sha256(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    /// `upload` (one chunk, `PUT /v1/blobs/{digest}/upload`), `upload_status` and `download` as the step's user.
    private func blob(_ step: Step) async throws {
        let alias = try step.string("user")
        guard let token = tokens[alias] else { throw StepError("unknown user '\(alias)'") }
        let name = try step.string("content")
        guard let content = contents[name], let digest = aliases[name] else {
            throw StepError("no content '\(name)' (contents: \(contents.keys.sorted().joined(separator: ", ")))")
        }
        let http = try environment.transport(token: token)
        defer { Task { try? await http.shutdown() } }
        switch step.action {
        case "upload":
            var offset = step["offset"]?.integer
            if offset == nil {
                let status = try await http.send("GET", "/v1/blobs/\(digest)/upload")
                guard status.status == 200, let object = try? JSONDecoder().decode(JSONValue.self, from: status.body),
                    let received = object.object?["received"]?.integer
                else {
                    throw StepError(
                        "GET /v1/blobs/…/upload answered \(status.status): \(String(decoding: status.body.prefix(300), as: UTF8.self))"
                    )
                }
                offset = received
            }
            let start = Int(offset ?? 0)
            var chunk: Data
            if let text = step["bytes"]?.string {
                chunk = Data(text.utf8)
            } else {
                let end = step["length"]?.integer.map { min(content.count, start + Int($0)) } ?? content.count
                chunk = start < end ? content[start..<end] : Data()
            }
            let claimed =
                step["chunk_sha256"]?.string == "wrong" ? Self.sha256(chunk + Data("x".utf8)) : Self.sha256(chunk)
            let answer = try await http.send(
                "PUT",
                "/v1/blobs/\(digest)/upload?offset=\(start)",
                body: chunk,
                contentType: "application/octet-stream",
                headers: [("Chunk-SHA256", claimed)],
                compress: false
            )
            if try checkHTTP(step, answer) { return }
            try checkStatus(step, answer, "PUT /v1/blobs/…/upload")
        case "upload_status":
            let answer = try await http.send("GET", "/v1/blobs/\(digest)/upload")
            if try checkHTTP(step, answer) { return }
            try checkStatus(step, answer, "GET /v1/blobs/…/upload")
        default:
            let range = step["range"]?.string
            let answer = try await http.send(
                "GET",
                "/v1/blobs/\(digest)",
                headers: range.map { [("Range", $0)] } ?? []
            )
            if try checkHTTP(step, answer) { return }
            var expected = content
            if let range {
                guard answer.status == 206 else {
                    throw StepError("a ranged download answered \(answer.status), not 206")
                }
                let bounds = range.dropFirst("bytes=".count).split(separator: "-", omittingEmptySubsequences: false)
                let from = Int(bounds.first ?? "") ?? 0
                let to =
                    bounds.count > 1
                    ? Int(bounds[1]).map { min($0 + 1, content.count) } ?? content.count : content.count
                expected = content[from..<to]
            } else if answer.status != 200 {
                throw StepError(
                    "the download answered \(answer.status): \(String(decoding: answer.body.prefix(300), as: UTF8.self))"
                )
            }
            guard answer.body == expected else {
                throw StepError(
                    "the download gave \(answer.body.count) bytes that are not the content's \(expected.count)"
                )
            }
        }
    }

    /// A 200 with an upload status, checked against the step's `expect_status` (`received`, `complete`).
    private func checkStatus(_ step: Step, _ answer: HTTPSyncTransport.Answer, _ what: String) throws {
        guard answer.status == 200, let object = (try? JSONDecoder().decode(JSONValue.self, from: answer.body))?.object
        else {
            throw StepError(
                "\(what) answered \(answer.status): \(String(decoding: answer.body.prefix(300), as: UTF8.self))"
            )
        }
        guard let expected = step["expect_status"]?.object else { return }
        for key in ["received", "complete", "size"] {
            guard let wanted = expected[key] else { continue }
            var value = wanted
            if let text = wanted.string, text.hasPrefix("$size:"),
                let size = Int64(try resolve(String(text.dropFirst())))
            {
                value = .integer(size)
            }
            if object[key] != value {
                throw StepError("\(what): \(key) is \(object[key].map { "\($0)" } ?? "missing"), expected \(value)")
            }
        }
    }

    /// `{$alias}` in a raw body replaced by the alias's value.
    private func resolvingBraces(_ text: String) throws -> String {
        var result = ""
        var rest = Substring(text)
        while let open = rest.range(of: "{$") {
            result += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else { break }
            result += try resolve(String(rest[open.upperBound..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return result + rest
    }

    /// A raw `GET /v1/pull` with the step's `cursor` (sent as it is) under the user's raw replica or a laptop's.
    private func rawPull(_ step: Step) async throws {
        let alias = try step.string("user")
        guard let token = tokens[alias] else { throw StepError("unknown user '\(alias)'") }
        let replica =
            try step["raw_replica"]?.string
            ?? step["replica"]?.string.map { $0.hasPrefix("$") ? try resolve(String($0.dropFirst())) : prefix + $0 }
            ?? prefix + "raw-\(alias)"
        var query = "replica_id=\(replica)&limit=100"
        if let cursor = step["cursor"]?.string {
            query += "&cursor=" + (cursor.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? cursor)
        }
        let answer = try await send(token: token, "GET", "/v1/\(step["path"]?.string ?? "pull")?" + query, body: nil)
        if try checkHTTP(step, answer) { return }
        guard answer.status == 200 else {
            throw StepError(
                "the pull answered \(answer.status): \(String(decoding: answer.body.prefix(300), as: UTF8.self))"
            )
        }
    }

    private func send(
        token: String,
        _ method: String,
        _ path: String,
        body: Data?
    ) async throws
        -> HTTPSyncTransport.Answer
    {
        let http = try environment.transport(token: token)
        do {
            let answer = try await http.send(method, path, body: body)
            try? await http.shutdown()
            return answer
        } catch {
            try? await http.shutdown()
            throw error
        }
    }

    /// Checks the step's `expect_http` (`status`, `code`, `message_contains`); true when the step had one.
    private func checkHTTP(_ step: Step, _ answer: HTTPSyncTransport.Answer) throws -> Bool {
        guard let expected = step["expect_http"]?.object else { return false }
        let object = (try? JSONDecoder().decode(JSONValue.self, from: answer.body))?.object ?? [:]
        let code = object["error"]?.object?["code"]?.string
        let message = object["error"]?.object?["message"]?.string ?? ""
        if expected["status"]?.integer != Int64(answer.status)
            || (expected["code"]?.string != nil && expected["code"]?.string != code)
            || (expected["message_contains"]?.string.map { !message.contains($0) } ?? false)
        {
            throw StepError(
                "expected HTTP \(expected), got \(answer.status) \(String(decoding: answer.body.prefix(300), as: UTF8.self))"
            )
        }
        return true
    }

    // MARK: - For expectations

    func targets(of step: Step) async throws -> [Laptop] {
        var found: [Laptop] = []
        if step["laptop"] != nil { found.append(try laptop(step)) }
        for name in step["laptops"]?.array?.compactMap(\.string) ?? [] {
            guard let laptop = laptops[name] else { throw StepError("no laptop '\(name)'") }
            found.append(laptop)
        }
        if step["laptops"]?.string == "all" { found += laptopOrder.compactMap { laptops[$0] } }
        if step["server"]?.bool == true { found.append(try await serverView()) }
        guard !found.isEmpty else { throw StepError("say where: laptop, laptops or server") }
        return found
    }

    func resolvedValue(_ value: JSONValue) throws -> JSONValue { try resolved(value) }

    /// IDs of this scenario's catalog records (the catalog is shared by everyone on the server).
    var ownCatalog: Set<String> {
        Set((scenario.products + scenario.stock).compactMap { aliases[$0.alias] })
    }
}
