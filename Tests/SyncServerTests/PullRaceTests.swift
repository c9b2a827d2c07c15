import Foundation
import ReplicaStore
import SyncClient
import SyncProtocol
import SyncServer
import SyncTestSupport
import Testing

/// Pulls while pushes commit, on two real `crm-sync-server` processes sharing one PostgreSQL database: every
/// puller must receive exactly the set of dots the pushers had accepted. A pull that reads its page, the log's
/// high-water mark and the moves in separate snapshots skips changes committed between them for ever.
@Suite("Pull while pushes commit")
struct PullRaceTests {
    /// Changes each pusher makes (`CRM_RACE_CHANGES`; the measurement used 5,000).
    static let changesPerPusher = Int(ProcessInfo.processInfo.environment["CRM_RACE_CHANGES"] ?? "") ?? 1_500

    @Test(
        "four pushers and two small-page pullers on two server processes: each puller gets every dot exactly once",
        .enabled(if: PostgresForTests.runs, "POSTGRES_URL is not set"),
        .timeLimit(.minutes(5))
    )
    func pullersMissNothing() async throws {
        let url = try await ServerHarness.freshDatabase()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("race-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }

        let pusherNames = (0..<4).map { "pusher\($0)" }
        var tokens: [String: String] = [:]
        for name in pusherNames + ["puller0", "puller1"] {
            tokens[name] = try ServerProcess.admin(
                ["user", "add", name, "--role", "rep", "--territory", "north"],
                db: url
            )
        }
        let servers = [try ServerProcess(db: url, folder: folder), try ServerProcess(db: url, folder: folder)]
        defer { for server in servers { server.stop() } }
        for server in servers { try await server.waitUntilHealthy() }

        // Every pusher's changes, made on a real replica before the race starts.
        var outboxes: [(String, Replica)] = []
        for name in pusherNames {
            let replica = try await makeReplica(user: name, territories: ["north"])
            let account = try await replica.create(
                .account,
                fields: ["name": .string("Acme \(name)"), "territory": "north"]
            )
            for index in 1..<Self.changesPerPusher {
                try await replica.update(.account, id: account.id, fields: ["phone": .string("\(index)")])
            }
            outboxes.append((name, replica))
        }

        let pushersDone = Flag()
        let (pushed, pulled) = try await withThrowingTaskGroup(of: (pushed: Set<Dot>, pulled: [Dot]?).self) { group in
            for (index, (name, replica)) in outboxes.enumerated() {
                let token = try #require(tokens[name])
                group.addTask {
                    let transports = try servers.map { try HTTPSyncTransport(server: $0.url, token: token) }
                    defer { for transport in transports { Task { try? await transport.shutdown() } } }
                    var accepted = Set<Dot>()
                    var batchNumber = index
                    while true {
                        let batch = try await replica.pendingChanges(limit: 10)
                        if batch.isEmpty { break }
                        let answer = try await transports[batchNumber % 2].push(
                            PushRequest(replicaID: replica.replicaID, changes: batch)
                        )
                        try await replica.acknowledge(answer.results)
                        for result in answer.results where result.status == .accepted { accepted.insert(result.dot) }
                        batchNumber += 1
                    }
                    return (accepted, nil)
                }
            }
            for puller in 0..<2 {
                let token = try #require(tokens["puller\(puller)"])
                group.addTask {
                    let transports = try servers.map { try HTTPSyncTransport(server: $0.url, token: token) }
                    defer { for transport in transports { Task { try? await transport.shutdown() } } }
                    var random = SeededGenerator(seed: UInt64(puller + 1))
                    var cursor: String?
                    var dots: [Dot] = []
                    var pageNumber = 0
                    while true {
                        // The last pass starts after every push was answered.
                        let finalPass = pushersDone.isSet
                        let page = try await transports[pageNumber % 2].pull(
                            replicaID: ReplicaID(unchecked: "puller-\(puller)"),
                            cursor: cursor,
                            limit: 10 + Int(random.next() % 41)
                        )
                        pageNumber += 1
                        dots += page.changes.map(\.dot)
                        cursor = page.cursor
                        if finalPass, !page.hasMore { break }
                    }
                    return ([], dots)
                }
            }
            var pushed = Set<Dot>()
            var pulled: [[Dot]] = []
            var pushersLeft = outboxes.count
            for try await result in group {
                if let dots = result.pulled {
                    pulled.append(dots)
                } else {
                    pushed.formUnion(result.pushed)
                    pushersLeft -= 1
                    if pushersLeft == 0 { pushersDone.set() }
                }
            }
            return (pushed, pulled)
        }

        #expect(pushed.count == outboxes.count * Self.changesPerPusher)
        for (index, dots) in pulled.enumerated() {
            let received = Set(dots)
            let missing = pushed.subtracting(received)
            #expect(
                missing.isEmpty,
                "puller \(index) never received \(missing.count) of \(pushed.count) changes, e.g. \(Array(missing.prefix(3)))"
            )
            #expect(received.subtracting(pushed).isEmpty, "puller \(index) received changes nobody pushed")
            #expect(dots.count == received.count, "puller \(index) received \(dots.count - received.count) twice")
        }
    }
}

/// A flag one task sets and others read.
final class Flag: @unchecked Sendable {
    // NOTE: the lock serialises access to `value`.
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
