/// Data that belongs to the server (catalog, invoices, an account's territory, owner and payment standing):
/// writes from replicas are rejected with a reason; server writes go to the wrapped rule.
public struct ServerOwned<Base: MergeRule>: MergeRule {
    public let base: Base
    /// What the data is, for the rejection reason ("product", "account.territory").
    public let subject: String

    public init(_ base: Base, subject: String) {
        self.base = base
        self.subject = subject
    }

    public func rejection(of input: Base.Input, authority: WriteAuthority) -> ChangeRejection? {
        if authority == .replica {
            return .serverOwned(subject)
        }
        return base.rejection(of: input, authority: authority)
    }

    public func apply(_ input: Base.Input, to state: inout Base.State) -> MergeStatus {
        base.apply(input, to: &state)
    }
}

extension ChangeRejection {
    /// The rejection of a replica's write to server-owned data named `subject`.
    public static func serverOwned(_ subject: String) -> ChangeRejection {
        ChangeRejection(.serverOwned, "\(subject) belongs to the server; it changes only through an import or an admin")
    }
}
