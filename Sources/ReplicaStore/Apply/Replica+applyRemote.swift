import Foundation
import GRDB
public import SyncProtocol

/// What applying a batch of remote changes did.
public struct ApplyReport: Hashable, Sendable {
    public var applied = 0
    /// Already applied here (a dot in the set of applied dots): nothing done.
    public var duplicates = 0
    /// Applied, but a change that had seen them was already here: kept in history only.
    public var superseded = 0
    /// Refused by the merge rules (kept in the change log with the reason).
    public var rejected = 0
    /// Conflicts that these changes opened.
    public var conflicts: [Conflict] = []

    public init() {}

    mutating func add(_ other: ApplyReport) {
        applied += other.applied
        duplicates += other.duplicates
        superseded += other.superseded
        rejected += other.rejected
        conflicts += other.conflicts
    }
}

/// What applying one pulled page did: its changes, and the records it removed from the rep's scope.
public struct PageReport: Hashable, Sendable {
    public var apply: ApplyReport
    /// Local changes to removed records still waiting in the outbox: they stay there and are reported.
    public var unsentEditsOfRemoved: [Change]
}

extension Replica {
    /// Applies changes pulled from the server, in batches of `configuration.applyBatchSize`, one transaction each.
    ///
    /// Changes go through SyncProtocol's rules with server authority (the server has checked them). A change whose
    /// dot was applied before is skipped, so a batch applied twice changes nothing. Remote changes are logged as
    /// remote: they never enter the outbox.
    @discardableResult
    public func applyRemote(_ changes: [Change]) async throws -> ApplyReport {
        var report = ApplyReport()
        var start = 0
        while start < changes.count {
            let end = min(start + configuration.applyBatchSize, changes.count)
            let batch = Array(changes[start..<end])
            let now = configuration.now
            report.add(try await write { db, writer in try Self.applyBatch(db, &writer, batch, now: now) })
            start = end
        }
        return report
    }

    /// Applies one pulled page in one transaction: its changes, its removal notices and the cursor that follows
    /// it. A crash leaves either the whole page applied with its cursor, or nothing of it.
    public func applyPage(_ changes: [Change], removed: [ScopeNotice], cursor: String) async throws -> PageReport {
        let now = configuration.now
        return try await write { db, writer in
            let report = try Self.applyBatch(db, &writer, changes, now: now)
            let pending = try Self.remove(db, removed)
            try Self.setState(db, ["cursor": cursor, "pull_from_start": "0"])
            return PageReport(apply: report, unsentEditsOfRemoved: pending)
        }
    }

    private struct Touched {
        var state: RecordState
        /// The row's values when loaded; nil when there was no row.
        var loaded: [String: FieldValue]?
        var conflictsBefore: [Conflict]
        var lastSeq: Int64 = 0
    }

    private struct RecordKey: Hashable {
        var entity: EntityKind
        var id: RecordID
    }

    static func applyBatch(
        _ db: Database,
        _ writer: inout WriterState,
        _ changes: [Change],
        now: @Sendable () -> Int64
    ) throws -> ApplyReport {
        let replicaID = writer.replicaID
        var report = ApplyReport()
        // The set of applied dots: new dots are above the highest applied one of their origin (the server serves
        // each origin in order); anything else is looked up exactly.
        var fresh: [Change] = []
        fresh.reserveCapacity(changes.count)
        var seenInBatch = Set<Dot>()
        for change in changes {
            let origin = change.dot.replica
            let highest = origin == replicaID ? writer.counter : writer.appliedMax[origin] ?? 0
            let logged = change.dot.counter <= highest ? try isLogged(db, change.dot) : false
            if logged || seenInBatch.contains(change.dot) {
                report.duplicates += 1
                continue
            }
            seenInBatch.insert(change.dot)
            fresh.append(change)
        }
        // Records are saved in the order they first arrived, so lists "in creation order" (rowid) follow the
        // server's log, not the dictionary's hash order (which differs from one process to the next).
        var arrivalOrder: [RecordKey] = []
        var idsByEntity: [EntityKind: [RecordID]] = [:]
        var seenKeys = Set<RecordKey>()
        for change in fresh {
            let key = RecordKey(entity: change.entity, id: change.recordID)
            if seenKeys.insert(key).inserted {
                arrivalOrder.append(key)
                idsByEntity[change.entity, default: []].append(change.recordID)
            }
        }
        // Every record the batch touches is loaded with one query per entity.
        var touched: [RecordKey: Touched] = [:]
        touched.reserveCapacity(arrivalOrder.count)
        for (entity, ids) in idsByEntity {
            let schema = CRMSchema.schema(for: entity)
            let stored = try RecordStorage.loadStates(db, entity, ids)
            for id in ids {
                let state = stored[id]
                let current = state ?? RecordState(entity: entity, id: id)
                touched[RecordKey(entity: entity, id: id)] = Touched(
                    state: current,
                    loaded: state?.values(schema: schema),
                    conflictsBefore: current.conflicts(schema: schema)
                )
            }
        }
        let appliedAt = now()
        var movedOrigins = Set<ReplicaID>()
        for change in fresh {
            let origin = change.dot.replica
            let key = RecordKey(entity: change.entity, id: change.recordID)
            let schema = CRMSchema.schema(for: change.entity)
            let oldValues = currentValues(of: change.operation.fields, in: touched[key]!.state, schema: schema)
            let result = touched[key]!.state.apply(change, schema: schema, authority: .server)
            var rejection: ChangeRejection?
            switch result.status {
            case .applied: report.applied += 1
            case .duplicate: report.duplicates += 1
            case .superseded: report.superseded += 1
            case .rejected(let reason):
                report.rejected += 1
                rejection = reason
            }
            let seq = try RecordStorage.log(
                db,
                change,
                origin: "remote",
                status: rejection == nil ? nil : "rejected",
                rejection: rejection,
                oldValues: oldValues,
                now: appliedAt
            )
            touched[key]!.lastSeq = seq
            if !result.conflicts.isEmpty {
                report.conflicts += result.conflicts.filter {
                    $0.loser.dot == change.dot || $0.winner.dot == change.dot
                }
            }
            if origin != replicaID, change.dot.counter > writer.appliedMax[origin] ?? 0 {
                writer.appliedMax[origin] = change.dot.counter
                movedOrigins.insert(origin)
            }
            _ = try? writer.clock.receive(change.timestamp, now: appliedAt)
        }
        for key in arrivalOrder {
            guard let record = touched[key] else { continue }
            try RecordStorage.save(db, record.state, previous: record.loaded)
            let after = record.state.conflicts(schema: CRMSchema.schema(for: record.state.entity))
            if !record.conflictsBefore.isEmpty || !after.isEmpty {
                try RecordStorage.syncConflicts(
                    db,
                    before: record.conflictsBefore,
                    after: after,
                    seq: record.lastSeq
                )
            }
        }
        try saveAppliedMarks(db, movedOrigins, writer)
        return report
    }

    /// Saves the highest applied dot of these origins (only those a write moved forward), read back by
    /// ``loadWriterState(_:)``.
    static func saveAppliedMarks(_ db: Database, _ origins: Set<ReplicaID>, _ writer: WriterState) throws {
        for origin in origins {
            try db.cachedStatement(
                sql:
                    "INSERT INTO sync_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
            ).execute(arguments: ["applied:\(origin.rawValue)", String(writer.appliedMax[origin] ?? 0)])
        }
    }

    /// The values the fields a change sets have now (its "old" values in the history).
    static func currentValues(
        of fields: [String: FieldValue],
        in state: RecordState,
        schema: EntitySchema
    ) -> [String: FieldValue] {
        var values: [String: FieldValue] = [:]
        for name in fields.keys {
            if let entry = state.winner(of: name, schema: schema), !entry.value.isNull { values[name] = entry.value }
        }
        return values
    }

    static func isLogged(_ db: Database, _ dot: Dot) throws -> Bool {
        try Bool.fetchOne(
            db.cachedStatement(sql: "SELECT 1 FROM change_log WHERE replica = ? AND counter = ?"),
            arguments: [dot.replica.rawValue, Int64(bitPattern: dot.counter)]
        ) ?? false
    }

    /// Drops records that left the rep's scope (an account moved to another territory). Returns the local
    /// changes to them still waiting in the outbox: they stay there and are reported, never silently lost.
    @discardableResult
    public func removeFromScope(_ notices: [ScopeNotice]) async throws -> [Change] {
        try await write { db, _ in try Self.remove(db, notices) }
    }

    /// Drops the accounts of territories the user no longer holds (IT's `user set`) and what hangs off them, as a
    /// move's removal notices would. Returns the local changes to them still in the outbox: they stay there, go out
    /// at the push (the server hands them on within its grace period) and are reported.
    @discardableResult
    public func removeTerritories(_ territories: [String]) async throws -> (removed: [ScopeNotice], unsent: [Change]) {
        guard !territories.isEmpty else { return ([], []) }
        return try await write { db, _ in
            let placeholders = territories.map { _ in "?" }.joined(separator: ", ")
            let accounts = "SELECT id FROM account WHERE territory IN (\(placeholders))"
            var notices: [ScopeNotice] = []
            for schema in CRMSchema.entities.values {
                guard case .account(let field) = schema.scope, let table = EntityTable.of(schema.entity) else {
                    continue
                }
                for id in try String.fetchAll(
                    db,
                    sql: "SELECT id FROM \(table.name) WHERE \(field) IN (\(accounts))",
                    arguments: StatementArguments(territories)
                ) {
                    notices.append(ScopeNotice(entity: schema.entity, recordID: RecordID(id)))
                }
            }
            for id in try String.fetchAll(db, sql: accounts, arguments: StatementArguments(territories)) {
                notices.append(ScopeNotice(entity: .account, recordID: RecordID(id)))
            }
            return (notices, try Self.remove(db, notices))
        }
    }

    static func remove(_ db: Database, _ notices: [ScopeNotice]) throws -> [Change] {
        var pending: [Change] = []
        for notice in notices {
            try RecordStorage.remove(db, notice.entity, notice.recordID)
            try db.execute(
                sql: "DELETE FROM conflict WHERE entity = ? AND record_id = ? AND status = 'open'",
                arguments: [notice.entity.rawValue, notice.recordID.rawValue]
            )
            for blob in try Data.fetchAll(
                db,
                sql: "SELECT change FROM change_log WHERE entity = ? AND record_id = ? AND status = 'pending'",
                arguments: [notice.entity.rawValue, notice.recordID.rawValue]
            ) {
                pending.append(try Change(binary: [UInt8](blob)))
            }
        }
        return pending
    }
}
