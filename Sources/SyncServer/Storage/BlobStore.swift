import Crypto
public import Foundation
public import NIOCore
import SyncProtocol

/// Where the server keeps the contents of document versions (PROTOCOL.md §10), named by their SHA-256 digest.
///
/// An upload arrives in chunks appended at the offset the store already has (so an interrupted upload resumes
/// where it stopped, and a chunk sent twice is refused rather than stored twice); ``finish(_:size:)`` hashes what
/// arrived and only then makes it the stored content. Stored contents never change: a digest names one content.
///
/// Beside SQLite the contents are files in a folder (``FileBlobStore``); with PostgreSQL they are rows of the
/// shared database, so every server of a deployment serves every content (``PostgresChangeStorage``).
public protocol BlobStore: Sendable {
    /// The size of the stored content, or nil when this digest is not (completely) stored.
    func storedSize(_ digest: String) async throws -> Int64?
    /// How many bytes of an unfinished upload of `digest` are kept (0 when none).
    func received(_ digest: String) async throws -> Int64
    /// Appends `bytes` to the unfinished upload; `offset` must be ``received(_:)`` (else ``SyncServerError/Code/wrongOffset``).
    /// Durable when it returns. Returns the bytes now received.
    func append(_ digest: String, offset: Int64, bytes: ByteBuffer) async throws -> Int64
    /// Makes the unfinished upload the stored content if it is `size` bytes that hash to `digest`; otherwise
    /// discards it and returns false.
    func finish(_ digest: String, size: Int64) async throws -> Bool
    /// Up to `count` bytes of the stored content from `offset`.
    func read(_ digest: String, offset: Int64, count: Int) async throws -> ByteBuffer
}

extension BlobStore {
    func wrongOffset(_ offset: Int64, have: Int64) -> SyncServerError {
        SyncServerError(.wrongOffset, "this chunk starts at byte \(offset) but the server has \(have) bytes of it")
    }
}

/// The contents as files: `FOLDER/<digest>` when stored, `FOLDER/uploads/<digest>.part` while uploading. Written
/// with `fsync` before an answer, moved into place with `rename` after the digest was checked.
public final class FileBlobStore: BlobStore {
    public let folder: URL
    private let lock = AsyncMutex()

    public init(folder: URL) {
        self.folder = folder
    }

    /// The folder beside a SQLite database: `crm-sync.sqlite` keeps its contents in `crm-sync-blobs/`.
    public static func folder(besideDatabase path: String) -> URL {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent()
            .appendingPathComponent(url.deletingPathExtension().lastPathComponent + "-blobs", isDirectory: true)
    }

    private func stored(_ digest: String) -> URL { folder.appendingPathComponent(digest) }
    private func partial(_ digest: String) -> URL {
        folder.appendingPathComponent("uploads", isDirectory: true).appendingPathComponent(digest + ".part")
    }

    private static func size(_ url: URL) -> Int64? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: url.path),
            let size = attributes[.size] as? NSNumber
        else { return nil }
        return size.int64Value
    }

    public func storedSize(_ digest: String) async throws -> Int64? { Self.size(stored(digest)) }

    public func received(_ digest: String) async throws -> Int64 { Self.size(partial(digest)) ?? 0 }

    public func append(_ digest: String, offset: Int64, bytes: ByteBuffer) async throws -> Int64 {
        try await lock.withLock {
            let url = partial(digest)
            let have = Self.size(url) ?? 0
            guard offset == have else { throw wrongOffset(offset, have: have) }
            try Self.writing {
                try FileManager.default.createDirectory(
                    at: url.deletingLastPathComponent(),
                    withIntermediateDirectories: true
                )
                if have == 0 { _ = FileManager.default.createFile(atPath: url.path, contents: nil) }
                let handle = try FileHandle(forWritingTo: url)
                defer { try? handle.close() }
                try handle.truncate(atOffset: UInt64(have))
                try handle.write(contentsOf: Data(bytes.readableBytesView))
                try handle.synchronize()
            }
            return have + Int64(bytes.readableBytes)
        }
    }

    public func finish(_ digest: String, size: Int64) async throws -> Bool {
        try await lock.withLock {
            let url = partial(digest)
            if Self.size(stored(digest)) == size { return true }
            guard Self.size(url) == size, try Self.sha256(of: url) == digest else {
                try? FileManager.default.removeItem(at: url)
                return false
            }
            try Self.writing {
                if FileManager.default.fileExists(atPath: stored(digest).path) {
                    try FileManager.default.removeItem(at: stored(digest))
                }
                try FileManager.default.moveItem(at: url, to: stored(digest))
            }
            return true
        }
    }

    public func read(_ digest: String, offset: Int64, count: Int) async throws -> ByteBuffer {
        guard let handle = FileHandle(forReadingAtPath: stored(digest).path) else {
            throw SyncServerError(.notFound, "no such content")
        }
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        return ByteBuffer(bytes: try handle.read(upToCount: count) ?? Data())
    }

    /// Puts every stored content that `destination` lacks there (a hard link where the file system allows, else a
    /// copy): a backup's contents beside the backup's database, or a backup's back beside the restored database.
    /// Contents never change, so what is there already is skipped; returns how many were added.
    @discardableResult
    public func copyStored(to destination: URL) throws -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        var added = 0
        for name in names where ValueType.isDigest(name) {
            let target = destination.appendingPathComponent(name)
            guard !FileManager.default.fileExists(atPath: target.path) else { continue }
            try Self.writing {
                try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: true)
                let source = folder.appendingPathComponent(name)
                do {
                    try FileManager.default.linkItem(at: source, to: target)
                } catch {
                    let partial = destination.appendingPathComponent(name + ".copying")
                    try? FileManager.default.removeItem(at: partial)
                    try FileManager.default.copyItem(at: source, to: partial)
                    try FileManager.default.moveItem(at: partial, to: target)
                }
            }
            added += 1
        }
        return added
    }

    /// The SHA-256 of a file, read a megabyte at a time.
    static func sha256(of url: URL) throws -> String {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var hasher = SHA256()
        while let data = try handle.read(upToCount: 1 << 20), !data.isEmpty { hasher.update(data: data) }
        return hasher.finalize().hexString
    }

    /// Runs file writes, reporting a full disk as the 507 every other write gives.
    private static func writing(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as NSError where error.code == NSFileWriteOutOfSpaceError || error.code == Int(ENOSPC) {
            throw SyncServerError.diskFull
        } catch let error as CocoaError where error.code == .fileWriteOutOfSpace {
            throw SyncServerError.diskFull
        }
    }
}

/// The contents in memory, for the in-memory storage of the fast contract tests.
public final class MemoryBlobStore: BlobStore, @unchecked Sendable {
    // NOTE: `lock` serialises access to both dictionaries.
    private let lock = NSLock()
    private var stored: [String: [UInt8]] = [:]
    private var partial: [String: [UInt8]] = [:]

    public init() {}

    public func storedSize(_ digest: String) async throws -> Int64? {
        lock.withLock { stored[digest].map { Int64($0.count) } }
    }

    public func received(_ digest: String) async throws -> Int64 {
        lock.withLock { Int64(partial[digest]?.count ?? 0) }
    }

    public func append(_ digest: String, offset: Int64, bytes: ByteBuffer) async throws -> Int64 {
        try lock.withLock {
            let have = Int64(partial[digest]?.count ?? 0)
            guard offset == have else { throw wrongOffset(offset, have: have) }
            partial[digest, default: []] += bytes.readableBytesView
            return have + Int64(bytes.readableBytes)
        }
    }

    public func finish(_ digest: String, size: Int64) async throws -> Bool {
        lock.withLock {
            if stored[digest]?.count == Int(size) { return true }
            let bytes = partial.removeValue(forKey: digest) ?? []
            guard bytes.count == Int(size), SHA256.hash(data: bytes).hexString == digest else { return false }
            stored[digest] = bytes
            return true
        }
    }

    public func read(_ digest: String, offset: Int64, count: Int) async throws -> ByteBuffer {
        try lock.withLock {
            guard let bytes = stored[digest] else { throw SyncServerError(.notFound, "no such content") }
            let start = min(Int(offset), bytes.count)
            return ByteBuffer(bytes: bytes[start..<min(bytes.count, start + count)])
        }
    }
}
