import Foundation
import ReplicaStore
import SyncProtocol
import SyncTestSupport
import Testing

/// A child process writes to a replica and is killed with SIGKILL at random moments. After every kill the file
/// must pass `integrity_check`, hold each interrupted transaction entirely or not at all, keep everything the child
/// reported committed, and carry on when reopened.
@Suite("Crash safety", .serialized)
struct CrashTests {
    static let kills = Int(ProcessInfo.processInfo.environment["CRM_CRASH_KILLS"] ?? "") ?? 50

    static var childURL: URL { builtExecutable("replica-crash-child") }

    /// Runs the child with `arguments`, kills it after a random delay, returns the highest number it reported.
    /// Blocking waits (the kill delay, the child's exit, draining its output) happen on a Dispatch thread, so they
    /// never hold one of the few cooperative threads the rest of the test run needs.
    /// The expectation that the child was killed (and did not end before) is checked here, in the test's task:
    /// Swift Testing's `#expect` belongs to the test task, not to a Dispatch thread.
    static func runAndKill(_ arguments: [String], delayMilliseconds: ClosedRange<Int>) async throws -> Int {
        let (reported, killed) = try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(
                    with: Result { try runAndKillBlocking(arguments, delayMilliseconds: delayMilliseconds) }
                )
            }
        }
        #expect(killed, "the child ended before it was killed")
        return reported
    }

    static func runAndKillBlocking(
        _ arguments: [String],
        delayMilliseconds: ClosedRange<Int>
    ) throws -> (reported: Int, killed: Bool) {
        let child = Process()
        child.executableURL = childURL
        child.arguments = arguments
        let output = Pipe()
        child.standardOutput = output
        child.standardError = FileHandle.nullDevice
        try child.run()
        usleep(useconds_t(Int.random(in: delayMilliseconds) * 1000))
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        let killed = child.terminationReason == .uncaughtSignal && child.terminationStatus == SIGKILL
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let reported = text.split(separator: "\n").compactMap { Int($0.split(separator: " ").last ?? "") }.max() ?? 0
        return (reported, killed)
    }

    @Test("local writes killed at random moments: nothing half-written, nothing committed lost, dots without gaps")
    func killedDuringLocalWrites() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.childURL.path), "build the child: swift build")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("crash-writes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("crm.sqlite").path
        var committedSoFar = 0
        for kill in 0..<Self.kills {
            let reported = try await Self.runAndKill(["writes", path], delayMilliseconds: 60...250)
            let replica = try Replica(path: path)
            #expect(try await replica.integrityCheck() == "ok", "kill \(kill)")
            let pending = try await replica.pendingChanges(limit: 1_000_000)
            // Dots are contiguous: a transaction that did not commit did not use up its dot.
            #expect(pending.map(\.dot.counter) == (0..<pending.count).map { UInt64($0 + 1) }, "kill \(kill)")
            // Everything reported as committed is there.
            #expect(
                pending.count >= committedSoFar + reported,
                "kill \(kill): \(pending.count) < \(committedSoFar) + \(reported)"
            )
            committedSoFar = pending.count
            // All or nothing: every account row has its create logged, every phone its edit, and nothing else.
            let accounts = try await replica.records(.account, limit: 1_000_000)
            let creates = pending.filter { $0.operation.name == "create" }
            let edits = pending.filter { $0.operation.name == "set" }
            #expect(Set(accounts.map(\.id)) == Set(creates.map(\.recordID)), "kill \(kill)")
            #expect(Set(accounts.filter { $0["phone"] != nil }.map(\.id)) == Set(edits.map(\.recordID)), "kill \(kill)")
            try replica.close()
        }
        // The replica carries on after the last kill.
        let replica = try Replica(path: path)
        let next = try await replica.create(.account, fields: ["name": "After", "territory": "north"])
        #expect(try await replica.pendingChanges(limit: 1_000_000).last?.recordID == next.id)
        #expect(committedSoFar > Self.kills, "the children made progress")
    }

    @Test("remote batches killed at random moments: each batch applied entirely or not at all, and resumable")
    func killedDuringRemoteApply() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("crash-apply-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("crm.sqlite").path
        var batches = 0
        for kill in 0..<Self.kills {
            // On a loaded machine a child may not finish its first batch in 400 ms: give it longer until it has.
            let delay = batches == 0 && kill >= 5 ? 400...1_500 : 80...400
            let reported = try await Self.runAndKill(["apply", path, String(batches)], delayMilliseconds: delay)
            let replica = try Replica(path: path)
            #expect(try await replica.integrityCheck() == "ok", "kill \(kill)")
            let contacts = try await replica.records(.contact, limit: 10_000_000)
            #expect(contacts.count % 2_000 == 0, "kill \(kill): a batch was half applied (\(contacts.count) rows)")
            // The child reports the absolute number of batches committed (it starts counting at `batches`).
            #expect(contacts.count / 2_000 >= max(batches, reported), "kill \(kill): a reported batch is missing")
            batches = contacts.count / 2_000
            #expect(try await replica.pendingCount() == 0, "remote changes never enter the outbox")
            try replica.close()
        }
        // Applying the last batch again after the crash changes nothing.
        let replica = try Replica(path: path)
        let origin = ReplicaID(unchecked: "remote-laptop")
        let last = max(batches - 1, 0)
        let again = (0..<2_000).map { index in
            Change(
                dot: Dot(replica: origin, counter: UInt64(last * 2_000 + index + 1)),
                context: VectorClock(),
                timestamp: HybridTimestamp(wallMilliseconds: 0),
                author: "bob",
                entity: .contact,
                recordID: RecordID("c-\(last)-\(index)"),
                operation: .create(["account_id": "acc-1", "last_name": "Again"])
            )
        }
        if batches > 0 {
            let report = try await replica.applyRemote(again)
            #expect(report.duplicates == 2_000 && report.applied == 0)
        }
        #expect(batches > 0, "the children made progress")
    }
}
