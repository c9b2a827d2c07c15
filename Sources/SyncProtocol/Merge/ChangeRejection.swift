/// Why a change was not applied. Travels in push results, is kept in the replica's list of rejected changes,
/// and is shown to the rep.
///
/// The reason explains the rule and what to do; it never quotes field values.
public struct ChangeRejection: Error, Hashable, Sendable, Codable, CustomStringConvertible {
    /// A stable snake_case code. Unknown codes from a newer server decode as they are.
    public struct Code: Hashable, Sendable, Codable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(from decoder: any Decoder) throws {
            rawValue = try decoder.singleValueContainer().decode(String.self)
        }
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(rawValue)
        }
        public var description: String { rawValue }

        /// A replica wrote a field or entity that only the server (imports, admins) may write.
        public static let serverOwned = Code(rawValue: "server_owned")
        /// An update or delete of an append-only (immutable) record.
        public static let immutableRecord = Code(rawValue: "immutable_record")
        /// An append-only record with this ID already exists (made by another change).
        public static let duplicateRecord = Code(rawValue: "duplicate_record")
        /// The operation does not exist for this entity (a counter delta on an account…).
        public static let unsupportedOperation = Code(rawValue: "unsupported_operation")
        public static let unknownEntity = Code(rawValue: "unknown_entity")
        public static let unknownField = Code(rawValue: "unknown_field")
        /// A value of the wrong type, outside its enumeration, or otherwise malformed.
        public static let invalidValue = Code(rawValue: "invalid_value")
        /// A create without a required field.
        public static let missingField = Code(rawValue: "missing_field")
        /// The record is outside the writer's territories, or does not exist (the two get the same answer).
        public static let outOfScope = Code(rawValue: "out_of_scope")
        /// The change's timestamp is too far ahead of the server's clock.
        public static let clockSkew = Code(rawValue: "clock_skew")
        /// The replica skipped dots: earlier changes of this replica have not arrived. Retry in order.
        public static let sequenceGap = Code(rawValue: "sequence_gap")
        /// The change was made by another replica than the one pushing it, or by another user.
        public static let wrongAuthor = Code(rawValue: "wrong_author")
        /// The change's context claims to have seen changes to the record that the server never accepted.
        public static let contextAhead = Code(rawValue: "context_ahead")
        /// The server processed a different change under this dot: the replica reused a counter (it was restored
        /// from a backup or copied to another laptop).
        public static let dotReused = Code(rawValue: "dot_reused")
        /// Not processed: the server was restored from a backup and lacks a record this change needs, which its
        /// author's laptop re-sends when it syncs. The client keeps the change and sends it again at a later sync
        /// (like `sequence_gap`, the counter is not used).
        public static let awaitingRestore = Code(rawValue: "awaiting_restore")
        /// The user's role may not do this: a rep deleting an account, or a record someone else created or that
        /// carries data from accounting.
        public static let notPermitted = Code(rawValue: "not_permitted")
    }

    public var code: Code
    public var reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code): \(reason)" }
}
