import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SyncProtocol
import Synchronization

/// Many reps syncing at once against running `crm-sync-server` processes: each rep loops handshake, pull and a
/// push of `--changes` changes, its sessions started at a fixed rate whatever the server's speed, so queueing delay
/// shows in the latencies (a request's latency counts from when its session was due). Prints p50/p99/p99.9 per
/// request kind, errors, and the servers' RSS at the end of the first minute and at the end.
///
///     load-bench --server http://127.0.0.1:8080 [--server …] --admin-token-file FILE [--pid PID …]
///                [--reps 500] [--seconds 300] [--interval 10] [--changes 50] [--territories 50]
@main
struct LoadBenchmark {
    struct Options {
        var servers: [String] = []
        var adminToken = ""
        var pids: [Int32] = []
        var reps = 500
        var seconds = 300
        /// Seconds between the starts of one rep's sessions.
        var interval = 10.0
        var changes = 50
        var territories = 50

        init(_ arguments: [String]) throws {
            var index = 1
            func value() throws -> String {
                index += 1
                guard index < arguments.count else { throw LoadError("\(arguments[index - 1]) needs a value") }
                return arguments[index]
            }
            while index < arguments.count {
                switch arguments[index] {
                case "--server": servers.append(try value())
                case "--admin-token-file":
                    adminToken = try String(contentsOfFile: try value(), encoding: .utf8)
                        .trimmingCharacters(in: .whitespacesAndNewlines)
                case "--pid": pids.append(Int32(try value()) ?? 0)
                case "--reps": reps = Int(try value()) ?? reps
                case "--seconds": seconds = Int(try value()) ?? seconds
                case "--interval": interval = Double(try value()) ?? interval
                case "--changes": changes = Int(try value()) ?? changes
                case "--territories": territories = Int(try value()) ?? territories
                default: throw LoadError("unknown argument \(arguments[index])")
                }
                index += 1
            }
            guard !servers.isEmpty, !adminToken.isEmpty else {
                throw LoadError("give --server URL (one or more) and --admin-token-file FILE")
            }
        }
    }

    struct LoadError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    static func main() async {
        do {
            try await run(try Options(CommandLine.arguments))
        } catch {
            FileHandle.standardError.write(Data("load-bench: \(error)\n".utf8))
            exit(1)
        }
    }

    static func run(_ options: Options) async throws {
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(10), read: .seconds(30)))
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        do {
            try await load(options, client)
            try await client.shutdown()
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    static func load(_ options: Options, _ client: HTTPClient) async throws {
        // One user per rep, `--territories` territories shared by the reps.
        let run = UUID().uuidString.prefix(6).lowercased()
        var tokens: [String] = []
        for rep in 0..<options.reps {
            let body = try JSONSerialization.data(withJSONObject: [
                "name": "load-\(run)-\(rep)", "role": "rep", "territories": ["t\(rep % options.territories)"],
            ])
            let answer = try await send(client, options.servers[0], "POST", "/v1/admin/users", options.adminToken, body)
            guard answer.status == 201,
                let token = (try JSONSerialization.jsonObject(with: answer.body) as? [String: Any])?["token"] as? String
            else { throw LoadError("could not add a user: \(answer.status)") }
            tokens.append(token)
        }
        print(
            "load-bench: \(options.reps) reps on \(options.servers.count) server(s), a session (handshake + pull + "
                + "push of \(options.changes)) per rep every \(options.interval) s = "
                + "\(format(Double(options.reps) / options.interval)) sessions/s, for \(options.seconds) s"
        )
        let recorder = Recorder()
        let start = ContinuousClock.now
        let end = start + .seconds(options.seconds)
        let rss = Task {
            var firstMinute: [Int] = []
            try await Task.sleep(until: start + .seconds(min(60, options.seconds / 2)))
            firstMinute = options.pids.map(residentKilobytes)
            return firstMinute
        }
        await withTaskGroup(of: Void.self) { group in
            for rep in 0..<options.reps {
                let token = tokens[rep]
                let server = options.servers[rep % options.servers.count]
                group.addTask {
                    var laptop = Laptop(rep: rep, run: String(run), territory: "t\(rep % options.territories)")
                    // Sessions spread evenly over the interval, then every `interval` seconds.
                    var due = start + .seconds(options.interval * Double(rep) / Double(options.reps))
                    while due < end {
                        try? await Task.sleep(until: due)
                        await laptop.session(client, server, token, changes: options.changes, due: due, recorder)
                        due += .seconds(options.interval)
                    }
                }
            }
        }
        let elapsed = ContinuousClock.now - start
        let firstMinute = (try? await rss.value) ?? []
        let last = options.pids.map(residentKilobytes)
        recorder.report(elapsed: elapsed)
        for (index, pid) in options.pids.enumerated() where index < firstMinute.count {
            let drift =
                firstMinute[index] > 0 ? Double(last[index] - firstMinute[index]) / Double(firstMinute[index]) : 0
            print(
                "server pid \(pid): RSS \(firstMinute[index] / 1024) MiB after the first minute, \(last[index] / 1024) MiB "
                    + "at the end (drift \(format(drift * 100)) %)"
            )
        }
    }

    /// One rep's laptop: its replica id, its account and its counter.
    struct Laptop {
        let replica: String
        let account: String
        let user: String
        let territory: String
        var counter: UInt64 = 0
        var cursor = "0"

        init(rep: Int, run: String, territory: String) {
            replica = "load-\(run)-\(rep)"
            account = "acc-load-\(run)-\(rep)"
            user = "load-\(run)-\(rep)"
            self.territory = territory
        }

        mutating func session(
            _ client: HTTPClient,
            _ server: String,
            _ token: String,
            changes count: Int,
            due: ContinuousClock.Instant,
            _ recorder: Recorder
        ) async {
            do {
                let handshake = try await send(client, server, "GET", "/v1/handshake", token, nil)
                recorder.record("handshake", since: due, ok: handshake.status == 200)
                guard handshake.status == 200 else { return }
                var pulledAt = ContinuousClock.now
                while true {
                    let pull = try await send(
                        client,
                        server,
                        "GET",
                        "/v1/pull?replica_id=\(replica)&cursor=\(cursor)&limit=1000",
                        token,
                        nil
                    )
                    recorder.record("pull", since: pulledAt, ok: pull.status == 200)
                    guard pull.status == 200,
                        let page = try JSONSerialization.jsonObject(with: pull.body) as? [String: Any],
                        let next = page["cursor"] as? String
                    else { return }
                    cursor = next
                    if page["has_more"] as? Bool != true { break }
                    pulledAt = ContinuousClock.now
                }
                var batch: [Change] = []
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                for _ in 0..<count {
                    counter += 1
                    let dot = Dot(replica: ReplicaID(unchecked: replica), counter: counter)
                    let operation: Change.Operation =
                        counter == 1
                        ? .create(["name": "Load test", "territory": .string(territory)])
                        : .set(["phone": .string("+49 30 \(counter)")])
                    batch.append(
                        Change(
                            dot: dot,
                            context: counter == 1 ? VectorClock() : VectorClock([(dot.replica, counter - 1)]),
                            timestamp: HybridTimestamp(wallMilliseconds: now - 1_000, logical: UInt32(counter % 1000)),
                            author: user,
                            entity: .account,
                            recordID: RecordID(account),
                            operation: operation
                        )
                    )
                }
                let pushedAt = ContinuousClock.now
                let body = try WireCoding.encode(PushRequest(replicaID: ReplicaID(unchecked: replica), changes: batch))
                let push = try await send(client, server, "POST", "/v1/push", token, body)
                let accepted =
                    push.status == 200
                    && (try? WireCoding.decodeMessage(PushResponse.self, from: push.body))?.results.allSatisfy {
                        $0.status == .accepted
                    } == true
                recorder.record("push", since: pushedAt, ok: accepted)
                recorder.record("session", since: due, ok: accepted)
            } catch {
                recorder.record("session", since: due, ok: false)
            }
        }
    }

    static func send(
        _ client: HTTPClient,
        _ server: String,
        _ method: String,
        _ path: String,
        _ token: String,
        _ body: Data?
    ) async throws -> (status: Int, body: Data) {
        var request = HTTPClientRequest(url: server + path)
        request.method = HTTPMethod(rawValue: method)
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await client.execute(request, timeout: .seconds(30))
        let collected = try await response.body.collect(upTo: 64 * 1024 * 1024)
        return (Int(response.status.code), Data(collected.readableBytesView))
    }

    /// The resident set of a process, in KiB (0 when it cannot be read).
    static func residentKilobytes(_ pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    static func format(_ value: Double) -> String { String((value * 10).rounded() / 10) }
}

/// Latencies by request kind, and errors.
final class Recorder: Sendable {
    private let samples = Mutex<[String: (latencies: [Double], errors: Int)]>([:])

    func record(_ kind: String, since start: ContinuousClock.Instant, ok: Bool) {
        let elapsed = ContinuousClock.now - start
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        samples.withLock { table in
            table[kind, default: ([], 0)].latencies.append(milliseconds)
            if !ok { table[kind, default: ([], 0)].errors += 1 }
        }
    }

    func report(elapsed: Duration) {
        let table = samples.withLock { $0 }
        for kind in ["handshake", "pull", "push", "session"] {
            guard let entry = table[kind] else { continue }
            let sorted = entry.latencies.sorted()
            func percentile(_ p: Double) -> String {
                sorted.isEmpty
                    ? "-" : LoadBenchmark.format(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))])
            }
            print(
                "\(kind): \(sorted.count) (\(LoadBenchmark.format(Double(sorted.count) / Double(elapsed.components.seconds))) /s), "
                    + "p50 \(percentile(0.5)) ms, p99 \(percentile(0.99)) ms, p99.9 \(percentile(0.999)) ms, "
                    + "max \(sorted.last.map(LoadBenchmark.format) ?? "-") ms, errors \(entry.errors)"
            )
        }
    }
}
