import SyncProtocol

/// The pure decisions of a pull: where the page ends and what the territory moves in its range mean for the
/// caller. ``SyncService`` reads, asks, reads what the answer names, and answers, all in one snapshot.
struct PullPlanner {
    let user: User
    let cursor: Int64
    let limit: Int

    /// What a move means for the puller.
    enum MoveEffect: Equatable {
        /// The account joined the caller's scope: send its history up to the cursor (the rest is in the page).
        case join(RecordID)
        /// The account left the caller's scope: send notices to drop it and what hangs off it.
        case leave(RecordID)
    }

    /// The page's changes (of the `limit + 1` read, the first `limit`), whether more wait, and the next cursor.
    ///
    /// When the page is not full the cursor jumps to the log's high-water mark read in the same snapshot: nothing
    /// the caller may see lies between, and nothing committed later can get a lower sequence number (write
    /// transactions are serialised), so nothing is ever skipped.
    func page(
        _ rows: [LoggedChange],
        highWaterMark: () async throws -> Int64
    ) async rethrows
        -> (changes: ArraySlice<LoggedChange>, hasMore: Bool, next: Int64)
    {
        let page = rows.prefix(limit)
        if rows.count > limit, let last = page.last { return (page, true, last.seq) }
        return (page, false, max(cursor, try await highWaterMark()))
    }

    /// The effect of each move on the caller, in order; moves that change nothing for it are left out.
    func effects(of moves: [TerritoryMove]) -> [MoveEffect] {
        let check = ScopeCheck(user: user)
        return moves.compactMap { move in
            let (sawBefore, seesNow) = (
                check.canSee(territory: move.oldTerritory), check.canSee(territory: move.newTerritory)
            )
            if seesNow, !sawBefore { return .join(move.account) }
            if sawBefore, !seesNow { return .leave(move.account) }
            return nil
        }
    }
}
