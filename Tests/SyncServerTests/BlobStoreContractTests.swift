import Crypto
import Foundation
import NIOCore
import SyncProtocol
import SyncServer
import Testing

/// The content store's contract (PROTOCOL.md §10) on every backend: files beside SQLite, rows in PostgreSQL, and the
/// in-memory twin. Appends only at the bytes the store has, the digest checked before a content is stored, a failed
/// check discards everything, reads of any range.
@Suite("Blob store contract")
struct BlobStoreContractTests {
    static func digest(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    @Test(
        "chunks append at the store's offset, the whole is checked against its digest, ranges read back",
        arguments: Backend.available
    )
    func appendFinishRead(backend: Backend) async throws {
        try await StorageContractTests.withStorage(backend) { service in
            let blobs = service.storage.blobs
            let content = (0..<(9 * 1024 * 1024 + 5)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
            let digest = Self.digest(content)
            #expect(try await blobs.storedSize(digest) == nil)
            #expect(try await blobs.received(digest) == 0)
            let chunk = 4 * 1024 * 1024
            var offset = 0
            while offset < content.count {
                let end = min(content.count, offset + chunk)
                let received = try await blobs.append(
                    digest,
                    offset: Int64(offset),
                    bytes: ByteBuffer(bytes: content[offset..<end])
                )
                #expect(received == Int64(end))
                if offset == 0 {
                    // The same chunk again (a lost answer), and one beyond the end of what is there: both refused.
                    for wrong in [0, end + 1] {
                        await #expect(throws: SyncServerError.self) {
                            _ = try await blobs.append(digest, offset: Int64(wrong), bytes: ByteBuffer(bytes: [1, 2]))
                        }
                    }
                    #expect(try await blobs.received(digest) == Int64(end))
                }
                offset = end
            }
            #expect(try await blobs.storedSize(digest) == nil, "not stored before it is checked")
            #expect(try await blobs.finish(digest, size: Int64(content.count)))
            #expect(try await blobs.storedSize(digest) == Int64(content.count))
            #expect(try await blobs.finish(digest, size: Int64(content.count)), "finishing twice is harmless")
            for (from, count) in [(0, 10), (chunk - 3, 7), (content.count - 4, 100), (1_000_000, 5_000_000)] {
                let read = try await blobs.read(digest, offset: Int64(from), count: count)
                #expect(Array(read.readableBytesView) == Array(content[from..<min(content.count, from + count)]))
            }
        }
    }

    @Test(
        "a content that does not hash to its digest is discarded, and the right one then goes in",
        arguments: Backend.available
    )
    func mismatchDiscards(backend: Backend) async throws {
        try await StorageContractTests.withStorage(backend) { service in
            let blobs = service.storage.blobs
            let content: [UInt8] = Array("the signed contract".utf8)
            let digest = Self.digest(content)
            var lie = content
            lie[0] = UInt8(ascii: "T")
            _ = try await blobs.append(digest, offset: 0, bytes: ByteBuffer(bytes: lie))
            #expect(try await blobs.finish(digest, size: Int64(content.count)) == false)
            #expect(try await blobs.received(digest) == 0)
            #expect(try await blobs.storedSize(digest) == nil)
            _ = try await blobs.append(digest, offset: 0, bytes: ByteBuffer(bytes: content.prefix(5)))
            #expect(try await blobs.finish(digest, size: Int64(content.count)) == false, "too short")
            _ = try await blobs.append(digest, offset: 0, bytes: ByteBuffer(bytes: content))
            #expect(try await blobs.finish(digest, size: Int64(content.count)))
            #expect(Array(try await blobs.read(digest, offset: 0, count: 100).readableBytesView) == content)
        }
    }
}
