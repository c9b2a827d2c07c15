public import Foundation
import GRDB
import SyncProtocol

/// The embedded default: one SQLite file (WAL, synchronous=FULL so an acknowledged change survives a power cut).
///
/// A write transaction is `BEGIN IMMEDIATE` … `COMMIT` on the pool's writer connection, held by this process for
/// the whole transaction (an ``AsyncMutex``; other processes on the same file wait on SQLite's lock). A read
/// transaction is a GRDB `DatabaseSnapshot`: its own connection in one deferred read transaction.
public final class SQLiteChangeStorage: ChangeStorage {
    let pool: DatabasePool
    private let writer = AsyncMutex()
    /// The documents' contents: files in `blobFolder` (default: beside the database, `NAME-blobs/`).
    public let blobs: any BlobStore

    public init(path: String, blobFolder: URL? = nil) throws {
        blobs = FileBlobStore(folder: blobFolder ?? FileBlobStore.folder(besideDatabase: path))
        var configuration = Configuration()
        configuration.label = "crm-sync.storage"
        configuration.busyMode = .timeout(10)
        // A write transaction spans several accesses to the writer connection (see withWriteTransaction).
        configuration.allowsUnsafeTransactions = true
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
        migrator.registerMigration("v2: the log keeps each change's wire JSON, push results are binary") { db in
            // change_log.change was the binary form; push_result.result was JSON text. Rewritten in place.
            let changes = try Row.fetchAll(db, sql: "SELECT seq, change FROM change_log")
            for row in changes {
                let change = try Change(binary: [UInt8](row[1] as Data))
                try db.execute(
                    sql: "UPDATE change_log SET change = ? WHERE seq = ?",
                    arguments: [try WireCoding.encode(change), row[0] as Int64]
                )
            }
            let results = try Row.fetchAll(db, sql: "SELECT replica, counter, result FROM push_result")
            for row in results {
                let result = try WireCoding.decode(ChangeResult.self, from: Data((row[2] as String).utf8))
                try db.execute(
                    sql: "UPDATE push_result SET result = ? WHERE replica = ? AND counter = ?",
                    arguments: [Data(result.binaryEncoded), row[0] as String, row[1] as Int64]
                )
            }
        }
        migrator.registerMigration("v3: the log's identity, which cursors carry") { db in
            try db.execute(sql: "CREATE TABLE server_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            try db.execute(sql: "INSERT INTO server_meta (key, value) VALUES ('log_id', ?)", arguments: [makeLogID()])
        }
        migrator.registerMigration("v4: the digest of each processed change, to tell a reused dot from a retry") { db in
            try db.execute(sql: "ALTER TABLE push_result ADD COLUMN digest BLOB")
        }
        migrator.registerMigration("v5: the server's documents and the append-only audit log") { db in
            try db.execute(
                sql: """
                    CREATE TABLE server_document (
                        space TEXT NOT NULL,
                        key TEXT NOT NULL,
                        value TEXT NOT NULL,
                        PRIMARY KEY (space, key)
                    ) WITHOUT ROWID;
                    CREATE TABLE audit_log (
                        seq INTEGER PRIMARY KEY,
                        at INTEGER NOT NULL,
                        actor TEXT NOT NULL,
                        action TEXT NOT NULL,
                        target TEXT NOT NULL,
                        detail TEXT NOT NULL,
                        prev_hash TEXT NOT NULL,
                        hash TEXT NOT NULL
                    );
                    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
                    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
                    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
                    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
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
                    db.cachedStatement(
                        sql: "SELECT name, role, territories, revoked, token_hash FROM user WHERE token_hash = ?"
                    ),
                    arguments: [tokenHash]
                ), Tokens.constantTimeEquals(row[4], tokenHash)
            else { return nil }
            return Self.user(from: row)
        }
    }

    public func users() async throws -> [User] {
        try await read { db in try Self.users(db) }
    }

    static func users(_ db: Database) throws -> [User] {
        try Row.fetchAll(db, sql: "SELECT name, role, territories, revoked FROM user ORDER BY name").map(user(from:))
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

    public func tokenHash(named name: String) async throws -> String? {
        try await read { db in
            try String.fetchOne(db, sql: "SELECT token_hash FROM user WHERE name = ?", arguments: [name])
        }
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

    // MARK: - Transactions

    public func withWriteTransaction<T: Sendable>(
        _ body: @Sendable (any StorageWriteTransaction) async throws -> T
    ) async throws -> T {
        try await writer.withLock {
            try await Self.wrapping {
                try await self.pool.writeWithoutTransaction { try $0.beginTransaction(.immediate) }
            }
            do {
                let value = try await body(SQLiteWriteTransaction(pool: pool))
                try await Self.wrapping { try await self.pool.writeWithoutTransaction { try $0.commit() } }
                return value
            } catch {
                // Synchronously: GRDB's async access refuses to start in a cancelled task, and a transaction left
                // open would make every later BEGIN fail.
                Self.rollBack(pool)
                throw Self.wrap(error)
            }
        }
    }

    public func withReadTransaction<T: Sendable>(
        _ body: @Sendable (any StorageReadTransaction) async throws -> T
    ) async throws -> T {
        let snapshot = try Self.wrappingSynchronously { try pool.makeSnapshot() }
        do {
            return try await body(SQLiteReadTransaction(reader: snapshot))
        } catch {
            throw Self.wrap(error)
        }
    }

    /// Rolls back an open write transaction, blocking (the async access would refuse to run in a cancelled task).
    private static func rollBack(_ pool: DatabasePool) {
        try? pool.writeWithoutTransaction { db in
            if db.isInsideTransaction { try db.rollback() }
        }
    }

    // MARK: - Stats and backup

    public func stats() async throws -> ServerStats {
        try await read { db in
            ServerStats(
                users: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM user") ?? 0,
                replicas: try Row.fetchAll(
                    db,
                    sql: "SELECT id, user_name, last_seen, last_counter FROM replica ORDER BY id"
                ).map {
                    ServerStats.ReplicaInfo(replica: $0[0], user: $0[1], lastSeen: $0[2], lastCounter: $0[3])
                },
                changes: try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM change_log") ?? 0,
                records: try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM record") ?? 0,
                recordsWithOpenConflicts: try Int64.fetchOne(
                    db,
                    sql: "SELECT COUNT(*) FROM record WHERE has_conflicts = 1"
                ) ?? 0,
                openConflictsByEntity: Dictionary(
                    uniqueKeysWithValues: try Row.fetchAll(
                        db,
                        sql: "SELECT entity, COUNT(*) FROM record WHERE has_conflicts = 1 GROUP BY entity"
                    ).map { ($0[0] as String, $0[1] as Int64) }
                ),
                accountsByTerritory: Dictionary(
                    uniqueKeysWithValues: try Row.fetchAll(
                        db,
                        sql: """
                            SELECT territory, COUNT(*) FROM record
                            WHERE entity = 'account' AND territory IS NOT NULL GROUP BY territory
                            """
                    ).map { ($0[0] as String, $0[1] as Int64) }
                )
            )
        }
    }

    /// Puts the whole database of the backup at `path` in place of this one's content, while it is open (SQLite's
    /// online backup, into this file). The caller then marks it restored (``SyncService/markRestored(now:ifLogID:)``);
    /// `crm-sync-server restore` replaces the file instead, with the server stopped. Used by the simulation's
    /// server rollback.
    public func restore(from path: String) async throws {
        do {
            let source = try DatabaseQueue(path: path)
            try source.backup(to: pool)
            try source.close()
        } catch {
            throw SyncServerError(.unavailable, "the restore from \(path) failed: \(error)")
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
            // The documents' contents beside it (after the snapshot, so every content it names that was stored
            // by then is there).
            if let files = blobs as? FileBlobStore {
                try files.copyStored(to: FileBlobStore.folder(besideDatabase: path))
            }
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            throw SyncServerError(.unavailable, "the backup to \(path) failed: \(error)")
        }
    }

    // MARK: - Plumbing

    /// A write outside the sync transactions (users), under the same mutex.
    private func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await writer.withLock { try await Self.wrapping { try await self.pool.write(body) } }
    }

    private func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await Self.wrapping { try await pool.read(body) }
    }

    static func wrapping<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch { throw wrap(error) }
    }

    static func wrappingSynchronously<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch { throw wrap(error) }
    }

    static func wrap(_ error: any Error) -> any Error {
        if let error = error as? DatabaseError {
            if error.resultCode == .SQLITE_FULL { return SyncServerError.diskFull }
            return SyncServerError(.unavailable, "storage error \(error.resultCode.rawValue)")
        }
        return error
    }
}

// MARK: - Visibility

/// The SQL condition for what a user may see, on rows with an account column (`scope`) and an `owner` column.
/// Arguments: sees-everything flag, user name, territories as a JSON array.
private func visibleToUser(scope: String) -> String {
    """
    ? OR (\(scope) IS NULL AND owner IS NULL) OR owner = ?
    OR \(scope) IN (
        SELECT id FROM record WHERE entity = 'account' AND territory IN (SELECT value FROM json_each(?))
    )
    """
}

private func visibilityArguments(_ user: User) throws -> StatementArguments {
    [user.seesEverything, user.name, String(decoding: try WireCoding.encode(user.territories), as: UTF8.self)]
}

private func loggedChanges(_ rows: [Row]) -> [LoggedChange] {
    rows.map { LoggedChange(seq: $0[0], json: [UInt8]($0[1] as Data)) }
}

extension SQLiteChangeStorage {
    /// The log's highest sequence number, for the read and the write transaction alike.
    static func highWaterMark(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM change_log") ?? 0
    }

    static func documents(_ db: Database, _ space: String, keys: [String]?) throws -> [String: String] {
        var found: [String: String] = [:]
        guard let keys else {
            for row in try Row.fetchAll(
                db,
                sql: "SELECT key, value FROM server_document WHERE space = ?",
                arguments: [space]
            ) {
                found[row[0]] = row[1]
            }
            return found
        }
        let statement = try db.cachedStatement(sql: "SELECT value FROM server_document WHERE space = ? AND key = ?")
        for key in Set(keys) {
            if let value = try String.fetchOne(statement, arguments: [space, key]) { found[key] = value }
        }
        return found
    }

    static func audit(_ db: Database, sql: String, arguments: StatementArguments) throws -> [AuditEntry] {
        try Row.fetchAll(db, sql: sql, arguments: arguments).map {
            AuditEntry(
                seq: $0[0],
                at: $0[1],
                actor: $0[2],
                action: $0[3],
                target: $0[4],
                detailJSON: $0[5],
                previousHash: $0[6],
                hash: $0[7]
            )
        }
    }

    static let auditColumns = "seq, at, actor, action, target, detail, prev_hash, hash"

    static func latestAudit(_ db: Database, limit: Int) throws -> [AuditEntry] {
        try audit(db, sql: "SELECT \(auditColumns) FROM audit_log ORDER BY seq DESC LIMIT ?", arguments: [limit])
    }

    static func meta(_ db: Database, _ key: String) throws -> String? {
        try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM server_meta WHERE key = ?"), arguments: [key])
    }

    /// A replica's row, for the read and the write transaction alike.
    static func replica(_ db: Database, _ id: ReplicaID) throws -> ReplicaRecord? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT user_name, last_counter, last_seen FROM replica WHERE id = ?"),
            arguments: [id.rawValue]
        ).map { ReplicaRecord(id: id, user: $0[0], lastCounter: UInt64($0[1] as Int64), lastSeen: $0[2]) }
    }
}

// MARK: - Read transaction

/// Reads from one `DatabaseSnapshot`: every call sees the database as of its creation.
private struct SQLiteReadTransaction: StorageReadTransaction {
    let reader: DatabaseSnapshot

    func highWaterMark() async throws -> Int64 {
        try await reader.read { db in try SQLiteChangeStorage.highWaterMark(db) }
    }

    func documents(_ space: String, keys: [String]?) async throws -> [String: String] {
        try await reader.read { db in try SQLiteChangeStorage.documents(db, space, keys: keys) }
    }

    func audit(after seq: Int64, limit: Int) async throws -> [AuditEntry] {
        try await reader.read { db in
            try SQLiteChangeStorage.audit(
                db,
                sql: "SELECT \(SQLiteChangeStorage.auditColumns) FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?",
                arguments: [seq, limit]
            )
        }
    }

    func latestAudit(limit: Int) async throws -> [AuditEntry] {
        try await reader.read { db in try SQLiteChangeStorage.latestAudit(db, limit: limit) }
    }

    func meta(_ key: String) async throws -> String? {
        try await reader.read { db in try SQLiteChangeStorage.meta(db, key) }
    }

    func replica(_ id: ReplicaID) async throws -> ReplicaRecord? {
        try await reader.read { db in try SQLiteChangeStorage.replica(db, id) }
    }

    func changes(
        after cursor: Int64,
        visibleTo viewer: User,
        excluding: ReplicaID,
        limit: Int
    ) async throws
        -> [LoggedChange]
    {
        let arguments: StatementArguments =
            [cursor, excluding.rawValue] + (try visibilityArguments(viewer)) + [limit]
        return try await reader.read { db in
            loggedChanges(
                try Row.fetchAll(
                    db.cachedStatement(
                        sql: """
                            SELECT seq, change FROM change_log
                            WHERE seq > ? AND replica != ? AND (\(visibleToUser(scope: "account_scope")))
                            ORDER BY seq LIMIT ?
                            """
                    ),
                    arguments: arguments
                )
            )
        }
    }

    func moves(after: Int64, through: Int64) async throws -> [TerritoryMove] {
        try await reader.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT seq, account_id, old_territory, new_territory FROM scope_move
                    WHERE seq > ? AND seq <= ? ORDER BY seq
                    """,
                arguments: [after, through]
            ).map {
                TerritoryMove(seq: $0[0], account: RecordID($0[1] as String), oldTerritory: $0[2], newTerritory: $0[3])
            }
        }
    }

    func history(ofAccount account: RecordID, through: Int64, excluding: ReplicaID) async throws -> [LoggedChange] {
        try await reader.read { db in
            loggedChanges(
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT seq, change FROM change_log
                        WHERE account_scope = ? AND seq <= ? AND replica != ? ORDER BY seq
                        """,
                    arguments: [account.rawValue, through, excluding.rawValue]
                )
            )
        }
    }

    func records(ofAccount account: RecordID) async throws -> [RecordKey] {
        try await reader.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT entity, id FROM record WHERE scope_account = ? ORDER BY entity = 'account', entity, id",
                arguments: [account.rawValue]
            ).map { RecordKey(entity: EntityKind($0[0] as String), id: RecordID($0[1] as String)) }
        }
    }

    func states(after: RecordKey?, visibleTo viewer: User, limit: Int) async throws -> [RecordState] {
        let arguments: StatementArguments =
            [after?.entity.rawValue ?? "", after?.id.rawValue ?? ""] + (try visibilityArguments(viewer)) + [limit]
        return try await reader.read { db in
            try Data.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT state FROM record
                        WHERE (entity, id) > (?, ?) AND (\(visibleToUser(scope: "scope_account")))
                        ORDER BY entity, id LIMIT ?
                        """
                ),
                arguments: arguments
            ).map { try RecordState(binary: [UInt8]($0)) }
        }
    }

    func isVisible(account: RecordID, to viewer: User) async throws -> Bool {
        let arguments: StatementArguments = [account.rawValue] + (try visibilityArguments(viewer))
        return try await reader.read { db in
            try Bool.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT 1 FROM record WHERE entity = 'account' AND id = ?
                        AND (\(visibleToUser(scope: "scope_account")))
                        """
                ),
                arguments: arguments
            ) ?? false
        }
    }

    func countStates(visibleTo viewer: User) async throws -> Int {
        let arguments = try visibilityArguments(viewer)
        return try await reader.read { db in
            try Int.fetchOne(
                db.cachedStatement(sql: "SELECT COUNT(*) FROM record WHERE \(visibleToUser(scope: "scope_account"))"),
                arguments: arguments
            ) ?? 0
        }
    }
}

// MARK: - Write transaction

/// Statements on the writer connection inside the `BEGIN IMMEDIATE` of ``SQLiteChangeStorage/withWriteTransaction(_:)``.
private struct SQLiteWriteTransaction: StorageWriteTransaction {
    let pool: DatabasePool

    func replica(_ id: ReplicaID) async throws -> ReplicaRecord? {
        try await pool.writeWithoutTransaction { db in try SQLiteChangeStorage.replica(db, id) }
    }

    func results(of replica: ReplicaID, counters: [UInt64]) async throws -> [UInt64: StoredResult] {
        guard !counters.isEmpty else { return [:] }
        return try await pool.writeWithoutTransaction { db in
            let statement = try db.cachedStatement(
                sql: "SELECT result, digest FROM push_result WHERE replica = ? AND counter = ?"
            )
            var results: [UInt64: StoredResult] = [:]
            for counter in counters {
                if let row = try Row.fetchOne(statement, arguments: [replica.rawValue, Int64(counter)]) {
                    let digest: Data? = row[1]
                    results[counter] = StoredResult(
                        result: try ChangeResult(binary: [UInt8](row[0] as Data)),
                        digest: digest.map { [UInt8]($0) }
                    )
                }
            }
            return results
        }
    }

    func states(_ keys: [RecordKey]) async throws -> [RecordKey: RecordState] {
        guard !keys.isEmpty else { return [:] }
        return try await pool.writeWithoutTransaction { db in
            let statement = try db.cachedStatement(sql: "SELECT state FROM record WHERE entity = ? AND id = ?")
            var states: [RecordKey: RecordState] = [:]
            for key in keys {
                if let blob = try Data.fetchOne(statement, arguments: [key.entity.rawValue, key.id.rawValue]) {
                    states[key] = try RecordState(binary: [UInt8](blob))
                }
            }
            return states
        }
    }

    func serverCounter() async throws -> UInt64 {
        try await pool.writeWithoutTransaction { db in
            UInt64(try Int64.fetchOne(db, sql: "SELECT MAX(counter) FROM change_log WHERE replica = 'server'") ?? 0)
        }
    }

    func highWaterMark() async throws -> Int64 {
        try await pool.writeWithoutTransaction { db in try SQLiteChangeStorage.highWaterMark(db) }
    }

    func meta(_ key: String) async throws -> String? {
        try await pool.writeWithoutTransaction { db in try SQLiteChangeStorage.meta(db, key) }
    }

    func lastMove(ofAccount account: RecordID) async throws -> TerritoryMove? {
        try await pool.writeWithoutTransaction { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT seq, old_territory, new_territory FROM scope_move
                    WHERE account_id = ? ORDER BY seq DESC LIMIT 1
                    """,
                arguments: [account.rawValue]
            ).map { TerritoryMove(seq: $0[0], account: account, oldTerritory: $0[1], newTerritory: $0[2]) }
        }
    }

    func setMeta(_ key: String, _ value: String) async throws {
        try await pool.writeWithoutTransaction { db in
            try db.execute(
                sql:
                    "INSERT INTO server_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                arguments: [key, value]
            )
        }
    }

    func save(_ states: [RecordState]) async throws {
        guard !states.isEmpty else { return }
        try await pool.writeWithoutTransaction { db in
            let statement = try db.cachedStatement(
                sql: """
                    INSERT INTO record (entity, id, territory, scope_account, owner, has_conflicts, state)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (entity, id) DO UPDATE SET territory = excluded.territory,
                        scope_account = excluded.scope_account, owner = excluded.owner,
                        has_conflicts = excluded.has_conflicts, state = excluded.state
                    """
            )
            for state in states {
                let row = RecordRow(state)
                try statement.execute(arguments: [
                    state.entity.rawValue, state.id.rawValue, row.territory, row.scope.account?.rawValue,
                    row.scope.owner, row.hasConflicts ? 1 : 0, Data(state.binaryEncoded),
                ])
            }
        }
    }

    func append(_ entries: [LogAppend]) async throws -> [Int64] {
        guard !entries.isEmpty else { return [] }
        return try await pool.writeWithoutTransaction { db in
            let statement = try db.cachedStatement(
                sql: """
                    INSERT INTO change_log (replica, counter, entity, record_id, account_scope, owner, change)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """
            )
            var seqs: [Int64] = []
            seqs.reserveCapacity(entries.count)
            for entry in entries {
                try statement.execute(arguments: [
                    entry.change.dot.replica.rawValue, Int64(entry.change.dot.counter), entry.change.entity.rawValue,
                    entry.change.recordID.rawValue, entry.scope.account?.rawValue, entry.scope.owner,
                    Data(entry.json),
                ])
                seqs.append(db.lastInsertedRowID)
            }
            return seqs
        }
    }

    func saveResults(_ results: [(counter: UInt64, stored: StoredResult)], of replica: ReplicaID) async throws {
        guard !results.isEmpty else { return }
        try await pool.writeWithoutTransaction { db in
            let statement = try db.cachedStatement(
                sql: "INSERT OR REPLACE INTO push_result (replica, counter, result, digest) VALUES (?, ?, ?, ?)"
            )
            for (counter, stored) in results {
                try statement.execute(arguments: [
                    replica.rawValue, Int64(counter), Data(stored.result.binaryEncoded), stored.digest.map { Data($0) },
                ])
            }
        }
    }

    func saveReplica(_ record: ReplicaRecord) async throws {
        try await pool.writeWithoutTransaction { db in
            try db.cachedStatement(
                sql: """
                    INSERT INTO replica (id, user_name, last_counter, last_seen) VALUES (?, ?, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET last_counter = excluded.last_counter, last_seen = excluded.last_seen
                    """
            ).execute(arguments: [record.id.rawValue, record.user, Int64(record.lastCounter), record.lastSeen])
        }
    }

    func recordMove(_ move: TerritoryMove) async throws {
        try await pool.writeWithoutTransaction { db in
            try db.execute(
                sql: "INSERT INTO scope_move (seq, account_id, old_territory, new_territory) VALUES (?, ?, ?, ?)",
                arguments: [move.seq, move.account.rawValue, move.oldTerritory, move.newTerritory]
            )
        }
    }

    func documents(_ space: String, keys: [String]?) async throws -> [String: String] {
        try await pool.writeWithoutTransaction { db in try SQLiteChangeStorage.documents(db, space, keys: keys) }
    }

    func saveDocuments(_ space: String, _ values: [String: String]) async throws {
        guard !values.isEmpty else { return }
        try await pool.writeWithoutTransaction { db in
            let statement = try db.cachedStatement(
                sql: """
                    INSERT INTO server_document (space, key, value) VALUES (?, ?, ?)
                    ON CONFLICT (space, key) DO UPDATE SET value = excluded.value
                    """
            )
            for (key, value) in values { try statement.execute(arguments: [space, key, value]) }
        }
    }

    func deleteDocuments(_ space: String, keys: [String]) async throws {
        try await pool.writeWithoutTransaction { db in
            let statement = try db.cachedStatement(sql: "DELETE FROM server_document WHERE space = ? AND key = ?")
            for key in keys { try statement.execute(arguments: [space, key]) }
        }
    }

    func latestAudit(limit: Int) async throws -> [AuditEntry] {
        try await pool.writeWithoutTransaction { db in try SQLiteChangeStorage.latestAudit(db, limit: limit) }
    }

    func appendAudit(_ entry: AuditEntry) async throws {
        try await pool.writeWithoutTransaction { db in
            try db.execute(
                sql: "INSERT INTO audit_log (\(SQLiteChangeStorage.auditColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                arguments: [
                    entry.seq, entry.at, entry.actor, entry.action, entry.target, entry.detailJSON,
                    entry.previousHash, entry.hash,
                ]
            )
        }
    }

    func users() async throws -> [User] {
        try await pool.writeWithoutTransaction { db in try SQLiteChangeStorage.users(db) }
    }

    func updateUser(_ user: User) async throws {
        try await pool.writeWithoutTransaction { db in
            try db.execute(
                sql: "UPDATE user SET role = ?, territories = ? WHERE name = ?",
                arguments: [user.role.rawValue, user.territories.joined(separator: "\n"), user.name]
            )
            if db.changesCount == 0 { throw SyncServerError(.notFound, "no user named \(user.name)") }
        }
    }
}
