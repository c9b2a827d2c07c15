import Crypto
public import Foundation
import NIOCore
public import ReplicaStore
public import SyncProtocol

#if canImport(Glibc)
import Glibc
#endif

/// What moving contents did: uploads and downloads finished, what failed and why, and what still waits.
public struct BlobReport: Sendable, Hashable {
    public struct Failure: Sendable, Hashable {
        public enum Direction: String, Sendable, Hashable {
            case up, down
        }
        public var digest: String
        public var direction: Direction
        /// The server's error code (`payload_too_large`, `not_uploaded`, …) or `unreachable`.
        public var code: String
        public var reason: String
        public var size: Int64
    }

    public var uploaded: [BlobInfo] = []
    public var downloaded: [BlobInfo] = []
    public var failures: [Failure] = []
    /// Contents still to upload (all queued uploads not finished), and their bytes.
    public var waitingUp = 0
    public var waitingUpBytes: Int64 = 0
    /// Prefetch candidates within the budget that are not here yet, and their bytes.
    public var waitingDown = 0
    public var waitingDownBytes: Int64 = 0
    /// Whether the time budget ended the run before everything was moved.
    public var outOfTime = false

    public init() {}
}

/// Moves documents' contents between the laptop's blob folder and the server (PROTOCOL.md §10), apart from the
/// records: `sync` runs it after the records are exchanged and within a time budget; `document get` fetches one
/// content on demand.
///
/// An upload resumes at the byte the server says it has; a download at the bytes of its `.part` file. A content
/// counts as here only once it hashes to its digest. A failure is kept with its reason in the replica's queues and
/// tried again later; it never stops the other contents or the records.
public struct BlobTransfer: Sendable {
    public let replica: Replica
    public let transport: HTTPSyncTransport
    /// Bytes per upload chunk and per ranged download request (at most ``BlobExchange/maxChunkBytes``).
    public var chunkBytes: Int
    public var now: @Sendable () -> Int64

    public init(
        replica: Replica,
        transport: HTTPSyncTransport,
        chunkBytes: Int = BlobExchange.maxChunkBytes,
        now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }
    ) {
        self.replica = replica
        self.transport = transport
        self.chunkBytes = min(max(chunkBytes, 1024), BlobExchange.maxChunkBytes)
        self.now = now
    }

    /// Progress of one content: its digest, bytes moved, its size.
    public typealias Progress = @Sendable (_ digest: String, _ done: Int64, _ total: Int64) -> Void

    /// Uploads what waits, then prefetches the shown version of documents until `prefetchBytes` of contents are
    /// on this laptop, stopping when `deadline` passes (what was moved so far is kept). Never throws: every
    /// failure is in the report and in the queues.
    public func run(
        deadline: ContinuousClock.Instant,
        prefetchBytes: Int64,
        uploadProgress: Progress = { _, _, _ in },
        downloadProgress: Progress = { _, _, _ in }
    ) async -> BlobReport {
        var report = BlobReport()
        // Files of records that left this laptop (a territory move) go first, and do not count against the budget.
        _ = try? await replica.pruneBlobs()
        let uploads = (try? await replica.queuedUploads()) ?? []
        for upload in uploads {
            if ContinuousClock.now >= deadline {
                report.outOfTime = true
                break
            }
            guard upload.nextTry <= now() else { continue }
            do {
                if try await self.upload(upload, until: deadline, progress: uploadProgress) {
                    report.uploaded.append(BlobInfo(digest: upload.digest, size: upload.size))
                } else {
                    report.outOfTime = true
                }
            } catch {
                let failure = Self.failure(error, digest: upload.digest, direction: .up, size: upload.size)
                report.failures.append(failure)
                try? await replica.uploadFailed(
                    upload.digest,
                    reason: failure.reason,
                    retryAt: retryAt(failure, attempts: upload.attempts)
                )
            }
        }
        let left = (try? await replica.queuedUploads()) ?? []
        report.waitingUp = left.count
        report.waitingUpBytes = left.reduce(0) { $0 + $1.size }

        var here = replica.blobBytesHere()
        let wanted = (try? await replica.wantedBlobs(latestOnly: true)) ?? []
        for blob in wanted where here + blob.size <= prefetchBytes {
            if ContinuousClock.now >= deadline || report.outOfTime {
                report.outOfTime = true
                report.waitingDown += 1
                report.waitingDownBytes += blob.size
                continue
            }
            if let retry = try? await replica.downloadRetryAt(blob.digest), retry > now() {
                report.waitingDown += 1
                report.waitingDownBytes += blob.size
                continue
            }
            do {
                if try await download(blob.digest, size: blob.size, until: deadline, progress: downloadProgress) {
                    report.downloaded.append(BlobInfo(digest: blob.digest, size: blob.size))
                    here += blob.size
                } else {
                    report.outOfTime = true
                    report.waitingDown += 1
                    report.waitingDownBytes += blob.size
                }
            } catch {
                let failure = Self.failure(error, digest: blob.digest, direction: .down, size: blob.size)
                // Not uploaded yet is not a failure of this laptop: it waits, and is asked for at the next sync.
                if failure.code != "not_uploaded" { report.failures.append(failure) }
                report.waitingDown += 1
                report.waitingDownBytes += blob.size
                try? await replica.downloadFailed(
                    blob.digest,
                    reason: failure.reason,
                    retryAt: failure.code == "not_uploaded" ? 0 : retryAt(failure, attempts: 0)
                )
            }
        }
        return report
    }

    /// When a failed content is tried again: at the next sync after a passing failure (the network), later and
    /// later after a refusal (an hour, doubling per attempt up to a day), since the same answer is likely.
    private func retryAt(_ failure: BlobReport.Failure, attempts: Int) -> Int64 {
        if failure.code == "unreachable" || failure.code == "server_error" || failure.code == "storage_full" {
            return 0
        }
        let hours = min(24, 1 << min(attempts, 5))
        return now() + Int64(hours) * 3_600_000
    }

    static func failure(
        _ error: any Error,
        digest: String,
        direction: BlobReport.Failure.Direction,
        size: Int64
    ) -> BlobReport.Failure {
        if let error = error as? SyncClientError {
            return BlobReport.Failure(
                digest: digest,
                direction: direction,
                code: error.isTransient && error.status == nil ? "unreachable" : error.code.rawValue,
                reason: error.message,
                size: size
            )
        }
        if let error = error as? ReplicaError {
            return BlobReport.Failure(
                digest: digest,
                direction: direction,
                code: error.code.rawValue,
                reason: error.message,
                size: size
            )
        }
        return BlobReport.Failure(
            digest: digest,
            direction: direction,
            code: "failed",
            reason: String(describing: error),
            size: size
        )
    }

    /// Uploads one queued content from where the server is; true when the server stored it, false when the
    /// deadline came first (the progress is kept).
    @discardableResult
    public func upload(
        _ upload: QueuedUpload,
        until deadline: ContinuousClock.Instant = .now + .seconds(86_400),
        progress: Progress = { _, _, _ in }
    ) async throws -> Bool {
        let file = replica.blobURL(upload.digest)
        guard let handle = FileHandle(forReadingAtPath: file.path) else {
            throw ReplicaError(
                .notFound,
                "the file of this version is no longer on this laptop (\(file.path)); add the document again"
            )
        }
        defer { try? handle.close() }
        var status = try await transport.uploadStatus(upload.digest)
        let compress = !BlobExchange.isCompressed(upload.mediaType)
        var restarts = 0
        while !status.complete {
            if ContinuousClock.now >= deadline { return false }
            try handle.seek(toOffset: UInt64(status.received))
            let chunk = try handle.read(upToCount: chunkBytes) ?? Data()
            guard !chunk.isEmpty else {
                throw ReplicaError(.damaged, "the file of this version is shorter than its record says")
            }
            do {
                status = try await transport.uploadChunk(
                    upload.digest,
                    offset: status.received,
                    bytes: chunk,
                    compress: compress
                )
            } catch let error as SyncClientError where error.code.rawValue == "wrong_offset" && restarts < 3 {
                // Another laptop with the same content, or an answer lost on the way: ask where it stands.
                restarts += 1
                status = try await transport.uploadStatus(upload.digest)
                continue
            }
            try? await replica.uploadProgressed(upload.digest, sent: status.received)
            progress(upload.digest, status.received, status.size)
        }
        try await replica.uploadFinished(upload.digest)
        return true
    }

    /// Downloads one content into the blob folder (resuming a `.part` file), checks it against its digest and
    /// names it; true when it is here, false when the deadline came first.
    @discardableResult
    public func download(
        _ digest: String,
        size: Int64,
        until deadline: ContinuousClock.Instant = .now + .seconds(86_400),
        progress: Progress = { _, _, _ in }
    ) async throws -> Bool {
        if replica.hasBlob(digest) { return true }
        try FileManager.default.createDirectory(at: replica.blobFolder, withIntermediateDirectories: true)
        let partial = replica.partialBlobURL(digest)
        var have = replica.partialBlobSize(digest)
        if have > size {
            try? FileManager.default.removeItem(at: partial)
            have = 0
        }
        if !FileManager.default.fileExists(atPath: partial.path) {
            _ = FileManager.default.createFile(atPath: partial.path, contents: nil)
        }
        guard let handle = FileHandle(forWritingAtPath: partial.path) else {
            throw ReplicaError(.storage, "cannot write into \(replica.blobFolder.path)")
        }
        defer { try? handle.close() }
        let tooLong = SyncClientError(.badResponse, "the server sent a content of another size than its record's")
        // The digest is computed as the bytes are written (what a resumed download has already is read once).
        var hasher = SHA256()
        if have > 0 {
            let existing = try FileHandle(forReadingFrom: partial)
            defer { try? existing.close() }
            var left = have
            while left > 0, let data = try existing.read(upToCount: Int(min(left, 1 << 20))), !data.isEmpty {
                hasher.update(data: data)
                left -= Int64(data.count)
            }
        }
        if have == 0 && size <= Int64(chunkBytes) {
            // A small content in one answer (gzipped by the server when that helps).
            let data = try await transport.download(digest, from: 0, count: nil)
            guard data.count == Int(size) else { throw tooLong }
            hasher.update(data: data)
            do { try handle.write(contentsOf: data) } catch {
                throw Replica.fileError(error, "writing \(partial.path)")
            }
            have = size
            progress(digest, have, size)
        } else if have < size {
            // A large one streamed from where the part file ends, as it arrives. No fsync per piece: a piece lost
            // with the machine only shortens the part file, and whatever is in it is checked against the digest
            // before it counts; the whole is synced once, before it is named.
            try handle.seek(toOffset: UInt64(have))
            let fd = handle.fileDescriptor
            var reported = have
            try await transport.streamDownload(digest, from: have) { piece in
                guard have + Int64(piece.readableBytes) <= size else { throw tooLong }
                try piece.withUnsafeReadableBytes { bytes in
                    hasher.update(bufferPointer: bytes)
                    var offset = 0
                    while offset < bytes.count {
                        let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                        guard written > 0 else {
                            throw Replica.fileError(
                                POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO),
                                "writing \(partial.path)"
                            )
                        }
                        offset += written
                    }
                }
                have += Int64(piece.readableBytes)
                if have - reported >= 1 << 20 || have == size {
                    reported = have
                    progress(digest, have, size)
                }
                return ContinuousClock.now < deadline
            }
            if have < size {
                if ContinuousClock.now >= deadline { return false }
                throw SyncClientError(
                    .unreachable,
                    "the download was cut off at byte \(have) of \(size)",
                    isTransient: true
                )
            }
        }
        do { try handle.synchronize() } catch { throw Replica.fileError(error, "writing \(partial.path)") }
        let hashed = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        guard try replica.completeDownload(digest, size: size, hashed: hashed) else {
            throw SyncClientError(
                .badResponse,
                "the downloaded content does not hash to its digest: it was discarded and is fetched again next time"
            )
        }
        try await replica.downloadFinished(digest)
        return true
    }
}
