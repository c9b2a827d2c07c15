#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which release's data model this process speaks.
///
/// Always the newest, except in the schema-evolution tests: `CRM_SCHEMA_RELEASE=0.15` in the environment makes a
/// process (a laptop) know only what release 0.15 knew, so today's code shows how an older laptop treats the
/// entities and fields added since (it keeps and passes on what it does not know, PROTOCOL.md §6.3). The real
/// previous release is exercised by `scripts/compat.sh`.
public struct SchemaProfile: Sendable, Hashable {
    /// Entities and fields added in 0.16.
    public static let added016Entities: Set<String> = ["appointment"]
    public static let added016Fields: Set<String> = [
        "task.remind_at", "deal.owner", "deal.created_at", "deal.closed_at",
    ]

    /// The release this profile speaks, e.g. "0.16".
    public let release: String
    public let knowsAppointments: Bool
    private let unknownFields: Set<String>

    public init(release: String) {
        self.release = release
        let older = release == "0.15"
        knowsAppointments = !older
        unknownFields = older ? Self.added016Fields : []
    }

    /// The newest, or the release `CRM_SCHEMA_RELEASE` names.
    public static let current: SchemaProfile = {
        guard let pointer = getenv("CRM_SCHEMA_RELEASE") else { return SchemaProfile(release: "0.16") }
        return SchemaProfile(release: String(cString: pointer))
    }()

    public var isNewest: Bool { knowsAppointments }

    public func knows(_ entity: EntityKind) -> Bool {
        knowsAppointments || !Self.added016Entities.contains(entity.rawValue)
    }

    /// Whether a field of `entity` is known (`task.remind_at`).
    public func knows(field: String, of entity: EntityKind) -> Bool {
        unknownFields.isEmpty || !unknownFields.contains(entity.rawValue + "." + field)
    }
}
