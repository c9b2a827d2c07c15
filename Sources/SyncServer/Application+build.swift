public import Hummingbird
import HummingbirdCore
import HummingbirdTLS
public import Logging
import NIOCore
import ServiceLifecycle
import SyncProtocol

/// Builds the sync server: routes, middleware and the storage behind them. A storage that is a `Service`
/// (PostgreSQL's connection pool) runs in the application's service group, and is prepared (its schema migrated)
/// before the server accepts connections.
///
/// Routes (all JSON; errors are `{"error": {"code", "message"}}`):
/// - `GET /healthz`, `GET /metrics` — no token needed.
/// - `GET /v1/handshake`, `POST /v1/replicas`, `POST /v1/push`, `GET /v1/pull`, `GET /v1/snapshot` — a bearer
///   token of any role.
/// - `/v1/admin/…` — an admin token: users, territories, imports, stats.
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
    var app = Application(
        router: router,
        server: try configuration.tls.map { try .tls(http1, tlsConfiguration: try $0.configuration()) } ?? http1,
        configuration: .init(
            address: .hostname(configuration.host, port: configuration.port),
            serverName: "crm-sync-server"
        ),
        services: (storage as? any Service).map { [$0] } ?? [],
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger
    )
    app.beforeServerStarts { try await storage.prepare() }
    return app
}

/// The server's routes and middleware (``buildApplication(configuration:storage:logger:metrics:now:onServerRunning:)``
/// serves them); `router.routes` lists every route, which the spec test compares with `openapi.yaml`.
public func buildRouter(
    configuration: ServerConfiguration,
    storage: some ChangeStorage,
    metrics: ServerMetrics = ServerMetrics(),
    now: @escaping @Sendable () -> Int64 = ServerConfiguration.systemNow
) -> Router<SyncRequestContext> {
    let service = SyncService(storage: storage)
    let table = RouteTable()
    let router = Router(context: SyncRequestContext.self)
    router.add(middleware: MetricsMiddleware(metrics: metrics))
    router.add(middleware: JSONErrorMiddleware(routes: table))
    router.addRoutes(HealthController(metrics: metrics).routes)
    router.addRoutes(
        StatusPageController(service: service, configuration: configuration, started: now(), now: now).routes
    )
    let v1 = router.group("v1").add(middleware: AuthMiddleware(storage: storage, service: service, now: now))
    v1.addRoutes(SyncController(service: service, configuration: configuration, metrics: metrics, now: now).routes)
    v1.addRoutes(BlobController(service: service, configuration: configuration).routes)
    v1.group("admin").add(middleware: AdminOnlyMiddleware())
        .addRoutes(AdminController(service: service, configuration: configuration, now: now).routes)
    table.register(router.routes.map { ($0.path.description, $0.method.rawValue) })
    return router
}
