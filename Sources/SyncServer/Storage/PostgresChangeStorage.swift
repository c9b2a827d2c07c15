import Crypto
import Foundation
public import Logging
import NIOCore
public import PostgresNIO
public import ServiceLifecycle
import SyncProtocol

/// The scale-out backend: several server processes share one PostgreSQL database.
///
/// A write transaction takes one transaction-scoped advisory lock first, so write transactions are serialised
/// across every server process exactly as SQLite serialises its writer, and log sequence numbers become visible in
/// the order they were assigned. A read transaction is `REPEATABLE READ READ ONLY`: one snapshot for all its
/// statements, and no lock.
///
/// It is a `Service`: its connection pool runs in the application's service group, and ``prepare()`` creates or
/// migrates the schema before the server takes requests. Short-lived tools use ``withStorage(url:logger:_:)``.
public final class PostgresChangeStorage: ChangeStorage, Service {
    public let client: PostgresClient
    let logger: Logger
    static let writeLock: Int64 = 0x0063_726D_7379_6E63  // "crmsync"
    /// The schema version ``migrate()`` brings a database to.
    static let schemaVersion = 6

    /// `postgres://user[:password]@host[:port]/database`
    public init(url: String, logger: Logger) throws {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme),
            let host = components.host, let user = components.user
        else {
            throw SyncServerError(.invalidValue, "--db must be postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
        }
        let database = components.path.isEmpty ? user : String(components.path.dropFirst())
        let configuration = PostgresClient.Configuration(
            host: host,
            port: components.port ?? 5432,
            username: user,
            password: components.password,
            database: database,
            tls: .disable
        )
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.logger = logger
    }

    /// Runs the connection pool until cancelled (or until graceful shutdown, as a service).
    public func run() async {
        await client.run()
    }

    public func prepare() async throws {
        try await migrate()
    }

    /// Opens the storage, runs `body` with its pool running and its schema in place, and stops the pool.
    public static func withStorage<T: Sendable>(
        url: String,
        logger: Logger,
        _ body: @Sendable (PostgresChangeStorage) async throws -> T
    ) async throws -> T {
        let storage = try PostgresChangeStorage(url: url, logger: logger)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                await storage.run()
                return nil
            }
            defer { group.cancelAll() }
            try await storage.migrate()
            return try await body(storage)
        }
    }

    // MARK: - Schema

    /// Creates the schema, or brings an older one to ``schemaVersion`` (idempotent; several servers may start at
    /// once: the write lock serialises them).
    public func migrate() async throws {
        try await transaction(begin: "BEGIN") { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.writeLock))", logger: self.logger)
            let hadLog = try await self.exists(connection, table: "change_log")
            for statement in Self.schema {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: self.logger)
            }
            var version = 0
            for try await found in try await connection.query(
                "SELECT COALESCE(MAX(version), 0) FROM crm_schema",
                logger: self.logger
            ).decode(Int.self) {
                version = found
            }
            if version == 0 { version = hadLog ? 1 : Self.schemaVersion }
            if version < 2 { try await self.migrateToWireJSON(connection) }
            // Version 3: the log's identity, which cursors carry (made once; a second server starting finds it).
            try await connection.query(
                "INSERT INTO server_meta (key, value) VALUES ('log_id', \(makeLogID())) ON CONFLICT DO NOTHING",
                logger: self.logger
            )
            try await connection.query(
                "INSERT INTO crm_schema (version) VALUES (\(Self.schemaVersion)) ON CONFLICT DO NOTHING",
                logger: self.logger
            )
        }
    }

    static let schema = [
        "CREATE TABLE IF NOT EXISTS crm_schema (version INT PRIMARY KEY)",
        "CREATE TABLE IF NOT EXISTS server_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """
        CREATE TABLE IF NOT EXISTS crm_user (name TEXT PRIMARY KEY, role TEXT NOT NULL, territories TEXT[] NOT NULL,
            token_hash TEXT NOT NULL UNIQUE, revoked BOOLEAN NOT NULL DEFAULT FALSE)
        """,
        """
        CREATE TABLE IF NOT EXISTS replica (id TEXT PRIMARY KEY, user_name TEXT NOT NULL,
            last_counter BIGINT NOT NULL, last_seen BIGINT NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS push_result (replica TEXT NOT NULL, counter BIGINT NOT NULL, result BYTEA NOT NULL,
            PRIMARY KEY (replica, counter))
        """,
        """
        CREATE TABLE IF NOT EXISTS change_log (seq BIGSERIAL PRIMARY KEY, replica TEXT NOT NULL, counter BIGINT NOT NULL,
            entity TEXT NOT NULL, record_id TEXT NOT NULL, account_scope TEXT, owner TEXT, change BYTEA NOT NULL,
            UNIQUE (replica, counter))
        """,
        "CREATE INDEX IF NOT EXISTS change_log_account ON change_log (account_scope, seq)",
        // Version 4: the digest of each processed change, to tell a reused dot from a retry.
        "ALTER TABLE push_result ADD COLUMN IF NOT EXISTS digest BYTEA",
        """
        CREATE TABLE IF NOT EXISTS record (entity TEXT NOT NULL, id TEXT NOT NULL, territory TEXT, scope_account TEXT,
            owner TEXT, has_conflicts BOOLEAN NOT NULL DEFAULT FALSE, state BYTEA NOT NULL, PRIMARY KEY (entity, id))
        """,
        "CREATE INDEX IF NOT EXISTS record_account_territory ON record (territory) WHERE entity = 'account'",
        "CREATE INDEX IF NOT EXISTS record_scope ON record (scope_account)",
        """
        CREATE TABLE IF NOT EXISTS scope_move (seq BIGINT PRIMARY KEY, account_id TEXT NOT NULL, old_territory TEXT,
            new_territory TEXT NOT NULL)
        """,
        // Version 5: the server's documents and the append-only audit log.
        """
        CREATE TABLE IF NOT EXISTS server_document (space TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
            PRIMARY KEY (space, key))
        """,
        """
        CREATE TABLE IF NOT EXISTS audit_log (seq BIGINT PRIMARY KEY, at BIGINT NOT NULL, actor TEXT NOT NULL,
            action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL, prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL)
        """,
        """
        CREATE OR REPLACE FUNCTION crm_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$
        """,
        """
        CREATE OR REPLACE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION crm_audit_append_only()
        """,
        """
        CREATE OR REPLACE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
            FOR EACH STATEMENT EXECUTE FUNCTION crm_audit_append_only()
        """,
        // Version 6: the documents' contents (PostgresBlobStore), shared by every server of the deployment.
        """
        CREATE TABLE IF NOT EXISTS blob_part (digest TEXT NOT NULL, position BIGINT NOT NULL, data BYTEA NOT NULL,
            PRIMARY KEY (digest, position))
        """,
        "CREATE TABLE IF NOT EXISTS blob (digest TEXT PRIMARY KEY, size BIGINT NOT NULL)",
    ]

    private func exists(_ connection: PostgresConnection, table: String) async throws -> Bool {
        for try await found in try await connection.query(
            "SELECT to_regclass(\(table)) IS NOT NULL",
            logger: logger
        ).decode(Bool.self) {
            return found
        }
        return false
    }

    /// Version 1 kept the log's changes in the binary form and push results as JSON text; version 2 keeps each
    /// change's wire JSON and binary push results.
    private func migrateToWireJSON(_ connection: PostgresConnection) async throws {
        try await connection.query(
            "ALTER TABLE push_result ALTER COLUMN result TYPE BYTEA USING convert_to(result, 'UTF8')",
            logger: logger
        )
        var changes: [(Int64, ByteBuffer)] = []
        for try await row in try await connection.query(
            "SELECT seq, change FROM change_log",
            logger: logger
        ).decode((Int64, ByteBuffer).self) {
            changes.append(row)
        }
        for (seq, blob) in changes {
            let change = try Change(binary: Array(blob.readableBytesView))
            let json = ByteBuffer(bytes: try WireCoding.encode(change))
            try await connection.query("UPDATE change_log SET change = \(json) WHERE seq = \(seq)", logger: logger)
        }
        var results: [(String, Int64, ByteBuffer)] = []
        for try await row in try await connection.query(
            "SELECT replica, counter, result FROM push_result",
            logger: logger
        ).decode((String, Int64, ByteBuffer).self) {
            results.append(row)
        }
        for (replica, counter, blob) in results {
            let result = try WireCoding.decode(ChangeResult.self, from: Data(blob.readableBytesView))
            try await connection.query(
                """
                UPDATE push_result SET result = \(ByteBuffer(bytes: result.binaryEncoded))
                WHERE replica = \(replica) AND counter = \(counter)
                """,
                logger: logger
            )
        }
    }

    // MARK: - Users

    public func addUser(_ user: User, tokenHash: String) async throws {
        try await withWriteConnection { connection in
            let existing = try await connection.query(
                "SELECT 1 FROM crm_user WHERE name = \(user.name)",
                logger: self.logger
            )
            for try await _ in existing { throw SyncServerError(.conflict, "a user named \(user.name) already exists") }
            try await connection.query(
                """
                INSERT INTO crm_user (name, role, territories, token_hash)
                VALUES (\(user.name), \(user.role.rawValue), \(user.territories), \(tokenHash))
                """,
                logger: self.logger
            )
        }
    }

    public func user(tokenHash: String) async throws -> User? {
        try await mappingErrors {
            let rows = try await client.query(
                "SELECT name, role, territories, revoked, token_hash FROM crm_user WHERE token_hash = \(tokenHash)",
                logger: logger
            )
            for try await (name, role, territories, revoked, stored) in rows.decode(
                (String, String, [String], Bool, String).self
            ) {
                guard Tokens.constantTimeEquals(stored, tokenHash) else { return nil }
                return User(
                    name: name,
                    role: Role(rawValue: role) ?? .rep,
                    territories: territories,
                    isRevoked: revoked
                )
            }
            return nil
        }
    }

    public func users() async throws -> [User] {
        try await mappingErrors {
            try await client.withConnection { try await Self.users(on: $0, logger: self.logger) }
        }
    }

    static func users(on connection: PostgresConnection, logger: Logger) async throws -> [User] {
        let rows = try await connection.query(
            "SELECT name, role, territories, revoked FROM crm_user ORDER BY name",
            logger: logger
        )
        var users: [User] = []
        for try await (name, role, territories, revoked) in rows.decode((String, String, [String], Bool).self) {
            users.append(
                User(name: name, role: Role(rawValue: role) ?? .rep, territories: territories, isRevoked: revoked)
            )
        }
        return users
    }

    public func tokenHash(named name: String) async throws -> String? {
        try await mappingErrors {
            let rows = try await client.query("SELECT token_hash FROM crm_user WHERE name = \(name)", logger: logger)
            for try await (hash) in rows.decode(String.self) { return hash }
            return nil
        }
    }

    public func revokeUser(named name: String) async throws {
        try await updateUser(name, "UPDATE crm_user SET revoked = TRUE WHERE name = \(name) RETURNING name")
    }

    public func setToken(named name: String, tokenHash: String) async throws {
        try await updateUser(
            name,
            "UPDATE crm_user SET token_hash = \(tokenHash), revoked = FALSE WHERE name = \(name) RETURNING name"
        )
    }

    private func updateUser(_ name: String, _ query: PostgresQuery) async throws {
        try await mappingErrors {
            let rows = try await client.query(query, logger: logger)
            for try await _ in rows { return }
            throw SyncServerError(.notFound, "no user named \(name)")
        }
    }

    // MARK: - Transactions

    public func withWriteTransaction<T: Sendable>(
        _ body: @Sendable (any StorageWriteTransaction) async throws -> T
    ) async throws -> T {
        try await withWriteConnection { connection in
            try await body(PostgresWriteTransaction(connection: connection, logger: self.logger))
        }
    }

    public func withReadTransaction<T: Sendable>(
        _ body: @Sendable (any StorageReadTransaction) async throws -> T
    ) async throws -> T {
        try await transaction(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") { connection in
            try await body(PostgresReadTransaction(connection: connection, logger: self.logger))
        }
    }

    /// One transaction under the cluster-wide write lock.
    private func withWriteConnection<T: Sendable>(
        _ body: @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await transaction(begin: "BEGIN") { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.writeLock))", logger: self.logger)
            return try await body(connection)
        }
    }

    /// Runs `body` between `begin` and `COMMIT` on one leased connection; rolls back when it throws.
    /// The documents' contents, in the shared database.
    public var blobs: any BlobStore { PostgresBlobStore(storage: self) }

    fileprivate func transaction<T: Sendable>(
        begin: String,
        _ body: @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await mappingErrors {
            try await client.withConnection { connection in
                try await connection.query(PostgresQuery(unsafeSQL: begin), logger: self.logger)
                do {
                    let value = try await body(connection)
                    try await connection.query("COMMIT", logger: self.logger)
                    return value
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: self.logger)
                    throw error
                }
            }
        }
    }

    /// Runs `body`; a driver error becomes a 503 that names the SQLSTATE only (the driver's text can quote
    /// key values), with the details in the log at debug level.
    private func mappingErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PSQLError {
            let state = error.serverInfo?[.sqlState] ?? "none"
            logger.debug("Storage error", metadata: ["storage.sqlstate": "\(state)", "storage.code": "\(error.code)"])
            // 53100 is disk_full (a data file or the WAL could not be extended).
            if state == "53100" { throw SyncServerError.diskFull }
            throw SyncServerError(.unavailable, "the database failed (SQLSTATE \(state)); try again")
        } catch let error as SyncServerError {
            throw error
        } catch let error as any PassedThroughStorage {
            throw error
        } catch let error as WireFormatError {
            throw SyncServerError(.unavailable, "stored data is damaged: \(error.message)")
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            logger.debug("Storage error", metadata: ["error.type": "\(type(of: error))"])
            throw SyncServerError(.unavailable, "the database is unavailable; try again")
        }
    }

    // MARK: - Stats and backup

    public func stats() async throws -> ServerStats {
        try await transaction(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") { connection in
            func count(_ query: PostgresQuery) async throws -> Int64 {
                for try await value in try await connection.query(query, logger: self.logger).decode(Int64.self) {
                    return value
                }
                return 0
            }
            var replicas: [ServerStats.ReplicaInfo] = []
            for try await (id, user, seen, counter) in try await connection.query(
                "SELECT id, user_name, last_seen, last_counter FROM replica ORDER BY id",
                logger: self.logger
            ).decode((String, String, Int64, Int64).self) {
                replicas.append(.init(replica: id, user: user, lastSeen: seen, lastCounter: counter))
            }
            func grouped(_ query: PostgresQuery) async throws -> [String: Int64] {
                var found: [String: Int64] = [:]
                for try await (key, value) in try await connection.query(query, logger: self.logger).decode(
                    (String, Int64).self
                ) {
                    found[key] = value
                }
                return found
            }
            return ServerStats(
                users: Int(try await count("SELECT COUNT(*) FROM crm_user")),
                replicas: replicas,
                changes: try await count("SELECT COUNT(*) FROM change_log"),
                records: try await count("SELECT COUNT(*) FROM record"),
                recordsWithOpenConflicts: try await count("SELECT COUNT(*) FROM record WHERE has_conflicts"),
                openConflictsByEntity: try await grouped(
                    "SELECT entity, COUNT(*) FROM record WHERE has_conflicts GROUP BY entity"
                ),
                accountsByTerritory: try await grouped(
                    """
                    SELECT territory, COUNT(*) FROM record WHERE entity = 'account' AND territory IS NOT NULL
                    GROUP BY territory
                    """
                )
            )
        }
    }

    public func backup(to path: String) async throws {
        throw SyncServerError(
            .invalidValue,
            "back up a PostgreSQL database with pg_dump (a consistent snapshot while serving): pg_dump -Fc -f \(path) DATABASE"
        )
    }
}

// MARK: - Read transaction

/// The condition for what a user may see, on rows with an account column and an `owner` column.
private func visibleTo(scope: String) -> String {
    // Only the column name is interpolated; the user's values are bound by the caller ($3, $4, $5).
    """
    $3 OR (\(scope) IS NULL AND owner IS NULL) OR owner = $4
    OR \(scope) IN (SELECT id FROM record WHERE entity = 'account' AND territory = ANY($5))
    """
}

private func collectChanges(_ rows: PostgresRowSequence) async throws -> [LoggedChange] {
    var changes: [LoggedChange] = []
    for try await (seq, blob) in rows.decode((Int64, ByteBuffer).self) {
        changes.append(LoggedChange(seq: seq, json: Array(blob.readableBytesView)))
    }
    return changes
}

extension PostgresChangeStorage {
    /// The log's highest sequence number, for the read and the write transaction alike.
    static func highWaterMark(on connection: PostgresConnection, logger: Logger) async throws -> Int64 {
        for try await value in try await connection.query(
            "SELECT COALESCE(MAX(seq), 0) FROM change_log",
            logger: logger
        ).decode(Int64.self) {
            return value
        }
        return 0
    }

    static func documents(
        _ space: String,
        keys: [String]?,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [String: String] {
        let query: PostgresQuery =
            if let keys {
                "SELECT key, value FROM server_document WHERE space = \(space) AND key = ANY(\(Array(Set(keys))))"
            } else {
                "SELECT key, value FROM server_document WHERE space = \(space)"
            }
        var found: [String: String] = [:]
        for try await (key, value) in try await connection.query(query, logger: logger).decode((String, String).self) {
            found[key] = value
        }
        return found
    }

    static func audit(
        _ query: PostgresQuery,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws
        -> [AuditEntry]
    {
        var entries: [AuditEntry] = []
        for try await (seq, at, actor, action, target, detail, previous, hash) in try await connection.query(
            query,
            logger: logger
        ).decode((Int64, Int64, String, String, String, String, String, String).self) {
            entries.append(
                AuditEntry(
                    seq: seq,
                    at: at,
                    actor: actor,
                    action: action,
                    target: target,
                    detailJSON: detail,
                    previousHash: previous,
                    hash: hash
                )
            )
        }
        return entries
    }

    static func latestAudit(
        limit: Int,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws
        -> [AuditEntry]
    {
        try await audit(
            """
            SELECT seq, at, actor, action, target, detail, prev_hash, hash FROM audit_log
            ORDER BY seq DESC LIMIT \(limit)
            """,
            on: connection,
            logger: logger
        )
    }

    static func meta(_ key: String, on connection: PostgresConnection, logger: Logger) async throws -> String? {
        for try await value in try await connection.query(
            "SELECT value FROM server_meta WHERE key = \(key)",
            logger: logger
        ).decode(String.self) {
            return value
        }
        return nil
    }

    /// A replica's row, for the read and the write transaction alike.
    static func replica(
        _ id: ReplicaID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws
        -> ReplicaRecord?
    {
        for try await (user, counter, seen) in try await connection.query(
            "SELECT user_name, last_counter, last_seen FROM replica WHERE id = \(id.rawValue)",
            logger: logger
        ).decode((String, Int64, Int64).self) {
            return ReplicaRecord(id: id, user: user, lastCounter: UInt64(counter), lastSeen: seen)
        }
        return nil
    }
}

/// Statements in one `REPEATABLE READ READ ONLY` transaction.
private struct PostgresReadTransaction: StorageReadTransaction {
    let connection: PostgresConnection
    let logger: Logger

    func highWaterMark() async throws -> Int64 {
        try await PostgresChangeStorage.highWaterMark(on: connection, logger: logger)
    }

    func meta(_ key: String) async throws -> String? {
        try await PostgresChangeStorage.meta(key, on: connection, logger: logger)
    }

    func replica(_ id: ReplicaID) async throws -> ReplicaRecord? {
        try await PostgresChangeStorage.replica(id, on: connection, logger: logger)
    }

    func documents(_ space: String, keys: [String]?) async throws -> [String: String] {
        try await PostgresChangeStorage.documents(space, keys: keys, on: connection, logger: logger)
    }

    func audit(after seq: Int64, limit: Int) async throws -> [AuditEntry] {
        try await PostgresChangeStorage.audit(
            """
            SELECT seq, at, actor, action, target, detail, prev_hash, hash FROM audit_log
            WHERE seq > \(seq) ORDER BY seq LIMIT \(limit)
            """,
            on: connection,
            logger: logger
        )
    }

    func latestAudit(limit: Int) async throws -> [AuditEntry] {
        try await PostgresChangeStorage.latestAudit(limit: limit, on: connection, logger: logger)
    }

    func changes(
        after cursor: Int64,
        visibleTo viewer: User,
        excluding: ReplicaID,
        limit: Int
    ) async throws
        -> [LoggedChange]
    {
        var binds = PostgresBindings()
        binds.append(cursor)
        binds.append(excluding.rawValue)
        binds.append(viewer.seesEverything)
        binds.append(viewer.name)
        binds.append(viewer.territories)
        binds.append(limit)
        return try await collectChanges(
            try await connection.query(
                PostgresQuery(
                    unsafeSQL: """
                        SELECT seq, change FROM change_log
                        WHERE seq > $1 AND replica != $2 AND (\(visibleTo(scope: "account_scope")))
                        ORDER BY seq LIMIT $6
                        """,
                    binds: binds
                ),
                logger: logger
            )
        )
    }

    func moves(after: Int64, through: Int64) async throws -> [TerritoryMove] {
        var moves: [TerritoryMove] = []
        for try await (seq, account, old, new) in try await connection.query(
            """
            SELECT seq, account_id, old_territory, new_territory FROM scope_move
            WHERE seq > \(after) AND seq <= \(through) ORDER BY seq
            """,
            logger: logger
        ).decode((Int64, String, String?, String).self) {
            moves.append(TerritoryMove(seq: seq, account: RecordID(account), oldTerritory: old, newTerritory: new))
        }
        return moves
    }

    func history(ofAccount account: RecordID, through: Int64, excluding: ReplicaID) async throws -> [LoggedChange] {
        try await collectChanges(
            try await connection.query(
                """
                SELECT seq, change FROM change_log WHERE account_scope = \(account.rawValue) AND seq <= \(through)
                AND replica != \(excluding.rawValue) ORDER BY seq
                """,
                logger: logger
            )
        )
    }

    func records(ofAccount account: RecordID) async throws -> [RecordKey] {
        var keys: [RecordKey] = []
        for try await (entity, id) in try await connection.query(
            """
            SELECT entity, id FROM record WHERE scope_account = \(account.rawValue)
            ORDER BY entity = 'account', entity, id
            """,
            logger: logger
        ).decode((String, String).self) {
            keys.append(RecordKey(entity: EntityKind(entity), id: RecordID(id)))
        }
        return keys
    }

    func states(after: RecordKey?, visibleTo viewer: User, limit: Int) async throws -> [RecordState] {
        var binds = PostgresBindings()
        binds.append(after?.entity.rawValue ?? "")
        binds.append(after?.id.rawValue ?? "")
        binds.append(viewer.seesEverything)
        binds.append(viewer.name)
        binds.append(viewer.territories)
        binds.append(limit)
        var states: [RecordState] = []
        for try await blob in try await connection.query(
            PostgresQuery(
                unsafeSQL: """
                    SELECT state FROM record
                    WHERE (entity, id) > ($1, $2) AND (\(visibleTo(scope: "scope_account")))
                    ORDER BY entity, id LIMIT $6
                    """,
                binds: binds
            ),
            logger: logger
        ).decode(ByteBuffer.self) {
            states.append(try RecordState(binary: Array(blob.readableBytesView)))
        }
        return states
    }

    func isVisible(account: RecordID, to viewer: User) async throws -> Bool {
        var binds = PostgresBindings()
        binds.append("account")
        binds.append(account.rawValue)
        binds.append(viewer.seesEverything)
        binds.append(viewer.name)
        binds.append(viewer.territories)
        var found = false
        for try await _ in try await connection.query(
            PostgresQuery(
                unsafeSQL: """
                    SELECT 1 FROM record WHERE entity = $1 AND id = $2 AND (\(visibleTo(scope: "scope_account")))
                    """,
                binds: binds
            ),
            logger: logger
        ).decode(Int32.self) {
            found = true
        }
        return found
    }

    func countStates(visibleTo viewer: User) async throws -> Int {
        var binds = PostgresBindings()
        binds.append("")
        binds.append("")
        binds.append(viewer.seesEverything)
        binds.append(viewer.name)
        binds.append(viewer.territories)
        var count = 0
        for try await value in try await connection.query(
            PostgresQuery(
                unsafeSQL: """
                    SELECT COUNT(*) FROM record
                    WHERE $1 = $2 AND (\(visibleTo(scope: "scope_account")))
                    """,
                binds: binds
            ),
            logger: logger
        ).decode(Int64.self) {
            count = Int(value)
        }
        return count
    }
}

// MARK: - Write transaction

/// Optional text as an array element: "" is null, anything else carries a one-character prefix.
private func optional(_ text: String?) -> String { text.map { "v" + $0 } ?? "" }
private func unwrapped(_ column: String) -> String {
    "CASE WHEN \(column) = '' THEN NULL ELSE substr(\(column), 2) END"
}

/// Statements in one transaction under the write lock; each primitive is one round trip whatever its size.
private struct PostgresWriteTransaction: StorageWriteTransaction {
    let connection: PostgresConnection
    let logger: Logger

    func replica(_ id: ReplicaID) async throws -> ReplicaRecord? {
        try await PostgresChangeStorage.replica(id, on: connection, logger: logger)
    }

    func results(of replica: ReplicaID, counters: [UInt64]) async throws -> [UInt64: StoredResult] {
        guard !counters.isEmpty else { return [:] }
        var results: [UInt64: StoredResult] = [:]
        for try await (counter, blob, digest) in try await connection.query(
            """
            SELECT counter, result, digest FROM push_result
            WHERE replica = \(replica.rawValue) AND counter = ANY(\(counters.map { Int64($0) }))
            """,
            logger: logger
        ).decode((Int64, ByteBuffer, ByteBuffer?).self) {
            results[UInt64(counter)] = StoredResult(
                result: try ChangeResult(binary: Array(blob.readableBytesView)),
                digest: digest.flatMap { $0.readableBytes == 0 ? nil : Array($0.readableBytesView) }
            )
        }
        return results
    }

    func states(_ keys: [RecordKey]) async throws -> [RecordKey: RecordState] {
        var states: [RecordKey: RecordState] = [:]
        guard !keys.isEmpty else { return states }
        for try await (entity, id, blob) in try await connection.query(
            """
            SELECT entity, id, state FROM record
            WHERE (entity, id) IN (
                SELECT e, i FROM unnest(\(keys.map(\.entity.rawValue))::text[], \(keys.map(\.id.rawValue))::text[])
                AS u(e, i))
            """,
            logger: logger
        ).decode((String, String, ByteBuffer).self) {
            states[RecordKey(entity: EntityKind(entity), id: RecordID(id))] = try RecordState(
                binary: Array(blob.readableBytesView)
            )
        }
        return states
    }

    func serverCounter() async throws -> UInt64 {
        for try await value in try await connection.query(
            "SELECT COALESCE(MAX(counter), 0) FROM change_log WHERE replica = 'server'",
            logger: logger
        ).decode(Int64.self) {
            return UInt64(value)
        }
        return 0
    }

    func highWaterMark() async throws -> Int64 {
        try await PostgresChangeStorage.highWaterMark(on: connection, logger: logger)
    }

    func meta(_ key: String) async throws -> String? {
        try await PostgresChangeStorage.meta(key, on: connection, logger: logger)
    }

    func lastMove(ofAccount account: RecordID) async throws -> TerritoryMove? {
        for try await (seq, old, new) in try await connection.query(
            """
            SELECT seq, old_territory, new_territory FROM scope_move
            WHERE account_id = \(account.rawValue) ORDER BY seq DESC LIMIT 1
            """,
            logger: logger
        ).decode((Int64, String?, String).self) {
            return TerritoryMove(seq: seq, account: account, oldTerritory: old, newTerritory: new)
        }
        return nil
    }

    func setMeta(_ key: String, _ value: String) async throws {
        try await connection.query(
            """
            INSERT INTO server_meta (key, value) VALUES (\(key), \(value))
            ON CONFLICT (key) DO UPDATE SET value = excluded.value
            """,
            logger: logger
        )
    }

    func save(_ states: [RecordState]) async throws {
        guard !states.isEmpty else { return }
        let rows = states.map(RecordRow.init)
        var binds = PostgresBindings()
        binds.append(states.map(\.entity.rawValue))
        binds.append(states.map(\.id.rawValue))
        binds.append(rows.map { optional($0.territory) })
        binds.append(rows.map { optional($0.scope.account?.rawValue) })
        binds.append(rows.map { optional($0.scope.owner) })
        binds.append(rows.map(\.hasConflicts))
        binds.append(states.map { ByteBuffer(bytes: $0.binaryEncoded) })
        try await connection.query(
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO record (entity, id, territory, scope_account, owner, has_conflicts, state)
                    SELECT e, i, \(unwrapped("t")), \(unwrapped("sa")), \(unwrapped("o")), h, s
                    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::bytea[])
                        AS u(e, i, t, sa, o, h, s)
                    ON CONFLICT (entity, id) DO UPDATE SET territory = EXCLUDED.territory,
                        scope_account = EXCLUDED.scope_account, owner = EXCLUDED.owner,
                        has_conflicts = EXCLUDED.has_conflicts, state = EXCLUDED.state
                    """,
                binds: binds
            ),
            logger: logger
        )
    }

    func append(_ entries: [LogAppend]) async throws -> [Int64] {
        guard !entries.isEmpty else { return [] }
        var binds = PostgresBindings()
        binds.append(entries.map(\.change.dot.replica.rawValue))
        binds.append(entries.map { Int64($0.change.dot.counter) })
        binds.append(entries.map(\.change.entity.rawValue))
        binds.append(entries.map(\.change.recordID.rawValue))
        binds.append(entries.map { optional($0.scope.account?.rawValue) })
        binds.append(entries.map { optional($0.scope.owner) })
        binds.append(entries.map { ByteBuffer(bytes: $0.json) })
        var seqs: [Int64] = []
        seqs.reserveCapacity(entries.count)
        // The ordinality orders the inserts, so sequence numbers follow the batch's order.
        for try await seq in try await connection.query(
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO change_log (replica, counter, entity, record_id, account_scope, owner, change)
                    SELECT r, c, e, i, \(unwrapped("sa")), \(unwrapped("o")), b
                    FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[])
                        WITH ORDINALITY AS u(r, c, e, i, sa, o, b, n)
                    ORDER BY n
                    RETURNING seq
                    """,
                binds: binds
            ),
            logger: logger
        ).decode(Int64.self) {
            seqs.append(seq)
        }
        return seqs.sorted()
    }

    func saveResults(_ results: [(counter: UInt64, stored: StoredResult)], of replica: ReplicaID) async throws {
        guard !results.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO push_result (replica, counter, result, digest)
            SELECT \(replica.rawValue), c, r, d
            FROM unnest(\(results.map { Int64($0.counter) })::bigint[],
                \(results.map { ByteBuffer(bytes: $0.stored.result.binaryEncoded) })::bytea[],
                \(results.map { ByteBuffer(bytes: $0.stored.digest ?? []) })::bytea[]) AS u(c, r, d)
            ON CONFLICT (replica, counter) DO UPDATE SET result = EXCLUDED.result, digest = EXCLUDED.digest
            """,
            logger: logger
        )
    }

    func saveReplica(_ record: ReplicaRecord) async throws {
        try await connection.query(
            """
            INSERT INTO replica (id, user_name, last_counter, last_seen)
            VALUES (\(record.id.rawValue), \(record.user), \(Int64(record.lastCounter)), \(record.lastSeen))
            ON CONFLICT (id) DO UPDATE SET last_counter = EXCLUDED.last_counter, last_seen = EXCLUDED.last_seen
            """,
            logger: logger
        )
    }

    func recordMove(_ move: TerritoryMove) async throws {
        try await connection.query(
            """
            INSERT INTO scope_move (seq, account_id, old_territory, new_territory)
            VALUES (\(move.seq), \(move.account.rawValue), \(move.oldTerritory), \(move.newTerritory))
            """,
            logger: logger
        )
    }

    func documents(_ space: String, keys: [String]?) async throws -> [String: String] {
        try await PostgresChangeStorage.documents(space, keys: keys, on: connection, logger: logger)
    }

    func saveDocuments(_ space: String, _ values: [String: String]) async throws {
        guard !values.isEmpty else { return }
        let keys = Array(values.keys)
        try await connection.query(
            """
            INSERT INTO server_document (space, key, value)
            SELECT \(space), k, v FROM unnest(\(keys)::text[], \(keys.map { values[$0]! })::text[]) AS u(k, v)
            ON CONFLICT (space, key) DO UPDATE SET value = EXCLUDED.value
            """,
            logger: logger
        )
    }

    func latestAudit(limit: Int) async throws -> [AuditEntry] {
        try await PostgresChangeStorage.latestAudit(limit: limit, on: connection, logger: logger)
    }

    func deleteDocuments(_ space: String, keys: [String]) async throws {
        try await connection.query(
            "DELETE FROM server_document WHERE space = \(space) AND key = ANY(\(keys))",
            logger: logger
        )
    }

    func appendAudit(_ entry: AuditEntry) async throws {
        try await connection.query(
            """
            INSERT INTO audit_log (seq, at, actor, action, target, detail, prev_hash, hash)
            VALUES (\(entry.seq), \(entry.at), \(entry.actor), \(entry.action), \(entry.target), \(entry.detailJSON),
                \(entry.previousHash), \(entry.hash))
            """,
            logger: logger
        )
    }

    func users() async throws -> [User] {
        try await PostgresChangeStorage.users(on: connection, logger: logger)
    }

    func updateUser(_ user: User) async throws {
        for try await _ in try await connection.query(
            """
            UPDATE crm_user SET role = \(user.role.rawValue), territories = \(user.territories)
            WHERE name = \(user.name) RETURNING name
            """,
            logger: logger
        ) {
            return
        }
        throw SyncServerError(.notFound, "no user named \(user.name)")
    }
}

/// The contents as rows of the shared database: each uploaded chunk is one `blob_part` row at its position; a
/// `blob` row says the parts are complete and hash to the digest. Appends and the final check of one digest take
/// a transaction-scoped advisory lock on it, so two servers receiving the same content cannot interleave.
final class PostgresBlobStore: BlobStore {
    let storage: PostgresChangeStorage
    private var logger: Logger { storage.logger }

    init(storage: PostgresChangeStorage) {
        self.storage = storage
    }

    func storedSize(_ digest: String) async throws -> Int64? {
        try await storage.transaction(begin: "BEGIN READ ONLY") { connection in
            for try await size in try await connection.query(
                "SELECT size FROM blob WHERE digest = \(digest)",
                logger: self.logger
            ).decode(Int64.self) {
                return size
            }
            return nil
        }
    }

    func received(_ digest: String) async throws -> Int64 {
        try await storage.transaction(begin: "BEGIN READ ONLY") { connection in
            try await self.received(digest, connection)
        }
    }

    private func received(_ digest: String, _ connection: PostgresConnection) async throws -> Int64 {
        for try await total in try await connection.query(
            "SELECT COALESCE(SUM(length(data)), 0)::BIGINT FROM blob_part WHERE digest = \(digest)",
            logger: logger
        ).decode(Int64.self) {
            return total
        }
        return 0
    }

    private func lock(_ digest: String, _ connection: PostgresConnection) async throws {
        try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\(digest))::BIGINT)", logger: logger)
    }

    func append(_ digest: String, offset: Int64, bytes: ByteBuffer) async throws -> Int64 {
        try await storage.transaction(begin: "BEGIN") { connection in
            try await self.lock(digest, connection)
            let have = try await self.received(digest, connection)
            guard offset == have else { throw self.wrongOffset(offset, have: have) }
            try await connection.query(
                "INSERT INTO blob_part (digest, position, data) VALUES (\(digest), \(offset), \(bytes))",
                logger: self.logger
            )
            return have + Int64(bytes.readableBytes)
        }
    }

    func finish(_ digest: String, size: Int64) async throws -> Bool {
        try await storage.transaction(begin: "BEGIN") { connection in
            try await self.lock(digest, connection)
            for try await _ in try await connection.query(
                "SELECT size FROM blob WHERE digest = \(digest)",
                logger: self.logger
            ).decode(Int64.self) {
                return true
            }
            var hasher = SHA256()
            var total: Int64 = 0
            // Row by row (the driver streams them), so checking a large content holds one chunk at a time.
            for try await data in try await connection.query(
                "SELECT data FROM blob_part WHERE digest = \(digest) ORDER BY position",
                logger: self.logger
            ).decode(ByteBuffer.self) {
                hasher.update(data: data.readableBytesView)
                total += Int64(data.readableBytes)
            }
            guard total == size, hasher.finalize().hexString == digest else {
                try await connection.query("DELETE FROM blob_part WHERE digest = \(digest)", logger: self.logger)
                return false
            }
            try await connection.query(
                "INSERT INTO blob (digest, size) VALUES (\(digest), \(size))",
                logger: self.logger
            )
            return true
        }
    }

    func read(_ digest: String, offset: Int64, count: Int) async throws -> ByteBuffer {
        try await storage.transaction(begin: "BEGIN READ ONLY") { connection in
            var out = ByteBuffer()
            let end = offset + Int64(count)
            for try await (position, data) in try await connection.query(
                """
                SELECT position, data FROM blob_part WHERE digest = \(digest)
                    AND EXISTS (SELECT 1 FROM blob WHERE digest = \(digest))
                    AND position < \(end) AND position + length(data) > \(offset)
                ORDER BY position
                """,
                logger: self.logger
            ).decode((Int64, ByteBuffer).self) {
                let from = Int(max(offset, position) - position)
                let to = Int(min(end, position + Int64(data.readableBytes)) - position)
                if var slice = data.getSlice(at: data.readerIndex + from, length: to - from) {
                    out.writeBuffer(&slice)
                }
            }
            return out
        }
    }
}
