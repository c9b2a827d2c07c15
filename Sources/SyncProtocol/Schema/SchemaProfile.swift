#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which release's data model this process speaks.
///
/// Always the newest, except in the schema-evolution tests: `CRM_SCHEMA_RELEASE=0.16` (or `0.15`) in the
/// environment makes a process (a laptop) know only what that release knew, so today's code shows how an older
/// laptop treats the entities and fields added since (it keeps and passes on what it does not know, PROTOCOL.md
/// §6.4). The real previous release is exercised by `scripts/compat.sh`.
public struct SchemaProfile: Sendable, Hashable {
    /// The releases whose schema changed, oldest first.
    public static let releases = ["0.15", "0.16", "0.17", "0.18", "0.19"]

    /// Entities added by each release after the first.
    public static let addedEntities: [String: Set<String>] = [
        "0.16": ["appointment"],
        "0.17": ["plan", "stage_norm"],
        "0.19": ["document", "document_version"],
    ]

    /// Fields (`entity.field`) added by each release after the first.
    public static let addedFields: [String: Set<String>] = [
        "0.16": ["task.remind_at", "deal.owner", "deal.created_at", "deal.closed_at"],
        "0.17": [
            "deal.source", "activity.direction", "activity.part_number", "activity.quantity",
            "activity.unit_price", "activity.price_list", "activity.currency", "invoice.collection_status",
        ],
    ]

    /// The release this profile speaks, e.g. "0.17".
    public let release: String
    /// Its position in ``releases``.
    public let level: Int
    private let unknownEntities: Set<String>
    private let unknownFields: Set<String>

    public init(release: String) {
        let level = Self.releases.firstIndex(of: release) ?? Self.releases.count - 1
        self.release = Self.releases[level]
        self.level = level
        let later = Self.releases[(level + 1)...]
        unknownEntities = later.reduce(into: []) { $0.formUnion(Self.addedEntities[$1] ?? []) }
        unknownFields = later.reduce(into: []) { $0.formUnion(Self.addedFields[$1] ?? []) }
    }

    /// The newest, or the release `CRM_SCHEMA_RELEASE` names.
    public static let current: SchemaProfile = {
        guard let pointer = getenv("CRM_SCHEMA_RELEASE") else { return SchemaProfile(release: releases.last!) }
        return SchemaProfile(release: String(cString: pointer))
    }()

    public var isNewest: Bool { level == Self.releases.count - 1 }

    /// Whether this profile has release `release`'s schema (`speaks("0.16")`).
    public func speaks(_ release: String) -> Bool {
        (Self.releases.firstIndex(of: release) ?? Int.max) <= level
    }

    public var knowsAppointments: Bool { speaks("0.16") }

    public func knows(_ entity: EntityKind) -> Bool {
        unknownEntities.isEmpty || !unknownEntities.contains(entity.rawValue)
    }

    /// Whether a field of `entity` is known (`task.remind_at`).
    public func knows(field: String, of entity: EntityKind) -> Bool {
        unknownFields.isEmpty || !unknownFields.contains(entity.rawValue + "." + field)
    }
}
