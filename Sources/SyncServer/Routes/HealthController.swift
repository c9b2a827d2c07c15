import Hummingbird
import NIOCore

/// `GET /healthz` and `GET /metrics` (Prometheus text), without a token.
struct HealthController: Sendable {
    let metrics: ServerMetrics

    var routes: RouteCollection<SyncRequestContext> {
        let routes = RouteCollection(context: SyncRequestContext.self)
        routes.get("healthz", use: health)
        routes.get("metrics", use: exposition)
        return routes
    }

    @Sendable func health(_ request: Request, context: SyncRequestContext) async throws -> Response {
        try jsonResponse(["status": "ok"])
    }

    @Sendable func exposition(_ request: Request, context: SyncRequestContext) async throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4"
        return Response(
            status: .ok,
            headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.exposition))
        )
    }
}
