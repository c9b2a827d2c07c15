public import Hummingbird

/// The request context of every route: Hummingbird's core storage plus the authenticated user.
public struct SyncRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by ``AuthMiddleware`` for `/v1` routes.
    public var user: User?

    public init(source: Source) {
        coreContext = .init(source: source)
        user = nil
    }

    /// Hummingbird's own decoding is not used (bodies are read with ``ServerConfiguration/maxBodyBytes``), but keep
    /// its guard no larger.
    public var maxUploadSize: Int { 8 * 1024 * 1024 }
}
