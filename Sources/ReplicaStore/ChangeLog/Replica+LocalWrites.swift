import GRDB
public import SyncProtocol

// MARK: - Local writes: one call, one transaction

extension Replica {
    /// Creates a record; `id` defaults to a new ULID. Returns the record as stored.
    @discardableResult
    public func create(
        _ entity: EntityKind,
        id: RecordID? = nil,
        fields: [String: FieldValue]
    ) async throws -> StoredRecord {
        let recordID = id ?? RecordID(RecordIDGenerator.ulid(now: configuration.now()))
        let operation: Change.Operation =
            CRMSchema.schema(for: entity).kind == .appendOnly ? .append(fields) : .create(fields)
        return try await makeChange(entity, recordID, operation)
    }

    /// Sets fields of an existing record (null clears a field).
    @discardableResult
    public func update(_ entity: EntityKind, id: RecordID, fields: [String: FieldValue]) async throws -> StoredRecord {
        try await makeChange(entity, id, .set(fields))
    }

    /// Deletes a record (a tombstone: its values and history stay).
    public func delete(_ entity: EntityKind, id: RecordID) async throws {
        _ = try await makeChange(entity, id, .delete)
    }

    /// Adds a signed amount to a counter record (stock: a sale is negative, a return positive).
    @discardableResult
    public func adjustCounter(_ entity: EntityKind, id: RecordID, by delta: Int64) async throws -> StoredRecord {
        try await makeChange(entity, id, .counterDelta(delta))
    }

    /// One local edit, for ``writeBatch(_:)``.
    public struct Edit: Sendable {
        public var entity: EntityKind
        public var id: RecordID
        public var operation: Change.Operation

        public init(_ entity: EntityKind, id: RecordID, _ operation: Change.Operation) {
            self.entity = entity
            self.id = id
            self.operation = operation
        }
    }

    /// Makes many local changes in one transaction (bulk edits, imports): all of them, or none if one fails.
    @discardableResult
    public func writeBatch(_ edits: [Edit]) async throws -> [StoredRecord] {
        let now = configuration.now
        return try await write { db, writer in
            let author = try Self.author(db)
            return try edits.map { edit in
                try Self.makeChange(db, &writer, replicaID: writer.replicaID, author: author, now: now, edit)
            }
        }
    }

    /// Makes one local change in one transaction.
    func makeChange(
        _ entity: EntityKind,
        _ id: RecordID,
        _ operation: Change.Operation
    ) async throws -> StoredRecord {
        let now = configuration.now
        return try await write { db, writer in
            try Self.makeChange(
                db,
                &writer,
                replicaID: writer.replicaID,
                author: Self.author(db),
                now: now,
                Edit(entity, id: id, operation)
            )
        }
    }

    static func author(_ db: Database) throws -> String {
        try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM sync_state WHERE key = 'user'")) ?? "local"
    }

    /// Checks a local change, applies it through the merge rules, writes the row, logs the change in the outbox
    /// with its old values (the record's history), and closes the conflicts a resolution replaced.
    static func makeChange(
        _ db: Database,
        _ writer: inout WriterState,
        replicaID: ReplicaID,
        author: String,
        now: @Sendable () -> Int64,
        _ edit: Edit
    ) throws -> StoredRecord {
        let (entity, id) = (edit.entity, edit.id)
        let schema = CRMSchema.schema(for: entity)
        let operation = canonicalized(edit.operation, schema: schema)
        let existing = try RecordStorage.loadState(db, entity, id)
        switch operation {
        case .create, .append:
            if existing?.exists == true {
                throw ReplicaError(.alreadyExists, "a \(entity) with id \(id) already exists")
            }
        case .set, .delete, .counterDelta, .counterReset:
            guard let existing, existing.exists, !existing.isDeleted(schema: schema) else {
                throw ReplicaError(.notFound, "no \(entity) with id \(id)")
            }
            if case .delete = operation,
                let rejection = DeletePermission.rejection(
                    role: try String.fetchOne(
                        db.cachedStatement(sql: "SELECT value FROM sync_state WHERE key = 'role'")
                    ),
                    user: author,
                    entity: entity,
                    record: existing
                )
            {
                throw ReplicaError.invalid(rejection)
            }
        }
        let change = Change(
            dot: Dot(replica: replicaID, counter: writer.counter + 1),
            context: existing?.clock ?? VectorClock(),
            timestamp: writer.clock.send(now: now()),
            author: author,
            entity: entity,
            recordID: id,
            operation: operation
        )
        if let rejection = schema.validate(change, authority: .replica) { throw ReplicaError.invalid(rejection) }
        var state = existing ?? RecordState(entity: entity, id: id)
        let oldValues = currentValues(of: operation.fields, in: state, schema: schema)
        let conflictsBefore = state.conflicts(schema: schema)
        if case .rejected(let rejection) = state.apply(change, schema: schema, authority: .replica).status {
            throw ReplicaError.invalid(rejection)
        }
        try RecordStorage.save(db, state, previous: existing?.values(schema: schema))
        let seq = try RecordStorage.log(
            db,
            change,
            origin: "local",
            status: "pending",
            oldValues: oldValues,
            now: now()
        )
        if !conflictsBefore.isEmpty {
            try RecordStorage.syncConflicts(
                db,
                before: conflictsBefore,
                after: state.conflicts(schema: schema),
                seq: seq
            )
        }
        writer.counter += 1
        return StoredRecord(
            entity: entity,
            id: id,
            values: state.values(schema: schema),
            isDeleted: state.isDeleted(schema: schema)
        )
    }

    /// Timestamps are stored in one canonical form (`2026-11-23T09:30:00.000Z`) so they sort as text.
    static func canonicalized(_ operation: Change.Operation, schema: EntitySchema) -> Change.Operation {
        func canonical(_ fields: [String: FieldValue]) -> [String: FieldValue] {
            var result = fields
            for (name, value) in fields {
                guard schema.fieldsByName[name]?.type == .timestamp, let text = value.stringValue,
                    let millis = ISO8601.parseTimestamp(text)
                else { continue }
                result[name] = .string(ISO8601.format(millisecondsSince1970: millis))
            }
            return result
        }
        switch operation {
        case .create(let fields): return .create(canonical(fields))
        case .set(let fields): return .set(canonical(fields))
        case .append(let fields): return .append(canonical(fields))
        case .delete, .counterDelta, .counterReset: return operation
        }
    }

    // MARK: - Conflicts

    /// How a person resolves a conflict.
    public enum Resolution: Sendable, Hashable {
        /// Keep the value the record shows.
        case keep
        /// Take the losing value.
        case takeOther
        /// Write a new value.
        case value(FieldValue)
    }

    /// Resolves an open conflict with a new local change that has seen both sides, so it replaces them on every
    /// replica once synced.
    @discardableResult
    public func resolveConflict(id conflictID: String, _ resolution: Resolution) async throws -> StoredRecord {
        guard let conflict = try await openConflicts().first(where: { $0.id == conflictID }) else {
            throw ReplicaError(.notFound, "no open conflict with id \(conflictID)")
        }
        // "Keep" keeps what the record shows now, read from the record itself: a later concurrent write may have
        // replaced the winner the conflict was opened with.
        let shown = try await record(conflict.entity, id: conflict.recordID)?.values[conflict.field] ?? .null
        let value: FieldValue =
            switch resolution {
            case .keep: shown
            case .takeOther: conflict.loser.value
            case .value(let chosen): chosen
            }
        return try await makeChange(conflict.entity, conflict.recordID, .set([conflict.field: value]))
    }
}
