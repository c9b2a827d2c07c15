import Foundation

/// One scenario file of `conformance/scenarios/` (the format is described in that folder's README).
struct Scenario: Sendable {
    struct User: Sendable {
        var role: String
        var territories: [String]
    }

    var file: String
    var name: String
    var promise: String
    var users: [(alias: String, user: User)]
    /// Setup imported by the admin before the laptops start, by alias: each a row of that import (aliases allowed).
    var accounts: [(alias: String, row: [String: JSONValue])]
    var products: [(alias: String, row: [String: JSONValue])]
    var stock: [(alias: String, row: [String: JSONValue])]
    var invoices: [(alias: String, row: [String: JSONValue])]
    /// Laptops set up (snapshot) after the setup, in this order: laptop name → user alias.
    var laptops: [(name: String, user: String)]
    /// Documents' contents by alias (PROTOCOL.md §10): text, made unique to each run by the runner.
    var contents: [(alias: String, text: String)]
    var steps: [Step]

    struct FormatError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    static let topKeys: Set<String> = [
        "name", "promise", "users", "accounts", "products", "stock", "invoices", "laptops", "contents", "steps",
    ]

    /// Reads and checks one file: unknown keys and actions, missing keys and wrong types are errors here, before
    /// anything runs.
    init(file: String, data: Data) throws {
        self.file = file
        let top: [String: JSONValue]
        do {
            guard let object = try JSONDecoder().decode(JSONValue.self, from: data).object else {
                throw FormatError("the file is not a JSON object")
            }
            top = object
        } catch let error as FormatError {
            throw error
        } catch {
            throw FormatError("not valid JSON: \(error)")
        }
        if let unknown = Set(top.keys).subtracting(Self.topKeys).sorted().first {
            throw FormatError("unknown key '\(unknown)'")
        }
        guard let name = top["name"]?.string, !name.isEmpty else { throw FormatError("'name' is missing") }
        guard let promise = top["promise"]?.string, !promise.isEmpty else { throw FormatError("'promise' is missing") }
        self.name = name
        self.promise = promise
        users = try Self.members(top["users"], "users").map { alias, value in
            guard let object = value.object, let role = object["role"]?.string,
                ["rep", "manager", "admin"].contains(role)
            else { throw FormatError("users.\(alias) needs a role: rep, manager or admin") }
            let territories = try (object["territories"]?.array ?? []).map { item in
                guard let text = item.string else { throw FormatError("users.\(alias).territories: strings only") }
                return text
            }
            return (alias, User(role: role, territories: territories))
        }
        func rows(_ key: String) throws -> [(alias: String, row: [String: JSONValue])] {
            try Self.members(top[key], key).map { alias, value in
                guard let row = value.object else { throw FormatError("\(key).\(alias) must be an object") }
                return (alias, row)
            }
        }
        accounts = try rows("accounts")
        products = try rows("products")
        stock = try rows("stock")
        invoices = try rows("invoices")
        laptops = try Self.members(top["laptops"], "laptops").map { name, value in
            guard let user = value.string else { throw FormatError("laptops.\(name) must name a user") }
            return (name, user)
        }
        contents = try Self.members(top["contents"], "contents").map { alias, value in
            guard let text = value.string else { throw FormatError("contents.\(alias) must be a string") }
            return (alias, text)
        }
        guard let steps = top["steps"]?.array, !steps.isEmpty else { throw FormatError("'steps' is missing") }
        self.steps = try steps.enumerated().map { index, value in
            guard let object = value.object else { throw FormatError("steps[\(index)] must be an object") }
            return try Step(index: index, object)
        }
        let userAliases = Set(users.map(\.alias))
        for laptop in laptops where !userAliases.contains(laptop.user) {
            throw FormatError("laptops.\(laptop.name) names the unknown user '\(laptop.user)'")
        }
    }

    /// An object's members in the file's order is not kept by JSON decoding, so members are taken sorted by key:
    /// scenarios must not depend on the order of setup entries (laptops are set up in that order too).
    private static func members(_ value: JSONValue?, _ key: String) throws -> [(String, JSONValue)] {
        guard let value else { return [] }
        guard let object = value.object else { throw FormatError("'\(key)' must be an object") }
        return object.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}

/// One step: an action (`do`) and its keys.
struct Step: Sendable {
    var index: Int
    var action: String
    var keys: [String: JSONValue]

    /// The keys each action takes (`do` and `note` are allowed everywhere).
    static let actions: [String: Set<String>] = [
        "create": ["laptop", "entity", "as", "id", "fields", "expect_error"],
        "set": ["laptop", "entity", "record", "fields", "expect_error"],
        "delete": ["laptop", "entity", "record", "expect_error"],
        "adjust": ["laptop", "record", "delta", "expect_error"],
        "resolve": ["laptop", "entity", "record", "field", "resolution", "value", "expect_error"],
        "sync": ["laptop", "fault", "retries", "push_batch", "expect"],
        "sync_all": ["rounds"],
        "init": ["laptop", "user", "clock_offset_ms", "expect_error"],
        "set_clock": ["laptop", "offset_ms"],
        "copy_laptop": ["from", "to"],
        "fetch_history": ["laptop", "account", "expect_changes"],
        "push": ["user", "replica", "raw_replica", "changes", "body", "expect_results", "expect_http"],
        "pull": ["user", "replica", "raw_replica", "path", "cursor", "expect_http"],
        "revoke": ["user"],
        "new_token": ["user"],
        "move_account": ["account", "territory"],
        "import": ["kind", "rows", "expect_rejected"],
        "upload": ["user", "content", "offset", "length", "bytes", "chunk_sha256", "expect_http", "expect_status"],
        "upload_status": ["user", "content", "expect_http", "expect_status"],
        "download": ["user", "content", "range", "expect_http"],
        "expect": [
            "laptop", "laptops", "server", "record", "absent", "count", "conflicts", "outbox", "converged",
            "not_seen", "history",
        ],
    ]

    init(index: Int, _ object: [String: JSONValue]) throws {
        self.index = index
        guard let action = object["do"]?.string else {
            throw Scenario.FormatError("steps[\(index)]: 'do' is missing")
        }
        guard let allowed = Self.actions[action] else {
            throw Scenario.FormatError(
                "steps[\(index)]: unknown action '\(action)' (one of \(Self.actions.keys.sorted().joined(separator: ", ")))"
            )
        }
        if let unknown = Set(object.keys).subtracting(allowed).subtracting(["do", "note"]).sorted().first {
            throw Scenario.FormatError("steps[\(index)] (\(action)): unknown key '\(unknown)'")
        }
        self.action = action
        self.keys = object
    }

    var label: String { "step \(index + 1) (\(action))" }

    subscript(key: String) -> JSONValue? { keys[key] }

    func string(_ key: String) throws -> String {
        guard let value = keys[key]?.string else { throw StepError("'\(key)' (a string) is missing") }
        return value
    }

    func object(_ key: String) throws -> [String: JSONValue] {
        guard let value = keys[key]?.object else { throw StepError("'\(key)' (an object) is missing") }
        return value
    }
}

/// A step that could not run as written, or whose expectation failed.
struct StepError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
