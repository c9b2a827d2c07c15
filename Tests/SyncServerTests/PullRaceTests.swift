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
    /// Changes each pusher makes (`CRM_RACE_CHANGES`; the issue's measurement used 5,000).
    static let changesPerPusher = Int(ProcessInfo.processInfo.environment["CRM_RACE_CHANGES"] ?? "") ?? 1_500

    @Test(
        "four pushers and two small-page pullers on two server processes: each puller gets every dot exactly once",
        .enabled(if: ProcessInfo.processInfo.environment["POSTGRES_URL"] != nil),
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

/// A `crm-sync-server serve` child process on a free loopback port.
final class ServerProcess: Sendable {
    let process: Process
    let url: String

    init(db: String, folder: URL) throws {
        let port = try Self.freePort()
        url = "http://127.0.0.1:\(port)"
        process = Process()
        process.executableURL = builtExecutable("crm-sync-server")
        process.arguments = ["serve", "--db", db, "--host", "127.0.0.1", "--port", "\(port)"]
        let log = folder.appendingPathComponent("server-\(port).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    /// Runs an admin subcommand on `db` and returns what it printed.
    static func admin(_ arguments: [String], db: String) throws -> String {
        let process = Process()
        process.executableURL = builtExecutable("crm-sync-server")
        process.arguments = arguments + ["--db", db]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw SyncServerError(.internalError, "crm-sync-server \(arguments.joined(separator: " ")) failed")
        }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func waitUntilHealthy() async throws {
        let transport = try HTTPSyncTransport(server: url, token: "none")
        defer { Task { try? await transport.shutdown() } }
        for _ in 0..<200 {
            if let answer = try? await transport.send("GET", "/healthz"), answer.status == 200 { return }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw SyncServerError(.unavailable, "the server at \(url) did not start")
    }

    func stop() {
        if process.isRunning {
            process.interrupt()
            process.waitUntilExit()
        }
    }

    static func freePort() throws -> Int {
        let socket = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0
            }
        }
        guard bound else { throw SyncServerError(.unavailable, "no free port on 127.0.0.1") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
