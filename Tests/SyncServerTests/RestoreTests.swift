import Foundation
import SyncProtocol
import Testing

@testable import SyncServer

/// What a restore promises (PROTOCOL.md §9, "Restores"), on every backend: cursors within the backup stay valid,
/// those beyond it are refused, the server's counters never go back, and the handshake says what the server holds.
@Suite("Restores")
struct RestoreTests {
    typealias Contract = StorageContractTests

    @Test("a cursor of an ancestor log is valid up to the least 'through' from that ancestor on")
    func lineage() throws {
        let lineage = LogLineage(
            current: "c",
            ancestors: [
                .init(logID: "a", through: 40, restoredAt: 1),
                .init(logID: "b", through: 25, restoredAt: 2),
            ]
        )
        #expect(try LogCursor.parse("a.25", lineage: lineage, highWaterMark: 90).seq == 25)
        #expect(try LogCursor.parse("b.25", lineage: lineage, highWaterMark: 90).seq == 25)
        #expect(try LogCursor.parse("c.90", lineage: lineage, highWaterMark: 90).seq == 90)
        // a.30 lies after what b kept of a: the current log has other changes there.
        for refused in ["a.30", "b.26", "c.91", "x.1", "26"] {
            #expect(throws: SyncServerError.self, "\(refused)") {
                try LogCursor.parse(refused, lineage: lineage, highWaterMark: 90)
            }
        }
        #expect(
            try LogCursor.parse("25", lineage: lineage, highWaterMark: 90).seq == 25,
            "a bare cursor of the first log"
        )
        let kept = LogLineage(current: "c", metaValue: lineage.metaValue)
        #expect(kept == lineage)
    }

    @Test(
        "after a restore: old cursors within the backup pull on, later ones are refused, server counters go up",
        arguments: Backend.available
    )
    func markRestored(backend: Backend) async throws {
        try await Contract.withStorage(backend) { service in
            let laptop = ReplicaID(unchecked: "laptop-a")
            _ = try await Contract.push(
                service,
                [Contract.createAccount(Contract.north, "laptop-a", 1, "acc-1", territory: "north")],
                as: Contract.north
            )
            try await service.assignTerritory(account: RecordID("acc-1"), territory: "north", now: Contract.now)
            let before = try await service.pull(
                user: Contract.northToo,
                replica: ReplicaID(unchecked: "reader-b"),
                cursor: nil,
                limit: 10,
                now: 0
            )
            let serverDot = try #require(
                try await Contract.pullAll(service, Contract.northToo).changes.last { $0.dot.replica == .server }?.dot
            )

            let mark = try #require(try await service.markRestored(now: Contract.now))
            #expect(mark.oldLogID == before.logID && mark.newLogID != before.logID)
            #expect(mark.through == before.cursor)
            // The old cursor is a position in the restored log; a cursor past it is not.
            let again = try await service.pull(
                user: Contract.northToo,
                replica: ReplicaID(unchecked: "reader-b"),
                cursor: before.cursorText,
                limit: 10,
                now: 0
            )
            #expect(again.changes.isEmpty && again.logID == mark.newLogID)
            await #expect(throws: SyncServerError.self) {
                _ = try await service.pull(
                    user: Contract.northToo,
                    replica: ReplicaID(unchecked: "reader-b"),
                    cursor: "\(mark.oldLogID).\(before.cursor + 1)",
                    limit: 10,
                    now: 0
                )
            }
            // The server's next change is above the floor, far above the counters it used before.
            try await service.assignTerritory(account: RecordID("acc-1"), territory: "south", now: Contract.now)
            let after = try await Contract.pullAll(service, Contract.south, replica: "reader-s").changes.last {
                $0.dot.replica == .server
            }
            #expect((after?.dot.counter ?? 0) > mark.serverCounterFloor)
            #expect(mark.serverCounterFloor > serverDot.counter)
            // The handshake's replica status: what the server holds of the laptop.
            let held = try await service.replicaStatus(laptop, user: Contract.north, now: Contract.now)
            #expect(held?.counter == 1)
            let stats = try await service.stats()
            #expect(stats.lastRestore?.through == mark.through)
        }
    }

    @Test(
        "a cursor of the current log beyond its end marks the database restored (a backup copied back by hand)",
        arguments: Backend.available
    )
    func detectsWentBack(backend: Backend) async throws {
        try await Contract.withStorage(backend) { service in
            let logID = try await service.logPosition().logID
            await #expect(throws: SyncServerError.self) {
                _ = try await service.pull(
                    user: Contract.north,
                    replica: ReplicaID(unchecked: "laptop-a"),
                    cursor: "\(logID).500",
                    limit: 10,
                    now: Contract.now
                )
            }
            #expect(try await service.logPosition().logID != logID, "the log took a new identity")
            #expect(try await service.stats().lastRestore != nil)
        }
    }
}
