import CompressNIO
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SyncProtocol
import SyncServer

/// Loopback push and pull throughput of the server on its SQLite storage, with gzip both ways, batches of 1,000.
/// `swift run -c release server-bench [--changes N] [--reps R] [--postgres URL]`.
@main
struct ServerBenchmark {
    static func main() async throws {
        let arguments = CommandLine.arguments
        func option(_ name: String, _ fallback: Int) -> Int {
            guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return fallback }
            return Int(arguments[index + 1]) ?? fallback
        }
        let total = option("--changes", 100_000)
        let reps = option("--reps", 4)
        let batch = 1_000
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("server-bench-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let postgresURL = arguments.firstIndex(of: "--postgres").flatMap { index in
            index + 1 < arguments.count ? arguments[index + 1] : nil
        }
        let quiet = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        let storage: any ChangeStorage =
            if let postgresURL {
                try PostgresChangeStorage(url: postgresURL, logger: quiet)
            } else {
                try SQLiteChangeStorage(path: folder.appendingPathComponent("crm-sync.sqlite").path)
            }
        // The application runs the storage (PostgreSQL's pool is one of its services) and migrates it first.
        let users = (0..<reps).map { (User(name: "rep\($0)", role: .rep, territories: ["north"]), Tokens.generate()) }
        let tokens = users.map(\.1.token)
        let app = try buildApplication(
            configuration: ServerConfiguration(port: 0, maxBodyBytes: 32 * 1024 * 1024),
            storage: storage,
            logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        let perRep = total / reps
        // Build every rep's batches up front, gzipped, so only the server is timed.
        var bodies: [[ByteBuffer]] = []
        var rawBytes = 0
        var wireBytes = 0
        for rep in 0..<reps {
            let replica = ReplicaID(unchecked: "laptop-\(rep)")
            var batches: [ByteBuffer] = []
            var counter: UInt64 = 0
            for start in stride(from: 0, to: perRep, by: batch) {
                let changes = (start..<min(start + batch, perRep)).map { index -> Change in
                    counter += 1
                    let record = index / 5
                    let id = RecordID("acc-\(rep)-\(record)")
                    let isCreate = index % 5 == 0
                    return Change(
                        dot: Dot(replica: replica, counter: counter),
                        context: isCreate ? VectorClock() : VectorClock([(replica, counter - 1)]),
                        timestamp: HybridTimestamp(wallMilliseconds: ServerConfiguration.systemNow() - 1_000),
                        author: "rep\(rep)",
                        entity: .account,
                        recordID: id,
                        operation: isCreate
                            ? .create(["name": .string("Account \(record)"), "territory": "north"])
                            : .set(["phone": .string("+49 30 \(index)")])
                    )
                }
                var body = ByteBuffer(bytes: try WireCoding.encode(PushRequest(replicaID: replica, changes: changes)))
                rawBytes += body.readableBytes
                let compressed = try body.compress(with: .gzip)
                wireBytes += compressed.readableBytes
                batches.append(compressed)
            }
            bodies.append(batches)
        }
        print(
            "server-bench: \(postgresURL == nil ? "SQLite storage (synchronous=FULL)" : "PostgreSQL storage"), "
                + "loopback HTTP/1.1, gzip, batches of \(batch)"
        )
        let (allBodies, allTokens, raw, wire) = (bodies, tokens, rawBytes, wireBytes)
        try await app.test(.live) { client in
            for (user, issued) in users { try await storage.addUser(user, tokenHash: issued.hash) }
            let (bodies, tokens, rawBytes, wireBytes) = (allBodies, allTokens, raw, wire)
            let clock = ContinuousClock()
            let pushStart = clock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for rep in 0..<reps {
                    let batches = bodies[rep]
                    let token = tokens[rep]
                    group.addTask {
                        for body in batches {
                            let response = try await client.execute(
                                uri: "/v1/push",
                                method: .post,
                                headers: [
                                    .authorization: "Bearer \(token)", .contentEncoding: "gzip",
                                    .acceptEncoding: "gzip",
                                ],
                                body: body
                            )
                            guard response.status == .ok else {
                                throw SyncServerError(.internalError, "push \(response.status)")
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let pushSeconds = seconds(clock.now - pushStart)
            let pushed = perRep * reps
            print(
                "push: \(pushed) changes in \(format(pushSeconds)) s = \(Int(Double(pushed) / pushSeconds)) changes/s "
                    + "(\(reps) replicas in parallel); \(format(Double(wireBytes) / Double(pushed))) bytes/change gzipped "
                    + "(\(format(Double(rawBytes) / Double(pushed))) as JSON)"
            )

            let pullStart = clock.now
            var cursor = ""
            var pulled = 0
            var pullBytes = 0
            while true {
                let response = try await client.execute(
                    uri: "/v1/pull?replica_id=fresh-laptop&limit=\(batch)&cursor=\(cursor)",
                    method: .get,
                    headers: [.authorization: "Bearer \(tokens[0])", .acceptEncoding: "gzip"]
                )
                pullBytes += response.body.readableBytes
                var body = response.body
                let inflated = response.headers[.contentEncoding] == "gzip" ? try body.decompress(with: .gzip) : body
                // Only what the loop needs: the changes are counted, not decoded, so the figure is the server's.
                let page = try JSONDecoder().decode(PageOutline.self, from: Data(inflated.readableBytesView))
                pulled += page.changes.count
                cursor = page.cursor
                if !page.hasMore { break }
            }
            let pullSeconds = seconds(clock.now - pullStart)
            print(
                "pull: \(pulled) changes in \(format(pullSeconds)) s = \(Int(Double(pulled) / pullSeconds)) changes/s "
                    + "(one client, pages of \(batch)); \(format(Double(pullBytes) / Double(max(pulled, 1)))) bytes/change gzipped"
            )
        }
    }

    /// A pull page with its changes left undecoded.
    struct PageOutline: Decodable {
        struct Skipped: Decodable {
            init(from decoder: any Decoder) throws {}
        }
        var changes: [Skipped]
        var cursor: String
        var hasMore: Bool
        enum CodingKeys: String, CodingKey {
            case changes, cursor
            case hasMore = "has_more"
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func format(_ value: Double) -> String { String((value * 100).rounded() / 100) }
}
