import Crypto
import Foundation
import SyncProtocol

/// One entry of the audit log: who did what to which object, and when. Entries are append-only (the storage
/// refuses to update or delete them) and hash-chained: each entry's hash covers its content and the previous
/// entry's hash, so a changed, removed or inserted entry breaks the chain that ``AuditLog/verify(_:)`` walks.
///
/// An entry never holds a token or a customer's values: targets are user names, territories, record ids, file
/// digests and counts.
public struct AuditEntry: Sendable, Hashable, Encodable {
    public var seq: Int64
    /// Milliseconds since 1970.
    public var at: Int64
    /// `cli:USER` for the server's admin commands, the admin's user name over HTTP, `server` for pushes.
    public var actor: String
    public var action: String
    public var target: String
    /// Details as canonical JSON (an object of strings, keys sorted), exactly as hashed.
    public var detailJSON: String
    public var previousHash: String
    public var hash: String

    public init(
        seq: Int64,
        at: Int64,
        actor: String,
        action: String,
        target: String,
        detailJSON: String,
        previousHash: String,
        hash: String
    ) {
        self.seq = seq
        self.at = at
        self.actor = actor
        self.action = action
        self.target = target
        self.detailJSON = detailJSON
        self.previousHash = previousHash
        self.hash = hash
    }

    /// The details as a dictionary (empty when the stored text is not an object of strings).
    public var detail: [String: String] {
        (try? JSONDecoder().decode([String: String].self, from: Data(detailJSON.utf8))) ?? [:]
    }

    enum CodingKeys: String, CodingKey {
        case seq, at, actor, action, target, detail, hash
        case previousHash = "prev_hash"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(seq, forKey: .seq)
        try container.encode(ISO8601.format(millisecondsSince1970: at), forKey: .at)
        try container.encode(actor, forKey: .actor)
        try container.encode(action, forKey: .action)
        try container.encode(target, forKey: .target)
        try container.encode(detail, forKey: .detail)
        try container.encode(previousHash, forKey: .previousHash)
        try container.encode(hash, forKey: .hash)
    }

    /// The hash this entry's content should have: SHA-256 (lowercase hex) of the previous hash and the entry's
    /// fields, one per line.
    var expectedHash: String {
        let text = [previousHash, String(seq), String(at), actor, action, target, detailJSON].joined(separator: "\n")
        return SHA256.hash(data: Data(text.utf8)).hexString
    }
}

extension Sequence<UInt8> {
    /// The bytes as lowercase hexadecimal (digests, random ids).
    var hexString: String { map { String(format: "%02x", $0) }.joined() }
}

/// Writing and checking the audit log.
public enum AuditLog {
    /// The previous hash of the first entry.
    public static let genesis = String(repeating: "0", count: 64)

    /// Canonical JSON of an entry's details: keys sorted, no spaces.
    static func canonicalJSON(_ detail: [String: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(detail)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// What `audit verify` found.
    public struct Verification: Sendable {
        public var entries: Int64
        /// The last entry's hash: write it down elsewhere, and a later verify shows whether the log was rewritten.
        public var head: String
        /// The first entry that breaks the chain, with what is wrong; nil when the chain holds.
        public var broken: (seq: Int64, reason: String)?
    }

    /// Walks the whole log in order and checks each entry's sequence, link and hash.
    public static func verify(_ storage: any ChangeStorage) async throws -> Verification {
        try await storage.withReadTransaction { transaction in
            var previous = genesis
            var expectedSeq: Int64 = 1
            var after: Int64 = 0
            while true {
                let page = try await transaction.audit(after: after, limit: 1000)
                if page.isEmpty { break }
                for entry in page {
                    if entry.seq != expectedSeq {
                        return Verification(
                            entries: expectedSeq - 1,
                            head: previous,
                            broken: (expectedSeq, "entry \(expectedSeq) is missing (the next one is \(entry.seq))")
                        )
                    }
                    if entry.previousHash != previous {
                        return Verification(
                            entries: entry.seq - 1,
                            head: previous,
                            broken: (entry.seq, "entry \(entry.seq) does not link to entry \(entry.seq - 1)")
                        )
                    }
                    if entry.expectedHash != entry.hash {
                        return Verification(
                            entries: entry.seq - 1,
                            head: previous,
                            broken: (entry.seq, "entry \(entry.seq) was changed after it was written")
                        )
                    }
                    previous = entry.hash
                    expectedSeq += 1
                }
                after = page[page.count - 1].seq
            }
            return Verification(entries: expectedSeq - 1, head: previous, broken: nil)
        }
    }
}

extension StorageWriteTransaction {
    /// Appends one entry to the audit log, chained to the last one, in this transaction.
    public func audit(
        actor: String,
        action: String,
        target: String,
        detail: [String: String] = [:],
        at now: Int64
    )
        async throws
    {
        let last = try await latestAudit(limit: 1).first
        let seq = (last?.seq ?? 0) + 1
        let previous = last?.hash ?? AuditLog.genesis
        var entry = AuditEntry(
            seq: seq,
            at: now,
            actor: actor,
            action: action,
            target: target,
            detailJSON: AuditLog.canonicalJSON(detail),
            previousHash: previous,
            hash: ""
        )
        entry.hash = entry.expectedHash
        try await appendAudit(entry)
    }
}
