import GRDB
public import SyncProtocol

/// Who this replica syncs with, and how far it got.
public struct SyncInfo: Hashable, Sendable {
    public var replicaID: ReplicaID
    public var server: String?
    public var user: String?
    public var territories: [String]
    /// The server's pull cursor after the last page applied.
    public var cursor: String?
    /// Milliseconds since 1970 of the last complete sync.
    public var lastSync: Int64?
}

extension Replica {
    public func syncInfo() async throws -> SyncInfo {
        let replicaID = replicaID
        return try await read { db in
            var values: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT key, value FROM sync_state WHERE key NOT LIKE 'applied:%'") {
                values[row[0]] = row[1]
            }
            return SyncInfo(
                replicaID: replicaID,
                server: values["server"],
                user: values["user"],
                territories: values["territories"].map { $0.split(separator: "\n").map(String.init) } ?? [],
                cursor: values["cursor"],
                lastSync: values["last_sync"].flatMap { Int64($0) }
            )
        }
    }

    /// Registers the replica with a server and user (the CLI's `init`).
    public func register(server: String, user: String, territories: [String]) async throws {
        try await setState(["server": server, "user": user, "territories": territories.joined(separator: "\n")])
    }

    /// Saves the pull cursor (after the page it follows has been applied).
    public func saveCursor(_ cursor: String) async throws {
        try await setState(["cursor": cursor])
    }

    /// Records the end of a complete sync.
    public func markSynced(at milliseconds: Int64) async throws {
        try await setState(["last_sync": String(milliseconds)])
    }

    func setState(_ values: [String: String]) async throws {
        try await write { db, _ in
            for (key, value) in values {
                try db.execute(
                    sql:
                        "INSERT INTO sync_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    arguments: [key, value]
                )
            }
        }
    }
}
