/// Immutable records (activities: calls, meetings, visits, emails, notes): created once by an `append`, never
/// updated, never deleted, never in conflict.
///
/// An update or delete is rejected with a reason. Two different appends with the same record ID (which offline
/// ID generation makes practically impossible) are decided deterministically: the earlier one in last-writer-wins
/// order stays and the other is superseded. (The server refuses such a push up front with `duplicate_record`, so
/// its author hears of it.)
///
/// Laws: order-independent for the kept record and idempotent.
public struct AppendOnly: MergeRule {
    public init() {}

    /// The record as appended.
    public struct Record: Hashable, Sendable, Codable {
        public var fields: [String: FieldValue]
        public var dot: Dot
        public var timestamp: HybridTimestamp
        public var author: String

        enum CodingKeys: String, CodingKey {
            case fields, dot, author
            case timestamp = "hlc"
        }
    }

    public func rejection(of input: Change, authority: WriteAuthority) -> ChangeRejection? {
        switch input.operation {
        case .append:
            return nil
        case .set, .delete, .counterDelta, .counterReset:
            return ChangeRejection(
                .immutableRecord,
                "\(input.entity) records are append-only: never updated or deleted"
            )
        case .create:
            return ChangeRejection(
                .unsupportedOperation,
                "\(input.entity) records are made with 'append', not 'create'"
            )
        }
    }

    public func apply(_ input: Change, to state: inout Record?) -> MergeStatus {
        let record = Record(
            fields: input.operation.fields,
            dot: input.dot,
            timestamp: input.timestamp,
            author: input.author
        )
        guard let existing = state else {
            state = record
            return .applied
        }
        if existing.dot == record.dot { return .duplicate }
        if (record.timestamp, record.dot) < (existing.timestamp, existing.dot) {
            state = record
            return .applied
        }
        return .superseded
    }
}
