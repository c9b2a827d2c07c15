import Foundation
import GRDB
public import SyncProtocol

/// The embedded default: one SQLite file (WAL, synchronous=FULL so an acknowledged change survives a power cut).
public final class SQLiteChangeStorage: ChangeStorage {
    let pool: DatabasePool

    public init(path: String) throws {
        var configuration = Configuration()
        configuration.label = "crm-sync.storage"
        configuration.busyMode = .timeout(10)
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            try Self.migrator.migrate(pool)
        } catch {
            throw SyncServerError(.unavailable, "cannot open the database at \(path): \(error)")
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: users, replicas, change log, records") { db in
            try db.execute(
                sql: """
                    CREATE TABLE user (
                        name TEXT PRIMARY KEY NOT NULL,
                        role TEXT NOT NULL,
                        territories TEXT NOT NULL,
                        token_hash TEXT NOT NULL UNIQUE,
                        revoked INTEGER NOT NULL DEFAULT 0
                    );
                    CREATE TABLE replica (
                        id TEXT PRIMARY KEY NOT NULL,
                        user_name TEXT NOT NULL REFERENCES user (name),
                        last_counter INTEGER NOT NULL,
                        last_seen INTEGER NOT NULL
                    );
                    CREATE TABLE push_result (
                        replica TEXT NOT NULL,
                        counter INTEGER NOT NULL,
                        result TEXT NOT NULL,
                        PRIMARY KEY (replica, counter)
                    ) WITHOUT ROWID;
                    CREATE TABLE change_log (
                        seq INTEGER PRIMARY KEY,
                        replica TEXT NOT NULL,
                        counter INTEGER NOT NULL,
                        entity TEXT NOT NULL,
                        record_id TEXT NOT NULL,
                        account_scope TEXT,
                        owner TEXT,
                        change BLOB NOT NULL,
                        UNIQUE (replica, counter)
                    );
                    CREATE INDEX change_log_account ON change_log (account_scope, seq);
                    CREATE TABLE record (
                        entity TEXT NOT NULL,
                        id TEXT NOT NULL,
                        territory TEXT,
                        scope_account TEXT,
                        owner TEXT,
                        has_conflicts INTEGER NOT NULL DEFAULT 0,
                        state BLOB NOT NULL,
                        PRIMARY KEY (entity, id)
                    ) WITHOUT ROWID;
                    CREATE INDEX record_account_territory ON record (territory) WHERE entity = 'account';
                    CREATE INDEX record_scope ON record (scope_account);
                    -- Accounts moved between territories, at the log position of the move.
                    CREATE TABLE scope_move (
                        seq INTEGER PRIMARY KEY REFERENCES change_log (seq),
                        account_id TEXT NOT NULL,
                        old_territory TEXT,
                        new_territory TEXT NOT NULL
                    );
                    """
            )
        }
        return migrator
    }

    // MARK: - Users

    public func addUser(_ user: User, tokenHash: String) async throws {
        try await write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM user WHERE name = ?", arguments: [user.name]) == true {
                throw SyncServerError(.conflict, "a user named \(user.name) already exists")
            }
            try db.execute(
                sql: "INSERT INTO user (name, role, territories, token_hash) VALUES (?, ?, ?, ?)",
                arguments: [user.name, user.role.rawValue, user.territories.joined(separator: "\n"), tokenHash]
            )
        }
    }

    public func user(tokenHash: String) async throws -> User? {
        try await read { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: "SELECT name, role, territories, revoked, token_hash FROM user WHERE token_hash = ?",
                    arguments: [tokenHash]
                ), Tokens.constantTimeEquals(row[4], tokenHash)
            else { return nil }
            return Self.user(from: row)
        }
    }

    public func users() async throws -> [User] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT name, role, territories, revoked FROM user ORDER BY name").map(
                Self.user(from:)
            )
        }
    }

    static func user(from row: Row) -> User {
        let territories: String = row[2]
        return User(
            name: row[0],
            role: Role(rawValue: row[1]) ?? .rep,
            territories: territories.isEmpty ? [] : territories.split(separator: "\n").map(String.init),
            isRevoked: (row[3] as Int64) != 0
        )
    }

    public func revokeUser(named name: String) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE user SET revoked = 1 WHERE name = ?", arguments: [name])
            if db.changesCount == 0 { throw SyncServerError(.notFound, "no user named \(name)") }
        }
    }

    public func setToken(named name: String, tokenHash: String) async throws {
        try await write { db in
            try db.execute(
                sql: "UPDATE user SET token_hash = ?, revoked = 0 WHERE name = ?",
                arguments: [tokenHash, name]
            )
            if db.changesCount == 0 { throw SyncServerError(.notFound, "no user named \(name)") }
        }
    }

    // MARK: - Push

    public func push(
        _ changes: [Change],
        replica: ReplicaID,
        user: User,
        now: Int64,
        maxClockAhead: Int64
    ) async throws -> PushSummary {
        let processor = PushProcessor(user: user, replicaID: replica, now: now, maxClockAhead: maxClockAhead)
        return try await write { db in
            let row = try Row.fetchOne(
                db,
                sql: "SELECT user_name, last_counter FROM replica WHERE id = ?",
                arguments: [replica.rawValue]
            )
            if let owner: String = row?[0], owner != user.name {
                let rejection = ChangeRejection(.wrongAuthor, "this replica belongs to another user")
                return PushSummary(results: changes.map { .rejected($0.dot, rejection) }, conflicts: 0)
            }
            let lastCounter = UInt64(row?[1] as Int64? ?? 0)
            var previous: [UInt64: ChangeResult] = [:]
            for change in changes where change.dot.counter <= lastCounter && change.dot.replica == replica {
                if let text = try String.fetchOne(
                    db.cachedStatement(sql: "SELECT result FROM push_result WHERE replica = ? AND counter = ?"),
                    arguments: [replica.rawValue, Int64(change.dot.counter)]
                ) {
                    previous[change.dot.counter] = try WireCoding.decode(ChangeResult.self, from: Data(text.utf8))
                }
            }
            let states = try Self.loadStates(db, for: changes)
            let outcome = processor.process(
                changes,
                loaded: PushProcessor.Loaded(lastCounter: lastCounter, previousResults: previous, states: states)
            )
            for (_, state) in outcome.states { try Self.save(db, state) }
            for entry in outcome.log { try Self.append(db, entry.change, scope: entry.scope) }
            for (counter, result) in outcome.newResults {
                try db.cachedStatement(
                    sql: "INSERT OR REPLACE INTO push_result (replica, counter, result) VALUES (?, ?, ?)"
                )
                .execute(arguments: [
                    replica.rawValue, Int64(counter), String(decoding: try WireCoding.encode(result), as: UTF8.self),
                ])
            }
            try db.execute(
                sql: """
                    INSERT INTO replica (id, user_name, last_counter, last_seen) VALUES (?, ?, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET last_counter = excluded.last_counter, last_seen = excluded.last_seen
                    """,
                arguments: [replica.rawValue, user.name, Int64(outcome.lastCounter), now]
            )
            return PushSummary(results: outcome.results, conflicts: outcome.conflicts)
        }
    }

    /// The states of the batch's records, and of the accounts their changes or states point to.
    static func loadStates(_ db: Database, for changes: [Change]) throws -> [RecordKey: RecordState] {
        var states: [RecordKey: RecordState] = [:]
        func load(_ key: RecordKey) throws {
            guard states[key] == nil, let state = try loadState(db, key) else { return }
            states[key] = state
        }
        for change in changes { try load(RecordKey(entity: change.entity, id: change.recordID)) }
        for account in PushProcessor.referencedAccounts(changes, states: states) { try load(account) }
        return states
    }

    static func save(_ db: Database, _ state: RecordState) throws {
        let row = RecordRow(state)
        try db.cachedStatement(
            sql: """
                INSERT INTO record (entity, id, territory, scope_account, owner, has_conflicts, state)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (entity, id) DO UPDATE SET territory = excluded.territory,
                    scope_account = excluded.scope_account, owner = excluded.owner,
                    has_conflicts = excluded.has_conflicts, state = excluded.state
                """
        ).execute(arguments: [
            state.entity.rawValue, state.id.rawValue, row.territory, row.scope.account?.rawValue, row.scope.owner,
            row.hasConflicts ? 1 : 0, Data(state.binaryEncoded),
        ])
    }

    static func append(_ db: Database, _ change: Change, scope: ScopeTag) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO change_log (replica, counter, entity, record_id, account_scope, owner, change)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            change.dot.replica.rawValue, Int64(change.dot.counter), change.entity.rawValue, change.recordID.rawValue,
            scope.account?.rawValue, scope.owner, Data(change.binaryEncoded),
        ])
    }

    // MARK: - Pull

    /// The SQL condition for what a user may see, on rows with an account column (`scope`) and an `owner` column.
    /// Arguments: sees-everything flag, user name, territories as a JSON array.
    static func visibleToUser(scope: String) -> String {
        """
        ? OR (\(scope) IS NULL AND owner IS NULL) OR owner = ?
        OR \(scope) IN (
            SELECT id FROM record WHERE entity = 'account' AND territory IN (SELECT value FROM json_each(?))
        )
        """
    }

    public func pull(user: User, replica: ReplicaID, after cursor: Int64, limit: Int) async throws -> PullPage {
        try await read { db in
            let territories = String(decoding: try WireCoding.encode(user.territories), as: UTF8.self)
            let rows = try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT seq, change FROM change_log
                        WHERE seq > ? AND replica != ? AND (\(Self.visibleToUser(scope: "account_scope")))
                        ORDER BY seq LIMIT ?
                        """
                ),
                arguments: [cursor, replica.rawValue, user.seesEverything, user.name, territories, limit + 1]
            )
            let page = rows.prefix(limit)
            var changes = try page.map { try Change(binary: [UInt8]($0[1] as Data)) }
            let hasMore = rows.count > limit
            let next: Int64
            if let last = page.last, hasMore {
                next = last[0]
            } else {
                // Nothing more in scope: continue after everything logged so far.
                next = max(cursor, try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM change_log") ?? 0)
            }
            // Accounts that moved in this page's range: a rep they join gets their history up to the cursor (the
            // rest is in the page), a rep they leave gets notices to drop them and what hangs off them.
            var history: [Change] = []
            var removed: [ScopeNotice] = []
            let check = ScopeCheck(user: user)
            for move in try Row.fetchAll(
                db,
                sql:
                    "SELECT account_id, old_territory, new_territory FROM scope_move WHERE seq > ? AND seq <= ? ORDER BY seq",
                arguments: [cursor, next]
            ) {
                let account: String = move[0]
                let (sawBefore, seesNow) = (check.canSee(territory: move[1]), check.canSee(territory: move[2]))
                if seesNow, !sawBefore {
                    history += try Data.fetchAll(
                        db,
                        sql:
                            "SELECT change FROM change_log WHERE account_scope = ? AND seq <= ? AND replica != ? ORDER BY seq",
                        arguments: [account, cursor, replica.rawValue]
                    ).map { try Change(binary: [UInt8]($0)) }
                } else if sawBefore, !seesNow {
                    removed += try Row.fetchAll(
                        db,
                        sql:
                            "SELECT entity, id FROM record WHERE scope_account = ? ORDER BY entity = 'account', entity, id",
                        arguments: [account]
                    ).map { ScopeNotice(entity: EntityKind($0[0]), recordID: RecordID($0[1])) }
                }
            }
            changes = history + changes
            return PullPage(changes: changes, removed: removed, cursor: next, hasMore: hasMore)
        }
    }

    // MARK: - Snapshot

    public func snapshot(user: User, after: String?, limit: Int) async throws -> SnapshotPage {
        try await read { db in
            let territories = String(decoding: try WireCoding.encode(user.territories), as: UTF8.self)
            var afterEntity = ""
            var afterID = ""
            if let after, let separator = after.firstIndex(of: "/") {
                afterEntity = String(after[..<separator])
                afterID = String(after[after.index(after: separator)...])
            }
            let rows = try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT entity, id, state FROM record
                        WHERE (entity, id) > (?, ?) AND (\(Self.visibleToUser(scope: "scope_account")))
                        ORDER BY entity, id LIMIT ?
                        """
                ),
                arguments: [afterEntity, afterID, user.seesEverything, user.name, territories, limit + 1]
            )
            let page = rows.prefix(limit)
            let states = try page.map { try RecordState(binary: [UInt8]($0[2] as Data)) }
            let cursor = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM change_log") ?? 0
            let next = page.last.map { "\($0[0] as String)/\($0[1] as String)" }
            return SnapshotPage(records: states, cursor: cursor, next: rows.count > limit ? next : nil)
        }
    }

    // MARK: - Admin

    public func assignTerritory(account: RecordID, territory: String, now: Int64) async throws {
        try await write { db in
            let key = RecordKey(entity: .account, id: account)
            guard
                let blob = try Data.fetchOne(
                    db,
                    sql: "SELECT state FROM record WHERE entity = 'account' AND id = ?",
                    arguments: [account.rawValue]
                )
            else { throw SyncServerError(.notFound, "no account with id \(account)") }
            var state = try RecordState(binary: [UInt8](blob))
            let counter = try Self.serverCounter(db) + 1
            var clock = HybridClock()
            let change = Change(
                dot: Dot(replica: .server, counter: counter),
                context: state.clock,
                timestamp: clock.send(now: now),
                author: "admin",
                entity: .account,
                recordID: account,
                operation: .set(["territory": .string(territory)])
            )
            let oldTerritory = state.values(schema: CRMSchema.account)["territory"]?.stringValue
            _ = state.apply(change, schema: CRMSchema.account, authority: .server)
            try Self.save(db, state)
            try Self.append(db, change, scope: ScopeTag(account: key.id, owner: nil))
            try db.execute(
                sql: "INSERT INTO scope_move (seq, account_id, old_territory, new_territory) VALUES (?, ?, ?, ?)",
                arguments: [db.lastInsertedRowID, account.rawValue, oldTerritory, territory]
            )
        }
    }

    public func importRows(_ kind: ImportKind, rows: [ImportRow], now: Int64) async throws -> ImportReport {
        try await write { db in
            var report = ImportReport()
            var planner = ImportPlanner(counter: try Self.serverCounter(db), clock: HybridClock(), now: now)
            for row in rows {
                let state = try row.id.flatMap { try Self.loadState(db, RecordKey(entity: kind.entity, id: $0)) }
                let step = planner.step(row, kind: kind, current: state)
                report.count(step)
                guard case .write(let record, let changes, _) = step else { continue }
                try Self.save(db, record)
                let scope = ScopeTag.of(record, schema: CRMSchema.schema(for: kind.entity))
                for change in changes { try Self.append(db, change, scope: scope) }
            }
            return report
        }
    }

    static func serverCounter(_ db: Database) throws -> UInt64 {
        UInt64(try Int64.fetchOne(db, sql: "SELECT MAX(counter) FROM change_log WHERE replica = 'server'") ?? 0)
    }

    static func loadState(_ db: Database, _ key: RecordKey) throws -> RecordState? {
        try Data.fetchOne(
            db.cachedStatement(sql: "SELECT state FROM record WHERE entity = ? AND id = ?"),
            arguments: [key.entity.rawValue, key.id.rawValue]
        ).map { try RecordState(binary: [UInt8]($0)) }
    }

    public func stats() async throws -> ServerStats {
        try await read { db in
            ServerStats(
                users: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM user") ?? 0,
                replicas: try Row.fetchAll(
                    db,
                    sql: "SELECT id, user_name, last_seen, last_counter FROM replica ORDER BY id"
                ).map {
                    ServerStats.ReplicaInfo(
                        replica: $0[0],
                        user: $0[1],
                        lastSeen: ISO8601.format(millisecondsSince1970: $0[2]),
                        lastCounter: $0[3]
                    )
                },
                changes: try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM change_log") ?? 0,
                records: try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM record") ?? 0,
                recordsWithOpenConflicts: try Int64.fetchOne(
                    db,
                    sql: "SELECT COUNT(*) FROM record WHERE has_conflicts = 1"
                ) ?? 0
            )
        }
    }

    public func backup(to path: String) async throws {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw SyncServerError(.conflict, "\(path) exists; back up to a new file")
        }
        do {
            let destination = try DatabaseQueue(path: path)
            // SQLite's online backup from a read transaction: a consistent snapshot while writes go on.
            try pool.backup(to: destination)
            try destination.close()
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            throw SyncServerError(.unavailable, "the backup to \(path) failed: \(error)")
        }
    }

    // MARK: - Plumbing

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do { return try await pool.write(body) } catch { throw Self.wrap(error) }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do { return try await pool.read(body) } catch { throw Self.wrap(error) }
    }

    static func wrap(_ error: any Error) -> any Error {
        if error is SyncServerError { return error }
        if let error = error as? DatabaseError {
            return SyncServerError(.unavailable, "storage error \(error.resultCode.rawValue)")
        }
        return error
    }
}
