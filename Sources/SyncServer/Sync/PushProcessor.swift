import SyncProtocol

/// The pure decision of a push: given what the storage loaded in its transaction, decide each change's result,
/// the new record states and what to append to the log. Storage backends load, call ``process(_:digests:loaded:)``, and write.
///
/// Rules, in order, for each change of the batch:
/// 1. its dot must name the pushing replica, and its author the authenticated user (`wrong_author`);
/// 2. a counter already processed returns the stored result (`duplicate` for an accepted change): a retried batch
///    applies nothing twice; unless the change differs from the one processed under that counter (its digest),
///    which is a reused dot (`dot_reused`: a laptop restored from a backup or copied), refused and not stored,
///    and so is every later change of the batch (the same diverged copy);
/// 3. a counter beyond the next expected one is a `sequence_gap` (not stored: the client resends in order);
/// 4. the next counter is decided: timestamp within the skew bound, schema and ownership, scope, merge rules.
///    The result is stored either way, so a retry gets the same answer.
struct PushProcessor {
    struct Loaded {
        /// The highest counter of this replica already processed.
        var lastCounter: UInt64
        /// Stored results (with digests) of already-processed counters named in the batch.
        var previousResults: [UInt64: StoredResult]
        /// Current states of the batch's records and of the accounts they reference.
        var states: [RecordKey: RecordState]
        /// How far the pushing laptop says it has pulled the log (its cursor's position), when it said so.
        var pulledThrough: Int64? = nil
        /// The latest move of each loaded account the user no longer sees (for the territory hand-off).
        var moves: [RecordID: TerritoryMove] = [:]
        /// Territories IT took from the user (`user set`), with when and where the log was then.
        var lostTerritories: [String: TerritoryLoss] = [:]
        /// Within the days after a restore: a change to a record the server lacks waits (`awaiting_restore`), and
        /// a context may name changes the server lost and gets back when their laptops sync (PROTOCOL.md §9,
        /// "Restores").
        var afterRestore = false
    }

    struct LogEntry {
        var change: Change
        var scope: ScopeTag
        /// The change's position in the batch.
        var index: Int
    }

    struct Outcome {
        var results: [ChangeResult] = []
        /// Results to store for retries, by counter.
        var newResults: [(UInt64, StoredResult)] = []
        var lastCounter: UInt64 = 0
        /// Changed record states and their scope tags, to write.
        var states: [RecordKey: RecordState] = [:]
        /// Accepted changes in order, to append to the log.
        var log: [LogEntry] = []
        var conflicts = 0
    }

    let user: User
    let replicaID: ReplicaID
    let now: Int64
    let maxClockAhead: Int64
    /// How long after a move the old territory's edits made before it are still taken, in milliseconds.
    let handOffGrace: Int64

    init(user: User, replicaID: ReplicaID, now: Int64, maxClockAhead: Int64, handOffGrace: Int64 = 30 * 86_400_000) {
        self.user = user
        self.replicaID = replicaID
        self.now = now
        self.maxClockAhead = maxClockAhead
        self.handOffGrace = handOffGrace
    }

    /// `digests[i]` is the SHA-256 of `changes[i]`'s wire JSON.
    func process(_ changes: [Change], digests: [[UInt8]], loaded: Loaded) -> Outcome {
        var outcome = Outcome()
        let handOff = HandOff(
            pulledThrough: loaded.pulledThrough,
            moves: loaded.moves,
            lostTerritories: loaded.lostTerritories,
            afterRestore: loaded.afterRestore
        )
        outcome.lastCounter = loaded.lastCounter
        var states = loaded.states
        let clock = HybridClock(maximumAhead: maxClockAhead)
        // Once a batch reuses a dot, the rest of it comes from the same diverged copy of the replica: accepting its
        // later counters would mix two laptops' changes under one id (their contexts name the other copy's dots).
        var reusedAt: UInt64?
        for (index, change) in changes.enumerated() {
            let counter = change.dot.counter
            if change.dot.replica != replicaID || change.author != user.name {
                outcome.results.append(
                    .rejected(
                        change.dot,
                        ChangeRejection(.wrongAuthor, "changes must be made by this replica and the signed-in user")
                    )
                )
                continue
            }
            if let reusedAt {
                outcome.results.append(
                    .rejected(
                        change.dot,
                        ChangeRejection(
                            .dotReused,
                            "follows the reused dot \(reusedAt) of this replica in the batch; the change is kept here"
                        )
                    )
                )
                continue
            }
            if counter <= outcome.lastCounter {
                let previous = loaded.previousResults[counter] ?? outcome.newResults.first { $0.0 == counter }?.1
                if let digest = previous?.digest, digest != digests[index] {
                    outcome.results.append(
                        .rejected(
                            change.dot,
                            ChangeRejection(
                                .dotReused,
                                "the server processed another change under this dot: this laptop's replica was "
                                    + "restored from a backup or copied; the change is kept here"
                            )
                        )
                    )
                    reusedAt = counter
                    continue
                }
                var result = previous?.result ?? ChangeResult(dot: change.dot, status: .duplicate)
                if result.status == .accepted { result.status = .duplicate }
                outcome.results.append(result)
                continue
            }
            if counter > outcome.lastCounter + 1 {
                outcome.results.append(
                    .rejected(
                        change.dot,
                        ChangeRejection(
                            .sequenceGap,
                            "expected change \(outcome.lastCounter + 1) of this replica first; push the outbox in order"
                        )
                    )
                )
                continue
            }
            let result = decide(
                change,
                at: index,
                clock: clock,
                handOff: handOff,
                states: &states,
                outcome: &outcome
            )
            outcome.results.append(result)
            // Not processed: the counter stays free and the rest of the batch meets sequence_gap.
            if result.rejection?.code == .awaitingRestore { continue }
            outcome.newResults.append((counter, StoredResult(result: result, digest: digests[index])))
            outcome.lastCounter = counter
        }
        return outcome
    }

    private func decide(
        _ change: Change,
        at index: Int,
        clock: HybridClock,
        handOff: HandOff,
        states: inout [RecordKey: RecordState],
        outcome: inout Outcome
    ) -> ChangeResult {
        do {
            try clock.check(change.timestamp, now: now)
        } catch {
            return .rejected(change.dot, ChangeRejection(.clockSkew, error.description))
        }
        let schema = CRMSchema.schema(for: change.entity)
        let authority: WriteAuthority = .replica
        let key = RecordKey(entity: change.entity, id: change.recordID)
        let existing = states[key]
        // A create of a record that exists writes its fields like a set, and is checked as one: a second create
        // cannot move a customer to another territory or owner (server_owned), and needs no required fields.
        var checked = change
        if existing?.exists == true, case .create(let fields) = change.operation { checked.operation = .set(fields) }
        if let rejection = schema.validate(checked, authority: authority) { return .rejected(change.dot, rejection) }
        if let rejection = scopeRejection(change, existing: existing, schema: schema, states: states) {
            switch handOffDecision(change, existing: existing, schema: schema, states: states, handOff: handOff) {
            case .notMoved:
                if handOff.afterRestore,
                    Self.needsMissingRecord(change, existing: existing, schema: schema, states: states)
                {
                    return .rejected(
                        change.dot,
                        ChangeRejection(
                            .awaitingRestore,
                            "the server was restored from a backup and lacks the record this change is for; its "
                                + "author's laptop sends it again when it syncs, and this change is kept until then"
                        )
                    )
                }
                return .rejected(change.dot, rejection)
            case .tooLate(let late): return .rejected(change.dot, late)
            case .handedOff: break
            }
        }
        if case .delete = change.operation,
            let rejection = DeletePermission.rejection(
                role: user.role.rawValue,
                user: user.name,
                entity: change.entity,
                record: existing
            )
        {
            return .rejected(change.dot, rejection)
        }
        if let rejection = contextRejection(change, existing: existing) {
            // After a restore the context may name a colleague's change the server lost and gets back when that
            // laptop syncs: the change waits for it, so every laptop still receives a change after those it saw.
            if handOff.afterRestore, rejection.code == .contextAhead, !rejection.reason.hasPrefix(Self.ownEntry) {
                return .rejected(
                    change.dot,
                    ChangeRejection(
                        .awaitingRestore,
                        "the server was restored from a backup and lacks a colleague's change this one was made "
                            + "after; that laptop sends it again when it syncs, and this change is kept until then"
                    )
                )
            }
            return .rejected(change.dot, rejection)
        }
        var state = existing ?? RecordState(entity: change.entity, id: change.recordID)
        if case .append = change.operation, existing?.appended != nil {
            return .rejected(
                change.dot,
                ChangeRejection(.duplicateRecord, "an \(change.entity) with this id already exists")
            )
        }
        let result = state.apply(change, schema: schema, authority: authority)
        if case .rejected(let rejection) = result.status { return .rejected(change.dot, rejection) }
        states[key] = state
        outcome.states[key] = state
        outcome.log.append(LogEntry(change: change, scope: ScopeTag.of(state, schema: schema), index: index))
        outcome.conflicts += result.conflicts.count
        return ChangeResult(dot: change.dot, status: .accepted)
    }

    /// The territory hand-off (PROTOCOL.md §9): what the laptop claimed about its pulls, and the moves loaded.
    struct HandOff {
        var pulledThrough: Int64?
        var moves: [RecordID: TerritoryMove]
        var lostTerritories: [String: TerritoryLoss] = [:]
        var afterRestore: Bool
    }

    enum HandOffDecision {
        /// The record is out of scope for another reason: refused as it is.
        case notMoved
        /// Made before the laptop learned of the move, within the grace period: taken, for the new territory.
        case handedOff
        /// Made before the laptop learned of the move, but the grace period is over.
        case tooLate(ChangeRejection)
    }

    /// Whether an out-of-scope change is an edit to an account that was the user's until a move the laptop had
    /// not yet received (its cursor is before the move), within the grace period after the move.
    private func handOffDecision(
        _ change: Change,
        existing: RecordState?,
        schema: EntitySchema,
        states: [RecordKey: RecordState],
        handOff: HandOff
    ) -> HandOffDecision {
        guard let pulledThrough = handOff.pulledThrough else { return .notMoved }
        let accountID: RecordID?
        switch schema.scope {
        case .everyone: return .notMoved
        case .territory:
            accountID = change.entity == .account && existing?.exists == true ? change.recordID : nil
        case .account(let field):
            accountID = Self.account(field, of: change, existing: existing, schema: schema)
        }
        guard let accountID else { return .notMoved }
        if let lost = lostTerritoryDecision(change, account: accountID, states: states, handOff: handOff) {
            return lost
        }
        guard let move = handOff.moves[accountID], pulledThrough < move.seq,
            let old = move.oldTerritory, user.territories.contains(old),
            let account = states[RecordKey(entity: .account, id: accountID)], account.exists,
            let moved = account.winner(of: "territory", schema: CRMSchema.account)
        else { return .notMoved }
        let age = now - moved.timestamp.wallMilliseconds
        guard age <= handOffGrace else {
            return .tooLate(
                ChangeRejection(
                    .outOfScope,
                    "the account moved from \(old) to \(move.newTerritory) \(age / 86_400_000) days ago, longer than "
                        + "the \(handOffGrace / 86_400_000)-day hand-off period; ask the new territory's rep"
                )
            )
        }
        return .handedOff
    }

    /// The hand-off of an account whose territory IT took from the user (`user set`) after the laptop last
    /// pulled: an edit made before that (its stamp is older, and the laptop has not pulled since) is taken within
    /// the grace period, for the territory's other reps.
    private func lostTerritoryDecision(
        _ change: Change,
        account: RecordID,
        states: [RecordKey: RecordState],
        handOff: HandOff
    ) -> HandOffDecision? {
        guard let pulledThrough = handOff.pulledThrough,
            let state = states[RecordKey(entity: .account, id: account)], state.exists,
            let territory = state.values(schema: CRMSchema.account)["territory"]?.stringValue,
            let loss = handOff.lostTerritories[territory], pulledThrough <= loss.seq,
            change.timestamp.wallMilliseconds < loss.at
        else { return nil }
        let age = now - loss.at
        guard age <= handOffGrace else {
            return .tooLate(
                ChangeRejection(
                    .outOfScope,
                    "you no longer hold territory \(territory) (for \(age / 86_400_000) days, longer than the "
                        + "\(handOffGrace / 86_400_000)-day hand-off period); ask its rep"
                )
            )
        }
        return .handedOff
    }

    static let ownEntry = "the context claims this replica's own change"

    /// Whether the change is refused only because a record it needs does not exist here: the record itself (a
    /// write to an existing record) or the account it hangs off.
    static func needsMissingRecord(
        _ change: Change,
        existing: RecordState?,
        schema: EntitySchema,
        states: [RecordKey: RecordState]
    ) -> Bool {
        switch change.operation {
        case .set, .delete, .counterDelta, .counterReset:
            if existing?.exists != true { return true }
        case .create, .append:
            break
        }
        guard case .account(let field) = schema.scope,
            let account = account(field, of: change, existing: existing, schema: schema)
        else { return false }
        return states[RecordKey(entity: .account, id: account)]?.exists != true
    }

    /// The account a change's record hangs off: the one the change names in `field`, else the record's.
    static func account(
        _ field: String,
        of change: Change,
        existing: RecordState?,
        schema: EntitySchema
    ) -> RecordID? {
        let named =
            change.operation.fields[field]?.stringValue
            ?? existing.flatMap { $0.values(schema: schema)[field]?.stringValue }
        return named.map(RecordID.init)
    }

    /// Why the change's context claims more than its author can have seen, or nil.
    ///
    /// A replica learns of other replicas' changes to a record only through the server, so every entry of an
    /// honest context is covered by the record's clock here, except the author's own, which is below the change's
    /// counter (its earlier changes, even ones this server refused). A context that claims more would silently
    /// supersede a colleague's later concurrent edit: it is refused. This also bounds a context's size by the
    /// replicas that have written to the record, plus one. Costs O(n log m) for n entries and a record clock of m.
    private func contextRejection(
        _ change: Change,
        existing: RecordState?
    ) -> ChangeRejection? {
        let clock = existing?.clock ?? VectorClock()
        for entry in change.context.entries {
            if entry.replica == change.dot.replica {
                guard entry.counter < change.dot.counter else {
                    return ChangeRejection(
                        .contextAhead,
                        Self.ownEntry + " \(entry.counter), which is not before this one"
                    )
                }
            } else if entry.counter > clock[entry.replica] {
                return ChangeRejection(
                    .contextAhead,
                    "the context claims changes of \(entry.replica.rawValue.prefix(64)) to this record up to "
                        + "\(entry.counter), but the server has accepted only \(clock[entry.replica]); "
                        + "a context may only name changes the server sent"
                )
            }
        }
        return nil
    }

    /// Why the user may not make this change to this record, or nil.
    private func scopeRejection(
        _ change: Change,
        existing: RecordState?,
        schema: EntitySchema,
        states: [RecordKey: RecordState]
    ) -> ChangeRejection? {
        let isNew: Bool
        switch change.operation {
        case .create, .append: isNew = existing?.exists != true
        case .set, .delete, .counterDelta, .counterReset:
            guard existing?.exists == true else { return ScopeCheck.notVisible }
            isNew = false
        }
        let check = ScopeCheck(user: user)
        switch schema.scope {
        case .everyone:
            return nil
        case .territory(let field):
            let territory: String? =
                isNew
                ? change.operation.fields[field]?.stringValue
                : existing.flatMap { $0.values(schema: schema)[field]?.stringValue }
            guard check.canSee(territory: territory) else {
                return isNew
                    ? ChangeRejection(.outOfScope, "you can create accounts only in your own territories")
                    : ScopeCheck.notVisible
            }
            if isNew, let owner = change.operation.fields["owner"]?.stringValue, owner != user.name,
                !user.seesEverything
            {
                return ChangeRejection(.outOfScope, "a new account's owner is the rep who creates it")
            }
            return nil
        case .account(let field):
            let accountID: String? =
                isNew
                ? change.operation.fields[field]?.stringValue
                : existing.flatMap { $0.values(schema: schema)[field]?.stringValue }
            guard let accountID else {
                // An account-less task: private to whoever created it.
                if isNew || existing?.created?.author == user.name || user.seesEverything { return nil }
                return ScopeCheck.notVisible
            }
            let account = states[RecordKey(entity: .account, id: RecordID(accountID))]
            let territory = account.flatMap { $0.values(schema: CRMSchema.account)["territory"]?.stringValue }
            guard account?.exists == true, check.canSee(territory: territory) else { return ScopeCheck.notVisible }
            return nil
        }
    }
}
