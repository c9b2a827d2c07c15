import Foundation
import Hummingbird
import Logging
public import Prometheus
import SyncProtocol

/// The server's Prometheus metrics, in their own registry (no global bootstrap, so tests and several servers in
/// one process stay apart). Served at `GET /metrics`.
public final class ServerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

    private static func descriptor(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "crm_sync", metricName: name, unitName: unit, helpText: help)
    }

    func request(route: String, method: String, status: Int, duration: Duration) {
        registry.makeCounter(
            descriptor: Self.descriptor("http_requests", "total", "HTTP requests by route, method and status."),
            labels: [("route", route), ("method", method), ("status", String(status))]
        ).increment()
        registry.makeDurationHistogram(
            descriptor: Self.descriptor("http_request_duration", "seconds", "HTTP request latency by route."),
            labels: [("route", route)],
            buckets: [
                .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(500), .seconds(2), .seconds(10),
            ]
        ).record(duration)
    }

    func pushed(_ results: [ChangeResult.Status: Int], rejectionCodes: [String: Int], conflicts: Int) {
        for (status, count) in results where count > 0 {
            registry.makeCounter(
                descriptor: Self.descriptor("changes_pushed", "total", "Changes received, by result."),
                labels: [("result", status.rawValue)]
            ).increment(by: Int64(count))
        }
        for (code, count) in rejectionCodes {
            registry.makeCounter(
                descriptor: Self.descriptor("rejections", "total", "Rejected changes, by code."),
                labels: [("code", code)]
            ).increment(by: Int64(count))
        }
        if conflicts > 0 {
            registry.makeCounter(
                descriptor: Self.descriptor("conflicts", "total", "Conflicts opened by pushed changes."),
                labels: []
            ).increment(by: Int64(conflicts))
        }
    }

    func pulled(_ count: Int) {
        registry.makeCounter(
            descriptor: Self.descriptor("changes_pulled", "total", "Changes sent to replicas by pulls."),
            labels: []
        ).increment(by: Int64(count))
    }

    var exposition: String { registry.emitToString() }
}

/// Times every request once, then counts it by route pattern (never the raw path, which holds record IDs) and
/// status, and writes one structured log line: method, path (no query, no body), status and duration, with the
/// request id Hummingbird puts on the context's logger. Tokens and customer data never reach the log.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = SyncRequestContext
    let metrics: ServerMetrics

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let duration = ContinuousClock.now - start
        metrics.request(
            route: context.endpointPath ?? "unmatched",
            method: request.method.rawValue,
            status: response.status.code,
            duration: duration
        )
        context.logger.info(
            "request",
            metadata: [
                "http.method": .string(request.method.rawValue),
                "http.path": .string(request.uri.path),
                "http.status": .stringConvertible(response.status.code),
                "duration_ms": .string(String(format: "%.1f", duration / .milliseconds(1))),
            ]
        )
        return response
    }
}
