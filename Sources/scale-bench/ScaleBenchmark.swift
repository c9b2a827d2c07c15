import Foundation
import ReplicaStore
import SyncClient
import SyncProtocol

/// A real territory's size, end to end with release binaries on loopback (BENCHMARKS.md, "The laptop at a real
/// territory's size"). IT imports accounts, invoices, products and stock through `crm-sync-server import`; a rep's
/// laptop pushes contacts, interactions, tasks and deals through the real push path; then a new laptop runs
/// `crm-field init` (timed, with its peak RSS and the server's RSS growth, against `curl` fetching the same snapshot
/// pages), every read command runs 10 times on the big replica and on a small one, and an incremental sync of 10
/// changes is timed on both.
///
/// `scale-bench [--accounts 100000] [--small 1000] [--bin .build/release] [--port 18190] [--keep DIR]`
@main
struct ScaleBenchmark {
    static let arguments = CommandLine.arguments

    static func option(_ name: String) -> String? {
        guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
        return arguments[index + 1]
    }

    static let accounts = Int(option("--accounts") ?? "") ?? 100_000
    static let small = Int(option("--small") ?? "") ?? 1_000
    static let bin = URL(fileURLWithPath: option("--bin") ?? ".build/release")
    static let port = Int(option("--port") ?? "") ?? 18_190
    static let folder = URL(
        fileURLWithPath: option("--keep")
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("scale-bench-\(getpid())").path
    )

    static func main() async throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { if option("--keep") == nil { try? FileManager.default.removeItem(at: folder) } }
        let db = folder.appendingPathComponent("server.sqlite").path
        print("scale-bench: \(accounts) accounts (and a small territory of \(small)), binaries in \(bin.path)")

        var generator = Generator(seed: 20_261_202)
        let big = Territory(name: "big", accounts: accounts, prefix: "B")
        let little = Territory(name: "small", accounts: small, prefix: "S")
        let generated = try measure {
            for territory in [big, little] {
                try write(territory.accountsCSV(&generator), "accounts-\(territory.name).csv")
                try write(territory.invoicesCSV(&generator), "invoices-\(territory.name).csv")
            }
            try write(Catalog.productsCSV(&generator, count: 5_000), "products.csv")
            try write(Catalog.stockCSV(count: 5_000), "stock.csv")
            try write("stage,days\nnew,5\ncontacted,10\nnegotiation,20\ndecision,15\ncontract,10\n", "norms.csv")
        }
        print(pad("generated the CSV files") + "\(format(generated)) s")

        let ivan = try server(["user", "add", "ivan", "--role", "rep", "--territory", "big", "--db", db])
        let olga = try server(["user", "add", "olga", "--role", "rep", "--territory", "small", "--db", db])
        for (kind, file) in [
            ("products", "products.csv"), ("stock", "stock.csv"), ("accounts", "accounts-big.csv"),
            ("accounts", "accounts-small.csv"), ("invoices", "invoices-big.csv"), ("invoices", "invoices-small.csv"),
            ("norms", "norms.csv"),
        ] {
            let time = try measure {
                _ = try server(["import", kind, folder.appendingPathComponent(file).path, "--db", db])
            }
            print(pad("import \(kind) \(file)") + "\(format(time)) s")
        }

        let serve = Process()
        serve.executableURL = bin.appendingPathComponent("crm-sync-server")
        serve.arguments = ["serve", "--db", db, "--port", String(port)]
        serve.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        serve.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try serve.run()
        defer { serve.terminate() }
        let url = "http://127.0.0.1:\(port)"
        try await waitForServer(url)

        // The reps' own work goes through the real push path.
        for (territory, token) in [(big, ivan), (little, olga)] {
            let home = folder.appendingPathComponent("pusher-\(territory.name)")
            try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
            let replica = try Replica(
                path: home.appendingPathComponent("replica.sqlite").path,
                configuration: ReplicaConfiguration(synchronous: .normal)
            )
            let transport = try HTTPSyncTransport(server: url, token: token)
            let engine = SyncEngine(replica: replica, transport: transport, options: SyncOptions(pushBatch: 1_000))
            try await engine.register(server: url)
            _ = try await engine.sync()
            var made = 0
            var started = ContinuousClock.now
            for batch in territory.work(&generator) {
                try await replica.writeBatch(batch)
                made += batch.count
            }
            let write = seconds(since: started)
            started = ContinuousClock.now
            _ = try await engine.sync()
            let push = seconds(since: started)
            print(
                pad("\(territory.name): \(made) changes written on a laptop, pushed")
                    + "write \(format(write)) s, push \(format(push)) s (\(rate(made, push)) changes/s)"
            )
            try await transport.shutdown()
            try replica.close()
        }

        // The first download, and what fetching the same pages costs curl.
        let curlTime = try curlSnapshot(url: url, token: ivan)
        print(
            pad("curl: every snapshot page of big (gzip), no install")
                + "\(format(curlTime.seconds)) s, \(curlTime.records) records (\(rate(curlTime.records, curlTime.seconds)) records/s)"
        )
        try? "5".write(toFile: "/proc/\(serve.processIdentifier)/clear_refs", atomically: false, encoding: .utf8)
        let serverBefore = residentKilobytes(serve.processIdentifier, "VmRSS")
        var homes: [String: String] = [:]
        for (territory, token) in [(big, ivan), (little, olga)] {
            let home = folder.appendingPathComponent("laptop-\(territory.name)").path
            homes[territory.name] = home
            let (elapsed, peak) = try timed(["init", "--server", url, "--token", token, "--home", home])
            let records = try await recordCount(home)
            print(
                pad("crm-field init, \(territory.name)")
                    + "\(format(elapsed)) s for \(records) records: \(rate(records, elapsed)) records/s, peak RSS \(peak / 1024) MB"
            )
            if territory.name == "big" {
                let growth = (residentKilobytes(serve.processIdentifier, "VmHWM") - serverBefore) / 1024
                print(pad("server RSS growth during that download") + "\(growth) MB (goal < 100 MB)")
                print(
                    pad("crm-field init ÷ curl of the same pages") + format(elapsed / curlTime.seconds) + "×"
                )
            }
        }

        // Every read command, whole process, median of 10, on both replicas.
        let someBig = "B-\(String(format: "%06d", accounts / 2))"
        let someSmall = "S-\(String(format: "%06d", small / 2))"
        let commands: [(String, [String], [String])] = [
            (
                "account list --search", ["account", "list", "--search", "Müller"],
                ["account", "list", "--search", "Müller"]
            ),
            ("account list", ["account", "list"], ["account", "list"]),
            ("history ID", ["history", someBig], ["history", someSmall]),
            ("history ID --changes", ["history", someBig, "--changes"], ["history", someSmall, "--changes"]),
            ("task list", ["task", "list"], ["task", "list"]),
            ("task list --overdue", ["task", "list", "--overdue"], ["task", "list", "--overdue"]),
            ("task list --all", ["task", "list", "--all"], ["task", "list", "--all"]),
            ("deal list", ["deal", "list"], ["deal", "list"]),
            (
                "deal list --stage negotiation", ["deal", "list", "--stage", "negotiation"],
                ["deal", "list", "--stage", "negotiation"]
            ),
            ("pipeline", ["pipeline"], ["pipeline"]),
            ("invoice list --overdue", ["invoice", "list", "--overdue"], ["invoice", "list", "--overdue"]),
            ("product search pump", ["product", "search", "pump"], ["product", "search", "pump"]),
            ("product search SIP (inside codes)", ["product", "search", "SIP"], ["product", "search", "SIP"]),
            ("status", ["status"], ["status"]),
            ("report daily", ["report", "daily"], ["report", "daily"]),
            (
                "report sales --by month (12 months)", ["report", "sales", "--by", "month", "--from=-365d"],
                ["report", "sales", "--by", "month", "--from=-365d"]
            ),
            ("report sources", ["report", "sources"], ["report", "sources"]),
            ("report key-customers", ["report", "key-customers"], ["report", "key-customers"]),
            ("report slow-stock", ["report", "slow-stock"], ["report", "slow-stock"]),
            ("pipeline --by rep", ["pipeline", "--by", "rep"], ["pipeline", "--by", "rep"]),
            ("deal list --stuck", ["deal", "list", "--stuck"], ["deal", "list", "--stuck"]),
            ("receivables --upcoming 7", ["receivables", "--upcoming", "7"], ["receivables", "--upcoming", "7"]),
            ("conflict list", ["conflict", "list"], ["conflict", "list"]),
        ]
        print("read commands, release binary, whole process, median of 10 (goal < 50 ms; big ÷ small within 2×):")
        for (name, bigArguments, smallArguments) in commands {
            let large = try median(10) { try run(bigArguments + ["--home", homes["big"]!]) }
            let tiny = try median(10) { try run(smallArguments + ["--home", homes["small"]!]) }
            print(
                pad("  \(name)") + "big \(milliseconds(large)) ms, small \(milliseconds(tiny)) ms, ratio "
                    + format(large / tiny)
            )
        }
        let version = try median(10) { try run(["--version"]) }
        print(pad("  crm-field --version (the process itself)") + "\(milliseconds(version)) ms")

        // An incremental sync of 10 changes on each.
        var incremental: [String: Double] = [:]
        for (territory, prefix, count) in [("big", "B", accounts), ("small", "S", small)] {
            let home = homes[territory]!
            var times: [Double] = []
            for round in 0..<5 {
                for index in 0..<10 {
                    let id = "\(prefix)-\(String(format: "%06d", (round * 10 + index) * 7 % count + 1))"
                    _ = try run(["account", "edit", id, "--phone", "+49 30 \(round)\(index)", "--home", home])
                }
                times.append(try measure { _ = try run(["sync", "--home", home]) })
            }
            incremental[territory] = times.sorted()[times.count / 2]
        }
        print(
            pad("incremental sync of 10 changes, median of 5")
                + "big \(milliseconds(incremental["big"]!)) ms, small \(milliseconds(incremental["small"]!)) ms, ratio "
                + format(incremental["big"]! / incremental["small"]!) + " (goal <= 1.2)"
        )
    }

    // MARK: - Processes

    static func write(_ text: String, _ name: String) throws {
        try text.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    /// Runs a `crm-sync-server` admin command; returns its standard output, trimmed.
    static func server(_ arguments: [String]) throws -> String {
        try output(bin.appendingPathComponent("crm-sync-server"), arguments)
    }

    static func output(_ executable: URL, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BenchError("\(executable.lastPathComponent) \(arguments.prefix(3).joined(separator: " ")) failed")
        }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs `crm-field` with its output discarded; returns the wall time in seconds.
    static func run(_ arguments: [String]) throws -> Double {
        try measure {
            let process = Process()
            process.executableURL = bin.appendingPathComponent("crm-field")
            process.arguments = arguments
            process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
            process.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw BenchError("crm-field \(arguments.joined(separator: " ")) failed")
            }
        }
    }

    /// Runs `crm-field` under `/usr/bin/time`; returns the wall time and the peak RSS in KiB.
    static func timed(_ arguments: [String]) throws -> (Double, Int) {
        let report = folder.appendingPathComponent("time.txt").path
        var elapsed = 0.0
        elapsed = try measure {
            _ = try output(
                URL(fileURLWithPath: "/usr/bin/time"),
                ["-f", "%M", "-o", report, bin.appendingPathComponent("crm-field").path] + arguments
            )
        }
        let peak =
            Int((try String(contentsOfFile: report, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines))
            ?? 0
        return (elapsed, peak)
    }

    static func median(_ count: Int, _ body: () throws -> Double) throws -> Double {
        var times: [Double] = []
        for _ in 0..<count { times.append(try body()) }
        return times.sorted()[count / 2]
    }

    static func residentKilobytes(_ pid: Int32, _ field: String) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
        }
        return 0
    }

    static func recordCount(_ home: String) async throws -> Int {
        let replica = try Replica(path: home + "/replica.sqlite")
        defer { try? replica.close() }
        return try await replica.recordCounts().values.reduce(0, +)
    }

    static func waitForServer(_ url: String) async throws {
        for _ in 0..<200 {
            if (try? output(URL(fileURLWithPath: "/usr/bin/curl"), ["-sf", url + "/healthz"])) != nil { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw BenchError("the server did not start")
    }

    /// Fetches every snapshot page of `token`'s scope with curl (gzip, pages of 5,000), as the laptop does.
    static func curlSnapshot(url: String, token: String) throws -> (seconds: Double, records: Int) {
        var after: String?
        var cursor: String?
        var records = 0
        // Only curl's own time counts (reading the page's `next` here does not).
        var elapsed = 0.0
        do {
            while true {
                var address = "\(url)/v1/snapshot?limit=5000"
                if let after {
                    address += "&after=\(after.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
                }
                if let cursor {
                    address += "&cursor=\(cursor.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
                }
                var body = ""
                elapsed += try measure {
                    body = try output(
                        URL(fileURLWithPath: "/usr/bin/curl"),
                        ["-sf", "--compressed", "-H", "Authorization: Bearer \(token)", address]
                    )
                }
                guard let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else {
                    throw BenchError("a snapshot page that is not JSON")
                }
                records += (object["records"] as? [Any])?.count ?? 0
                cursor = cursor ?? object["cursor"] as? String
                guard object["has_more"] as? Bool == true, let next = object["next"] as? String else { break }
                after = next
            }
        }
        return (elapsed, records)
    }

    // MARK: - Figures

    static func measure(_ body: () throws -> Void) rethrows -> Double {
        let start = ContinuousClock.now
        try body()
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    static func rate(_ count: Int, _ seconds: Double) -> String { "\(Int(Double(count) / max(seconds, 1e-9)))" }
    static func milliseconds(_ seconds: Double) -> String { String(Int((seconds * 1000).rounded())) }
    static func format(_ value: Double) -> String { String(format: "%.2f", value) }
    static func pad(_ text: String) -> String { text + String(repeating: " ", count: max(1, 58 - text.count)) }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
