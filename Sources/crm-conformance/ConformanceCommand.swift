import ArgumentParser
import Foundation
import SyncClient

/// `crm-conformance`: runs the scenarios of `conformance/scenarios/` against a live sync server.
@main
struct ConformanceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crm-conformance",
        abstract: "Run the conformance scenarios against a live crm-field sync server.",
        discussion: """
            Creates its own users (revoked at the end), territories, accounts and catalog entries through the admin \
            API, all named cf-TAG-N-…, and drives real replica files with the same client code as crm-field. Each \
            scenario is reported as passed or failed with what differed; the exit status is 1 when one failed.

            Example:
              crm-conformance --server http://127.0.0.1:8080 --admin-token-file it.token
              crm-conformance --check          # only read and check the scenario files
            """
    )

    @Option(help: "The server's address, http://HOST:PORT or https://HOST:PORT.")
    var server: String?

    @Option(help: "An admin token (prefer --admin-token-file or CRM_CONFORMANCE_ADMIN_TOKEN: arguments show in ps).")
    var adminToken: String?

    @Option(help: "A file holding an admin token.")
    var adminTokenFile: String?

    @Option(help: "A PEM file of the CA that signed the server's certificate.")
    var caCert: String?

    @Option(help: "The folder of scenario files.")
    var scenarios = "conformance/scenarios"

    @Option(help: "Run only scenarios whose file or name contains this text.")
    var filter: String?

    @Flag(help: "Only read and check the scenario files; no server needed.")
    var check = false

    @Flag(help: "Keep the laptops' replica files (their folder is printed).")
    var keep = false

    func run() async throws {
        let all = try loadScenarios()
        let selected = all.filter { scenario in
            filter.map { scenario.file.contains($0) || scenario.name.contains($0) } ?? true
        }
        if check {
            print("\(all.count) scenario files are valid")
            return
        }
        guard let server else { throw ValidationError("give --server (or --check)") }
        let token = try adminTokenValue()
        let tag = "cf-" + String(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(8))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("crm-conformance-\(tag)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { if !keep { try? FileManager.default.removeItem(at: folder) } }
        let environment = RunEnvironment(
            server: server,
            adminToken: token,
            caCertificate: caCert,
            tag: tag,
            folder: folder
        )
        let http = try environment.transport(token: token)
        let admin = AdminClient(http: http)
        do {
            _ = try await admin.call("GET", "/v1/admin/stats")
        } catch {
            try? await http.shutdown()
            throw RunnerError("cannot use the admin API of \(server): \(error)")
        }
        print("crm-conformance: \(selected.count) scenarios against \(server) (run \(tag))")
        var failed: [String] = []
        let started = ContinuousClock.now
        for (number, scenario) in selected.enumerated() {
            let begin = ContinuousClock.now
            let run = try ScenarioRun(scenario: scenario, number: number + 1, environment: environment, admin: admin)
            var failure: String?
            do {
                try await run.run()
            } catch {
                failure = "\(error)"
            }
            await run.finish()
            let seconds = (ContinuousClock.now - begin).formatted(
                .units(allowed: [.seconds], fractionalPart: .show(length: 2))
            )
            if let failure {
                failed.append(scenario.name)
                print("FAIL \(scenario.name) (\(scenario.file), \(seconds))\n     \(scenario.promise)\n     \(failure)")
            } else {
                print("pass \(scenario.name) (\(seconds))")
            }
        }
        try? await http.shutdown()
        let total = (ContinuousClock.now - started).formatted(
            .units(allowed: [.seconds], fractionalPart: .show(length: 1))
        )
        print("\(selected.count - failed.count) of \(selected.count) scenarios passed in \(total)")
        if keep { print("replica files kept in \(folder.path)") }
        if !failed.isEmpty {
            print("failed: \(failed.joined(separator: ", "))")
            throw ExitCode(1)
        }
    }

    private func adminTokenValue() throws -> String {
        if let adminToken { return adminToken }
        if let adminTokenFile {
            guard let text = try? String(contentsOfFile: adminTokenFile, encoding: .utf8) else {
                throw RunnerError("cannot read the admin token file \(adminTokenFile)")
            }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if let token = ProcessInfo.processInfo.environment["CRM_CONFORMANCE_ADMIN_TOKEN"], !token.isEmpty {
            return token
        }
        throw ValidationError("give --admin-token-file FILE (or CRM_CONFORMANCE_ADMIN_TOKEN, or --admin-token)")
    }

    /// Every `*.json` file of the folder, in name order; a file that is not a valid scenario stops the run.
    private func loadScenarios() throws -> [Scenario] {
        let url = URL(fileURLWithPath: scenarios)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: url.path) else {
            throw RunnerError("cannot read the scenario folder \(scenarios)")
        }
        var loaded: [Scenario] = []
        var seen: Set<String> = []
        for name in names.filter({ $0.hasSuffix(".json") }).sorted() {
            let data = try Data(contentsOf: url.appendingPathComponent(name))
            do {
                let scenario = try Scenario(file: name, data: data)
                guard seen.insert(scenario.name).inserted else {
                    throw Scenario.FormatError("the name '\(scenario.name)' is used twice")
                }
                loaded.append(scenario)
            } catch {
                throw RunnerError("\(name): \(error)")
            }
        }
        guard !loaded.isEmpty else { throw RunnerError("no scenario files (*.json) in \(scenarios)") }
        return loaded
    }
}

/// A problem that stops the run, printed as one line (no usage text) with exit status 1.
struct RunnerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
