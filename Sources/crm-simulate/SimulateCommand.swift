import ArgumentParser
import Foundation

/// `crm-simulate`: the randomized, fault-injecting convergence simulation (conformance/README.md).
@main
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crm-simulate",
        abstract: "Run seeded convergence simulations: laptops, a faulty network, crashes, then every check.",
        discussion: """
            Examples:
              crm-simulate --seeds 300                      # the CI size: 300 seeds x 5 laptops x 200 operations
              crm-simulate --seeds 10000 --jobs 2           # the long run recorded in BENCHMARKS.md
              crm-simulate --seed 1234                      # replay one seed
              crm-simulate --seeds 20 --sabotage drop-change # prove a check fails on a broken part
              crm-simulate --seeds 30 --postgres postgres://postgres@127.0.0.1:5432/postgres   # server on PostgreSQL
            """
    )

    @Option(help: "How many seeds to run, starting at --start.") var seeds = 300
    @Option(help: "The first seed.") var start: UInt64 = 1
    @Option(help: "Run only this seed.") var seed: UInt64?
    @Option(help: "Laptops per seed.") var replicas = 5
    @Option(help: "Operations per laptop.") var operations = 200
    @Option(help: "Seeds run at the same time.") var jobs = 2
    @Option(help: "Break a part on purpose: \(Sabotage.allCases.map(\.rawValue).joined(separator: ", ")).")
    var sabotage: String?
    @Option(
        help: "Run the server on PostgreSQL: a postgres:// URL where each seed gets a fresh database (dropped after)."
    )
    var postgres: String?
    @Option(
        help: """
            A deployment operation each seed performs mid-run: \(DeploymentEvent.allCases.map(\.rawValue).joined(separator: ", ")); \
            by default a quarter of the seeds roll the server back (SQLite) and a quarter clone a laptop.
            """
    )
    var deployment: String?

    func run() async throws {
        var broken: Sabotage?
        if let sabotage {
            guard let value = Sabotage(rawValue: sabotage) else {
                throw ValidationError("unknown --sabotage \(sabotage)")
            }
            broken = value
        }
        var event: DeploymentEvent?
        if let deployment {
            guard let value = DeploymentEvent(rawValue: deployment) else {
                throw ValidationError("unknown --deployment \(deployment)")
            }
            event = value
        }
        let list = seed.map { [$0] } ?? Array(start..<(start + UInt64(seeds)))
        let started = Date()
        let report = try await Self.run(
            seeds: list,
            replicas: replicas,
            operations: operations,
            sabotage: broken,
            postgres: postgres,
            deployment: event,
            jobs: jobs,
            progress: { done in
                if done % 100 == 0 { print("\(done) of \(list.count) seeds…") }
            }
        )
        let seconds = Date().timeIntervalSince(started)
        print(report.summary(seconds: seconds))
        if !report.failed.isEmpty { throw ExitCode(1) }
    }

    struct Report: Sendable {
        var results: [SeedResult] = []
        var failed: [SeedResult] { results.filter { !$0.failures.isEmpty } }
        var replicas = 5
        var operations = 200
        var sabotage: Sabotage?
        var postgres: String?
        var deployment: DeploymentEvent?

        func summary(seconds: Double) -> String {
            var faults: [String: Int] = [:]
            for result in results { faults.merge(result.faults, uniquingKeysWith: +) }
            var lines = [
                "\(results.count - failed.count) of \(results.count) seeds passed (\(replicas) laptops x \(operations) "
                    + "operations each) in \(String(format: "%.1f", seconds)) s",
                "  local changes \(results.map(\.changes).reduce(0, +)), syncs \(results.map(\.syncs).reduce(0, +)), "
                    + "crashes mid-apply \(results.map(\.crashes).reduce(0, +))",
                "  network faults: "
                    + faults.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "),
            ]
            var events: [String: Int] = [:]
            for result in results { events.merge(result.events, uniquingKeysWith: +) }
            if !events.isEmpty {
                lines.append(
                    "  deployment events: "
                        + events.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                )
            }
            for result in failed.prefix(10) {
                let config = SimulationConfig(
                    seed: result.seed,
                    replicas: replicas,
                    operations: operations,
                    sabotage: sabotage,
                    postgres: postgres,
                    deployment: deployment
                )
                lines.append("FAILED seed \(result.seed):")
                lines += result.failures.map { "  " + $0 }
                lines.append("  replay: \(config.replayCommand)")
            }
            return lines.joined(separator: "\n")
        }
    }

    static func run(
        seeds: [UInt64],
        replicas: Int,
        operations: Int,
        sabotage: Sabotage?,
        postgres: String? = nil,
        deployment: DeploymentEvent? = nil,
        jobs: Int,
        progress: @escaping @Sendable (Int) -> Void = { _ in }
    ) async throws -> Report {
        var report = Report(
            replicas: replicas,
            operations: operations,
            sabotage: sabotage,
            postgres: postgres,
            deployment: deployment
        )
        try await withThrowingTaskGroup(of: SeedResult.self) { group in
            var next = 0
            func launch() {
                guard next < seeds.count else { return }
                let config = SimulationConfig(
                    seed: seeds[next],
                    replicas: replicas,
                    operations: operations,
                    sabotage: sabotage,
                    postgres: postgres,
                    deployment: deployment
                )
                next += 1
                group.addTask {
                    do {
                        return try await Simulation(config: config).run()
                    } catch {
                        return SeedResult(seed: config.seed, failures: ["the run threw: \(error)"])
                    }
                }
            }
            for _ in 0..<max(1, jobs) { launch() }
            while let result = try await group.next() {
                report.results.append(result)
                progress(report.results.count)
                launch()
            }
        }
        report.results.sort { $0.seed < $1.seed }
        return report
    }
}
