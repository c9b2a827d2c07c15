import Crypto
public import Foundation
import GRDB
public import SyncProtocol

/// A content in the laptop's blob folder: its SHA-256 and size.
public struct BlobInfo: Sendable, Hashable {
    public var digest: String
    public var size: Int64

    public init(digest: String, size: Int64) {
        self.digest = digest
        self.size = size
    }
}

/// A content waiting to be uploaded (the `blob_upload` queue), and how far it got.
public struct QueuedUpload: Sendable, Hashable {
    public var digest: String
    public var size: Int64
    public var mediaType: String?
    /// Bytes the server confirmed it has.
    public var sent: Int64
    public var attempts: Int
    /// Why the last try failed (the server's message), nil before the first failure.
    public var lastError: String?
    /// When the next try is due (milliseconds since 1970); 0: at the next sync.
    public var nextTry: Int64

    public init(digest: String, size: Int64, mediaType: String?) {
        self.digest = digest
        self.size = size
        self.mediaType = mediaType
        sent = 0
        attempts = 0
        lastError = nil
        nextTry = 0
    }
}

/// A content the laptop has a version record of but not the bytes: its version and whether it is partly here.
public struct WantedBlob: Sendable, Hashable {
    public var digest: String
    public var size: Int64
    public var mediaType: String?
    public var documentID: RecordID
    /// Why the last download failed, if one did.
    public var lastError: String?
}

/// The documents' contents on the laptop: files named by digest in the blob folder beside the replica
/// (`replica.sqlite-blobs/`), written whole and checked before they get their name (a download or copy that was
/// cut off stays a `.part` file and resumes), and the upload and download queues in the replica.
extension Replica {
    /// The folder of the contents.
    public var blobFolder: URL { URL(fileURLWithPath: path + "-blobs", isDirectory: true) }

    /// Where the content `digest` is (or will be) on this laptop.
    public func blobURL(_ digest: String) -> URL { blobFolder.appendingPathComponent(digest) }

    /// Where an unfinished download of `digest` is kept.
    public func partialBlobURL(_ digest: String) -> URL { blobFolder.appendingPathComponent(digest + ".part") }

    /// Whether the content is complete on this laptop.
    public func hasBlob(_ digest: String) -> Bool { FileManager.default.fileExists(atPath: blobURL(digest).path) }

    /// Copies a file into the blob folder, hashing it on the way (a megabyte at a time); the copy gets its digest
    /// as its name only when complete. A content already here is not copied again.
    public func storeBlob(copying file: URL) throws -> BlobInfo {
        guard let input = FileHandle(forReadingAtPath: file.path) else {
            throw ReplicaError(.storage, "cannot read \(file.path)")
        }
        defer { try? input.close() }
        try FileManager.default.createDirectory(at: blobFolder, withIntermediateDirectories: true)
        let temporary = blobFolder.appendingPathComponent(".adding-\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil),
            let output = FileHandle(forWritingAtPath: temporary.path)
        else { throw ReplicaError(.storage, "cannot write into \(blobFolder.path)") }
        var hasher = SHA256()
        var size: Int64 = 0
        do {
            defer { try? output.close() }
            while let data = try input.read(upToCount: 1 << 20), !data.isEmpty {
                hasher.update(data: data)
                try output.write(contentsOf: data)
                size += Int64(data.count)
            }
            try output.synchronize()
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw Self.fileError(error, "copying \(file.path)")
        }
        let digest = Self.hex(hasher.finalize())
        if hasBlob(digest) {
            try? FileManager.default.removeItem(at: temporary)
        } else {
            try FileManager.default.moveItem(at: temporary, to: blobURL(digest))
        }
        return BlobInfo(digest: digest, size: size)
    }

    /// Makes `partialBlobURL(digest)` the content if it is `size` bytes hashing to `digest`; otherwise deletes it.
    /// `hashed`: the SHA-256 the caller computed of the bytes as it wrote them (the file is not read again).
    public func completeDownload(_ digest: String, size: Int64, hashed: String? = nil) throws -> Bool {
        let partial = partialBlobURL(digest)
        guard Self.fileSize(partial) == size, try hashed ?? Self.sha256(of: partial) == digest else {
            try? FileManager.default.removeItem(at: partial)
            return false
        }
        if hasBlob(digest) {
            try? FileManager.default.removeItem(at: partial)
        } else {
            try FileManager.default.moveItem(at: partial, to: blobURL(digest))
        }
        return true
    }

    static func fileSize(_ url: URL) -> Int64? {
        (try? FileManager.default.attributesOfItem(atPath: url.path))?[.size].flatMap { ($0 as? NSNumber)?.int64Value }
    }

    /// The bytes of an unfinished download that are here.
    public func partialBlobSize(_ digest: String) -> Int64 { Self.fileSize(partialBlobURL(digest)) ?? 0 }

    static func sha256(of url: URL) throws -> String {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var hasher = SHA256()
        while let data = try handle.read(upToCount: 1 << 20), !data.isEmpty { hasher.update(data: data) }
        return hex(hasher.finalize())
    }

    static func hex(_ digest: some Sequence<UInt8>) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }

    /// A file error as one readable line: a full disk as ``ReplicaError/Code/diskFull``.
    public static func fileError(_ error: any Error, _ doing: String) -> ReplicaError {
        let code = (error as NSError).code
        if code == NSFileWriteOutOfSpaceError || code == Int(ENOSPC) {
            return ReplicaError(.diskFull, "the disk is full: nothing of this was saved; free some space and try again")
        }
        return ReplicaError(.storage, "failed \(doing): \(error.localizedDescription)")
    }

    // MARK: - Writes with queued uploads

    /// Makes `edits` in one transaction and queues `uploads` in it too: a version record and the upload of its
    /// content are never one without the other.
    @discardableResult
    public func writeBatch(_ edits: [Edit], uploading uploads: [QueuedUpload]) async throws -> [StoredRecord] {
        let now = configuration.now
        return try await write { db, writer in
            let author = try Self.author(db)
            let records = try edits.map { edit in
                try Self.makeChange(db, &writer, replicaID: writer.replicaID, author: author, now: now, edit)
            }
            for upload in uploads {
                try db.execute(
                    sql: """
                        INSERT INTO blob_upload (digest, size, media_type, added_at) VALUES (?, ?, ?, ?)
                        ON CONFLICT (digest) DO NOTHING
                        """,
                    arguments: [upload.digest, upload.size, upload.mediaType, now()]
                )
            }
            return records
        }
    }

    // MARK: - The upload queue

    /// Queues again the upload of every content of a version this user added that is on this laptop: after the
    /// server was restored from a backup it may lack contents it had confirmed. An upload of a content the server
    /// has costs one status request (it answers `complete`). Returns how many were queued.
    @discardableResult
    public func requeueOwnContents() async throws -> Int {
        guard Self.hasDocuments else { return 0 }
        let now = configuration.now
        let rows: [(String, Int64, String?)] = try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT DISTINCT digest, size, media_type FROM document_version
                    WHERE author = ? AND digest NOT IN (SELECT digest FROM blob_upload)
                    """,
                arguments: [try Self.author(db)]
            ).map { ($0[0], $0[1], $0[2]) }
        }
        let here = rows.filter { hasBlob($0.0) }
        guard !here.isEmpty else { return 0 }
        try await write { db, _ in
            for (digest, size, mediaType) in here {
                try db.execute(
                    sql: """
                        INSERT INTO blob_upload (digest, size, media_type, added_at) VALUES (?, ?, ?, ?)
                        ON CONFLICT (digest) DO NOTHING
                        """,
                    arguments: [digest, size, mediaType, now()]
                )
            }
        }
        return here.count
    }

    /// Whether this build's replica has documents and the blob queues (a laptop speaking an older release's schema,
    /// in the schema-evolution tests, has neither).
    public static var hasDocuments: Bool { CRMSchema.profile.speaks("0.19") }

    /// Every queued upload, oldest first.
    public func queuedUploads() async throws -> [QueuedUpload] {
        guard Self.hasDocuments else { return [] }
        return try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT digest, size, media_type, sent, attempts, last_error, next_try FROM blob_upload
                    ORDER BY added_at, digest
                    """
            ).map { row in
                var upload = QueuedUpload(digest: row[0], size: row[1], mediaType: row[2])
                upload.sent = row[3]
                upload.attempts = row[4]
                upload.lastError = row[5]
                upload.nextTry = row[6]
                return upload
            }
        }
    }

    /// Remembers how far an upload got (what the server confirmed).
    public func uploadProgressed(_ digest: String, sent: Int64) async throws {
        try await write { db, _ in
            try db.execute(sql: "UPDATE blob_upload SET sent = ? WHERE digest = ?", arguments: [sent, digest])
        }
    }

    /// The server stored the content: it leaves the queue (the file stays, it is this laptop's copy).
    public func uploadFinished(_ digest: String) async throws {
        try await write { db, _ in
            try db.execute(sql: "DELETE FROM blob_upload WHERE digest = ?", arguments: [digest])
        }
    }

    /// An upload failed: why, and when to try again.
    public func uploadFailed(_ digest: String, reason: String, retryAt: Int64) async throws {
        try await write { db, _ in
            try db.execute(
                sql: """
                    UPDATE blob_upload SET attempts = attempts + 1, last_error = ?, next_try = ? WHERE digest = ?
                    """,
                arguments: [reason, retryAt, digest]
            )
        }
    }

    // MARK: - Downloads

    /// Contents of live document versions that are not on this laptop, the versions that name them, and any
    /// earlier download failure. `latestOnly`: only each document's shown version (its `current_version`, else
    /// its newest), of the customers worked with most recently first (their newest interaction or appointment),
    /// then the newest document first: the order prefetch fills its budget in.
    public func wantedBlobs(latestOnly: Bool) async throws -> [WantedBlob] {
        guard Self.hasDocuments else { return [] }
        let rows: [(String, Int64, String?, String, String?)] = try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    WITH shown AS (
                        SELECT d.id AS document_id, d.account_id,
                            COALESCE(
                                (SELECT v.id FROM document_version v WHERE v.id = d.current_version AND v._deleted = 0),
                                (SELECT v.id FROM document_version v WHERE v.document_id = d.id AND v._deleted = 0
                                 ORDER BY v.created_at DESC, v.id DESC LIMIT 1)
                            ) AS version_id
                        FROM document d WHERE d._deleted = 0
                    )
                    SELECT v.digest, v.size, v.media_type, v.document_id, b.last_error,
                        (SELECT MAX(a.occurred_at) FROM activity a WHERE a.account_id = v.account_id) AS worked
                    FROM document_version v
                    LEFT JOIN blob_download b ON b.digest = v.digest
                    WHERE v._deleted = 0 AND (? = 0 OR v.id IN (SELECT version_id FROM shown))
                    ORDER BY worked IS NULL, worked DESC, v.created_at DESC, v.id
                    """,
                arguments: [latestOnly ? 1 : 0]
            ).map { ($0[0], $0[1], $0[2], $0[3], $0[4]) }
        }
        var seen: Set<String> = []
        return rows.compactMap { digest, size, mediaType, document, lastError in
            guard seen.insert(digest).inserted, !hasBlob(digest) else { return nil }
            return WantedBlob(
                digest: digest,
                size: size,
                mediaType: mediaType,
                documentID: RecordID(document),
                lastError: lastError
            )
        }
    }

    /// A download failed: why, and when prefetch may try again.
    public func downloadFailed(_ digest: String, reason: String, retryAt: Int64) async throws {
        try await write { db, _ in
            try db.execute(
                sql: """
                    INSERT INTO blob_download (digest, attempts, last_error, next_try) VALUES (?, 1, ?, ?)
                    ON CONFLICT (digest) DO UPDATE SET attempts = attempts + 1, last_error = excluded.last_error,
                        next_try = excluded.next_try
                    """,
                arguments: [digest, reason, retryAt]
            )
        }
    }

    /// When a failed download may be tried again (0 when none failed).
    public func downloadRetryAt(_ digest: String) async throws -> Int64 {
        try await read { db in
            try Int64.fetchOne(db, sql: "SELECT next_try FROM blob_download WHERE digest = ?", arguments: [digest]) ?? 0
        }
    }

    /// The content arrived: no failure to remember.
    public func downloadFinished(_ digest: String) async throws {
        try await write { db, _ in
            try db.execute(sql: "DELETE FROM blob_download WHERE digest = ?", arguments: [digest])
        }
    }

    /// Deletes the files no live version of this replica names and no upload waits for (their records left the
    /// laptop with a territory move, or were never here), and `.part` files of contents nobody wants any more, so a
    /// customer that moved away leaves no document behind. Returns how many files went.
    @discardableResult
    public func pruneBlobs() async throws -> Int {
        guard Self.hasDocuments else { return 0 }
        let wanted: Set<String> = try await read { db in
            Set(
                try String.fetchAll(
                    db,
                    sql: "SELECT digest FROM document_version WHERE _deleted = 0 UNION SELECT digest FROM blob_upload"
                )
            )
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: blobFolder.path)) ?? []
        var removed = 0
        // A file `document add` has just copied in gets its version record a moment later (another process may be
        // adding it now): only files untouched for an hour go.
        let cutoff = Date(timeIntervalSinceNow: -3_600)
        for name in names {
            let digest = name.hasSuffix(".part") ? String(name.dropLast(5)) : name
            guard ValueType.isDigest(digest), !wanted.contains(digest) else { continue }
            let url = blobFolder.appendingPathComponent(name)
            let modified = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date
            guard let modified, modified < cutoff else { continue }
            try? FileManager.default.removeItem(at: url)
            removed += 1
        }
        return removed
    }

    /// The bytes of contents on this laptop (complete ones).
    public func blobBytesHere() -> Int64 {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: blobFolder.path)) ?? []
        return names.filter { ValueType.isDigest($0) }.reduce(0) {
            $0 + (Self.fileSize(blobFolder.appendingPathComponent($1)) ?? 0)
        }
    }

    // MARK: - Documents

    /// The versions of a document, oldest first (version 1 is the first).
    public func versions(ofDocument id: RecordID) async throws -> [StoredRecord] {
        try await read { db in
            try Self.records(
                db,
                .documentVersion,
                where: "document_id = ?",
                orderBy: "created_at, id",
                arguments: [id.rawValue]
            )
        }
    }

    /// Live documents of an account or a deal (or all), newest version first.
    public func documents(account: RecordID? = nil, deal: RecordID? = nil) async throws -> [StoredRecord] {
        try await read { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if let account {
                conditions.append("account_id = ?")
                arguments += [account.rawValue]
            }
            if let deal {
                conditions.append("deal_id = ?")
                arguments += [deal.rawValue]
            }
            return try Self.records(
                db,
                .document,
                where: conditions.isEmpty ? "1" : conditions.joined(separator: " AND "),
                orderBy: "title COLLATE NOCASE, id",
                arguments: arguments
            )
        }
    }
}
