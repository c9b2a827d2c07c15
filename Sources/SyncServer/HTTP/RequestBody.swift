import CompressNIO
import Foundation
import Hummingbird
import NIOCore
import SyncProtocol
import Synchronization

/// Reads a request body of at most `maxBytes`, inflating a gzip body to at most `maxBytes` too (a gzip bomb is a
/// 413, not memory exhaustion).
///
/// A body that stalls (no byte for `stallSeconds`, which is below the connection's idle timeout) or is not all
/// there after `deadlineSeconds` gets 408 with a JSON error, never a silently closed connection.
func readBody(
    _ request: Request,
    maxBytes: Int,
    deadlineSeconds: Int64,
    stallSeconds: Int64 = 10
) async throws
    -> ByteBuffer
{
    var buffer: ByteBuffer
    let progress = BodyProgress()
    do {
        let body = request.body
        buffer = try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask {
                var collected = ByteBuffer()
                for try await var chunk in body {
                    progress.touch()
                    guard collected.readableBytes + chunk.readableBytes <= maxBytes else {
                        throw NIOTooManyBytesError(maxBytes: maxBytes)
                    }
                    collected.writeBuffer(&chunk)
                }
                return collected
            }
            group.addTask {
                let start = ContinuousClock.now
                while true {
                    try await Task.sleep(for: .milliseconds(250))
                    let now = ContinuousClock.now
                    if now - progress.last > .seconds(stallSeconds) || now - start > .seconds(deadlineSeconds) {
                        return nil
                    }
                }
            }
            defer { group.cancelAll() }
            guard let collected = try await group.next() ?? nil else {
                throw SyncServerError(
                    .timeout,
                    "the request body stalled for \(stallSeconds) s or did not arrive within \(deadlineSeconds) s"
                )
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
    let trailer = GzipTrailer(buffer)
    let inflated: ByteBuffer
    do {
        inflated = try buffer.decompress(with: .gzip, maxSize: maxBytes)
    } catch let error as CompressNIOError where error == .corruptData {
        throw SyncServerError(.malformed, "the gzip body is damaged")
    } catch {
        throw SyncServerError(.tooLarge, "the request body inflates to more than \(maxBytes) bytes")
    }
    // zlib stops quietly at the end of its input: a stream cut short inflates to a prefix of the message. The
    // member's trailer (CRC-32 and length of the inflated bytes) says whether all of it arrived.
    guard let trailer, trailer.matches(inflated) else {
        throw SyncServerError(.malformed, "the gzip body is truncated or damaged (its trailer does not match)")
    }
    return inflated
}

/// When the body last made progress, for the stall watchdog of ``readBody(_:maxBytes:deadlineSeconds:stallSeconds:)``.
private final class BodyProgress: Sendable {
    private let instant = Mutex(ContinuousClock.now)
    var last: ContinuousClock.Instant { instant.withLock { $0 } }
    func touch() { instant.withLock { $0 = ContinuousClock.now } }
}

/// The last eight bytes of a one-member gzip stream (RFC 1952): CRC-32 and size (mod 2^32) of the inflated data.
struct GzipTrailer {
    var crc: UInt32
    var size: UInt32

    init?(_ compressed: ByteBuffer) {
        let count = compressed.readableBytes
        guard count >= 18,
            let crc = compressed.getInteger(
                at: compressed.readerIndex + count - 8,
                endianness: .little,
                as: UInt32.self
            ),
            let size = compressed.getInteger(
                at: compressed.readerIndex + count - 4,
                endianness: .little,
                as: UInt32.self
            )
        else { return nil }
        self.crc = crc
        self.size = size
    }

    func matches(_ inflated: ByteBuffer) -> Bool {
        guard UInt32(truncatingIfNeeded: inflated.readableBytes) == size else { return false }
        return inflated.withUnsafeReadableBytes { CRC32.checksum($0) } == crc
    }
}

/// CRC-32 (IEEE 802.3, the one gzip uses), table-driven.
enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { table in
            for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        }
        return crc ^ 0xFFFF_FFFF
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
        deadlineSeconds: configuration.requestDeadlineSeconds,
        stallSeconds: configuration.bodyStallSeconds
    )
    do {
        return try WireCoding.decode(type, from: Data(buffer.readableBytesView))
    } catch {
        throw SyncServerError(error)
    }
}
