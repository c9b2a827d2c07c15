import Crypto
public import Foundation
public import SyncProtocol

/// An error a transaction's body throws to roll everything back on purpose (a dry run), passed through by every
/// backend as it is.
struct RollbackOnPurpose<Value: Sendable>: PassedThroughStorage {
    let value: Value
}

/// An error every backend rethrows as it is (never as a storage failure).
protocol PassedThroughStorage: Error {}

/// What `territory assign` moved.
public struct TerritoryMoveReport: Sendable, Codable {
    public var account: String
    public var name: String?
    public var from: String?
    public var to: String
    /// Records that hang off the account (contacts, history, tasks, deals, invoices) and moved with it.
    public var records: Int
    /// Reps and managers who see the account from now on, and those who no longer do.
    public var gained: [String]
    public var lost: [String]
}

/// A territory with what is in it.
public struct TerritoryInfo: Sendable, Codable {
    public var name: String
    public var accounts: Int64
    public var users: [String]
    /// Whether IT added it (`territory add`); otherwise it is known because a user holds it.
    public var registered: Bool
}

/// What `territory rename` changed.
public struct TerritoryRenameReport: Sendable, Codable {
    public var from: String
    public var to: String
    public var accounts: Int
    public var users: [String]
}

extension SyncService {
    // MARK: - Imports

    /// Imports one file from accounting (see ``CSVImport`` and ``ImportPlanner``) in one write transaction, with
    /// its audit entry (the file's SHA-256 and the counts); with `dryRun`, the same work is done and rolled back,
    /// and the report says what the import would do.
    public func importCSV(
        _ kind: ImportKind,
        data: Data,
        actor: String,
        now: Int64,
        dryRun: Bool = false
    ) async throws -> ImportReport {
        let parsed = CSVImport.parse(kind, csv: String(decoding: data, as: UTF8.self))
        let digest = SHA256.hash(data: data).hexString
        do {
            return try await storage.withWriteTransaction { transaction in
                var report = try await Self.importRows(kind, rows: parsed.rows, now: now, transaction: transaction)
                report.rejected = (parsed.rejected + report.rejected).sorted { $0.line < $1.line }
                report.warnings = parsed.warnings
                report.fileSHA256 = digest
                if dryRun {
                    report.dryRun = true
                    throw RollbackOnPurpose(value: report)
                }
                try await transaction.audit(
                    actor: actor,
                    action: "import",
                    target: kind.rawValue,
                    detail: [
                        "file_sha256": digest, "file_bytes": String(data.count), "created": String(report.created),
                        "updated": String(report.updated), "unchanged": String(report.unchanged),
                        "kept": String(report.kept), "deleted": String(report.deleted.count),
                        "rejected": String(report.rejected.count),
                    ],
                    at: now
                )
                return report
            }
        } catch let rollback as RollbackOnPurpose<ImportReport> {
            return rollback.value
        }
    }

    /// Upserts imported rows by their natural key, as server changes; one transaction for the whole file.
    public func importRows(_ kind: ImportKind, rows: [ImportRow], now: Int64) async throws -> ImportReport {
        try await storage.withWriteTransaction { transaction in
            try await Self.importRows(kind, rows: rows, now: now, transaction: transaction)
        }
    }

    static func importRows(
        _ kind: ImportKind,
        rows: [ImportRow],
        now: Int64,
        transaction: any StorageWriteTransaction
    ) async throws -> ImportReport {
        var report = ImportReport()
        var planner = ImportPlanner(counter: try await Self.serverCounter(transaction), clock: HybridClock(), now: now)
        var states = try await transaction.states(
            Array(Set(rows.compactMap { $0.id.map { RecordKey(entity: kind.entity, id: $0) } }))
        )
        let references = try await transaction.states(Array(Set(rows.compactMap { Self.reference(of: $0, kind) })))
        var users: Set<String> = []
        var territories: Set<String> = []
        if kind == .accounts || kind == .plans {
            users = Set(try await transaction.users().map(\.name))
            territories = try await Self.knownTerritories(transaction)
        }
        let space = DocumentSpace.importBaseline(kind.entity)
        let baselines = try await transaction.documents(space, keys: rows.compactMap { $0.id?.rawValue })
        var newBaselines: [String: String] = [:]
        var written: [RecordKey: RecordState] = [:]
        var log: [LogAppend] = []
        var moves: [(index: Int, move: TerritoryMove)] = []
        let schema = CRMSchema.schema(for: kind.entity)
        for row in rows {
            let current = row.id.flatMap { states[RecordKey(entity: kind.entity, id: $0)] }
            let orphan = Self.orphanProblems(
                row,
                kind,
                current: current,
                references: references,
                users: users,
                territories: territories
            )
            if !orphan.isEmpty {
                report.rejected.append(.init(line: row.line, problems: orphan))
                continue
            }
            let baseline = decodeDocument([String: FieldValue].self, row.id.flatMap { baselines[$0.rawValue] })
            let step = planner.step(row, kind: kind, current: current, baseline: baseline)
            report.count(step, line: row.line)
            let id: RecordID
            switch step {
            case .rejected, .deleted: continue
            case .unchanged: id = row.id!
            case .write(let record, let changes, _, _):
                id = record.id
                let key = RecordKey(entity: record.entity, id: record.id)
                states[key] = record
                written[key] = record
                let scope = ScopeTag.of(record, schema: schema)
                // A new territory on an existing account is a move, as `territory assign` makes it.
                let old = current.flatMap { $0.values(schema: schema)["territory"]?.stringValue }
                if kind == .accounts, let old, let new = row.fields["territory"]?.stringValue, new != old {
                    let index = log.count + changes.firstIndex { $0.operation.fields["territory"] != nil }!
                    moves.append(
                        (index, TerritoryMove(seq: 0, account: record.id, oldTerritory: old, newTerritory: new))
                    )
                }
                log += changes.map { LogAppend($0, scope: scope) }
            }
            if let json = try? WireCoding.encode(row.fields) {
                newBaselines[id.rawValue] = String(decoding: json, as: UTF8.self)
            }
        }
        try await transaction.save(Array(written.values))
        let seqs = try await transaction.append(log)
        for (index, move) in moves {
            var recorded = move
            recorded.seq = seqs[index]
            try await transaction.recordMove(recorded)
        }
        try await transaction.saveDocuments(space, newBaselines)
        return report
    }

    /// The record a row must find to be no orphan: the invoice's account, the stock's product.
    static func reference(of row: ImportRow, _ kind: ImportKind) -> RecordKey? {
        switch kind {
        case .invoices:
            row.fields["account_id"]?.stringValue.map { RecordKey(entity: .account, id: RecordID($0)) }
        case .stock:
            row.fields["part_number"]?.stringValue.map { RecordKey(entity: .product, id: RecordID($0)) }
        case .products, .accounts, .plans, .norms: nil
        }
    }

    /// Why a row refers to something that is not there: an unknown (or deleted) account or part, an owner who is
    /// no user, a territory nobody added.
    static func orphanProblems(
        _ row: ImportRow,
        _ kind: ImportKind,
        current: RecordState?,
        references: [RecordKey: RecordState],
        users: Set<String>,
        territories: Set<String>
    ) -> [String] {
        var problems: [String] = []
        if let key = reference(of: row, kind) {
            let state = references[key]
            let what = kind == .invoices ? "account" : "part"
            if state?.exists != true {
                problems.append("unknown \(what) '\(key.id.rawValue.prefix(64))'")
            } else if let state, state.isDeleted(schema: CRMSchema.schema(for: key.entity)) {
                problems.append("the \(what) '\(key.id.rawValue.prefix(64))' is deleted")
            }
        }
        if kind == .plans, let rep = row.fields["rep"]?.stringValue, !users.contains(rep) {
            problems.append("unknown rep '\(rep.prefix(64))' (no such user)")
        }
        if kind == .accounts {
            let currentValues = current.map { $0.values(schema: CRMSchema.account) } ?? [:]
            if let owner = row.fields["owner"]?.stringValue, !users.contains(owner),
                currentValues["owner"]?.stringValue != owner
            {
                problems.append("unknown owner '\(owner.prefix(64))' (no such user)")
            }
            if let territory = row.fields["territory"]?.stringValue, !territories.contains(territory),
                currentValues["territory"]?.stringValue != territory
            {
                problems.append(
                    "unknown territory '\(territory.prefix(64))' (known: \(territories.sorted().joined(separator: ", ")))"
                )
            }
        }
        return problems
    }

    // MARK: - Territories

    /// The territories IT added and those users hold.
    static func knownTerritories(_ transaction: any StorageWriteTransaction) async throws -> Set<String> {
        let registered = try await transaction.documents(DocumentSpace.territory, keys: nil).keys
        return Set(registered).union(try await transaction.users().flatMap(\.territories))
    }

    /// A territory's entry in the registry: when IT added it.
    static func territoryEntry(addedAt now: Int64) -> String {
        #"{"added_at":"\#(ISO8601.format(millisecondsSince1970: now))"}"#
    }

    /// A change the server makes for IT (a move, a rename, an undelete), authored `admin`.
    static func adminChange(
        counter: UInt64,
        context: VectorClock,
        clock: inout HybridClock,
        now: Int64,
        _ entity: EntityKind,
        _ id: RecordID,
        _ operation: Change.Operation
    ) -> Change {
        Change(
            dot: Dot(replica: .server, counter: counter),
            context: context,
            timestamp: clock.send(now: now),
            author: "admin",
            entity: entity,
            recordID: id,
            operation: operation
        )
    }

    /// Whether a territory name is acceptable: what a user name may be.
    public static func isValidTerritory(_ name: String) -> Bool { User.isValidName(name) }

    /// Adds a territory (so accounts can be assigned to it before a rep holds it).
    public func addTerritory(_ name: String, actor: String, now: Int64) async throws {
        guard Self.isValidTerritory(name) else {
            throw SyncServerError(.invalidValue, "a territory is 1 to 64 of A-Z a-z 0-9 . _ - @")
        }
        try await storage.withWriteTransaction { transaction in
            guard try await transaction.documents(DocumentSpace.territory, keys: [name]).isEmpty else {
                throw SyncServerError(.conflict, "the territory \(name) exists")
            }
            try await transaction.saveDocuments(DocumentSpace.territory, [name: Self.territoryEntry(addedAt: now)])
            try await transaction.audit(actor: actor, action: "territory.add", target: name, at: now)
        }
    }

    /// Every known territory with its accounts and users.
    public func territories() async throws -> [TerritoryInfo] {
        let stats = try await storage.stats()
        let users = try await storage.users()
        let registered = try await storage.withReadTransaction {
            Set(try await $0.documents(DocumentSpace.territory, keys: nil).keys)
        }
        let names = registered.union(users.flatMap(\.territories)).union(stats.accountsByTerritory.keys)
        return names.sorted().map { name in
            TerritoryInfo(
                name: name,
                accounts: stats.accountsByTerritory[name] ?? 0,
                users: users.filter { $0.territories.contains(name) && !$0.isRevoked }.map(\.name),
                registered: registered.contains(name)
            )
        }
    }

    /// Renames a territory: its accounts take the new name (server changes that sync like any other) and so do
    /// the users who hold it, in one transaction, so nobody loses sight of an account meanwhile.
    public func renameTerritory(
        from old: String,
        to new: String,
        actor: String,
        now: Int64
    ) async throws
        -> TerritoryRenameReport
    {
        guard Self.isValidTerritory(new) else {
            throw SyncServerError(.invalidValue, "a territory is 1 to 64 of A-Z a-z 0-9 . _ - @")
        }
        let accounts = try await accounts(inTerritory: old)
        return try await storage.withWriteTransaction { transaction in
            let known = try await Self.knownTerritories(transaction)
            guard known.contains(old) || !accounts.isEmpty else {
                throw SyncServerError(
                    .notFound,
                    "no territory \(old) (known: \(known.sorted().joined(separator: ", ")))"
                )
            }
            guard !known.contains(new) else { throw SyncServerError(.conflict, "the territory \(new) exists") }
            var counter = try await Self.serverCounter(transaction)
            var clock = HybridClock()
            var states: [RecordState] = []
            var log: [LogAppend] = []
            let keys = accounts.map { RecordKey(entity: .account, id: $0) }
            for (_, var state) in try await transaction.states(keys)
            where state.values(schema: CRMSchema.account)["territory"]?.stringValue == old {
                counter += 1
                let change = Self.adminChange(
                    counter: counter,
                    context: state.clock,
                    clock: &clock,
                    now: now,
                    .account,
                    state.id,
                    .set(["territory": .string(new)])
                )
                _ = state.apply(change, schema: CRMSchema.account, authority: .server)
                states.append(state)
                log.append(LogAppend(change, scope: ScopeTag(account: state.id, owner: nil)))
            }
            try await transaction.save(states)
            try await transaction.append(log)
            var renamedUsers: [String] = []
            for var user in try await transaction.users() where user.territories.contains(old) {
                user.territories = user.territories.map { $0 == old ? new : $0 }
                try await transaction.updateUser(user)
                renamedUsers.append(user.name)
            }
            let entry = try await transaction.documents(DocumentSpace.territory, keys: [old])[old]
            try await transaction.saveDocuments(
                DocumentSpace.territory,
                [new: entry ?? Self.territoryEntry(addedAt: now)]
            )
            try await transaction.deleteDocuments(DocumentSpace.territory, keys: [old])
            try await transaction.audit(
                actor: actor,
                action: "territory.rename",
                target: old,
                detail: ["to": new, "accounts": String(states.count), "users": renamedUsers.joined(separator: ",")],
                at: now
            )
            return TerritoryRenameReport(from: old, to: new, accounts: states.count, users: renamedUsers)
        }
    }

    /// The ids of the accounts of one territory, read page by page.
    func accounts(inTerritory territory: String) async throws -> [RecordID] {
        let viewer = User(name: "", role: .rep, territories: [territory])
        var found: [RecordID] = []
        var after: RecordKey?
        while true {
            let page = try await storage.withReadTransaction { [after] in
                try await $0.states(after: after, visibleTo: viewer, limit: 1000)
            }
            let accounts = page.filter { $0.entity == .account }
            found += accounts.map(\.id)
            // Records sort by entity: past the accounts, the rest of the territory is what hangs off them.
            guard page.count == 1000, accounts.count == page.count, let last = page.last else { break }
            after = RecordKey(entity: last.entity, id: last.id)
        }
        return found
    }

    /// Moves an account to a known territory: a server change that syncs like any other, and a move that pulls
    /// turn into history for the reps it joins and removal notices for those it leaves.
    @discardableResult
    public func assignTerritory(
        account: RecordID,
        territory: String,
        actor: String = "admin",
        now: Int64
    )
        async throws -> TerritoryMoveReport
    {
        let report = try await storage.withWriteTransaction { transaction in
            let known = try await Self.knownTerritories(transaction)
            guard known.contains(territory) else {
                // Like an unknown account: a name that could exist but does not (404, not a malformed request).
                throw SyncServerError(
                    .notFound,
                    "no territory \(territory) (known: \(known.sorted().joined(separator: ", "))); "
                        + "add it first with crm-sync-server territory add \(territory)"
                )
            }
            let key = RecordKey(entity: .account, id: account)
            guard var state = try await transaction.states([key])[key], state.exists else {
                throw SyncServerError(.notFound, "no account with id \(account)")
            }
            let values = state.values(schema: CRMSchema.account)
            let oldTerritory = values["territory"]?.stringValue
            var clock = HybridClock()
            let change = Self.adminChange(
                counter: try await Self.serverCounter(transaction) + 1,
                context: state.clock,
                clock: &clock,
                now: now,
                .account,
                account,
                .set(["territory": .string(territory)])
            )
            _ = state.apply(change, schema: CRMSchema.account, authority: .server)
            try await transaction.save([state])
            let seqs = try await transaction.append([
                LogAppend(change, scope: ScopeTag(account: account, owner: nil))
            ])
            try await transaction.recordMove(
                TerritoryMove(seq: seqs[0], account: account, oldTerritory: oldTerritory, newTerritory: territory)
            )
            let users = try await transaction.users().filter { !$0.isRevoked && !$0.seesEverything }
            let gained = users.filter {
                $0.territories.contains(territory) && !(oldTerritory.map($0.territories.contains) ?? false)
            }
            let lost = users.filter {
                !$0.territories.contains(territory) && (oldTerritory.map($0.territories.contains) ?? false)
            }
            try await transaction.audit(
                actor: actor,
                action: "territory.assign",
                target: "account/" + account.rawValue,
                detail: ["from": oldTerritory ?? "", "to": territory],
                at: now
            )
            return TerritoryMoveReport(
                account: account.rawValue,
                name: values["name"]?.stringValue,
                from: oldTerritory,
                to: territory,
                records: 0,
                gained: gained.map(\.name),
                lost: lost.map(\.name)
            )
        }
        var counted = report
        counted.records = max(
            try await storage.withReadTransaction { try await $0.records(ofAccount: account) }.count - 1,
            0
        )
        return counted
    }

    // MARK: - Users

    /// Adds a user, with its audit entry (never the token).
    public func addUser(_ user: User, tokenHash: String, actor: String, now: Int64) async throws {
        if let bad = user.territories.first(where: { !Self.isValidTerritory($0) }) {
            throw SyncServerError(
                .invalidValue,
                "territory '\(bad.prefix(40))' is not a territory name (1 to 64 of A-Z a-z 0-9 . _ - @)"
            )
        }
        try await storage.addUser(user, tokenHash: tokenHash)
        try await audit(
            actor: actor,
            action: "user.add",
            target: user.name,
            detail: ["role": user.role.rawValue, "territories": user.territories.joined(separator: ",")],
            now: now
        )
    }

    /// Revokes a user's token. With `wipe` (a lost or stolen laptop) the token's hash is remembered: the laptop that
    /// still holds it is told, at its next contact, to delete its replica and token (`wipe_requested`), even after
    /// IT issued the user a new token.
    public func revokeUser(named name: String, wipe: Bool = false, actor: String, now: Int64) async throws {
        if wipe {
            guard let hash = try await storage.tokenHash(named: name) else {
                throw SyncServerError(.notFound, "no user named \(name)")
            }
            try await storage.withWriteTransaction {
                try await $0.saveDocument(WipeOrder(user: name, at: now), DocumentSpace.wipe, key: hash)
            }
        }
        try await storage.revokeUser(named: name)
        try await audit(
            actor: actor,
            action: "user.revoke",
            target: name,
            detail: wipe ? ["wipe": "true"] : [:],
            now: now
        )
    }

    /// Whether the laptop holding this token hash was reported lost (`revoke --wipe`); the user it belonged to.
    public func wipeOrdered(tokenHash: String) async throws -> String? {
        let entries = try await storage.withReadTransaction {
            try await $0.documents(DocumentSpace.wipe, keys: [tokenHash])
        }
        guard let entry = entries[tokenHash] else { return nil }
        return decodeDocument(WipeOrder.self, entry)?.user ?? "unknown"
    }

    public func setToken(named name: String, tokenHash: String, actor: String, now: Int64) async throws {
        try await storage.setToken(named: name, tokenHash: tokenHash)
        try await audit(actor: actor, action: "user.token", target: name, now: now)
    }

    /// Changes a user's role and territories (nil: as they are); every territory must be known. The laptop learns
    /// of it at its next handshake; what the user no longer sees stops coming, and edits made before the change
    /// follow the territory hand-off rules.
    public func setUser(
        _ name: String,
        role: Role?,
        territories: [String]?,
        actor: String,
        now: Int64
    ) async throws -> (before: User, after: User) {
        try await storage.withWriteTransaction { transaction in
            guard let before = try await transaction.users().first(where: { $0.name == name }) else {
                throw SyncServerError(.notFound, "no user named \(name)")
            }
            var after = before
            if let role { after.role = role }
            if let territories {
                let known = try await Self.knownTerritories(transaction)
                let unknown = territories.filter { !known.contains($0) }
                guard unknown.isEmpty else {
                    throw SyncServerError(
                        .invalidValue,
                        "no territory \(unknown.joined(separator: ", ")) (known: \(known.sorted().joined(separator: ", "))); "
                            + "add it first with crm-sync-server territory add"
                    )
                }
                after.territories = territories
            }
            try await transaction.updateUser(after)
            let lost = Set(before.territories).subtracting(after.territories)
            if !lost.isEmpty {
                try await TerritoryLoss.record(
                    lost,
                    of: name,
                    seq: try await transaction.highWaterMark(),
                    at: now,
                    transaction
                )
            }
            try await transaction.audit(
                actor: actor,
                action: "user.set",
                target: name,
                detail: [
                    "role": after.role.rawValue, "territories": after.territories.joined(separator: ","),
                    "was_role": before.role.rawValue, "was_territories": before.territories.joined(separator: ","),
                ],
                at: now
            )
            return (before, after)
        }
    }

    /// Appends one entry to the audit log in its own transaction.
    public func audit(
        actor: String,
        action: String,
        target: String,
        detail: [String: String] = [:],
        now: Int64
    )
        async throws
    {
        try await storage.withWriteTransaction { transaction in
            try await transaction.audit(actor: actor, action: action, target: target, detail: detail, at: now)
        }
    }

    // MARK: - Undelete

    /// Undeletes a record: a server change, causally after every write and delete the server holds, that writes
    /// one field with the value it shows (a counter: a zero delta), so the record is live again everywhere it
    /// syncs, with all its values.
    public func restoreRecord(entity: EntityKind, id: RecordID, actor: String, now: Int64) async throws {
        let schema = CRMSchema.schema(for: entity)
        guard CRMSchema.entities[entity] != nil else {
            throw SyncServerError(.invalidValue, "no entity \(entity.rawValue)")
        }
        try await storage.withWriteTransaction { transaction in
            let key = RecordKey(entity: entity, id: id)
            guard var state = try await transaction.states([key])[key], state.exists else {
                throw SyncServerError(.notFound, "no \(entity.rawValue) with id \(id.rawValue)")
            }
            guard state.isDeleted(schema: schema) else {
                throw SyncServerError(.conflict, "\(entity.rawValue) \(id.rawValue) is not deleted")
            }
            let operation: Change.Operation
            if case .counter = schema.kind {
                operation = .counterDelta(0)
            } else {
                let values = state.values(schema: schema)
                let candidates = schema.fields.map(\.name).filter { values[$0] != nil }
                guard
                    let field = candidates.first(where: { state.conflicts(of: $0, schema: schema).isEmpty })
                        ?? candidates.first, let value = values[field]
                else {
                    throw SyncServerError(.conflict, "\(entity.rawValue) \(id.rawValue) has no value to bring back")
                }
                operation = .set([field: value])
            }
            var clock = HybridClock()
            var context = state.clock
            context.merge(state.tombstones.seen)
            let change = Self.adminChange(
                counter: try await Self.serverCounter(transaction) + 1,
                context: context,
                clock: &clock,
                now: now,
                entity,
                id,
                operation
            )
            let result = state.apply(change, schema: schema, authority: .server)
            if case .rejected(let rejection) = result.status {
                throw SyncServerError(.conflict, "cannot undelete: \(rejection.reason)")
            }
            try await transaction.save([state])
            try await transaction.append([LogAppend(change, scope: ScopeTag.of(state, schema: schema))])
            try await transaction.audit(
                actor: actor,
                action: "record.restore",
                target: "\(entity.rawValue)/\(id.rawValue)",
                at: now
            )
        }
    }
}

/// A document's JSON as a value: nil when there is none, or when it does not decode (it is then made anew).
func decodeDocument<T: Decodable>(_ type: T.Type, _ text: String?) -> T? {
    text.flatMap { try? WireCoding.decode(T.self, from: Data($0.utf8)) }
}

extension StorageWriteTransaction {
    /// One document of a space, decoded (see ``decodeDocument(_:_:)``).
    func document<T: Decodable>(_ type: T.Type, _ space: String, key: String) async throws -> T? {
        decodeDocument(type, try await documents(space, keys: [key])[key])
    }

    /// Saves one value as a document's JSON.
    func saveDocument(_ value: some Encodable, _ space: String, key: String) async throws {
        try await saveDocuments(space, [key: String(decoding: try WireCoding.encode(value), as: UTF8.self)])
    }
}

/// What IT sees of a replica beyond its counter: when it last pushed and last pulled to the end of the log, how
/// many of its changes were refused, and how many it had not sent yet when it last pulled (its own count).
struct ReplicaActivity: Codable, Sendable, Hashable {
    var lastPush: Int64?
    var lastPull: Int64?
    var rejected = 0
    var pending: Int?

    enum CodingKeys: String, CodingKey {
        case lastPush = "last_push"
        case lastPull = "last_pull"
        case rejected, pending
    }

    static func load(_ replica: ReplicaID, _ transaction: any StorageWriteTransaction) async throws -> ReplicaActivity {
        try await transaction.document(ReplicaActivity.self, DocumentSpace.replicaActivity, key: replica.rawValue)
            ?? ReplicaActivity()
    }

    func save(_ replica: ReplicaID, _ transaction: any StorageWriteTransaction) async throws {
        try await transaction.saveDocument(self, DocumentSpace.replicaActivity, key: replica.rawValue)
    }
}

extension SyncService {
    /// Records that a replica pulled to the end of the log, with the count of changes it has not sent.
    func recordPull(_ replica: ReplicaID, pending: Int?, now: Int64) async throws {
        try await storage.withWriteTransaction { transaction in
            var activity = try await ReplicaActivity.load(replica, transaction)
            activity.lastPull = now
            if let pending { activity.pending = pending }
            try await activity.save(replica, transaction)
        }
    }
}

/// A laptop IT reported lost (`user revoke --wipe`), kept under its token's hash: whose it was and when (ms).
struct WipeOrder: Codable, Sendable, Hashable {
    var user: String
    var at: Int64
}

/// A territory IT took from a user (`user set`): where the log was and when, for the hand-off of the edits the
/// user's laptop made before it learned of it (``PushProcessor``).
struct TerritoryLoss: Codable, Sendable, Hashable {
    var seq: Int64
    var at: Int64

    static func load(
        _ user: String,
        _ transaction: any StorageWriteTransaction
    ) async throws
        -> [String: TerritoryLoss]
    {
        try await transaction.document([String: TerritoryLoss].self, DocumentSpace.territoryLoss, key: user) ?? [:]
    }

    static func record(
        _ territories: Set<String>,
        of user: String,
        seq: Int64,
        at now: Int64,
        _ transaction: any StorageWriteTransaction
    ) async throws {
        var losses = try await load(user, transaction)
        for territory in territories { losses[territory] = TerritoryLoss(seq: seq, at: now) }
        try await transaction.saveDocument(losses, DocumentSpace.territoryLoss, key: user)
    }
}
