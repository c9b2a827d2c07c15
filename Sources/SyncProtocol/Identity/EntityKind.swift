/// The name of an entity (a kind of record). Unknown names are kept as they are, so a replica can carry the
/// records of a newer server without understanding them.
public struct EntityKind: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: String

    public init(_ rawValue: String) {
        self.rawValue = rawValue
    }

    public static let account = EntityKind("account")
    public static let contact = EntityKind("contact")
    public static let activity = EntityKind("activity")
    public static let task = EntityKind("task")
    public static let deal = EntityKind("deal")
    public static let product = EntityKind("product")
    public static let stock = EntityKind("stock")
    public static let invoice = EntityKind("invoice")
    public static let appointment = EntityKind("appointment")
    public static let plan = EntityKind("plan")
    public static let stageNorm = EntityKind("stage_norm")
    public static let document = EntityKind("document")
    public static let documentVersion = EntityKind("document_version")

    public static func < (lhs: EntityKind, rhs: EntityKind) -> Bool {
        lhs.rawValue < rhs.rawValue  // ASCII only, so String order is byte order (and has a fast path)
    }

    public var description: String { rawValue }
}
