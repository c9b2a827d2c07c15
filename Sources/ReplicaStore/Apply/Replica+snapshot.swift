import GRDB
public import SyncProtocol

extension Replica {
    /// Installs records of an initial snapshot (their full merge state) in one transaction. A record the replica
    /// already holds is kept as it is and counted as skipped: a snapshot only fills a fresh replica and never
    /// overwrites local edits (the pull that follows brings such records up to date).
    @discardableResult
    public func installSnapshot(_ states: [RecordState]) async throws -> (installed: Int, skipped: Int) {
        try await write { db, _ in
            var installed = 0
            var skipped = 0
            for state in states {
                if try RecordStorage.loadState(db, state.entity, state.id) != nil {
                    skipped += 1
                    continue
                }
                try RecordStorage.save(db, state, previous: nil)
                let schema = CRMSchema.schema(for: state.entity)
                let conflicts = state.conflicts(schema: schema)
                if !conflicts.isEmpty {
                    try RecordStorage.syncConflicts(db, before: [], after: conflicts, seq: nil)
                }
                installed += 1
            }
            return (installed, skipped)
        }
    }
}
