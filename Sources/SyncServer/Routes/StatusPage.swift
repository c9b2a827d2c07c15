import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Mustache
import SyncProtocol
import Synchronization

/// The version this server reports on its status page.
public enum ServerVersion {
    public static let current = "0.19.0"
}

/// The status page's sign-ins: random session ids (never the token) that last a quarter of an hour, kept in this
/// process's memory (a restart, or another server process, asks to sign in again).
final class StatusSessions: Sendable {
    struct Session {
        var user: String
        var expires: Int64
    }

    static let lifetimeSeconds = 15 * 60
    private let sessions = Mutex<[String: Session]>([:])

    /// A new session for `user`; returns its id.
    func open(user: String, now: Int64) -> String {
        let id = (0..<32).map { _ in UInt8.random(in: .min ... .max) }.hexString
        sessions.withLock { sessions in
            sessions = sessions.filter { $0.value.expires > now }
            sessions[id] = Session(user: user, expires: now + Int64(Self.lifetimeSeconds) * 1000)
        }
        return id
    }

    /// The user of a live session.
    func user(_ id: String, now: Int64) -> String? {
        sessions.withLock { sessions in
            guard let session = sessions[id], session.expires > now else { return nil }
            return session.user
        }
    }

    func close(_ id: String) {
        _ = sessions.withLock { $0.removeValue(forKey: id) }
    }
}

/// `GET /`: IT's status page, HTML rendered on the server, for an admin signed in with their token (`POST /login`
/// with the token in a form body, never in a URL; a session cookie that is HttpOnly, SameSite=Strict and lasts 15
/// minutes; `POST /logout`). It shows the replicas with their user, last push and last pull, pending and refused
/// changes, open conflicts per entity, recent audit entries, the version, the database and the uptime.
struct StatusPageController: Sendable {
    let service: SyncService
    let configuration: ServerConfiguration
    let sessions = StatusSessions()
    let started: Int64
    let now: @Sendable () -> Int64

    static let cookie = "crm_session"

    var routes: RouteCollection<SyncRequestContext> {
        let routes = RouteCollection(context: SyncRequestContext.self)
        routes.get("/", use: page)
        routes.post("login", use: login)
        routes.post("logout", use: logout)
        return routes
    }

    @Sendable func page(_ request: Request, context: SyncRequestContext) async throws -> Response {
        guard let id = request.cookies[Self.cookie]?.value, let name = sessions.user(id, now: now()),
            let user = try await service.storage.users().first(where: { $0.name == name }), user.role == .admin,
            !user.isRevoked
        else {
            return html(Self.render(Self.loginTemplate, ["version": ServerVersion.current]))
        }
        return html(Self.render(Self.pageTemplate, try await pageData(user: user)))
    }

    @Sendable func login(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let body = try await request.body.collect(upTo: 4096)
        let token = Self.formValue("token", in: String(buffer: body)) ?? ""
        let user = token.isEmpty ? nil : try await service.storage.user(tokenHash: Tokens.hash(token))
        guard let user, !user.isRevoked else {
            return html(
                Self.render(
                    Self.loginTemplate,
                    ["version": ServerVersion.current, "message": "That token is not valid (or was revoked)."]
                ),
                status: .unauthorized
            )
        }
        guard user.role == .admin else {
            return html(
                Self.render(
                    Self.loginTemplate,
                    [
                        "version": ServerVersion.current,
                        "message": "This page is for IT's admins; \(user.name) is a \(user.role.rawValue).",
                    ]
                ),
                status: .forbidden
            )
        }
        // A page that opens the status page itself (not a redirect): the browser then sends the SameSite=Strict
        // cookie even when the sign-in form was posted from elsewhere (a bookmark, a file).
        var response = html(Self.render(Self.signedInTemplate, ["version": ServerVersion.current, "admin": user.name]))
        response.setCookie(
            sessionCookie(sessions.open(user: user.name, now: now()), maxAge: StatusSessions.lifetimeSeconds)
        )
        return response
    }

    @Sendable func logout(_ request: Request, context: SyncRequestContext) async throws -> Response {
        if let id = request.cookies[Self.cookie]?.value { sessions.close(id) }
        var response = Response(status: .seeOther, headers: [.location: "/", .cacheControl: "no-store"])
        response.setCookie(sessionCookie("", maxAge: 0))
        return response
    }

    /// The session cookie: HttpOnly, SameSite=Strict, Secure under TLS; `maxAge` 0 ends it.
    func sessionCookie(_ value: String, maxAge: Int) -> Cookie {
        Cookie(
            name: Self.cookie,
            value: value,
            maxAge: maxAge,
            path: "/",
            secure: configuration.tls != nil,
            httpOnly: true,
            sameSite: .strict
        )
    }

    /// What the page shows.
    func pageData(user: User) async throws -> [String: Any] {
        let stats = try await service.stats()
        let audit = try await service.storage.withReadTransaction { try await $0.latestAudit(limit: 25) }
        let replicas: [[String: Any]] = stats.replicas.sorted { ($0.user, $0.replica) < ($1.user, $1.replica) }.map {
            [
                "user": $0.user, "replica": $0.replica, "lastPush": Self.time($0.lastPush),
                "lastPull": Self.time($0.lastPull), "pending": $0.pending.map(String.init) ?? "–",
                "rejected": $0.rejected, "hasRejected": $0.rejected > 0,
                "stale": $0.lastPull == nil && $0.lastPush == nil,
            ]
        }
        let conflicts: [[String: Any]] = stats.openConflictsByEntity.sorted { $0.key < $1.key }.map {
            ["entity": $0.key, "count": $0.value]
        }
        let entries: [[String: Any]] = audit.map { entry in
            [
                "seq": entry.seq, "at": Self.time(ISO8601.format(millisecondsSince1970: entry.at)),
                "actor": entry.actor, "action": entry.action, "target": entry.target,
                "detail": entry.detail.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(
                    separator: " "
                ),
            ]
        }
        var data: [String: Any] = [
            "admin": user.name, "version": ServerVersion.current,
            "database": Self.describeDatabase(configuration.database),
            "uptime": Self.duration(milliseconds: now() - started),
            "users": stats.users, "records": stats.records, "changes": stats.changes,
            "openConflicts": stats.recordsWithOpenConflicts, "replicas": replicas, "hasReplicas": !replicas.isEmpty,
            "conflicts": conflicts, "hasConflicts": !conflicts.isEmpty, "audit": entries, "hasAudit": !entries.isEmpty,
        ]
        if let restore = stats.lastRestore {
            data["restore"] = ["at": Self.time(restore.at), "notSynced": restore.replicasNotSyncedSince]
        }
        return data
    }

    /// The database without a password: a SQLite path, or PostgreSQL's host and database.
    static func describeDatabase(_ database: String) -> String {
        guard let url = URLComponents(string: database), let scheme = url.scheme, scheme.hasPrefix("postgres") else {
            return "SQLite " + database
        }
        return "PostgreSQL \(url.host ?? "")\(url.port.map { ":\($0)" } ?? "")\(url.path)"
    }

    static func time(_ iso: String?) -> String {
        guard let iso, iso.count >= 19 else { return "never" }
        return iso.prefix(10) + " " + iso.dropFirst(11).prefix(8) + " UTC"
    }

    static func duration(milliseconds: Int64) -> String {
        let minutes = max(milliseconds, 0) / 60_000
        if minutes < 60 { return "\(minutes) min" }
        if minutes < 48 * 60 { return "\(minutes / 60) h \(minutes % 60) min" }
        return "\(minutes / 1440) days \(minutes / 60 % 24) h"
    }

    /// One value of an `application/x-www-form-urlencoded` body.
    static func formValue(_ name: String, in body: String) -> String? {
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == name else { continue }
            return String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
        }
        return nil
    }

    func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                .contentSecurityPolicy:
                    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
                .xContentTypeOptions: "nosniff", HTTPField.Name("Referrer-Policy")!: "no-referrer",
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text))
        )
    }

    static func render(_ template: MustacheTemplate, _ data: [String: Any]) -> String {
        template.render(data, library: library)
    }

    // swift-format-ignore: NeverUseForceTry
    static let library = MustacheLibrary(templates: ["style": try! MustacheTemplate(string: style)])
    // swift-format-ignore: NeverUseForceTry
    static let loginTemplate = try! MustacheTemplate(string: login)
    // swift-format-ignore: NeverUseForceTry
    static let signedInTemplate = try! MustacheTemplate(string: signedIn)
    // swift-format-ignore: NeverUseForceTry
    static let pageTemplate = try! MustacheTemplate(string: statusPage)

    static let style = """
        <style>
        body { font: 15px/1.4 system-ui, sans-serif; margin: 2rem; color: #1d2330; }
        h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
        table { border-collapse: collapse; } th, td { padding: .25rem .8rem .25rem 0; text-align: left; }
        th { border-bottom: 1px solid #99a; } td { white-space: nowrap; vertical-align: top; }
        td.n { text-align: right; } td.d { white-space: normal; }
        .bad { color: #b3261e; font-weight: 600; } .dim { color: #777; } .message { color: #b3261e; }
        header p { margin: .2rem 0; }
        </style>
        """

    static let login = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>crm-sync-server: sign in</title>{{> style}}</head>
        <body>
        <h1>crm-sync-server {{version}}</h1>
        <p>Sign in with an admin's token to see the server's status.</p>
        {{#message}}<p class="message" id="message">{{message}}</p>{{/message}}
        <form method="post" action="/login">
        <label>Token <input type="password" name="token" autocomplete="off" size="50" autofocus></label>
        <button type="submit">Sign in</button>
        </form>
        </body></html>
        """

    static let signedIn = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0; url=/">
        <title>crm-sync-server: signed in</title>{{> style}}</head>
        <body><p>Signed in as {{admin}}. <a href="/">Open the status page</a>.</p></body></html>
        """

    static let statusPage = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>crm-sync-server status</title>{{> style}}</head>
        <body>
        <header>
        <h1>crm-sync-server status</h1>
        <p id="server">Version {{version}} · {{database}} · up {{uptime}}</p>
        <p>{{users}} users · {{records}} records · {{changes}} changes · {{openConflicts}} records with open conflicts</p>
        {{#restore}}<p class="bad">Restored from a backup at {{at}}: {{notSynced}} replicas have not synced since.</p>{{/restore}}
        <form method="post" action="/logout"><p>Signed in as {{admin}} <button type="submit">Sign out</button></p></form>
        </header>
        <h2>Replicas</h2>
        {{#hasReplicas}}
        <table id="replicas">
        <tr><th>User</th><th>Replica</th><th>Last push</th><th>Last pull</th><th>Pending</th><th>Rejected</th></tr>
        {{#replicas}}
        <tr><td>{{user}}</td><td>{{replica}}</td><td>{{lastPush}}</td><td{{#stale}} class="dim"{{/stale}}>{{lastPull}}</td><td class="n">{{pending}}</td><td class="n{{#hasRejected}} bad{{/hasRejected}}">{{rejected}}</td></tr>
        {{/replicas}}
        </table>
        {{/hasReplicas}}
        {{^hasReplicas}}<p>No laptop has synced yet.</p>{{/hasReplicas}}
        <h2>Open conflicts</h2>
        {{#hasConflicts}}
        <table id="conflicts"><tr><th>Entity</th><th>Records</th></tr>
        {{#conflicts}}<tr><td>{{entity}}</td><td class="n">{{count}}</td></tr>{{/conflicts}}
        </table>
        {{/hasConflicts}}
        {{^hasConflicts}}<p>None.</p>{{/hasConflicts}}
        <h2>Recent audit entries</h2>
        {{#hasAudit}}
        <table id="audit"><tr><th>#</th><th>When</th><th>Who</th><th>What</th><th>Target</th><th>Details</th></tr>
        {{#audit}}<tr><td class="n">{{seq}}</td><td>{{at}}</td><td>{{actor}}</td><td>{{action}}</td><td>{{target}}</td><td class="d">{{detail}}</td></tr>{{/audit}}
        </table>
        {{/hasAudit}}
        {{^hasAudit}}<p>None yet.</p>{{/hasAudit}}
        </body></html>
        """
}
