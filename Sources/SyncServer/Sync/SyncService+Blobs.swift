import Foundation
import NIOCore
import SyncProtocol

/// What the pushed document versions say of one content (``DocumentSpace/blob``, keyed by digest): its size, its
/// media type, and the accounts whose documents use it. Who may upload or download a content follows from those
/// accounts exactly as who may see a record follows from its account.
struct BlobReference: Codable, Sendable, Hashable {
    var size: Int64
    var mediaType: String?
    var accounts: [String]

    enum CodingKeys: String, CodingKey {
        case size, accounts
        case mediaType = "media_type"
    }
}

extension SyncService {
    /// The contents named by the document versions of an accepted push, remembered with the account of each (in
    /// the push's transaction, so a version the server holds always has its reference).
    static func recordBlobReferences(
        _ changes: [Change],
        results: [ChangeResult],
        _ transaction: any StorageWriteTransaction
    ) async throws {
        var found: [String: BlobReference] = [:]
        for (change, result) in zip(changes, results) where result.status == .accepted {
            guard change.entity == .documentVersion, case .create(let fields) = change.operation,
                let digest = fields["digest"]?.stringValue, let account = fields["account_id"]?.stringValue,
                case .integer(let size) = fields["size"] ?? .null
            else { continue }
            var reference = found[digest] ?? BlobReference(size: size, mediaType: nil, accounts: [])
            if reference.mediaType == nil { reference.mediaType = fields["media_type"]?.stringValue }
            if !reference.accounts.contains(account) { reference.accounts.append(account) }
            found[digest] = reference
        }
        guard !found.isEmpty else { return }
        let known = try await transaction.documents(DocumentSpace.blob, keys: Array(found.keys))
        var merged: [String: String] = [:]
        for (digest, new) in found {
            var reference = decodeDocument(BlobReference.self, known[digest]) ?? new
            for account in new.accounts where !reference.accounts.contains(account) {
                reference.accounts.append(account)
            }
            if reference.mediaType == nil { reference.mediaType = new.mediaType }
            merged[digest] = String(decoding: try JSONEncoder().encode(reference), as: UTF8.self)
        }
        try await transaction.saveDocuments(DocumentSpace.blob, merged)
    }

    /// The reference of a content `user` may see: one of its accounts is in the user's scope. A content nobody
    /// referenced and one of another territory get the same 404, so digests cannot be probed.
    func visibleBlob(_ digest: String, user: User) async throws -> BlobReference {
        guard ValueType.isDigest(digest) else {
            throw SyncServerError(.malformed, "a content is named by its SHA-256: 64 lower-case hexadecimal digits")
        }
        let notFound = SyncServerError(.notFound, "no such content in your territories")
        return try await storage.withReadTransaction { transaction in
            guard
                let reference = decodeDocument(
                    BlobReference.self,
                    try await transaction.documents(DocumentSpace.blob, keys: [digest])[digest]
                )
            else { throw notFound }
            if user.seesEverything { return reference }
            for account in reference.accounts
            where try await transaction.isVisible(account: RecordID(account), to: user) {
                return reference
            }
            throw notFound
        }
    }

    /// Where the upload of `digest` stands, for a user who may see it.
    func uploadStatus(_ digest: String, user: User, maxBytes: Int64) async throws -> BlobUploadStatus {
        let reference = try await visibleBlob(digest, user: user)
        try Self.checkSize(reference.size, maxBytes: maxBytes)
        if try await storage.blobs.storedSize(digest) != nil {
            return BlobUploadStatus(
                digest: digest,
                size: reference.size,
                received: reference.size,
                complete: true,
                maxBytes: maxBytes
            )
        }
        return BlobUploadStatus(
            digest: digest,
            size: reference.size,
            received: try await storage.blobs.received(digest),
            complete: false,
            maxBytes: maxBytes
        )
    }

    /// Appends one chunk (already checked against its own `Chunk-SHA256`) to the upload `status` describes (from
    /// ``uploadStatus(_:user:maxBytes:)``, which checked the user's scope) and, once all of the content is there,
    /// checks the whole against the digest and stores it.
    func uploadChunk(
        _ digest: String,
        offset: Int64,
        bytes: ByteBuffer,
        status before: BlobUploadStatus
    ) async throws -> BlobUploadStatus {
        var status = before
        if status.complete { return status }
        guard offset + Int64(bytes.readableBytes) <= status.size else {
            throw SyncServerError(
                .invalidValue,
                "this chunk ends at byte \(offset + Int64(bytes.readableBytes)) but the content is \(status.size) bytes"
            )
        }
        status.received = try await storage.blobs.append(digest, offset: offset, bytes: bytes)
        if status.received == status.size {
            guard try await storage.blobs.finish(digest, size: status.size) else {
                throw SyncServerError(
                    .digestMismatch,
                    "the uploaded content does not hash to \(digest): it was discarded; send it again from the start"
                )
            }
            status.complete = true
        }
        return status
    }

    static func checkSize(_ size: Int64, maxBytes: Int64) throws {
        guard size <= maxBytes else {
            throw SyncServerError(
                .tooLarge,
                "the content is \(ByteCount.describe(size)); this server takes documents up to "
                    + "\(ByteCount.describe(maxBytes)) (IT: serve --max-document-mb)"
            )
        }
    }
}
