import Foundation
import SyncClient
import SyncProtocol
import SyncTestSupport
import Testing

/// Every route that takes an id × every kind of caller × own, foreign, guessed and nonexistent ids, against a real
/// server process: no foreign read or write gets through, a foreign id is answered exactly as a nonexistent one,
/// and every refusal is in the server's log.
@Suite("Authorization matrix", .serialized)
struct AuthorizationMatrixTests {
    struct Caller: Sendable {
        var name: String
        var token: String?
        var territories: Set<String>
        var admin = false
    }

    @Test("routes × callers × ids: 0 foreign reads or writes, foreign = nonexistent, every denial logged")
    func matrix() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("authz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let db = folder.appendingPathComponent("crm-sync.sqlite").path
        func add(_ name: String, _ role: String, _ territories: [String]) throws -> String {
            try ServerProcess.admin(
                ["user", "add", name, "--role", role] + territories.flatMap { ["--territory", $0] },
                db: db
            )
        }
        let ann = try add("ann", "rep", ["north"])
        let bea = try add("bea", "rep", ["north"])
        let sam = try add("sam", "rep", ["south"])
        let mia = try add("mia", "manager", ["north", "south"])
        let it = try add("it", "admin", [])
        let gone = try add("gone", "rep", ["north"])
        _ = try ServerProcess.admin(["user", "revoke", "gone"], db: db)
        let accounts = folder.appendingPathComponent("accounts.csv")
        try Data("id,name,territory\nacc-n,North AG,north\nacc-s,South AG,south\n".utf8).write(to: accounts)
        _ = try ServerProcess.admin(["import", "accounts", accounts.path], db: db)
        let server = try ServerProcess(db: db, folder: folder)
        defer { server.stop() }
        try await server.waitUntilHealthy()

        let callers = [
            Caller(name: "no token", token: nil, territories: []),
            Caller(name: "revoked", token: gone, territories: []),
            Caller(name: "rep of north", token: ann, territories: ["north"]),
            Caller(name: "rep of south", token: sam, territories: ["south"]),
            Caller(name: "manager", token: mia, territories: ["north", "south"]),
            Caller(name: "admin", token: it, territories: ["north", "south"], admin: true),
        ]
        func call(_ caller: Caller, _ method: String, _ path: String, body: Data? = nil) async throws -> (Int, String) {
            let transport = try HTTPSyncTransport(server: server.url, token: caller.token ?? "")
            defer { Task { try? await transport.shutdown() } }
            if caller.token == nil {
                // No Authorization header at all.
                let bare = try HTTPSyncTransport(server: server.url, token: "")
                defer { Task { try? await bare.shutdown() } }
                let answer = try await bare.send(method, path, body: body)
                return (answer.status, String(decoding: answer.body, as: UTF8.self))
            }
            let answer = try await transport.send(method, path, body: body)
            return (answer.status, String(decoding: answer.body, as: UTF8.self))
        }
        // Each signed-in caller's own replica; bea's is the foreign one.
        var replicas: [String: String] = [:]
        for (name, token) in [("ann", ann), ("sam", sam), ("mia", mia), ("it", it), ("bea", bea)] {
            let (status, body) = try await call(
                Caller(name: name, token: token, territories: []),
                "POST",
                "/v1/replicas",
                body: Data(#"{"protocol_version":1}"#.utf8)
            )
            #expect(status == 201, "\(name): \(body)")
            replicas[name] =
                (try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["replica_id"] as? String
        }
        let ownReplica: [String: String] = [
            "rep of north": replicas["ann"]!, "rep of south": replicas["sam"]!, "manager": replicas["mia"]!,
            "admin": replicas["it"]!,
        ]
        var denials = 0
        var checked = 0

        for caller in callers {
            let signedIn = caller.token != nil && caller.name != "revoked"
            // History: own, foreign, guessed, nonexistent accounts.
            var notFound: [String] = []
            for (kind, account) in [
                ("own/foreign", "acc-n"), ("own/foreign", "acc-s"), ("guessed", "acc-x"),
                ("nonexistent", "no-such-account"),
            ] {
                _ = kind
                let (status, body) = try await call(caller, "GET", "/v1/history?account=\(account)")
                checked += 1
                guard signedIn else {
                    #expect(status == 401, "\(caller.name) history \(account): \(status)")
                    denials += 1
                    continue
                }
                let territory = account == "acc-n" ? "north" : account == "acc-s" ? "south" : nil
                let visible = territory.map { caller.territories.contains($0) } ?? false
                if visible {
                    #expect(status == 200, "\(caller.name) history \(account): \(status) \(body)")
                } else {
                    #expect(status == 404, "\(caller.name) history \(account): \(status) \(body)")
                    #expect(!body.contains("North AG") && !body.contains("South AG"), "a foreign read: \(body)")
                    notFound.append(body.replacingOccurrences(of: account, with: "ID"))
                    denials += 1
                }
            }
            #expect(
                Set(notFound).count <= 1,
                "\(caller.name): foreign and nonexistent answered differently: \(notFound)"
            )

            // Replica ids in handshake, pull, snapshot: own, foreign (a colleague's), guessed/new.
            for route in [
                "/v1/handshake?replica_id=", "/v1/pull?limit=5&replica_id=", "/v1/snapshot?limit=5&replica_id=",
            ] {
                for (kind, replica) in [("own", ownReplica[caller.name] ?? "x"), ("foreign", replicas["bea"]!)] {
                    let (status, body) = try await call(caller, "GET", route + replica)
                    checked += 1
                    if !signedIn {
                        #expect(status == 401, "\(caller.name) \(route) \(kind): \(status)")
                        denials += 1
                    } else if kind == "own" {
                        #expect(status == 200, "\(caller.name) \(route) own: \(status) \(body)")
                        #expect(
                            caller.territories.contains("south") || !body.contains("South AG"),
                            "a foreign read: \(body)"
                        )
                        #expect(
                            caller.territories.contains("north") || !body.contains("North AG"),
                            "a foreign read: \(body)"
                        )
                    } else {
                        #expect(
                            status == 403 && body.contains("foreign_replica"),
                            "\(caller.name) \(route) foreign: \(status) \(body)"
                        )
                        denials += 1
                    }
                }
            }

            // A pushed change on an own, a foreign and a nonexistent account.
            if signedIn, let replica = ownReplica[caller.name] {
                var rejections: [String] = []
                for (index, account) in ["acc-n", "acc-s", "acc-none"].enumerated() {
                    let change = """
                        {"dot":{"replica":"\(replica)","counter":\(index + 1)},"context":{},"hlc":"2026-12-04T10:00:00.000Z/0",\
                        "author":"\(["rep of north": "ann", "rep of south": "sam", "manager": "mia", "admin": "it"][caller.name]!)",\
                        "entity":"account","record_id":"\(account)","op":"set","fields":{"phone":"+49 1"}}
                        """
                    let push = #"{"protocol_version":1,"replica_id":"\#(replica)","changes":[\#(change)]}"#
                    let (status, body) = try await call(caller, "POST", "/v1/push", body: Data(push.utf8))
                    checked += 1
                    #expect(status == 200, "\(caller.name) push \(account): \(status) \(body)")
                    let territory = account == "acc-n" ? "north" : account == "acc-s" ? "south" : nil
                    if let territory, caller.territories.contains(territory) {
                        #expect(body.contains(#""status":"accepted""#), "\(caller.name) push \(account): \(body)")
                    } else {
                        #expect(body.contains(#""status":"rejected""#), "\(caller.name) wrote \(account): \(body)")
                        rejections.append(
                            body.replacingOccurrences(of: account, with: "ID")
                                .replacingOccurrences(of: #""counter":\d+"#, with: "", options: .regularExpression)
                                .replacingOccurrences(
                                    of: #""server_time":"[^"]*""#,
                                    with: "",
                                    options: .regularExpression
                                )
                        )
                        denials += 1
                    }
                }
                #expect(
                    Set(rejections).count <= 1,
                    "\(caller.name): foreign and nonexistent writes differ: \(rejections)"
                )
            }

            // Admin routes: users, a user's revoke/token (own name, another, nonexistent), territory, import, stats.
            let adminCalls: [(String, String, Data?, Bool)] = [
                ("GET", "/v1/admin/users", nil, true),
                ("GET", "/v1/admin/stats", nil, true),
                ("POST", "/v1/admin/users/no-such-user/token", nil, false),
                ("POST", "/v1/admin/users/no-such-user/revoke", nil, false),
                (
                    "POST", "/v1/admin/territory", Data(#"{"account_id":"no-such-account","territory":"north"}"#.utf8),
                    false
                ),
            ]
            for (method, path, body, exists) in adminCalls {
                let (status, answer) = try await call(caller, method, path, body: body)
                checked += 1
                if !signedIn {
                    #expect(status == 401, "\(caller.name) \(path): \(status)")
                    denials += 1
                } else if !caller.admin {
                    #expect(status == 403, "\(caller.name) \(path): \(status) \(answer)")
                    #expect(!answer.contains("ann") && !answer.contains("acc-"), "an admin read leaked: \(answer)")
                    denials += 1
                } else {
                    #expect(status == (exists ? 200 : 404), "admin \(path): \(status) \(answer)")
                    if !exists { denials += 1 }
                }
            }
        }
        #expect(checked >= 100, "\(checked) requests")
        server.stop()
        let log = (try? String(contentsOfFile: server.logPath, encoding: .utf8)) ?? ""
        let logged = log.split(whereSeparator: \.isNewline).filter { $0.contains("Denied") }.count
        #expect(logged == denials, "\(denials) denials, \(logged) logged")
    }
}
