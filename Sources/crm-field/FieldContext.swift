import ArgumentParser
import Foundation
import ReplicaStore
import SyncClient
import SyncProtocol

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The folder that holds this laptop's replica (default: $CRM_FIELD_HOME, else ~/.local/share/crm-field).",
            valueName: "dir"
        )
    )
    var home: String?

    @Flag(
        help: "Print JSON for scripts: records with their id and the PRODUCT.md field names; errors as {\"error\":…}."
    )
    var json = false
}

/// How long a list may be: lists read only the page they show.
struct ListOptions: ParsableArguments {
    @Option(help: "Show at most this many (0: all; default 200, with --json all).") var limit: Int?

    func validate() throws {
        guard (limit ?? 0) >= 0 else { throw ValidationError("--limit must be 0 or more") }
    }

    /// The limit for a read: nil for all. A person's screen shows 200 unless asked; a script gets everything.
    func value(_ context: FieldContext) -> Int? {
        guard let limit else { return context.json ? nil : 200 }
        return limit == 0 ? nil : limit
    }
}

/// A problem the rep can act on: one line, a stable code, a non-zero exit.
struct CLIError: Error, CustomStringConvertible {
    var code: String
    var message: String
    var exitCode: Int32 = 1

    init(_ code: String, _ message: String, exitCode: Int32 = 1) {
        self.code = code
        self.message = message
        self.exitCode = exitCode
    }

    var description: String { message }

    static func invalid(_ message: String) -> CLIError { CLIError("invalid_input", message, exitCode: 2) }
    static func notFound(_ message: String) -> CLIError { CLIError("not_found", message) }
}

/// What a running command works with: its home folder, the console, the replica (opened on first use).
final class FieldContext: @unchecked Sendable {
    let options: GlobalOptions
    let home: URL
    let console: Console
    private var opened: Replica?

    /// The replica file inside the home folder.
    var replicaPath: String { home.appendingPathComponent("replica.sqlite").path }
    /// The token, readable by its owner only.
    var tokenPath: String { home.appendingPathComponent("token").path }
    var caPath: String { home.appendingPathComponent("server-ca.pem").path }

    init(options: GlobalOptions, console: Console) {
        self.options = options
        self.console = console
        home = Self.homeFolder(options.home)
    }

    var json: Bool { options.json }

    static func homeFolder(_ flag: String?) -> URL {
        let environment = ProcessInfo.processInfo.environment
        if let flag, !flag.isEmpty { return URL(fileURLWithPath: flag) }
        if let home = environment["CRM_FIELD_HOME"], !home.isEmpty { return URL(fileURLWithPath: home) }
        if let data = environment["XDG_DATA_HOME"], data.hasPrefix("/") {
            return URL(fileURLWithPath: data).appendingPathComponent("crm-field")
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".local/share/crm-field")
    }

    var hasReplica: Bool { FileManager.default.fileExists(atPath: replicaPath) }

    /// The replica; an error that says to run `init` when there is none.
    func replica() throws -> Replica {
        if let opened { return opened }
        guard hasReplica else {
            throw CLIError(
                "not_initialized",
                "no replica in \(home.path): run crm-field init --server URL --token TOKEN first"
            )
        }
        let replica = try Replica(path: replicaPath)
        opened = replica
        return replica
    }

    /// Creates the home folder and the replica (`init`), under the replica id the server registered if given.
    func createReplica(replicaID: ReplicaID? = nil) throws -> Replica {
        try FileManager.default.createDirectory(
            at: home,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        let replica = try Replica(path: replicaPath, newReplicaID: replicaID)
        opened = replica
        return replica
    }

    func saveToken(_ token: String) throws {
        _ = FileManager.default.createFile(atPath: tokenPath, contents: nil, attributes: [.posixPermissions: 0o600])
        try Data(token.utf8).write(to: URL(fileURLWithPath: tokenPath))
    }

    func token() throws -> String {
        guard let data = FileManager.default.contents(atPath: tokenPath) else {
            throw CLIError("not_initialized", "no token in \(home.path): run crm-field init --server URL --token TOKEN")
        }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs `body` with an HTTP transport to `server` (the saved token and CA file unless given), and closes it.
    func withTransport<T>(
        server: String,
        token: String? = nil,
        caCertificateFile: String? = nil,
        connectTimeout: Duration = .seconds(10),
        _ body: (HTTPSyncTransport) async throws -> T
    ) async throws -> T {
        let transport = try HTTPSyncTransport(
            server: server,
            token: try token ?? self.token(),
            caCertificateFile: caCertificateFile
                ?? (FileManager.default.fileExists(atPath: caPath) ? caPath : nil),
            connectTimeout: connectTimeout
        )
        do {
            let result = try await body(transport)
            try? await transport.shutdown()
            return result
        } catch {
            try? await transport.shutdown()
            throw error
        }
    }

    /// The names of the accounts `records` refer to (one query), for a list's customer column.
    func accountNames(_ records: [StoredRecord], field: String = "account_id") async throws -> [String: String] {
        let ids = records.compactMap { $0[field]?.stringValue.map(RecordID.init) }
        return try await replica().records(.account, ids: ids).reduce(into: [:]) { names, entry in
            names[entry.key.rawValue] = entry.value["name"]?.description
        }
    }

    func close() {
        try? opened?.close()
        opened = nil
    }

    /// Deletes the CRM data of this home (the replica with its outbox, the token, the server's certificate, the
    /// reminders written to the home's mail outbox, the settings) when IT reported the laptop lost; says what went.
    func wipe() -> CLIError {
        close()
        let files = [
            "replica.sqlite", "replica.sqlite-wal", "replica.sqlite-shm", "token", "server-ca.pem", "config.json",
        ]
        for name in files + ["outbox", "replica.sqlite-blobs"] {
            try? FileManager.default.removeItem(at: home.appendingPathComponent(name))
        }
        let left = (files + ["outbox", "replica.sqlite-blobs"]).filter {
            FileManager.default.fileExists(atPath: home.appendingPathComponent($0).path)
        }
        if !left.isEmpty {
            return CLIError(
                "wipe_requested",
                "IT reported this laptop lost and revoked its access, but \(left.joined(separator: ", ")) in "
                    + "\(home.path) could not be deleted: delete them now",
                exitCode: 4
            )
        }
        return CLIError(
            "wipe_requested",
            "IT reported this laptop lost and revoked its access: the CRM data on it (the replica with any changes "
                + "not sent, the token, the reminders) was deleted from \(home.path); ask IT to set it up again",
            exitCode: 4
        )
    }

    // MARK: - Output

    func print(_ text: String) { console.out(text) }

    func printJSON(_ value: Any) {
        let data =
            (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("null".utf8)
        console.out(String(decoding: data, as: UTF8.self))
    }

    /// Prints a record: JSON with `--json`, a card for people.
    func printRecord(_ record: StoredRecord, title: String? = nil) {
        if json {
            printJSON(Render.json(record))
        } else {
            if let title { print(title) }
            print(Render.card(record))
        }
    }

    /// Prints records: a JSON array with `--json`, a table for people (`empty` when there are none).
    /// A page of a list; when more records match than it shows, one line on standard error says so.
    func printPage(_ page: RecordPage, columns: [Render.Column], empty: String) {
        printRecords(page.records, columns: columns, empty: empty)
        if page.total > page.records.count {
            console.err(
                "showing \(page.records.count) of \(page.totalIsAtLeast ? "more than " : "")\(page.total); "
                    + "--limit N shows more, --limit 0 all"
            )
        }
    }

    func printRecords(_ records: [StoredRecord], columns: [Render.Column], empty: String) {
        if json {
            printJSON(records.map(Render.json))
        } else if records.isEmpty {
            print(empty)
        } else {
            print(Render.table(records, columns: columns))
        }
    }
}

/// Every `crm-field` command: parse, run with a context, render any error as one line and exit non-zero.
protocol FieldCommand: AsyncParsableCommand {
    var global: GlobalOptions { get }
    func execute(_ context: FieldContext) async throws
}

extension FieldCommand {
    mutating func run() async throws {
        let context = FieldContext(options: global, console: Console.current)
        defer { context.close() }
        do {
            try await execute(context)
        } catch let exit as ExitCode {
            throw exit  // a status the command chose (remind: nothing due), not an error
        } catch {
            // A lost or stolen laptop (IT revoked its token with --wipe): the customer data goes now, then we say so.
            let wipe = (error as? SyncClientError)?.code == .wipeRequested
            let failure = wipe ? context.wipe() : Self.cliError(error)
            if context.json {
                context.printJSON(["error": ["code": failure.code, "message": failure.message]])
            } else {
                context.console.err("crm-field: \(failure.message)")
            }
            throw ExitCode(failure.exitCode)
        }
    }

    static func cliError(_ error: any Error) -> CLIError {
        switch error {
        case let error as CLIError:
            return error
        case let error as SyncClientError:
            return CLIError(error.code.rawValue, error.message, exitCode: error.code == .unreachable ? 3 : 1)
        case let error as ReplicaError:
            if let rejection = error.rejection {
                return CLIError(rejection.code.rawValue, rejection.reason, exitCode: 2)
            }
            return CLIError(error.code.rawValue, error.message)
        case is CancellationError:
            return CLIError("interrupted", "interrupted; run the command again (nothing was lost)")
        default:
            return CLIError("error", String(describing: error))
        }
    }
}
