import Foundation
import Logging
import NIOCore
public import PostgresNIO
public import SyncProtocol

/// The scale-out backend: several server processes share one PostgreSQL database.
///
/// Writes (pushes, imports, territory moves) take one transaction-scoped advisory lock, so they are serialised
/// across every server process exactly as SQLite serialises its writer: each replica's counters are processed in
/// order, read-modify-write of record states cannot race, and log sequence numbers become visible in order, so a
/// pull cursor never skips a row committed late. Reads (pulls, snapshots) take no lock.
///
/// The client's connection pool must be running: call ``run()`` in a task (the server adds it as a service) or use
/// ``withStorage(url:logger:_:)``.
public final class PostgresChangeStorage: ChangeStorage {
    public let client: PostgresClient
    let logger: Logger
    static let writeLock: Int64 = 0x0063_726D_7379_6E63  // "crmsync"

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

    /// Runs the connection pool until cancelled.
    public func run() async {
        await client.run()
    }

    /// Opens the storage, runs `body` with its pool running, and stops the pool.
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

    /// Creates the schema if it is not there (idempotent; several servers may start at once).
    public func migrate() async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.writeLock))", logger: logger)
            for statement in Self.schema {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
        }
    }

    static let schema = [
        """
        CREATE TABLE IF NOT EXISTS crm_user (name TEXT PRIMARY KEY, role TEXT NOT NULL, territories TEXT[] NOT NULL,
            token_hash TEXT NOT NULL UNIQUE, revoked BOOLEAN NOT NULL DEFAULT FALSE)
        """,
        """
        CREATE TABLE IF NOT EXISTS replica (id TEXT PRIMARY KEY, user_name TEXT NOT NULL,
            last_counter BIGINT NOT NULL, last_seen BIGINT NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS push_result (replica TEXT NOT NULL, counter BIGINT NOT NULL, result TEXT NOT NULL,
            PRIMARY KEY (replica, counter))
        """,
        """
        CREATE TABLE IF NOT EXISTS change_log (seq BIGSERIAL PRIMARY KEY, replica TEXT NOT NULL, counter BIGINT NOT NULL,
            entity TEXT NOT NULL, record_id TEXT NOT NULL, account_scope TEXT, owner TEXT, change BYTEA NOT NULL,
            UNIQUE (replica, counter))
        """,
        "CREATE INDEX IF NOT EXISTS change_log_account ON change_log (account_scope, seq)",
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
    ]

    // MARK: - Users

    public func addUser(_ user: User, tokenHash: String) async throws {
        try await write { connection in
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
        let rows = try await client.query(
            "SELECT name, role, territories, revoked, token_hash FROM crm_user WHERE token_hash = \(tokenHash)",
            logger: logger
        )
        for try await (name, role, territories, revoked, stored) in rows.decode(
            (String, String, [String], Bool, String).self
        ) {
            guard Tokens.constantTimeEquals(stored, tokenHash) else { return nil }
            return User(name: name, role: Role(rawValue: role) ?? .rep, territories: territories, isRevoked: revoked)
        }
        return nil
    }

    public func users() async throws -> [User] {
        let rows = try await client.query(
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
        let rows = try await client.query(query, logger: logger)
        for try await _ in rows { return }
        throw SyncServerError(.notFound, "no user named \(name)")
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
        return try await write { connection in
            var owner: String?
            var lastCounter: UInt64 = 0
            for try await (name, counter) in try await connection.query(
                "SELECT user_name, last_counter FROM replica WHERE id = \(replica.rawValue)",
                logger: self.logger
            ).decode((String, Int64).self) {
                owner = name
                lastCounter = UInt64(counter)
            }
            if let owner, owner != user.name {
                let rejection = ChangeRejection(.wrongAuthor, "this replica belongs to another user")
                return PushSummary(results: changes.map { .rejected($0.dot, rejection) }, conflicts: 0)
            }
            var previous: [UInt64: ChangeResult] = [:]
            let repeated = changes.filter { $0.dot.counter <= lastCounter && $0.dot.replica == replica }.map {
                Int64($0.dot.counter)
            }
            if !repeated.isEmpty {
                for try await (counter, text) in try await connection.query(
                    "SELECT counter, result FROM push_result WHERE replica = \(replica.rawValue) AND counter = ANY(\(repeated))",
                    logger: self.logger
                ).decode((Int64, String).self) {
                    previous[UInt64(counter)] = try WireCoding.decode(ChangeResult.self, from: Data(text.utf8))
                }
            }
            let states = try await self.loadStates(connection, for: changes)
            let outcome = processor.process(
                changes,
                loaded: PushProcessor.Loaded(lastCounter: lastCounter, previousResults: previous, states: states)
            )
            // Written in three statements whatever the batch size: round trips, not rows, are the cost here.
            try await self.save(connection, Array(outcome.states.values))
            try await self.append(connection, outcome.log.map { ($0.change, $0.scope) })
            if !outcome.newResults.isEmpty {
                let counters = outcome.newResults.map { Int64($0.0) }
                let results = try outcome.newResults.map {
                    String(decoding: try WireCoding.encode($0.1), as: UTF8.self)
                }
                try await connection.query(
                    """
                    INSERT INTO push_result (replica, counter, result)
                    SELECT \(replica.rawValue), c, r FROM unnest(\(counters)::bigint[], \(results)::text[]) AS u(c, r)
                    ON CONFLICT (replica, counter) DO UPDATE SET result = EXCLUDED.result
                    """,
                    logger: self.logger
                )
            }
            try await connection.query(
                """
                INSERT INTO replica (id, user_name, last_counter, last_seen)
                VALUES (\(replica.rawValue), \(user.name), \(Int64(outcome.lastCounter)), \(now))
                ON CONFLICT (id) DO UPDATE SET last_counter = EXCLUDED.last_counter, last_seen = EXCLUDED.last_seen
                """,
                logger: self.logger
            )
            return PushSummary(results: outcome.results, conflicts: outcome.conflicts)
        }
    }

    func loadState(_ connection: PostgresConnection, _ key: RecordKey) async throws -> RecordState? {
        for try await blob in try await connection.query(
            "SELECT state FROM record WHERE entity = \(key.entity.rawValue) AND id = \(key.id.rawValue)",
            logger: logger
        ).decode(ByteBuffer.self) {
            return try RecordState(binary: Array(blob.readableBytesView))
        }
        return nil
    }

    /// The states of `keys` that exist, in one query.
    func loadStates(_ connection: PostgresConnection, _ keys: [RecordKey]) async throws -> [RecordKey: RecordState] {
        var states: [RecordKey: RecordState] = [:]
        guard !keys.isEmpty else { return states }
        let entities = keys.map(\.entity.rawValue)
        let ids = keys.map(\.id.rawValue)
        for try await (entity, id, blob) in try await connection.query(
            """
            SELECT entity, id, state FROM record
            WHERE (entity, id) IN (SELECT e, i FROM unnest(\(entities)::text[], \(ids)::text[]) AS u(e, i))
            """,
            logger: logger
        ).decode((String, String, ByteBuffer).self) {
            states[RecordKey(entity: EntityKind(entity), id: RecordID(id))] = try RecordState(
                binary: Array(blob.readableBytesView)
            )
        }
        return states
    }

    /// The states of the batch's records, and of the accounts their changes or states point to.
    func loadStates(_ connection: PostgresConnection, for changes: [Change]) async throws -> [RecordKey: RecordState] {
        var states = try await loadStates(
            connection,
            Array(Set(changes.map { RecordKey(entity: $0.entity, id: $0.recordID) }))
        )
        let accounts = PushProcessor.referencedAccounts(changes, states: states)
        for (key, state) in try await loadStates(connection, Array(accounts)) {
            states[key] = state
        }
        return states
    }

    /// Optional text as an array element: "" is null, anything else carries a one-character prefix.
    private static func optional(_ text: String?) -> String { text.map { "v" + $0 } ?? "" }
    private static func unwrapped(_ column: String) -> String {
        "CASE WHEN \(column) = '' THEN NULL ELSE substr(\(column), 2) END"
    }

    /// Upserts record states and their scope columns in one statement.
    func save(_ connection: PostgresConnection, _ states: [RecordState]) async throws {
        guard !states.isEmpty else { return }
        var entities: [String] = []
        var ids: [String] = []
        var territories: [String] = []
        var scopes: [String] = []
        var owners: [String] = []
        var conflicts: [Bool] = []
        var blobs: [ByteBuffer] = []
        for state in states {
            let row = RecordRow(state)
            entities.append(state.entity.rawValue)
            ids.append(state.id.rawValue)
            territories.append(Self.optional(row.territory))
            scopes.append(Self.optional(row.scope.account?.rawValue))
            owners.append(Self.optional(row.scope.owner))
            conflicts.append(row.hasConflicts)
            blobs.append(ByteBuffer(bytes: state.binaryEncoded))
        }
        try await connection.query(
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO record (entity, id, territory, scope_account, owner, has_conflicts, state)
                    SELECT e, i, \(Self.unwrapped("t")), \(Self.unwrapped("sa")), \(Self.unwrapped("o")), h, s
                    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::bytea[])
                        AS u(e, i, t, sa, o, h, s)
                    ON CONFLICT (entity, id) DO UPDATE SET territory = EXCLUDED.territory,
                        scope_account = EXCLUDED.scope_account, owner = EXCLUDED.owner,
                        has_conflicts = EXCLUDED.has_conflicts, state = EXCLUDED.state
                    """,
                binds: Self.binds(entities, ids, territories, scopes, owners, conflicts, blobs)
            ),
            logger: logger
        )
    }

    private static func binds(
        _ entities: [String],
        _ ids: [String],
        _ territories: [String],
        _ scopes: [String],
        _ owners: [String],
        _ conflicts: [Bool],
        _ blobs: [ByteBuffer]
    ) -> PostgresBindings {
        var bindings = PostgresBindings()
        bindings.append(entities)
        bindings.append(ids)
        bindings.append(territories)
        bindings.append(scopes)
        bindings.append(owners)
        bindings.append(conflicts)
        bindings.append(blobs)
        return bindings
    }

    /// Appends changes to the log, in order, in one statement.
    func append(_ connection: PostgresConnection, _ entries: [(Change, ScopeTag)]) async throws {
        guard !entries.isEmpty else { return }
        let replicas = entries.map { $0.0.dot.replica.rawValue }
        let counters = entries.map { Int64($0.0.dot.counter) }
        let entities = entries.map { $0.0.entity.rawValue }
        let ids = entries.map { $0.0.recordID.rawValue }
        let scopes = entries.map { Self.optional($0.1.account?.rawValue) }
        let owners = entries.map { Self.optional($0.1.owner) }
        let blobs = entries.map { ByteBuffer(bytes: $0.0.binaryEncoded) }
        var bindings = PostgresBindings()
        bindings.append(replicas)
        bindings.append(counters)
        bindings.append(entities)
        bindings.append(ids)
        bindings.append(scopes)
        bindings.append(owners)
        bindings.append(blobs)
        try await connection.query(
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO change_log (replica, counter, entity, record_id, account_scope, owner, change)
                    SELECT r, c, e, i, \(Self.unwrapped("sa")), \(Self.unwrapped("o")), b
                    FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[])
                        WITH ORDINALITY AS u(r, c, e, i, sa, o, b, n)
                    ORDER BY n
                    """,
                binds: bindings
            ),
            logger: logger
        )
    }

    /// Appends one change and returns its sequence number (territory moves record it).
    func append(_ connection: PostgresConnection, _ change: Change, scope: ScopeTag) async throws -> Int64 {
        for try await seq in try await connection.query(
            """
            INSERT INTO change_log (replica, counter, entity, record_id, account_scope, owner, change)
            VALUES (\(change.dot.replica.rawValue), \(Int64(change.dot.counter)), \(change.entity.rawValue),
                \(change.recordID.rawValue), \(scope.account?.rawValue), \(scope.owner),
                \(ByteBuffer(bytes: change.binaryEncoded)))
            RETURNING seq
            """,
            logger: logger
        ).decode(Int64.self) {
            return seq
        }
        throw SyncServerError(.unavailable, "the change log did not return a sequence number")
    }

    // MARK: - Pull and snapshot

    public func pull(user: User, replica: ReplicaID, after cursor: Int64, limit: Int) async throws -> PullPage {
        try await client.withConnection { connection in
            var rows: [(Int64, ByteBuffer)] = []
            for try await row in try await connection.query(
                """
                SELECT seq, change FROM change_log
                WHERE seq > \(cursor) AND replica != \(replica.rawValue) AND (
                    \(user.seesEverything) OR (account_scope IS NULL AND owner IS NULL) OR owner = \(user.name)
                    OR account_scope IN (SELECT id FROM record WHERE entity = 'account' AND territory = ANY(\(user.territories)))
                )
                ORDER BY seq LIMIT \(limit + 1)
                """,
                logger: self.logger
            ).decode((Int64, ByteBuffer).self) {
                rows.append(row)
            }
            let page = rows.prefix(limit)
            var changes = try page.map { try Change(binary: Array($0.1.readableBytesView)) }
            let hasMore = rows.count > limit
            let next: Int64
            if let last = page.last, hasMore {
                next = last.0
            } else {
                next = max(cursor, try await self.maxSeq(connection))
            }
            var history: [Change] = []
            var removed: [ScopeNotice] = []
            let check = ScopeCheck(user: user)
            var moves: [(String, String?, String)] = []
            for try await move in try await connection.query(
                """
                SELECT account_id, old_territory, new_territory FROM scope_move
                WHERE seq > \(cursor) AND seq <= \(next) ORDER BY seq
                """,
                logger: self.logger
            ).decode((String, String?, String).self) {
                moves.append(move)
            }
            for (account, old, new) in moves {
                let (sawBefore, seesNow) = (check.canSee(territory: old), check.canSee(territory: new))
                if seesNow, !sawBefore {
                    for try await blob in try await connection.query(
                        """
                        SELECT change FROM change_log WHERE account_scope = \(account) AND seq <= \(cursor)
                        AND replica != \(replica.rawValue) ORDER BY seq
                        """,
                        logger: self.logger
                    ).decode(ByteBuffer.self) {
                        history.append(try Change(binary: Array(blob.readableBytesView)))
                    }
                } else if sawBefore, !seesNow {
                    for try await (entity, id) in try await connection.query(
                        "SELECT entity, id FROM record WHERE scope_account = \(account) ORDER BY entity = 'account', entity, id",
                        logger: self.logger
                    ).decode((String, String).self) {
                        removed.append(ScopeNotice(entity: EntityKind(entity), recordID: RecordID(id)))
                    }
                }
            }
            changes = history + changes
            return PullPage(changes: changes, removed: removed, cursor: next, hasMore: hasMore)
        }
    }

    private func maxSeq(_ connection: PostgresConnection) async throws -> Int64 {
        for try await value in try await connection.query(
            "SELECT COALESCE(MAX(seq), 0) FROM change_log",
            logger: logger
        )
        .decode(Int64.self) {
            return value
        }
        return 0
    }

    public func snapshot(user: User, after: String?, limit: Int) async throws -> SnapshotPage {
        try await client.withConnection { connection in
            var afterEntity = ""
            var afterID = ""
            if let after, let separator = after.firstIndex(of: "/") {
                afterEntity = String(after[..<separator])
                afterID = String(after[after.index(after: separator)...])
            }
            // The cursor first: states read afterwards are at least as new as it.
            let cursor = try await self.maxSeq(connection)
            var rows: [(String, String, ByteBuffer)] = []
            for try await row in try await connection.query(
                """
                SELECT entity, id, state FROM record
                WHERE (entity, id) > (\(afterEntity), \(afterID)) AND (
                    \(user.seesEverything) OR (scope_account IS NULL AND owner IS NULL) OR owner = \(user.name)
                    OR scope_account IN (SELECT id FROM record WHERE entity = 'account' AND territory = ANY(\(user.territories)))
                )
                ORDER BY entity, id LIMIT \(limit + 1)
                """,
                logger: self.logger
            ).decode((String, String, ByteBuffer).self) {
                rows.append(row)
            }
            let page = rows.prefix(limit)
            let states = try page.map { try RecordState(binary: Array($0.2.readableBytesView)) }
            let next = page.last.map { "\($0.0)/\($0.1)" }
            return SnapshotPage(records: states, cursor: cursor, next: rows.count > limit ? next : nil)
        }
    }

    // MARK: - Admin

    func serverCounter(_ connection: PostgresConnection) async throws -> UInt64 {
        for try await value in try await connection.query(
            "SELECT COALESCE(MAX(counter), 0) FROM change_log WHERE replica = 'server'",
            logger: logger
        ).decode(Int64.self) {
            return UInt64(value)
        }
        return 0
    }

    public func assignTerritory(account: RecordID, territory: String, now: Int64) async throws {
        try await write { connection in
            guard var state = try await self.loadState(connection, RecordKey(entity: .account, id: account)) else {
                throw SyncServerError(.notFound, "no account with id \(account)")
            }
            var clock = HybridClock()
            let change = Change(
                dot: Dot(replica: .server, counter: try await self.serverCounter(connection) + 1),
                context: state.clock,
                timestamp: clock.send(now: now),
                author: "admin",
                entity: .account,
                recordID: account,
                operation: .set(["territory": .string(territory)])
            )
            let oldTerritory = state.values(schema: CRMSchema.account)["territory"]?.stringValue
            _ = state.apply(change, schema: CRMSchema.account, authority: .server)
            try await self.save(connection, [state])
            let seq = try await self.append(connection, change, scope: ScopeTag(account: account, owner: nil))
            try await connection.query(
                """
                INSERT INTO scope_move (seq, account_id, old_territory, new_territory)
                VALUES (\(seq), \(account.rawValue), \(oldTerritory), \(territory))
                """,
                logger: self.logger
            )
        }
    }

    public func importRows(_ kind: ImportKind, rows: [ImportRow], now: Int64) async throws -> ImportReport {
        try await write { connection in
            var report = ImportReport()
            var planner = ImportPlanner(
                counter: try await self.serverCounter(connection),
                clock: HybridClock(),
                now: now
            )
            for row in rows {
                let state =
                    try await row.id.asyncMap {
                        try await self.loadState(connection, RecordKey(entity: kind.entity, id: $0))
                    } ?? nil
                let step = planner.step(row, kind: kind, current: state)
                report.count(step)
                guard case .write(let record, let changes, _) = step else { continue }
                try await self.save(connection, [record])
                let scope = ScopeTag.of(record, schema: CRMSchema.schema(for: kind.entity))
                try await self.append(connection, changes.map { ($0, scope) })
            }
            return report
        }
    }

    public func stats() async throws -> ServerStats {
        try await client.withConnection { connection in
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
                replicas.append(
                    .init(
                        replica: id,
                        user: user,
                        lastSeen: ISO8601.format(millisecondsSince1970: seen),
                        lastCounter: counter
                    )
                )
            }
            return ServerStats(
                users: Int(try await count("SELECT COUNT(*) FROM crm_user")),
                replicas: replicas,
                changes: try await count("SELECT COUNT(*) FROM change_log"),
                records: try await count("SELECT COUNT(*) FROM record"),
                recordsWithOpenConflicts: try await count("SELECT COUNT(*) FROM record WHERE has_conflicts")
            )
        }
    }

    public func backup(to path: String) async throws {
        throw SyncServerError(
            .invalidValue,
            "back up a PostgreSQL database with pg_dump (a consistent snapshot while serving): pg_dump -Fc -f \(path) DATABASE"
        )
    }

    // MARK: - Plumbing

    /// One write transaction under the cluster-wide write lock.
    func write<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await client.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.writeLock))", logger: self.logger)
                return try await body(connection)
            }
        } catch let error as PostgresTransactionError {
            if let closureError = error.closureError as? SyncServerError { throw closureError }
            throw SyncServerError(.unavailable, "storage error: \(String(reflecting: error).prefix(200))")
        }
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
