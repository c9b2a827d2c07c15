import Foundation
import GRDB
public import SyncProtocol
import Synchronization

/// The laptop's replica: one SQLite file holding the rep's part of the CRM, the outbox of local changes, the
/// applied dots, conflicts, the change history and the sync state. The only code that knows the file's schema.
///
/// Every local write is one transaction that updates the record, logs the change with the next dot, its causal
/// context and a hybrid timestamp, and appends to the record's history. Remote changes are applied in batches, one
/// transaction each, through SyncProtocol's merge rules; applying a change twice is a no-op.
///
/// ```swift
/// let replica = try Replica(path: "crm.sqlite")
/// let account = try await replica.create(.account, fields: ["name": "Acme", "territory": "north"])
/// try await replica.update(.account, id: account.id, fields: ["phone": "+49 30 1234567"])
/// let outbox = try await replica.pendingChanges(limit: 1000)
/// ```
public final class Replica: Sendable {
    /// The file's connections (WAL: one writer, concurrent readers).
    let pool: DatabasePool
    /// This laptop's replica ID: the origin of its dots. It changes only when the replica takes a new ID because the
    /// server saw its dots reused (a restored or copied laptop; ``restamp(from:as:)``).
    public var replicaID: ReplicaID { writer.withLock { $0.replicaID } }
    public let path: String
    let configuration: ReplicaConfiguration
    /// What the next write needs without a query: its dot counter, the hybrid clock, the highest applied dot of
    /// each origin. Changed only inside write transactions (GRDB serialises them); reloaded after a failed one.
    let writer: Mutex<WriterState>

    struct WriterState: Sendable {
        var replicaID: ReplicaID
        var counter: UInt64 = 0
        var clock = HybridClock(maximumAhead: .max)
        var appliedMax: [ReplicaID: UInt64] = [:]
        var isStale = false
    }

    /// Opens the replica at `path`, creating the file and its replica ID the first time: `newReplicaID` (one the
    /// server registered for this laptop) or, without it, a random one. An existing file keeps its ID.
    public init(
        path: String,
        configuration: ReplicaConfiguration = ReplicaConfiguration(),
        newReplicaID: ReplicaID? = nil
    ) throws {
        self.path = path
        self.configuration = configuration
        var config = Configuration()
        config.label = "crm-field.replica"
        config.busyMode = .timeout(5)
        let synchronous = configuration.synchronous.rawValue
        let cacheKilobytes = configuration.cacheKilobytes
        config.prepareDatabase { db in
            // A bigger page cache than SQLite's 2 MB default: applying a large pull touches index pages all over
            // the change log, and each miss is a system call.
            try db.execute(sql: "PRAGMA cache_size = -\(cacheKilobytes)")
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
            // After the pool's WAL set-up, which sets synchronous = NORMAL on the writer connection.
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = \(synchronous)") }
            try Migrations.migrator.migrate(pool)
            try pool.write { db in
                guard try String.fetchOne(db, sql: "SELECT value FROM sync_state WHERE key = 'replica_id'") == nil
                else { return }
                let fresh = newReplicaID?.rawValue ?? RecordIDGenerator.replicaID()
                try db.execute(sql: "INSERT INTO sync_state (key, value) VALUES ('replica_id', ?)", arguments: [fresh])
            }
            let loaded = try pool.read { db in try Self.loadWriterState(db) }
            writer = Mutex(loaded)
        } catch let error as ReplicaError {
            throw error
        } catch {
            throw Self.wrap(error)
        }
    }

    static func loadWriterState(_ db: Database) throws -> WriterState {
        guard let id = try String.fetchOne(db, sql: "SELECT value FROM sync_state WHERE key = 'replica_id'") else {
            throw ReplicaError(.damaged, "the replica file has no replica ID")
        }
        let replicaID = ReplicaID(unchecked: id)
        var state = WriterState(replicaID: replicaID)
        state.counter =
            try UInt64.fetchOne(
                db,
                sql: "SELECT MAX(counter) FROM change_log WHERE replica = ?",
                arguments: [replicaID.rawValue]
            ) ?? 0
        for row in try Row.fetchAll(db, sql: "SELECT key, value FROM sync_state WHERE key LIKE 'applied:%'") {
            let key: String = row[0]
            state.appliedMax[ReplicaID(unchecked: String(key.dropFirst("applied:".count)))] = UInt64(row[1] as String)
        }
        // The hybrid clock resumes after our own latest stamp and the latest stamp applied here, leaving out
        // changes the server refused: a laptop whose clock was a year ahead gets its changes refused with
        // `clock_skew`, and once its clock is fixed it must stamp with the real time again, not a year ahead.
        let latest = [
            try Data.fetchOne(
                db,
                sql: """
                    SELECT change FROM change_log WHERE replica = ? AND status IS NOT 'rejected'
                    ORDER BY counter DESC LIMIT 1
                    """,
                arguments: [replicaID.rawValue]
            ),
            try Data.fetchOne(
                db,
                sql: "SELECT change FROM change_log WHERE status IS NOT 'rejected' ORDER BY seq DESC LIMIT 1"
            ),
        ]
        for blob in latest.compactMap({ $0 }) {
            _ = try? state.clock.receive(try Change(binary: [UInt8](blob)).timestamp, now: 0)
        }
        return state
    }

    /// Runs `body` in one write transaction with the writer state; the state is kept only if the transaction
    /// commits.
    ///
    /// GRDB's blocking `write` is used on purpose: its async variant costs two thread hops (about 200 µs on this
    /// machine) per transaction, ten times a whole local write with synchronous=NORMAL. A replica's transactions
    /// are short and the CLI runs one task, so blocking the calling thread for their duration is the cheaper choice.
    func write<T: Sendable>(
        _ body: @escaping @Sendable (Database, inout WriterState) throws -> T
    ) async throws -> T {
        try writeBlocking(body)
    }

    private func writeBlocking<T: Sendable>(
        _ body: @escaping @Sendable (Database, inout WriterState) throws -> T
    ) throws -> T {
        do {
            return try pool.write { [self] db in
                var state = try writer.withLock { current -> WriterState in
                    if current.isStale { current = try Self.loadWriterState(db) }
                    return current
                }
                let result = try body(db, &state)
                state.isStale = false
                writer.withLock { $0 = state }
                return result
            }
        } catch {
            // The transaction rolled back (or its commit failed): what the body put in memory may not be on disk.
            writer.withLock { $0.isStale = true }
            throw Self.wrap(error)
        }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try readBlocking(body)
    }

    private func readBlocking<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) throws -> T {
        do {
            return try pool.read(body)
        } catch {
            throw Self.wrap(error)
        }
    }

    static func wrap(_ error: any Error) -> ReplicaError {
        if let error = error as? ReplicaError { return error }
        if let error = error as? WireFormatError { return ReplicaError(.damaged, error.message) }
        if let error = error as? DatabaseError {
            if error.resultCode == .SQLITE_FULL {
                return ReplicaError(
                    .diskFull,
                    "the disk is full: nothing of this was saved (what was saved before is safe); free some space "
                        + "and run the command again"
                )
            }
            // GRDB keeps statement arguments (customer data) out of its description by default.
            return ReplicaError(.storage, "SQLite error \(error.resultCode.rawValue): \(error.message ?? "unknown")")
        }
        return ReplicaError(.storage, "\(error)")
    }

    /// Writes a consistent copy of the replica file to `path` (`VACUUM INTO`), as a laptop backup would be.
    public func backup(to path: String) async throws {
        do { try await pool.vacuum(into: path) } catch { throw Self.wrap(error) }
    }

    /// `PRAGMA integrity_check`: "ok" for a sound file.
    public func integrityCheck() async throws -> String {
        try await read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ") }
    }

    /// Closes the file's connections.
    public func close() throws {
        do { try pool.close() } catch { throw Self.wrap(error) }
    }
}
