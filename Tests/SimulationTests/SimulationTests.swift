import Foundation
import Testing

@testable import crm_simulate

/// The convergence simulation at CI size, and proof that each of its checks fails when a part is broken.
@Suite("Convergence simulation", .serialized)
struct SimulationTests {
    /// Debug builds run a few seeds here; the README's test command runs the CI size (300 seeds) with the release
    /// build of `crm-simulate`.
    static let seeds = Int(ProcessInfo.processInfo.environment["CRM_SIM_SEEDS"] ?? "") ?? 6

    @Test("seeds x 5 laptops x 200 operations over a faulty network converge, exactly")
    func ciSize() async throws {
        let report = try await SimulateCommand.run(
            seeds: Array(1...UInt64(Self.seeds)),
            replicas: 5,
            operations: 200,
            sabotage: nil,
            jobs: 2
        )
        #expect(report.results.count == Self.seeds)
        #expect(report.failed.isEmpty, "\(report.summary(seconds: 0))")
        let faults = report.results.reduce(into: [String: Int]()) { $0.merge($1.faults, uniquingKeysWith: +) }
        #expect(faults.count == 4, "every kind of network fault happened: \(faults)")
        #expect(report.results.map(\.crashes).reduce(0, +) > 0, "laptops crashed in the middle of an apply")
    }

    @Test("each check catches its broken part", arguments: Sabotage.allCases)
    func sabotageIsCaught(_ sabotage: Sabotage) async throws {
        let report = try await SimulateCommand.run(
            seeds: Array(1...4),
            replicas: 5,
            operations: 100,
            sabotage: sabotage,
            jobs: 2
        )
        let expected: [String] =
            switch sabotage {
            case .dropChange: ["laptop 1 "]  // differs from the server, or applied one change less
            case .reissueSale: ["stock"]
            // The lost value, or (when the field was written again later) laptop 0's own copy differing, or (when
            // the swallowed edit cleared a required field and the server refused it) the other laptops missing it.
            case .swallowEdit:
                [
                    "is neither current, nor in a conflict, nor in the history", "laptop 0 differs",
                    "remote changes, expected",
                ]
            case .stuckOutbox: ["outboxes did not drain"]
            }
        // A sabotage strikes once per seed; when the network loses that very message, the retry goes through
        // unharmed, so not every seed needs to fail, but some must.
        #expect(!report.failed.isEmpty, "\(sabotage): \(report.summary(seconds: 0))")
        for result in report.failed {
            let caught = result.failures.contains { failure in
                expected.contains { failure.contains($0) }
            }
            #expect(caught, "\(sabotage) seed \(result.seed): \(result.failures)")
        }
    }
}
