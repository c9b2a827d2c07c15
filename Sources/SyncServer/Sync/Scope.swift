public import SyncProtocol

/// Where a record lives for access checks and pull filtering: the account it belongs to (an account belongs to
/// itself), or its private owner (an account-less task), or nobody (catalog and stock: everyone sees them).
public struct ScopeTag: Hashable, Sendable {
    public var account: RecordID?
    public var owner: String?

    public static let everyone = ScopeTag(account: nil, owner: nil)

    public init(account: RecordID?, owner: String?) {
        self.account = account
        self.owner = owner
    }

    /// The tag of a record in `state` (after its change), following the entity's scope rule.
    static func of(_ state: RecordState, schema: EntitySchema) -> ScopeTag {
        switch schema.scope {
        case .everyone:
            return .everyone
        case .territory:
            return ScopeTag(account: state.id, owner: nil)
        case .account(let field):
            if let account = state.values(schema: schema)[field]?.stringValue {
                return ScopeTag(account: RecordID(account), owner: nil)
            }
            return ScopeTag(account: nil, owner: state.created?.author ?? "")
        }
    }
}

/// Decides whether a user may see or write a record.
struct ScopeCheck {
    let user: User

    /// The answer for a foreign record and for an unknown one is the same, so IDs cannot be probed.
    static let notVisible = ChangeRejection(.outOfScope, "no such record in your territories")

    func canSee(territory: String?) -> Bool {
        user.seesEverything || territory.map { user.territories.contains($0) } ?? false
    }
}
