import CompressNIO
import Foundation
public import Hummingbird
import HummingbirdCore
import HummingbirdTLS
public import Logging
import NIOCore
import SyncProtocol

/// Builds the sync server: routes, middleware and the storage behind them.
///
/// Routes (all JSON; errors are `{"error": {"code", "message"}}`):
/// - `GET /healthz` — no token needed.
/// - `GET /v1/handshake`, `POST /v1/push`, `GET /v1/pull?cursor=C&limit=N` — a bearer token of any role.
/// - `/v1/admin/…` — an admin token: users, territories, stats.
public func buildApplication(
    configuration: ServerConfiguration,
    storage: some ChangeStorage,
    logger: Logger,
    metrics: ServerMetrics = ServerMetrics(),
    now: @escaping @Sendable () -> Int64 = ServerConfiguration.systemNow,
    onServerRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let router = buildRouter(configuration: configuration, storage: storage, metrics: metrics, now: now)
    let http1 = HTTPServerBuilder.http1(configuration: .init(idleTimeout: .seconds(configuration.idleTimeoutSeconds)))
    return Application(
        router: router,
        server: try configuration.tls.map { try .tls(http1, tlsConfiguration: try $0.configuration()) } ?? http1,
        configuration: .init(
            address: .hostname(configuration.host, port: configuration.port),
            serverName: "crm-sync-server"
        ),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger
    )
}

/// The server's routes and middleware (``buildApplication(configuration:storage:logger:metrics:now:onServerRunning:)``
/// serves them); `router.routes` lists every route, which the spec test compares with `openapi.yaml`.
public func buildRouter(
    configuration: ServerConfiguration,
    storage: some ChangeStorage,
    metrics: ServerMetrics = ServerMetrics(),
    now: @escaping @Sendable () -> Int64 = ServerConfiguration.systemNow
) -> Router<SyncRequestContext> {
    let router = Router(context: SyncRequestContext.self)
    router.add(middleware: MetricsMiddleware(metrics: metrics))
    router.add(middleware: JSONErrorMiddleware())
    router.get("healthz") { _, _ in
        try jsonResponse(["status": "ok"])
    }
    router.get("metrics") { _, _ in
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4"
        return Response(
            status: .ok,
            headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.exposition))
        )
    }
    let controller = SyncController(storage: storage, configuration: configuration, metrics: metrics, now: now)
    let v1 = router.group("v1").add(middleware: AuthMiddleware(storage: storage))
    controller.addRoutes(to: v1)
    AdminController(storage: storage, configuration: configuration, now: now)
        .addRoutes(to: v1.group("admin").add(middleware: AdminOnlyMiddleware()))
    return router
}

/// Encodes a response body with the wire encoder; gzips it when the client accepts gzip and it is worth it.
func jsonResponse(
    _ value: some Encodable,
    status: HTTPResponse.Status = .ok,
    for request: Request? = nil
) throws
    -> Response
{
    let data = try WireCoding.encode(value)
    var headers = HTTPFields()
    headers[.contentType] = "application/json"
    var buffer = ByteBuffer(bytes: data)
    if let request, data.count > 1024, request.headers[.acceptEncoding]?.contains("gzip") == true,
        let compressed = try? buffer.compress(with: .gzip)
    {
        headers[.contentEncoding] = "gzip"
        buffer = compressed
    }
    return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: buffer))
}

/// Reads a request body of at most `maxBytes`, inflating a gzip body to at most `maxBytes` too (a gzip bomb is a
/// 413, not memory exhaustion).
func readBody(_ request: Request, maxBytes: Int, deadlineSeconds: Int64) async throws -> ByteBuffer {
    var buffer: ByteBuffer
    do {
        // A slow client trickling its body gets 408 instead of holding the connection for ever.
        let body = request.body
        buffer = try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask { try await body.collect(upTo: maxBytes) }
            group.addTask {
                try await Task.sleep(for: .seconds(deadlineSeconds))
                return nil
            }
            defer { group.cancelAll() }
            guard let collected = try await group.next() ?? nil else {
                throw SyncServerError(.timeout, "the request body did not arrive within \(deadlineSeconds) s")
            }
            return collected
        }
    } catch is NIOTooManyBytesError {
        throw SyncServerError(.tooLarge, "the request body is larger than \(maxBytes) bytes")
    }
    guard let encoding = request.headers[.contentEncoding]?.lowercased(), encoding != "identity" else { return buffer }
    guard encoding == "gzip" else {
        throw SyncServerError(.malformed, "Content-Encoding '\(encoding.prefix(20))' is not supported; use gzip")
    }
    do {
        return try buffer.decompress(with: .gzip, maxSize: maxBytes)
    } catch let error as CompressNIOError where error == .corruptData {
        throw SyncServerError(.malformed, "the gzip body is damaged")
    } catch {
        throw SyncServerError(.tooLarge, "the request body inflates to more than \(maxBytes) bytes")
    }
}

/// Reads a request body up to the configured size and decodes it; malformed input is a 400 that says where.
func decodeBody<Value: Decodable>(
    _ type: Value.Type,
    from request: Request,
    configuration: ServerConfiguration,
    checkingVersion: Bool = true
) async throws -> Value {
    let buffer = try await readBody(
        request,
        maxBytes: configuration.maxBodyBytes,
        deadlineSeconds: configuration.requestDeadlineSeconds
    )
    let data = Data(buffer.readableBytesView)
    do {
        return checkingVersion
            ? try WireCoding.decodeMessage(type, from: data) : try WireCoding.decode(type, from: data)
    } catch {
        throw SyncServerError(error)
    }
}

/// Push, pull and handshake.
struct SyncController<Storage: ChangeStorage> {
    let storage: Storage
    let configuration: ServerConfiguration
    let metrics: ServerMetrics
    let now: @Sendable () -> Int64

    func addRoutes(to group: RouterGroup<SyncRequestContext>) {
        group.get("handshake") { _, context in
            let user = try context.requireUser()
            return try jsonResponse(
                HandshakeResponse(
                    user: user.name,
                    role: user.role.rawValue,
                    territories: user.territories,
                    serverTime: ISO8601.format(millisecondsSince1970: now()),
                    maxClockAheadMilliseconds: configuration.maxClockAheadMilliseconds
                )
            )
        }
        group.post("push") { request, context in
            let user = try context.requireUser()
            let push = try await decodeBody(PushRequest.self, from: request, configuration: configuration)
            guard push.changes.count <= configuration.maxChangesPerPush else {
                throw SyncServerError(
                    .tooMany,
                    "\(push.changes.count) changes in one push; send at most \(configuration.maxChangesPerPush)"
                )
            }
            let summary = try await storage.push(
                push.changes,
                replica: push.replicaID,
                user: user,
                now: now(),
                maxClockAhead: configuration.maxClockAheadMilliseconds
            )
            let results = summary.results
            metrics.pushed(
                Dictionary(grouping: results, by: \.status).mapValues(\.count),
                rejectionCodes: Dictionary(grouping: results.compactMap(\.rejection?.code.rawValue), by: { $0 })
                    .mapValues(\.count),
                conflicts: summary.conflicts
            )
            context.logger.info(
                "Push",
                metadata: [
                    "sync.replica": "\(push.replicaID)",
                    "sync.changes.in": "\(push.changes.count)",
                    "sync.changes.rejected": "\(results.filter { $0.status == .rejected }.count)",
                ]
            )
            return try jsonResponse(
                PushResponse(results: results, serverTime: ISO8601.format(millisecondsSince1970: now())),
                for: request
            )
        }
        group.get("snapshot") { request, context in
            let user = try context.requireUser()
            let query = request.uri.queryParameters
            let limit = try pageLimit(query["limit"].map(String.init))
            let after = query["after"].map(String.init)
            let page = try await storage.snapshot(user: user, after: after, limit: limit)
            // The cursor of a paged snapshot is the one of its first page, which the client sends back.
            let cursor = query["cursor"].map(String.init) ?? String(page.cursor)
            return try jsonResponse(
                SnapshotResponse(records: page.records, cursor: cursor, next: page.next, hasMore: page.next != nil),
                for: request
            )
        }
        group.get("pull") { request, context in
            let user = try context.requireUser()
            let query = request.uri.queryParameters
            guard let replicaText = query["replica_id"].map(String.init), ReplicaID.isValid(replicaText) else {
                throw SyncServerError(.malformed, "replica_id is missing or not a replica id")
            }
            var cursor: Int64 = 0
            if let text = query["cursor"], !text.isEmpty {
                guard let value = Int64(text), value >= 0 else {
                    throw SyncServerError(.malformed, "cursor must be one a pull returned")
                }
                cursor = value
            }
            let limit = try pageLimit(query["limit"].map(String.init))
            let page = try await storage.pull(
                user: user,
                replica: ReplicaID(unchecked: replicaText),
                after: cursor,
                limit: limit
            )
            metrics.pulled(page.changes.count)
            return try jsonResponse(
                PullResponse(
                    changes: page.changes,
                    removed: page.removed,
                    cursor: String(page.cursor),
                    hasMore: page.hasMore
                ),
                for: request
            )
        }
    }
}

extension SyncController {
    /// The `limit` query parameter of pull and snapshot: 1 to the configured maximum, the default when absent.
    func pageLimit(_ text: String?) throws -> Int {
        guard let text else { return PullRequest.defaultLimit }
        guard let value = Int(text), (1...configuration.maxPullLimit).contains(value) else {
            throw SyncServerError(.malformed, "limit must be between 1 and \(configuration.maxPullLimit)")
        }
        return value
    }
}

extension SyncRequestContext {
    func requireUser() throws -> User {
        guard let user else { throw SyncServerError(.unauthorized, "send a bearer token") }
        return user
    }
}

/// Users, territories and stats, for admin tokens: what the admin subcommands do, for remote IT tooling.
struct AdminController<Storage: ChangeStorage> {
    let storage: Storage
    let configuration: ServerConfiguration
    let now: @Sendable () -> Int64

    struct NewUser: Decodable {
        var name: String
        var role: Role
        var territories: [String]?
    }

    struct TerritoryAssignment: Decodable {
        var accountID: String
        var territory: String
        enum CodingKeys: String, CodingKey {
            case accountID = "account_id"
            case territory
        }
    }

    struct IssuedToken: Encodable {
        var name: String
        var token: String
    }

    func addRoutes(to group: RouterGroup<SyncRequestContext>) {
        group.get("users") { _, _ in
            try jsonResponse(["users": try await storage.users()])
        }
        group.post("users") { request, _ in
            let body = try await decodeBody(
                NewUser.self,
                from: request,
                configuration: configuration,
                checkingVersion: false
            )
            guard User.isValidName(body.name) else {
                throw SyncServerError(.invalidValue, "a user name is 1 to 64 of A-Z a-z 0-9 . _ - @")
            }
            let issued = Tokens.generate()
            try await storage.addUser(
                User(name: body.name, role: body.role, territories: body.territories ?? []),
                tokenHash: issued.hash
            )
            return try jsonResponse(IssuedToken(name: body.name, token: issued.token), status: .created)
        }
        group.post("users/:name/revoke") { _, context in
            let name = try context.parameters.require("name")
            try await storage.revokeUser(named: name)
            return try jsonResponse(["name": name, "status": "revoked"])
        }
        group.post("users/:name/token") { _, context in
            let name = try context.parameters.require("name")
            let issued = Tokens.generate()
            try await storage.setToken(named: name, tokenHash: issued.hash)
            return try jsonResponse(IssuedToken(name: name, token: issued.token))
        }
        group.post("territory") { request, _ in
            let body = try await decodeBody(
                TerritoryAssignment.self,
                from: request,
                configuration: configuration,
                checkingVersion: false
            )
            try await storage.assignTerritory(account: RecordID(body.accountID), territory: body.territory, now: now())
            return try jsonResponse(["account_id": body.accountID, "territory": body.territory])
        }
        group.post("import/:kind") { request, context in
            let kindName = try context.parameters.require("kind")
            guard let kind = ImportKind(rawValue: kindName) else {
                throw SyncServerError(
                    .notFound,
                    "import products, stock, invoices or accounts (got '\(kindName.prefix(32))')"
                )
            }
            let buffer = try await readBody(
                request,
                maxBytes: configuration.maxBodyBytes,
                deadlineSeconds: configuration.requestDeadlineSeconds
            )
            let (rows, rejected) = CSVImport.rows(kind, csv: String(decoding: buffer.readableBytesView, as: UTF8.self))
            var report = try await storage.importRows(kind, rows: rows, now: now())
            report.rejected = (rejected + report.rejected).sorted { $0.line < $1.line }
            return try jsonResponse(report)
        }
        group.get("stats") { _, _ in
            try jsonResponse(try await storage.stats())
        }
    }
}
