import Foundation
import NIOSSL

/// How the server runs. Tests build one in code; the executable fills it from its flags.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// A SQLite file path (the embedded default) — PostgreSQL URLs come with the scale-out backend.
    public var database: String
    /// Largest request body accepted, in bytes (413 above).
    public var maxBodyBytes: Int
    /// Most changes in one push (429 above).
    public var maxChangesPerPush: Int
    /// Largest pull page.
    public var maxPullLimit: Int
    /// How far ahead of the server's clock a change's timestamp may be, in milliseconds.
    public var maxClockAheadMilliseconds: Int64
    /// How long after a territory move the old territory's laptops may still send edits they made before they
    /// learned of it (PROTOCOL.md §9, "Territory hand-off"), in milliseconds.
    public var handOffGraceMilliseconds: Int64
    /// A connection idle for this many seconds is closed.
    public var idleTimeoutSeconds: Int64
    /// A request body not received within this many seconds (a slow client trickling it) gets 408.
    public var requestDeadlineSeconds: Int64
    /// A request body that sends no byte for this many seconds gets 408 (kept below the idle timeout, so the client
    /// hears why instead of seeing the connection closed).
    public var bodyStallSeconds: Int64
    /// Serve HTTPS with this certificate and key (TLS 1.2 at least); nil serves plain HTTP.
    public var tls: TLSFiles?
    /// The largest document content accepted, in bytes (413 above; the version record still syncs).
    public var maxDocumentBytes: Int64 = 25 * 1024 * 1024

    /// A PEM certificate chain and its PEM private key.
    public struct TLSFiles: Sendable, Hashable {
        public var certificate: String
        public var key: String

        public init(certificate: String, key: String) {
            self.certificate = certificate
            self.key = key
        }

        /// Loads the files as the server would, to check them; throws what `serve` would.
        public func configurationForTesting() throws {
            _ = try configuration()
        }

        /// The server's TLS configuration: TLS 1.2 at least, HTTP/1.1.
        func configuration() throws -> TLSConfiguration {
            let chain: [NIOSSLCertificate]
            let privateKey: NIOSSLPrivateKey
            do {
                chain = try NIOSSLCertificate.fromPEMFile(certificate)
            } catch {
                throw SyncServerError(.invalidValue, "cannot read the TLS certificate \(certificate): \(error)")
            }
            do {
                privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
            } catch {
                throw SyncServerError(.invalidValue, "cannot read the TLS key \(key): \(error)")
            }
            guard !chain.isEmpty else { throw SyncServerError(.invalidValue, "\(certificate) holds no certificate") }
            var tls = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) },
                privateKey: .privateKey(privateKey)
            )
            tls.minimumTLSVersion = .tlsv12
            tls.applicationProtocols = ["http/1.1"]
            return tls
        }
    }

    /// The system clock in milliseconds since 1970.
    public static let systemNow: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }

    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        database: String = "crm-sync.sqlite",
        maxBodyBytes: Int = 8 * 1024 * 1024,
        maxChangesPerPush: Int = 5_000,
        maxPullLimit: Int = 5_000,
        maxClockAheadMilliseconds: Int64 = 60_000,
        handOffGraceMilliseconds: Int64 = 30 * 86_400_000,
        idleTimeoutSeconds: Int64 = 30,
        requestDeadlineSeconds: Int64 = 60,
        bodyStallSeconds: Int64 = 10,
        tls: TLSFiles? = nil
    ) {
        self.tls = tls
        self.host = host
        self.port = port
        self.database = database
        self.maxBodyBytes = maxBodyBytes
        self.maxChangesPerPush = maxChangesPerPush
        self.maxPullLimit = maxPullLimit
        self.maxClockAheadMilliseconds = maxClockAheadMilliseconds
        self.handOffGraceMilliseconds = handOffGraceMilliseconds
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.requestDeadlineSeconds = requestDeadlineSeconds
        // Well below the idle timeout, which would otherwise close a stalled connection without an answer.
        self.bodyStallSeconds = min(bodyStallSeconds, max(1, idleTimeoutSeconds / 3))
    }
}
