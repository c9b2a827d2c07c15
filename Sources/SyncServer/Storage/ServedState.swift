import Foundation
import SyncProtocol

/// What a SQLite server has served, kept beside its database (`DB.served`): the log's identity and the last position
/// it handed out. A database file copied back from a backup by hand is then caught when the server starts: its log
/// has the same identity but ends before what laptops already hold, and serving it would issue those positions and
/// counters again for other changes. `crm-sync-server restore` makes such a database safe (PROTOCOL.md §9,
/// "Restores").
///
/// The file is written when the server starts, every few seconds while the log grows, and when it stops; a restore
/// to a point within the last interval before a crash is caught by the laptops instead (a cursor beyond the log's
/// end, ``SyncService/pull(user:replica:cursor:limit:now:)``). PostgreSQL has no such file (several servers share
/// one database): after `pg_restore`, IT runs `crm-sync-server restore --db URL`.
public struct ServedState: Codable, Sendable, Hashable {
    public var logID: String
    public var end: Int64

    enum CodingKeys: String, CodingKey {
        case logID = "log_id"
        case end
    }

    public init(logID: String, end: Int64) {
        self.logID = logID
        self.end = end
    }

    /// The status file of a database file.
    public static func path(forDatabase database: String) -> String { database + ".served" }

    public static func read(forDatabase database: String) -> ServedState? {
        guard let data = FileManager.default.contents(atPath: path(forDatabase: database)) else { return nil }
        return try? JSONDecoder().decode(ServedState.self, from: data)
    }

    /// Writes the file atomically (a new file renamed over the old one).
    public func write(forDatabase database: String) throws {
        let data = try WireCoding.encode(self)
        try Data(data).write(to: URL(fileURLWithPath: Self.path(forDatabase: database)), options: .atomic)
    }

    /// Refuses a database that is behind what this server served under the same log identity.
    public static func check(database: String, service: SyncService) async throws {
        guard let served = read(forDatabase: database) else { return }
        let now = try await service.logPosition()
        guard served.logID == now.logID, now.end < served.end else { return }
        throw SyncServerError(
            .conflict,
            "the database \(database) is behind what this server has served (its log ends at \(now.end), laptops "
                + "may hold up to \(served.end)): it was copied back from a backup by hand. Serving it as it is would "
                + "hand out positions and counters laptops already hold for other changes. Run "
                + "`crm-sync-server restore --db \(database)` to make it safe (laptops then re-send what it lacks), "
                + "then serve again"
        )
    }
}
