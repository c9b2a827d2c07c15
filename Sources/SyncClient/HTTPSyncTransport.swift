import AsyncHTTPClient
import CompressNIO
import Crypto
public import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
public import SyncProtocol

/// The sync protocol over HTTP/1.1 with AsyncHTTPClient: bearer token, gzip both ways (bodies over 1 KiB are sent
/// gzipped; answers are inflated here with a size cap), connect and read timeouts, and TLS for `https://` servers.
///
/// AsyncHTTPClient rather than URLSession: it is the server-side Swift client, built on the same SwiftNIO as the
/// server, links statically without libcurl, and lets us own the decompression limit (a server answer that
/// inflates beyond ``maxResponseBytes`` is refused instead of filling memory).
public final class HTTPSyncTransport: SyncTransport {
    public let server: String
    private let base: String
    private let token: String
    private let client: HTTPClient
    private let requestTimeout: TimeAmount
    /// The largest answer accepted, after inflating.
    public let maxResponseBytes: Int

    /// - Parameters:
    ///   - server: `http://host:port` or `https://host:port` (a path prefix is kept).
    ///   - caCertificateFile: a PEM file of extra trusted roots, for a server with a company or self-signed
    ///     certificate. System roots are trusted otherwise.
    public init(
        server: String,
        token: String,
        caCertificateFile: String? = nil,
        connectTimeout: Duration = .seconds(10),
        requestTimeout: Duration = .seconds(60),
        maxResponseBytes: Int = 256 * 1024 * 1024
    ) throws {
        guard let url = URL(string: server), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            url.host != nil
        else {
            throw SyncClientError(.badResponse, "the server address \(server) is not an http:// or https:// URL")
        }
        self.server = server
        self.base = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.token = token
        self.requestTimeout = Self.timeAmount(requestTimeout)
        self.maxResponseBytes = maxResponseBytes
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let caCertificateFile {
            do {
                let roots = try NIOSSLCertificate.fromPEMFile(caCertificateFile)
                tls.trustRoots = .certificates(roots)
            } catch {
                throw SyncClientError(.badResponse, "cannot read the CA certificate \(caCertificateFile): \(error)")
            }
        }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls,
            redirectConfiguration: .disallow,
            timeout: .init(connect: Self.timeAmount(connectTimeout), read: Self.timeAmount(requestTimeout)),
            decompression: .disabled
        )
        // A refused connection fails at once; ``SyncEngine`` retries with its own backoff, so "no network" is
        // reported in seconds, not after the pool's retries until the connect timeout.
        configuration.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    private static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    deinit {
        try? client.syncShutdown()
    }

    /// Closes the connections. Call it before the process ends.
    public func shutdown() async throws {
        try await client.shutdown()
    }

    public func handshake(replicaID: ReplicaID?) async throws -> HandshakeResponse {
        let query = replicaID.map { "?replica_id=\($0.rawValue)" } ?? ""
        return try await exchange(.GET, "/v1/handshake" + query, body: nil, as: HandshakeResponse.self)
    }

    public func registerReplica() async throws -> ReplicaID? {
        let answer = try await send("POST", "/v1/replicas", body: try WireCoding.encode(ReplicaRegistrationRequest()))
        // An earlier server has no such route: the laptop picks its own id, as it did then.
        if answer.status == 404 || answer.status == 405 { return nil }
        guard answer.status == 201 || answer.status == 200 else {
            throw Self.failure(status: answer.status, body: answer.body, server: server)
        }
        do {
            return try WireCoding.decodeMessage(ReplicaRegistration.self, from: answer.body).replicaID
        } catch {
            throw SyncClientError(.badResponse, "the server's answer to /v1/replicas is not valid: \(error)")
        }
    }

    public func push(_ request: PushRequest) async throws -> PushResponse {
        try await exchange(.POST, "/v1/push", body: try WireCoding.encode(request), as: PushResponse.self)
    }

    public func pull(replicaID: ReplicaID, cursor: String?, limit: Int) async throws -> PullResponse {
        try await pull(replicaID: replicaID, cursor: cursor, limit: limit, pending: nil)
    }

    public func pull(replicaID: ReplicaID, cursor: String?, limit: Int, pending: Int) async throws -> PullResponse {
        try await pull(replicaID: replicaID, cursor: cursor, limit: limit, pending: Optional(pending))
    }

    private func pull(replicaID: ReplicaID, cursor: String?, limit: Int, pending: Int?) async throws -> PullResponse {
        var query = "replica_id=\(escape(replicaID.rawValue))&limit=\(limit)"
        if let cursor { query += "&cursor=\(escape(cursor))" }
        if let pending { query += "&pending=\(pending)" }
        return try await exchange(.GET, "/v1/pull?" + query, body: nil, as: PullResponse.self)
    }

    public func snapshot(
        replicaID: ReplicaID,
        after: String?,
        cursor: String?,
        limit: Int
    ) async throws -> SnapshotResponse {
        var query = "replica_id=\(escape(replicaID.rawValue))&limit=\(limit)"
        if let after { query += "&after=\(escape(after))" }
        if let cursor { query += "&cursor=\(escape(cursor))" }
        return try await exchange(.GET, "/v1/snapshot?" + query, body: nil, as: SnapshotResponse.self)
    }

    public func accountHistory(_ account: RecordID) async throws -> [Change]? {
        let answer = try await send("GET", "/v1/history?account=\(escape(account.rawValue))", body: nil)
        // An earlier server has no such route (and an account this user may not see is not offered either).
        if answer.status == 404 || answer.status == 405 { return nil }
        guard answer.status == 200 else { throw Self.failure(status: answer.status, body: answer.body, server: server) }
        do {
            return try WireCoding.decodeMessage(HistoryResponse.self, from: answer.body).changes
        } catch {
            throw SyncClientError(.badResponse, "the server's answer to /v1/history is not valid: \(error)")
        }
    }

    // MARK: - Contents (PROTOCOL.md §10)

    /// Where the upload of a content stands on the server.
    public func uploadStatus(_ digest: String) async throws -> BlobUploadStatus {
        try await exchange(.GET, "/v1/blobs/\(digest)/upload", body: nil, as: BlobUploadStatus.self)
    }

    /// Sends one chunk at `offset` with its SHA-256; gzipped unless the content is already compressed.
    public func uploadChunk(
        _ digest: String,
        offset: Int64,
        bytes: Data,
        compress: Bool
    ) async throws -> BlobUploadStatus {
        let answer = try await send(
            "PUT",
            "/v1/blobs/\(digest)/upload?offset=\(offset)",
            body: bytes,
            contentType: "application/octet-stream",
            headers: [("Chunk-SHA256", SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined())],
            compress: compress
        )
        guard answer.status == 200 else { throw Self.failure(status: answer.status, body: answer.body, server: server) }
        do {
            return try WireCoding.decodeMessage(BlobUploadStatus.self, from: answer.body)
        } catch {
            throw SyncClientError(.badResponse, "the server's answer to an upload is not valid: \(error)")
        }
    }

    /// The bytes `from..<from+count` of a content (a ranged request), or all of it when `count` is nil.
    public func download(_ digest: String, from: Int64, count: Int?) async throws -> Data {
        let range = count.map { "bytes=\(from)-\(from + Int64($0) - 1)" } ?? (from > 0 ? "bytes=\(from)-" : nil)
        let answer = try await send("GET", "/v1/blobs/\(digest)", headers: range.map { [("Range", $0)] } ?? [])
        guard answer.status == 200 || answer.status == 206 else {
            throw Self.failure(status: answer.status, body: answer.body, server: server)
        }
        if range != nil, answer.status == 200, from > 0 {
            // A server that ignores Range sends all of it: keep the part asked for.
            return answer.body.dropFirst(Int(from)).prefix(count ?? Int.max)
        }
        return answer.body
    }

    /// Streams a content from byte `from` to its end (one ranged request, the body handed to `sink` a piece at a time
    /// as it arrives, so memory stays bounded whatever the size). `sink` returns false to stop early (a deadline).
    func streamDownload(
        _ digest: String,
        from: Int64,
        _ sink: (ByteBuffer) async throws -> Bool
    ) async throws {
        var request = HTTPClientRequest(url: base + "/v1/blobs/\(digest)")
        request.method = .GET
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "User-Agent", value: "crm-field")
        if from > 0 { request.headers.add(name: "Range", value: "bytes=\(from)-") }
        do {
            let response = try await client.execute(request, timeout: requestTimeout)
            let status = Int(response.status.code)
            guard status == 200 || status == 206 else {
                let body = try await response.body.collect(upTo: 64 * 1024)
                throw Self.failure(status: status, body: Data(body.readableBytesView), server: server)
            }
            // A server that ignores Range sends all of it: skip what is here already.
            var skip = status == 200 ? from : 0
            for try await var piece in response.body {
                if skip > 0 {
                    let dropped = min(Int(skip), piece.readableBytes)
                    piece.moveReaderIndex(forwardBy: dropped)
                    skip -= Int64(dropped)
                    if piece.readableBytes == 0 { continue }
                }
                let more: Bool
                do { more = try await sink(piece) } catch { throw SinkFailure(error: error) }
                guard more else { return }
            }
        } catch let failure as SinkFailure {
            throw failure.error
        } catch {
            throw networkFailure(error)
        }
    }

    /// A failure of an exchange as the caller sees it: ours and cancellation as they are, anything else (NIO's,
    /// the HTTP client's) as the server being unreachable, a passing failure.
    private func networkFailure(_ error: any Error) -> any Error {
        if error is SyncClientError || error is CancellationError { return error }
        return SyncClientError(
            .unreachable,
            "cannot reach the server at \(server): \(Self.describe(error))",
            isTransient: true
        )
    }

    /// An error of the caller's sink, passed through as it is (not a network failure).
    private struct SinkFailure: Error {
        var error: any Error
    }

    private func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .urlQueryValueAllowed) ?? text
    }

    /// One HTTP answer: its status, its headers (lower-case names, the first value of each) and its body
    /// (inflated).
    public struct Answer: Sendable {
        public var status: Int
        public var body: Data
        public var headers: [String: String] = [:]
    }

    /// Sends one request with the token and returns the answer whatever its status (only a network failure or an
    /// answer that cannot be inflated throws). The typed exchanges and admin tooling (the conformance runner) use it.
    public func send(
        _ method: String,
        _ path: String,
        body: Data? = nil,
        contentType: String = "application/json",
        headers: [(String, String)] = [],
        compress: Bool = true
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: base + path)
        request.method = HTTPMethod(rawValue: method)
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "Accept-Encoding", value: "gzip")
        request.headers.add(name: "User-Agent", value: "crm-field")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            var buffer = ByteBuffer(bytes: body)
            if compress, body.count > 1024, let compressed = try? buffer.compress(with: .gzip) {
                request.headers.add(name: "Content-Encoding", value: "gzip")
                buffer = compressed
            }
            request.body = .bytes(buffer)
        }
        let response: HTTPClientResponse
        var payload: ByteBuffer
        do {
            response = try await client.execute(request, timeout: requestTimeout)
            payload = try await response.body.collect(upTo: maxResponseBytes)
        } catch {
            throw networkFailure(error)
        }
        if response.headers.first(name: "Content-Encoding")?.lowercased() == "gzip" {
            do {
                payload = try payload.decompress(with: .gzip, maxSize: maxResponseBytes)
            } catch {
                throw SyncClientError(.badResponse, "the server's gzip answer could not be inflated within the limit")
            }
        }
        var answerHeaders: [String: String] = [:]
        for header in response.headers where answerHeaders[header.name.lowercased()] == nil {
            answerHeaders[header.name.lowercased()] = header.value
        }
        return Answer(status: Int(response.status.code), body: Data(payload.readableBytesView), headers: answerHeaders)
    }

    /// Sends one request and decodes the answer, mapping every failure to a ``SyncClientError``.
    private func exchange<Message: Decodable>(
        _ method: HTTPMethod,
        _ path: String,
        body: Data?,
        as type: Message.Type
    ) async throws -> Message {
        let answer = try await send(method.rawValue, path, body: body)
        guard (200..<300).contains(answer.status) else {
            throw Self.failure(status: answer.status, body: answer.body, server: server)
        }
        do {
            if Message.self == SnapshotResponse.self {
                // A first download's pages: the direct reader, many times faster than JSONDecoder.
                return try WireCoding.decodeSnapshotPage(from: answer.body) as! Message
            }
            return try WireCoding.decodeMessage(Message.self, from: answer.body)
        } catch {
            if error.code == .unsupportedVersion {
                throw SyncClientError(.versionMismatch, "the server speaks another protocol version: \(error.message)")
            }
            throw SyncClientError(.badResponse, "the server's answer to \(path) is not valid: \(error)")
        }
    }

    static func failure(status: Int, body: Data, server: String) -> SyncClientError {
        let answer = try? JSONDecoder().decode(ErrorResponse.self, from: body)
        let message = answer?.error.message ?? "HTTP \(status)"
        switch status {
        case 401 where answer?.error.code == SyncClientError.Code.wipeRequested.rawValue:
            return SyncClientError(.wipeRequested, message, status: status)
        case 401:
            return SyncClientError(.unauthorized, "the server refused the token (\(message))", status: status)
        case 409:
            return SyncClientError(.versionMismatch, "protocol version mismatch: \(message)", status: status)
        case 408, 429, 500...599:
            return SyncClientError(
                SyncClientError.Code(answer?.error.code ?? "server_error"),
                "the server at \(server) answered \(status): \(message)",
                status: status,
                isTransient: true
            )
        default:
            return SyncClientError(
                SyncClientError.Code(answer?.error.code ?? "http_\(status)"),
                "the server answered \(status): \(message)",
                status: status
            )
        }
    }

    /// A short reason for a network failure, without NIO's type names where a plainer word exists.
    static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("connectTimeout") || text.contains("ConnectTimeout") { return "connection timed out" }
        if text.contains("refused") || text.contains("Refused") { return "connection refused" }
        if text.contains("readTimeout") || text.contains("deadlineExceeded") { return "no answer in time" }
        if text.contains("NIOSSL") || text.contains("handshake") { return "TLS failed (\(text))" }
        if text.contains("remoteConnectionClosed") { return "the connection was closed" }
        return text
    }
}

extension CharacterSet {
    fileprivate static let urlQueryValueAllowed: CharacterSet = {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+#")
        return allowed
    }()
}
