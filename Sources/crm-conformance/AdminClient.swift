import Foundation
import SyncClient

/// IT's admin API (PROTOCOL.md §9), over the same HTTP client as the laptops.
struct AdminClient: Sendable {
    let http: HTTPSyncTransport

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Sends a request and returns the JSON answer; anything but 2xx is a failure naming the status and error.
    @discardableResult
    func call(
        _ method: String,
        _ path: String,
        json: [String: Any]? = nil,
        csv: String? = nil
    ) async throws
        -> [String: Any]
    {
        var body: Data?
        var contentType = "application/json"
        if let json { body = try JSONSerialization.data(withJSONObject: json) }
        if let csv {
            body = Data(csv.utf8)
            contentType = "text/csv"
        }
        let answer = try await http.send(method, path, body: body, contentType: contentType)
        let object = (try? JSONSerialization.jsonObject(with: answer.body)) as? [String: Any] ?? [:]
        guard (200..<300).contains(answer.status) else {
            throw Failure(
                description: "\(method) \(path) answered \(answer.status): "
                    + String(decoding: answer.body.prefix(300), as: UTF8.self)
            )
        }
        return object
    }

    func addUser(_ name: String, role: String, territories: [String]) async throws -> String {
        let answer = try await call(
            "POST",
            "/v1/admin/users",
            json: ["name": name, "role": role, "territories": territories]
        )
        guard let token = answer["token"] as? String else {
            throw Failure(description: "POST /v1/admin/users answered without a token")
        }
        return token
    }

    func revoke(_ name: String) async throws {
        try await call("POST", "/v1/admin/users/\(name)/revoke")
    }

    func newToken(_ name: String) async throws -> String {
        guard let token = try await call("POST", "/v1/admin/users/\(name)/token")["token"] as? String else {
            throw Failure(description: "POST /v1/admin/users/\(name)/token answered without a token")
        }
        return token
    }

    func moveAccount(_ account: String, to territory: String) async throws {
        try await call("POST", "/v1/admin/territory", json: ["account_id": account, "territory": territory])
    }

    /// Imports rows (column → value) as CSV; returns the import report's rejected lines.
    func importRows(_ kind: String, _ rows: [[String: JSONValue]]) async throws -> [String] {
        let columns = Set(rows.flatMap(\.keys)).sorted()
        func cell(_ value: JSONValue?) -> String {
            let text: String =
                switch value {
                case .string(let text): text
                case .integer(let number): String(number)
                case .bool(let flag): flag ? "true" : "false"
                case .number(let number): String(number)
                case .null, .none, .array, .object: ""
                }
            guard text.contains(where: { ",\"\n\r".contains($0) }) else { return text }
            return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        var csv = columns.joined(separator: ",") + "\n"
        for row in rows { csv += columns.map { cell(row[$0]) }.joined(separator: ",") + "\n" }
        let report = try await call("POST", "/v1/admin/import/\(kind)", csv: csv)
        let rejected = report["rejected"] as? [[String: Any]] ?? []
        return rejected.map { "line \($0["line"] ?? "?"): \($0["reason"] ?? "?")" }
    }
}
