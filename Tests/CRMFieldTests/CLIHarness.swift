import ArgumentParser
import Foundation
import Hummingbird
import Logging
import ReplicaStore
import SyncProtocol
import SyncServer
import Testing

@testable import crm_field

/// What one `crm-field` run printed, and how it ended.
struct CLIResult {
    var exitCode: Int32
    var out: String
    var err: String

    var json: Any? { try? JSONSerialization.jsonObject(with: Data(out.utf8)) }

    /// The JSON object a successful `--json` command printed. A failed command, or output that is not a JSON
    /// object, is recorded as a test failure (and gives `[:]`), so a check on the result cannot pass because the
    /// command failed.
    var object: [String: Any] { succeeded(as: [String: Any].self) ?? [:] }

    /// The JSON array a successful `--json` command printed; a failed command is a test failure (see `object`).
    var array: [[String: Any]] { succeeded(as: [[String: Any]].self) ?? [] }

    /// The `{"error":{"code","message"}}` a failed `--json` command printed. A command that succeeded, or an error
    /// not in that format, is recorded as a test failure (and gives `nil`).
    var failure: (code: String, message: String)? {
        guard exitCode != 0 else {
            Issue.record("expected the command to fail, it exited 0: \(out.prefix(300))")
            return nil
        }
        guard let error = (json as? [String: Any])?["error"] as? [String: Any],
            let code = error["code"] as? String, let message = error["message"] as? String,
            error.count == 2
        else {
            Issue.record(
                "not a JSON error {\"error\":{\"code\",\"message\"}}: out \(out.prefix(300)) err \(err.prefix(300))"
            )
            return nil
        }
        return (code, message)
    }

    private func succeeded<T>(as type: T.Type) -> T? {
        guard exitCode == 0 else {
            Issue.record("the command failed (exit \(exitCode)): \(err.prefix(300)) \(out.prefix(300))")
            return nil
        }
        guard let value = json as? T else {
            Issue.record("not a JSON \(T.self): \(out.prefix(300))")
            return nil
        }
        return value
    }
}

/// Runs `crm-field` with `arguments` in process (parsed exactly as the executable parses them), capturing output.
func cli(_ arguments: [String], home: String) async -> CLIResult {
    let console = Console(capturing: true)
    do {
        try await CRMField.run(arguments + ["--home", home], console: console)
        return CLIResult(exitCode: 0, out: console.standardOutput, err: console.standardError)
    } catch let exit as ExitCode {
        return CLIResult(exitCode: exit.rawValue, out: console.standardOutput, err: console.standardError)
    } catch {
        return CLIResult(
            exitCode: CRMField.exitCode(for: error).rawValue,
            out: console.standardOutput,
            err: console.standardError + CRMField.message(for: error)
        )
    }
}

/// A sync server on a temporary SQLite file, listening on 127.0.0.1, with the demo's users and data.
struct CLIServer: Sendable {
    let folder: URL
    let storage: SQLiteChangeStorage
    let url: String

    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Starts a server, runs `body`, stops the server. `tls` serves HTTPS.
    static func with(
        tls: ServerConfiguration.TLSFiles? = nil,
        maxClockAheadMilliseconds: Int64 = 60_000,
        _ body: @Sendable (CLIServer) async throws -> Void
    ) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let storage = try SQLiteChangeStorage(path: folder.appendingPathComponent("server.sqlite").path)
        let port = Demo.PortBox()
        let app = try buildApplication(
            configuration: ServerConfiguration(
                host: "127.0.0.1",
                port: 0,
                maxClockAheadMilliseconds: maxClockAheadMilliseconds,
                tls: tls
            ),
            storage: storage,
            logger: logger,
            onServerRunning: { port.set($0) }
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService(gracefulShutdownSignals: []) }
            defer { group.cancelAll() }
            let scheme = tls == nil ? "http" : "https"
            try await body(
                CLIServer(folder: folder, storage: storage, url: "\(scheme)://127.0.0.1:\(try await port.wait())")
            )
        }
    }

    /// Adds a rep; returns the token.
    func addRep(_ name: String, territories: [String] = ["north"], role: Role = .rep) async throws -> String {
        let issued = Tokens.generate()
        try await storage.addUser(User(name: name, role: role, territories: territories), tokenHash: issued.hash)
        return issued.token
    }

    func importCSV(_ kind: ImportKind, _ text: String) async throws {
        let report = try await SyncService(storage: storage).importCSV(
            kind,
            data: Data(text.utf8),
            actor: "test",
            now: Int64(Date().timeIntervalSince1970 * 1000)
        )
        #expect(report.rejected.isEmpty, "\(report.lines)")
    }

    /// A catalog of two parts, stock in one or two warehouses, and two accounts of `north` and one of `south`.
    func loadSample() async throws {
        try await importCSV(
            .products,
            """
            part_number,name,unit,price_list,price_dealer,price_promo,currency,active
            P-100,Circulation pump CP-100,pcs,19900,15900,,EUR,true
            V-20,Ball valve DN20,pcs,2450,1990,1790,EUR,true
            """
        )
        try await importCSV(
            .stock,
            """
            part_number,warehouse,quantity
            P-100,berlin,20
            V-20,berlin,140
            V-20,hamburg,60
            """
        )
        // The territories, whoever holds them yet (an account may be imported only into a known one).
        let service = SyncService(storage: storage)
        for territory in ["north", "south"] { try? await service.addTerritory(territory, actor: "test", now: 0) }
        try await importCSV(
            .accounts,
            """
            id,name,kind,industry,region,status,phone,territory
            acc-mueller,Müller Haustechnik GmbH,customer,Plumbing,Berlin,active,+49 30 1234 567,north
            acc-schmidt,Schmidt Bau AG,prospect,Construction,Potsdam,active,+49 331 987 65,north
            acc-south,Süd Wärme KG,customer,Heating,München,active,+49 89 1,south
            """
        )
        try await importCSV(
            .invoices,
            """
            number,account_id,amount,currency,issued_at,due_at,paid_at
            R-1,acc-mueller,125000,EUR,2026-09-01T00:00:00Z,2026-10-01T00:00:00Z,
            R-2,acc-mueller,5000,EUR,2026-09-01T00:00:00Z,2026-10-01T00:00:00Z,2026-09-20T00:00:00Z
            R-3,acc-south,7000,EUR,2026-09-01T00:00:00Z,2026-10-01T00:00:00Z,
            """
        )
    }

    /// A fresh laptop home for `rep`, set up with `init`.
    func laptop(_ token: String) async throws -> String {
        let home = folder.appendingPathComponent("laptop-\(UUID().uuidString.prefix(8))").path
        let result = await cli(["init", "--server", url, "--token", token], home: home)
        #expect(result.exitCode == 0, "init failed: \(result.err)")
        return home
    }
}
