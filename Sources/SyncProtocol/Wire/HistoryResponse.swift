/// The answer to `GET /v1/history?account=ID`: every logged change of the account and what hangs off it (contacts,
/// activities, tasks, deals, invoices), in the server's log order. A laptop set up from the snapshot holds the
/// records' current states but not the changes that made them; this is how it shows who changed what before.
public struct HistoryResponse: Hashable, Sendable, Codable {
    public var protocolVersion: Int
    public var account: String
    public var changes: [Change]

    public init(protocolVersion: Int = WireVersion.current, account: String, changes: [Change]) {
        self.protocolVersion = protocolVersion
        self.account = account
        self.changes = changes
    }

    enum CodingKeys: String, CodingKey {
        case protocolVersion = "protocol_version"
        case account, changes
    }
}
