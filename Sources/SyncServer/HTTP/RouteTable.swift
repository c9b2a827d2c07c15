import Synchronization

/// The paths the router serves and the methods of each, so a request for a known path with another method gets
/// 405 and an `Allow` header instead of 404.
final class RouteTable: Sendable {
    private let routes = Mutex<[(pattern: [Substring], method: String)]>([])

    /// Registers the router's routes (`/v1/admin/users/{name}/revoke`, `POST`) once they are all added.
    func register(_ routes: [(path: String, method: String)]) {
        self.routes.withLock { table in
            table = routes.map { (pattern: $0.path.split(separator: "/"), method: $0.method) }
        }
    }

    /// The methods served at `path`, sorted; empty for a path no route matches.
    func allowedMethods(at path: String) -> [String] {
        let parts = path.split(separator: "/")
        let methods = routes.withLock { table in
            table.filter { route in
                route.pattern.count == parts.count
                    && zip(route.pattern, parts).allSatisfy { pattern, part in
                        Self.isCapture(pattern) || pattern == part
                    }
            }.map(\.method)
        }
        return Set(methods).sorted()
    }

    /// A path parameter, as `RouterPath` describes it (`{name}`) or as routes are written (`:name`).
    private static func isCapture(_ pattern: Substring) -> Bool {
        pattern.hasPrefix(":") || (pattern.hasPrefix("{") && pattern.hasSuffix("}"))
    }
}
