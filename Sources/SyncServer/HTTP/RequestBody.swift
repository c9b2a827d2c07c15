import CompressNIO
import Foundation
import Hummingbird
import NIOCore
import SyncProtocol

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

/// Reads a request body up to the configured size and decodes it once; malformed input is a 400 that says where.
/// Wire messages (``PushRequest``) check their `protocol_version` first, inside that one decode.
func decodeBody<Value: Decodable>(
    _ type: Value.Type,
    from request: Request,
    configuration: ServerConfiguration
) async throws -> Value {
    let buffer = try await readBody(
        request,
        maxBytes: configuration.maxBodyBytes,
        deadlineSeconds: configuration.requestDeadlineSeconds
    )
    do {
        return try WireCoding.decode(type, from: Data(buffer.readableBytesView))
    } catch {
        throw SyncServerError(error)
    }
}
