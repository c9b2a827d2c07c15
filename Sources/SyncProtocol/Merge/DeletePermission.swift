/// Who may delete what (PRODUCT.md, "Deletes"): reps may not delete accounts (they set `status passive`); managers
/// and admins may. A rep may delete a record they created unless it carries server-owned data (a write by the
/// server: an import, an admin). The server enforces it on every push; a laptop checks it before a local delete, so
/// the refusal never leaves the laptop showing a record deleted that everyone else still has.
public enum DeletePermission {
    /// Why `user` with `role` may not delete `record` of `entity`, or nil when they may.
    public static func rejection(
        role: String?,
        user: String,
        entity: EntityKind,
        record: RecordState?
    )
        -> ChangeRejection?
    {
        // Entities no replica may delete (activities: immutable) get the schema's own answer.
        guard role == "rep", CRMSchema.schema(for: entity).replicaOperations.contains("delete") else { return nil }
        if entity == .account {
            return ChangeRejection(
                .notPermitted,
                "reps may not delete accounts; set its status to passive (managers and admins may delete it)"
            )
        }
        guard let record, record.exists else { return nil }
        if record.created?.author != user {
            return ChangeRejection(
                .notPermitted,
                "a rep may delete only a \(entity) they created; ask a manager to delete this one"
            )
        }
        let serverWrote = record.fields.contains { slot in slot.register.contains { $0.dot.replica == .server } }
        if serverWrote || record.created?.dot.replica == .server {
            return ChangeRejection(
                .notPermitted,
                "this \(entity) carries data from accounting or IT; ask a manager to delete it"
            )
        }
        return nil
    }
}
