import GRDB
public import SyncProtocol

/// Who this replica syncs with, and how far it got.
public struct SyncInfo: Hashable, Sendable {
    public var replicaID: ReplicaID
    public var server: String?
    public var user: String?
    public var territories: [String]
    /// The user's role as the server last said (`rep`, `manager`, `admin`); nil before a server told it.
    public var role: String?
    /// The server's pull cursor after the last page applied.
    public var cursor: String?
    /// Milliseconds since 1970 of the last complete sync.
    public var lastSync: Int64?
    /// The next pull starts at the beginning of the server's log (kept with the cursor: the replica took a new ID
    /// and must now receive what the server holds under its old one, ``Replica/restamp(from:as:)``).
    public var pullFromStart = false
    /// IDs this replica used before its current one, oldest first.
    public var previousReplicaIDs: [ReplicaID] = []
}

extension Replica {
    public func syncInfo() async throws -> SyncInfo {
        try await read { db in
            var values: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT key, value FROM sync_state WHERE key NOT LIKE 'applied:%'") {
                values[row[0]] = row[1]
            }
            return SyncInfo(
                replicaID: ReplicaID(unchecked: values["replica_id"] ?? ""),
                server: values["server"],
                user: values["user"],
                territories: values["territories"].map { $0.split(separator: "\n").map(String.init) } ?? [],
                role: values["role"],
                cursor: values["cursor"],
                lastSync: values["last_sync"].flatMap { Int64($0) },
                pullFromStart: values["pull_from_start"] == "1",
                previousReplicaIDs: (values["previous_replica_ids"] ?? "").split(separator: "\n").map {
                    ReplicaID(unchecked: String($0))
                }
            )
        }
    }

    /// Registers the replica with a server and user (the CLI's `init`).
    public func register(server: String, user: String, territories: [String], role: String? = nil) async throws {
        var values = ["server": server, "user": user, "territories": territories.joined(separator: "\n")]
        if let role { values["role"] = role }
        try await setState(values)
    }

    /// Saves the pull cursor (after the page it follows has been applied); a pull from the start is then done.
    public func saveCursor(_ cursor: String) async throws {
        try await setState(["cursor": cursor, "pull_from_start": "0"])
    }

    /// Records the end of a complete sync.
    public func markSynced(at milliseconds: Int64) async throws {
        try await setState(["last_sync": String(milliseconds)])
    }

    func setState(_ values: [String: String]) async throws {
        try await write { db, _ in try Self.setState(db, values) }
    }
}
