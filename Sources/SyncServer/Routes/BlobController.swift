import CompressNIO
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SyncProtocol

/// `GET /v1/blobs/{digest}`, `GET` and `PUT /v1/blobs/{digest}/upload`: the documents' contents (PROTOCOL.md §10),
/// moved apart from the records so that a large or refused content never holds up a sync.
struct BlobController: Sendable {
    let service: SyncService
    let configuration: ServerConfiguration

    var routes: RouteCollection<SyncRequestContext> {
        let routes = RouteCollection(context: SyncRequestContext.self)
        routes.get("blobs/:digest", use: download)
        routes.get("blobs/:digest/upload", use: uploadStatus)
        routes.put("blobs/:digest/upload", use: upload)
        return routes
    }

    private func digest(_ context: SyncRequestContext) -> String {
        context.parameters.get("digest") ?? ""
    }

    @Sendable func uploadStatus(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let status = try await service.uploadStatus(
            digest(context),
            user: user,
            maxBytes: configuration.maxDocumentBytes
        )
        return try jsonResponse(status)
    }

    /// One chunk at `?offset=N` (the bytes the server has, from the status), `Content-Type:
    /// application/octet-stream`, `Chunk-SHA256: <hex>` of the chunk's bytes; gzip allowed.
    @Sendable func upload(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let digest = digest(context)
        let mediaType = request.headers[.contentType].map {
            $0.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        }
        guard mediaType == "application/octet-stream" else {
            throw SyncServerError(
                .unsupportedMediaType,
                "send a chunk with Content-Type: application/octet-stream (got \(mediaType.map { "'\($0.prefix(40))'" } ?? "none"))"
            )
        }
        guard let offsetText = request.uri.queryParameters["offset"], let offset = Int64(String(offsetText)),
            offset >= 0
        else {
            throw SyncServerError(.malformed, "offset must be the byte the chunk starts at (0 or more)")
        }
        guard let claimed = request.headers[HTTPField.Name("Chunk-SHA256")!]?.lowercased(),
            ValueType.isDigest(claimed)
        else {
            throw SyncServerError(.malformed, "send Chunk-SHA256: the SHA-256 of the chunk's bytes, in hex")
        }
        // Scope and size first: a foreign or too large content is refused before its bytes are read.
        let before = try await service.uploadStatus(digest, user: user, maxBytes: configuration.maxDocumentBytes)
        if before.complete { return try jsonResponse(before) }
        let bytes = try await readBody(
            request,
            maxBytes: BlobExchange.maxChunkBytes,
            deadlineSeconds: configuration.requestDeadlineSeconds,
            stallSeconds: configuration.bodyStallSeconds
        )
        let actual = SHA256.hash(data: bytes.readableBytesView).hexString
        guard actual == claimed else {
            context.logger.notice(
                "Chunk refused",
                metadata: ["blob.digest": "\(digest)", "blob.offset": "\(offset)", "error.code": "digest_mismatch"]
            )
            throw SyncServerError(
                .digestMismatch,
                "the chunk at byte \(offset) does not hash to its Chunk-SHA256 (damaged on the way?): nothing of it "
                    + "was kept; send it again"
            )
        }
        let status = try await service.uploadChunk(digest, offset: offset, bytes: bytes, status: before)
        if status.complete {
            context.logger.info(
                "Content stored",
                metadata: ["blob.digest": "\(digest)", "blob.size": "\(status.size)"]
            )
        }
        return try jsonResponse(status)
    }

    /// The content, streamed; `Range: bytes=N-[M]` for a part (206), as a resumed download asks. A content that
    /// is not already compressed is gzipped for a client that accepts it when it is sent whole and small.
    @Sendable func download(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let digest = digest(context)
        let reference = try await service.visibleBlob(digest, user: user)
        let blobs = service.storage.blobs
        guard let size = try await blobs.storedSize(digest) else {
            throw SyncServerError(
                .notUploaded,
                "this content has not reached the server yet: the laptop that added it uploads it at its next sync"
            )
        }
        var headers = HTTPFields()
        headers[.contentType] = reference.mediaType ?? "application/octet-stream"
        headers[.acceptRanges] = "bytes"
        headers[.eTag] = "\"\(digest)\""
        headers[.cacheControl] = "private, max-age=31536000, immutable"
        var status = HTTPResponse.Status.ok
        var start: Int64 = 0
        var end = size
        if let range = request.headers[.range] {
            guard let (from, to) = Self.parseRange(range, size: size) else {
                headers[.contentRange] = "bytes */\(size)"
                var response = SyncServerError.jsonResponse(
                    status: .rangeNotSatisfiable,
                    code: "range_not_satisfiable",
                    message: "the range \(range.prefix(40)) is not within the content's \(size) bytes"
                )
                response.headers[.contentRange] = "bytes */\(size)"
                return response
            }
            (start, end) = (from, to)
            status = .partialContent
            headers[.contentRange] = "bytes \(start)-\(end - 1)/\(size)"
        } else if size <= Int64(BlobExchange.maxChunkBytes), !BlobExchange.isCompressed(reference.mediaType),
            request.headers[.acceptEncoding]?.contains("gzip") == true
        {
            var whole = try await blobs.read(digest, offset: 0, count: Int(size))
            if size > 1024, let compressed = try? whole.compress(with: .gzip()) {
                headers[.contentEncoding] = "gzip"
                whole = compressed
            }
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: whole))
        }
        let (from, to) = (start, end)
        let body = ResponseBody(contentLength: Int(to - from)) { writer in
            let end = to
            var position = from
            while position < end {
                // A chunk's worth at a time: PostgreSQL keeps contents in rows of that size.
                let piece = try await blobs.read(
                    digest,
                    offset: position,
                    count: Int(min(Int64(BlobExchange.maxChunkBytes), end - position))
                )
                guard piece.readableBytes > 0 else { break }
                try await writer.write(piece)
                position += Int64(piece.readableBytes)
            }
            try await writer.finish(nil)
        }
        return Response(status: status, headers: headers, body: body)
    }

    /// `bytes=N-`, `bytes=N-M` or `bytes=-K` (the last K) as a half-open range within `size`; nil when it is not
    /// one such range or not satisfiable.
    static func parseRange(_ text: String, size: Int64) -> (Int64, Int64)? {
        guard text.hasPrefix("bytes="), !text.contains(",") else { return nil }
        let spec = text.dropFirst(6).trimmingCharacters(in: .whitespaces)
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        if parts[0].isEmpty {
            guard let suffix = Int64(parts[1]), suffix > 0, size > 0 else { return nil }
            return (max(0, size - suffix), size)
        }
        guard let from = Int64(parts[0]), from >= 0, from < size else { return nil }
        if parts[1].isEmpty { return (from, size) }
        guard let last = Int64(parts[1]), last >= from else { return nil }
        return (from, min(last + 1, size))
    }
}
