import ArgumentParser
import Foundation
import Hummingbird
import Logging
import SyncProtocol
import SyncServer

/// The sync server IT runs: `serve`, and admin subcommands that work on the same database while it serves.
@main
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crm-sync-server",
        abstract: "The crm-field sync server and its admin commands.",
        version: ServerVersion.current,
        subcommands: [
            Serve.self, UserCommand.self, TerritoryCommand.self, RecordCommand.self, Import.self, Backup.self,
            Restore.self, Stats.self, AuditCommand.self, Schema.self,
        ]
    )
}

struct DatabaseOption: ParsableArguments {
    @Option(
        name: .customLong("db"),
        help: """
            A SQLite database file, or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (shared by several servers); \
            default: the settings file's db, else crm-sync.sqlite.
            """
    )
    var databaseFlag: String?
    @Option(
        help: ArgumentHelp(
            "The settings file (default: $CRM_SYNC_CONFIG, else /etc/crm-sync/server.conf when it exists); flags override it.",
            valueName: "file"
        )
    )
    var config: String?

    /// The settings file's values (none when there is no file).
    var settings: SettingsFile { (try? SettingsFile.load(config)) ?? SettingsFile(path: nil, values: [:]) }

    /// The database: `--db`, else the settings file's `db`, else `crm-sync.sqlite` in the working directory.
    var database: String { databaseFlag ?? settings["db"] ?? "crm-sync.sqlite" }

    mutating func validate() throws {
        // A settings file that cannot be read or has a wrong line stops every command, before anything is done.
        _ = try SettingsFile.load(config)
    }

    var isPostgres: Bool { database.hasPrefix("postgres://") || database.hasPrefix("postgresql://") }

    /// Runs `body` with the storage open (for PostgreSQL: its connection pool running, its schema in place).
    func withStorage<T: Sendable>(_ body: @Sendable (any ChangeStorage) async throws -> T) async throws -> T {
        if isPostgres {
            // A short-lived admin command: the pool's routine warnings (a lease racing its start) are noise here.
            var logger = Logger(label: "crm-sync-server.storage")
            logger.logLevel = .error
            return try await PostgresChangeStorage.withStorage(url: database, logger: logger) { try await body($0) }
        }
        return try await body(try SQLiteChangeStorage(path: database))
    }

    /// Runs `body` with the sync service over the storage.
    func withService<T: Sendable>(_ body: @Sendable (SyncService) async throws -> T) async throws -> T {
        try await withStorage { try await body(SyncService(storage: $0)) }
    }
}

/// Who the audit log names for an admin command run on this machine.
let cliActor = "cli:" + (ProcessInfo.processInfo.environment["SUDO_USER"] ?? loginName())

/// The name of the user this process runs as.
func loginName() -> String {
    if let entry = getpwuid(getuid()), let name = entry.pointee.pw_name { return String(cString: name) }
    return ProcessInfo.processInfo.environment["USER"] ?? "uid \(getuid())"
}

/// Prints a value as the wire's JSON, on one line (`--json`).
func printJSON(_ value: some Encodable) throws {
    print(String(decoding: try WireCoding.encode(value), as: UTF8.self))
}

/// Now, in milliseconds since 1970.
func nowMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the sync API.",
        discussion: """
            Example: crm-sync-server serve --db /var/lib/crm/crm-sync.sqlite --host 0.0.0.0 --port 8443 \\
                       --tls-cert /etc/crm/server.pem --tls-key /etc/crm/server.key
            """
    )

    @OptionGroup var database: DatabaseOption
    @Option(help: "Address to listen on (default 127.0.0.1).") var host: String?
    @Option(help: "Port to listen on (default 8080).") var port: Int?
    @Option(help: "Largest request body in bytes (default 8 MiB).") var maxBodyBytes: Int?
    @Option(help: "How far ahead of the server's clock a change may be stamped, in seconds (default 60).")
    var maxClockAheadSeconds: Int64?
    @Option(
        help:
            "For how many days after a territory move the old territory's laptops may still send edits they made before they learned of it (default 30)."
    )
    var handOffGraceDays: Int64?
    @Option(help: "A PEM certificate (chain) to serve HTTPS with (TLS 1.2 at least); needs --tls-key.")
    var tlsCert: String?
    @Option(help: "The PEM private key of --tls-cert.") var tlsKey: String?
    @Option(
        help:
            "The largest document file accepted, in MB (default 25; larger ones are refused with 413; their records sync)."
    )
    var maxDocumentMb: Int64?

    /// Each setting: its flag, else the settings file, else the default.
    struct Resolved {
        var host: String
        var port: Int
        var maxBodyBytes: Int
        var maxClockAheadSeconds: Int64
        var handOffGraceDays: Int64
        var tls: ServerConfiguration.TLSFiles?
        var maxDocumentMb: Int64
    }

    func resolved() throws -> Resolved {
        let file = try SettingsFile.load(database.config)
        let cert = tlsCert ?? file["tls-cert"]
        let key = tlsKey ?? file["tls-key"]
        if (cert == nil) != (key == nil) {
            throw ValidationError("--tls-cert and --tls-key (tls-cert and tls-key) go together")
        }
        let resolved = Resolved(
            host: host ?? file["host"] ?? "127.0.0.1",
            port: try port ?? file.number("port") ?? 8080,
            maxBodyBytes: try maxBodyBytes ?? file.number("max-body-bytes") ?? 8 * 1024 * 1024,
            maxClockAheadSeconds: try maxClockAheadSeconds ?? file.number("max-clock-ahead-seconds") ?? 60,
            handOffGraceDays: try handOffGraceDays ?? file.number("hand-off-grace-days") ?? 30,
            tls: cert.flatMap { cert in key.map { ServerConfiguration.TLSFiles(certificate: cert, key: $0) } },
            maxDocumentMb: try maxDocumentMb ?? file.number("max-document-mb") ?? 25
        )
        if resolved.maxDocumentMb < 0 { throw ValidationError("--max-document-mb must be 0 or more") }
        return resolved
    }

    func validate() throws {
        _ = try resolved()
    }

    func run() async throws {
        var logger = Logger(label: "crm-sync-server")
        logger.logLevel = .info
        let settings = try resolved()
        var configuration = ServerConfiguration(
            host: settings.host,
            port: settings.port,
            database: database.database,
            maxBodyBytes: settings.maxBodyBytes,
            maxClockAheadMilliseconds: settings.maxClockAheadSeconds * 1000,
            handOffGraceMilliseconds: settings.handOffGraceDays * 86_400_000,
            tls: settings.tls
        )
        configuration.maxDocumentBytes = settings.maxDocumentMb * 1_048_576
        // PostgreSQL's pool is a service of the application, and its schema is migrated before the server listens.
        if database.isPostgres {
            let storage = try PostgresChangeStorage(url: database.database, logger: logger)
            try await buildApplication(configuration: configuration, storage: storage, logger: logger).runService()
            return
        }
        let path = database.database
        let storage = try SQLiteChangeStorage(path: path)
        let service = SyncService(storage: storage)
        // A database copied back from a backup by hand is refused before anything is served.
        do {
            try await ServedState.check(database: path, service: service)
        } catch let error as SyncServerError {
            throw ValidationError(error.message)
        }
        let recorder = Task {
            var last: ServedState?
            while !Task.isCancelled {
                if let now = try? await service.logPosition(), last != ServedState(logID: now.logID, end: now.end) {
                    let state = ServedState(logID: now.logID, end: now.end)
                    if (try? state.write(forDatabase: path)) != nil { last = state }
                }
                try? await Task.sleep(for: .seconds(2))
            }
        }
        defer { recorder.cancel() }
        try await buildApplication(configuration: configuration, storage: storage, logger: logger).runService()
        recorder.cancel()
        if let now = try? await service.logPosition() {
            try? ServedState(logID: now.logID, end: now.end).write(forDatabase: path)
        }
    }
}

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Add, list and revoke users, and issue new tokens.",
        subcommands: [Add.self, List.self, Set.self, Revoke.self, Token.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a user and print their token (shown once).",
            discussion: "Example: crm-sync-server user add alice --role rep --territory north"
        )
        @OptionGroup var database: DatabaseOption
        @Argument(help: "The user name.") var name: String
        @Option(help: "rep, manager or admin.") var role: String
        @Option(name: .customLong("territory"), help: "A territory (repeat for several).") var territories: [String] =
            []

        func validate() throws {
            guard Role(rawValue: role) != nil else {
                throw ValidationError("--role must be rep, manager or admin (got '\(role)')")
            }
            guard User.isValidName(name) else { throw ValidationError("a user name is 1 to 64 of A-Z a-z 0-9 . _ - @") }
        }

        func run() async throws {
            let issued = Tokens.generate()
            let user = User(name: name, role: Role(rawValue: role)!, territories: territories)
            try await database.withService {
                try await $0.addUser(user, tokenHash: issued.hash, actor: cliActor, now: nowMilliseconds())
            }
            print(issued.token)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users.")
        @OptionGroup var database: DatabaseOption
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let users = try await database.withStorage { try await $0.users() }
            if json {
                try printJSON(users)
                return
            }
            for user in users {
                let state = user.isRevoked ? "revoked" : "active"
                print("\(user.name)\t\(user.role.rawValue)\t\(state)\t\(user.territories.joined(separator: ","))")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a user's token (effective on the next request).",
            discussion: """
                With --wipe (a lost or stolen laptop), the laptop that holds the token deletes its replica and \
                token at its next contact with the server, after saying so; even after you issue the user a new \
                token. Without --wipe the laptop keeps its data and can no longer sync.
                """
        )
        @OptionGroup var database: DatabaseOption
        @Argument var name: String
        @Flag(help: "Make the laptop holding the token delete its CRM data at its next contact.") var wipe = false
        func run() async throws {
            let name = name
            let wipe = wipe
            try await database.withService {
                try await $0.revokeUser(named: name, wipe: wipe, actor: cliActor, now: nowMilliseconds())
            }
            print(wipe ? "revoked \(name); the laptop will delete its CRM data at its next contact" : "revoked \(name)")
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a user's role or territories (the laptop follows at its next sync).",
            discussion: """
                --territory replaces the user's territories (repeat it for several); each must be known \
                (crm-sync-server territory list). The user's laptop learns of the change at its next sync: what \
                they no longer see stops coming, and their edits made before they learned of it follow the \
                territory hand-off rules (PROTOCOL.md §9). Data of a territory gained arrives with the changes \
                made from then on; crm-field reset downloads all of it at once.
                Example: crm-sync-server user set alice --role manager --territory north --territory south
                """
        )
        @OptionGroup var database: DatabaseOption
        @Argument(help: "The user name.") var name: String
        @Option(help: "rep, manager or admin.") var role: String?
        @Option(name: .customLong("territory"), help: "A territory (repeat for several); replaces the user's.")
        var territories: [String] = []

        func validate() throws {
            if let role, Role(rawValue: role) == nil {
                throw ValidationError("--role must be rep, manager or admin (got '\(role)')")
            }
            if role == nil, territories.isEmpty { throw ValidationError("give --role or --territory (or both)") }
        }

        func run() async throws {
            let (name, role, territories) = (name, role.flatMap(Role.init(rawValue:)), territories)
            let (before, after) = try await database.withService {
                try await $0.setUser(
                    name,
                    role: role,
                    territories: territories.isEmpty ? nil : territories,
                    actor: cliActor,
                    now: nowMilliseconds()
                )
            }
            func describe(_ user: User) -> String {
                "\(user.role.rawValue) of \(user.territories.isEmpty ? "no territory" : user.territories.joined(separator: ", "))"
            }
            print("\(name): \(describe(before)) → \(describe(after)) (takes effect at the laptop's next sync)")
        }
    }

    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a new token for a user and print it (the old one stops working)."
        )
        @OptionGroup var database: DatabaseOption
        @Argument var name: String
        func run() async throws {
            let (name, issued) = (name, Tokens.generate())
            try await database.withService {
                try await $0.setToken(named: name, tokenHash: issued.hash, actor: cliActor, now: nowMilliseconds())
            }
            print(issued.token)
        }
    }
}

struct TerritoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "territory",
        abstract: "Add, list and rename territories, and move accounts between them.",
        discussion: """
            Territories are managed objects: an account can be assigned only to a known territory (one added \
            here, or one a user holds).
            """,
        subcommands: [Add.self, List.self, Rename.self, Assign.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a territory.",
            discussion: "Example: crm-sync-server territory add north"
        )
        @OptionGroup var database: DatabaseOption
        @Argument(help: "The territory's name (1 to 64 of A-Z a-z 0-9 . _ - @).") var name: String
        func run() async throws {
            let name = name
            try await database.withService { try await $0.addTerritory(name, actor: cliActor, now: nowMilliseconds()) }
            print("added territory \(name)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List territories with their accounts and users.",
            discussion: "Example: crm-sync-server territory list"
        )
        @OptionGroup var database: DatabaseOption
        @Flag(help: "Print JSON.") var json = false
        func run() async throws {
            let territories = try await database.withService { try await $0.territories() }
            if json {
                try printJSON(territories)
                return
            }
            Table.print(
                ["TERRITORY", "ACCOUNTS", "USERS"],
                territories.map {
                    [$0.name, String($0.accounts), $0.users.isEmpty ? "-" : $0.users.joined(separator: ", ")]
                }
            )
        }
    }

    struct Rename: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rename a territory: its accounts and the users who hold it take the new name.",
            discussion: """
                The accounts change through server changes that sync like any other; the users' laptops follow at \
                their next sync and lose nothing.
                Example: crm-sync-server territory rename north north-east
                """
        )
        @OptionGroup var database: DatabaseOption
        @Argument var old: String
        @Argument var new: String
        func run() async throws {
            let (old, new) = (old, new)
            let report = try await database.withService {
                try await $0.renameTerritory(from: old, to: new, actor: cliActor, now: nowMilliseconds())
            }
            let users = report.users.isEmpty ? "no users" : "users " + report.users.joined(separator: ", ")
            print("renamed \(old) to \(new): \(report.accounts) accounts, \(users)")
        }
    }

    struct Assign: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move an account (and what hangs off it) to a known territory.",
            discussion: "Example: crm-sync-server territory assign 01JD7Q8X4N1V3F2Y6Z0B9C8D7E south"
        )
        @OptionGroup var database: DatabaseOption
        @Argument var accountID: String
        @Argument var territory: String
        @Flag(help: "Print JSON.") var json = false
        func run() async throws {
            let (accountID, territory) = (accountID, territory)
            let moved = try await database.withService {
                try await $0.assignTerritory(
                    account: RecordID(accountID),
                    territory: territory,
                    actor: cliActor,
                    now: nowMilliseconds()
                )
            }
            if json {
                try printJSON(moved)
                return
            }
            func names(_ users: [String]) -> String { users.isEmpty ? "nobody" : users.joined(separator: ", ") }
            print(
                "moved account \(moved.account)\(moved.name.map { " (\($0))" } ?? "") from \(moved.from ?? "no territory") "
                    + "to \(moved.to) with \(moved.records) records"
            )
            print("gain it: \(names(moved.gained)); lose it: \(names(moved.lost))")
        }
    }
}

struct RecordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Undelete records.",
        subcommands: [Restore.self]
    )

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Undelete a record: a change causally after its delete, which syncs like any other.",
            discussion: """
                The record comes back with the values it had, on the server and on every laptop at its next sync.
                Example: crm-sync-server record restore account 01JD7Q8X4N1V3F2Y6Z0B9C8D7E
                """
        )
        @OptionGroup var database: DatabaseOption
        @Argument(help: "account, contact, task, deal, product, stock or invoice.") var entity: String
        @Argument var id: String
        func run() async throws {
            let (entity, id) = (entity, id)
            try await database.withService {
                try await $0.restoreRecord(
                    entity: EntityKind(entity),
                    id: RecordID(id),
                    actor: cliActor,
                    now: nowMilliseconds()
                )
            }
            print("restored \(entity) \(id)")
        }
    }
}

struct Schema: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the CRM schema the server enforces, as conformance/schema.json holds it.",
        discussion: "Example: crm-sync-server schema > schema.json"
    )

    func run() throws {
        print(try CRMSchema.documentJSON(), terminator: "")
    }
}

struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Users, replicas with their last push and pull, pending and rejected changes, open conflicts.",
        discussion: "Example: crm-sync-server stats --db /var/lib/crm/crm-sync.sqlite"
    )
    @OptionGroup var database: DatabaseOption
    @Flag(help: "Print JSON (for scripts).") var json = false
    func run() async throws {
        let stats = try await database.withService { try await $0.stats() }
        if json {
            try printJSON(stats)
            return
        }
        print(
            "\(stats.users) users, \(stats.replicas.count) replicas, \(stats.records) records, \(stats.changes) changes, "
                + "\(stats.recordsWithOpenConflicts) records with open conflicts"
        )
        if let restore = stats.lastRestore {
            print(
                "restored \(restore.at); \(restore.replicasNotSyncedSince) replicas have not synced since (they re-send "
                    + "what the backup lacks when they do)"
            )
        }
        if !stats.openConflictsByEntity.isEmpty {
            print(
                "open conflicts: "
                    + stats.openConflictsByEntity.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
                    .joined(separator: ", ")
            )
        }
        print("")
        Table.print(
            ["USER", "REPLICA", "LAST PUSH", "LAST PULL", "PENDING", "REJECTED"],
            stats.replicas.sorted { ($0.user, $0.replica) < ($1.user, $1.replica) }.map {
                [
                    $0.user, $0.replica, Table.time($0.lastPush), Table.time($0.lastPull),
                    $0.pending.map(String.init) ?? "-", String($0.rejected),
                ]
            }
        )
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Show and verify the append-only, hash-chained audit log.",
        discussion: """
            Every admin action (users, tokens, revocations, territories, imports with the file's SHA-256, \
            restores, undeletes), every delete a laptop pushed and every push with refused changes (counted by \
            code) is an entry, chained to the one before by its hash. Entries never hold tokens or customers' \
            values.
            Example: crm-sync-server audit --since 2026-11-01
            """,
        subcommands: [Show.self, Verify.self],
        defaultSubcommand: Show.self
    )

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "List audit entries, oldest first."
        )
        @OptionGroup var database: DatabaseOption
        @Option(help: "Only entries from this time on (2026-11-01 or an ISO 8601 UTC time).") var since: String?
        @Flag(help: "Print JSON lines (one entry per line).") var json = false

        func validate() throws {
            if let since, CSVImport.timestamp(since) == nil {
                throw ValidationError("--since must be a date like 2026-11-01 or an ISO 8601 UTC time (got '\(since)')")
            }
        }

        func run() async throws {
            let from = since.flatMap(CSVImport.timestamp) ?? .min
            let json = json
            try await database.withStorage { storage in
                try await storage.withReadTransaction { transaction in
                    var after: Int64 = 0
                    while true {
                        let page = try await transaction.audit(after: after, limit: 1000)
                        guard let last = page.last else { break }
                        for entry in page where entry.at >= from {
                            if json {
                                try printJSON(entry)
                            } else {
                                print(AuditText.line(entry))
                            }
                        }
                        after = last.seq
                    }
                }
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the hash chain of the whole audit log; exit 1 when an entry was changed or removed.",
            discussion: """
                Prints the number of entries and the last entry's hash: keep it elsewhere, and a later verify that \
                prints a different hash for the same entry shows the log was rewritten.
                """
        )
        @OptionGroup var database: DatabaseOption
        func run() async throws {
            let result = try await database.withStorage { try await AuditLog.verify($0) }
            if let broken = result.broken {
                FileHandle.standardError.write(
                    Data("crm-sync-server: the audit log is broken at entry \(broken.seq): \(broken.reason)\n".utf8)
                )
                throw ExitCode(1)
            }
            print("the audit log is intact: \(result.entries) entries, last hash \(result.head)")
        }
    }
}

/// An audit entry as one line for people.
enum AuditText {
    static func line(_ entry: AuditEntry) -> String {
        let detail = entry.detail.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        return "\(entry.seq)\t\(ISO8601.format(millisecondsSince1970: entry.at))\t\(entry.actor)\t\(entry.action)\t"
            + "\(entry.target)\(detail.isEmpty ? "" : "\t" + detail)"
    }
}

/// Columns for people.
enum Table {
    static func print(_ header: [String], _ rows: [[String]]) {
        var widths = header.map(\.count)
        for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        for row in [header] + rows {
            Swift.print(
                row.enumerated().map { index, cell in
                    index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
                }.joined(separator: "  ")
            )
        }
    }

    /// An ISO time as `2026-11-30 14:05Z`, or `never`.
    static func time(_ iso: String?) -> String {
        guard let iso, iso.count >= 16 else { return "never" }
        return iso.prefix(10) + " " + iso.dropFirst(11).prefix(5) + "Z"
    }
}

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import products, stock recounts, invoices, accounts, sales plans or stage norms from CSV.",
        discussion: """
            The file is CSV as accounting exports it: UTF-8 (a byte order mark is fine), separated by `,` `;` or \
            tab (found from the header), with a header row of field names; columns it does not know are ignored \
            with a warning. Money: `125.00`, `125,00`, `1.250,00` or `1,250.00` (decimals of the row's currency; \
            JPY none, KWD three) or a whole number of minor units (`12500`). Dates: `2026-11-01`, `01.11.2026` or \
            ISO 8601 UTC times. Rows upsert by natural key: part number; part number and warehouse; invoice \
            number; account id (a new id when empty); rep and month (plans: `month` is YYYY-MM, the amount in \
            the plan's currency); stage (norms: how many days a deal normally stays in the stage; a deal \
            longer in it is stuck on every laptop). Importing the same file twice changes nothing, and an \
            import never reverts a rep's newer edit with a value accounting has not changed since its previous \
            import ("kept"). Orphans are rejected: an invoice for an unknown account, stock for an unknown part, \
            an account whose owner is no user or whose territory is not known, a plan for a rep who is no user. Every problem of a rejected row is \
            reported with its line; the other rows are imported. Exit 2 when a row was rejected.

            \(Self.columns)

            Example: crm-sync-server import products catalog.csv --dry-run
            """
    )

    /// Each kind's columns with an example row.
    static var columns: String {
        ImportKind.allCases.map { kind in
            """
            \(kind.rawValue): \(kind.columns.joined(separator: ", "))
              \(kind.example.header)
              \(kind.example.row)
            """
        }.joined(separator: "\n")
    }

    @OptionGroup var database: DatabaseOption
    @Argument(help: "products, stock, invoices, accounts, plans or norms.") var kind: String
    @Argument(help: "The CSV file.") var file: String
    @Flag(help: "Show what the import would do and change nothing.") var dryRun = false
    @Flag(help: "Print the report as JSON.") var json = false

    func validate() throws {
        guard ImportKind(rawValue: kind) != nil else {
            throw ValidationError("import products, stock, invoices, accounts, plans or norms (got '\(kind)')")
        }
    }

    func run() async throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ValidationError("cannot read \(file)")
        }
        let (kind, dryRun) = (ImportKind(rawValue: kind)!, dryRun)
        let report = try await database.withService {
            try await $0.importCSV(kind, data: data, actor: cliActor, now: nowMilliseconds(), dryRun: dryRun)
        }
        if json {
            try printJSON(report)
        } else {
            for line in report.lines { print(line) }
        }
        if !report.rejected.isEmpty { throw ExitCode(2) }
    }
}

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Write a consistent copy of the database to FILE (and its documents' files beside it), also while the server runs.",
        discussion: "Example: crm-sync-server backup /backups/crm-sync-2026-11-23.sqlite"
    )
    @OptionGroup var database: DatabaseOption
    @Argument(help: "The new backup file.") var file: String
    func run() async throws {
        let file = file
        try await database.withStorage { try await $0.backup(to: file) }
        print("backed up to \(file)")
    }
}

struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bring the server back from a backup, safely for the laptops that synced after it was taken.",
        discussion: """
            Stop the server first. With BACKUP (SQLite), the backup replaces the database (the current file is kept \
            as DB.before-restore-TIME); without it, the database as it is now is marked restored (a file copied \
            back by hand, or PostgreSQL after pg_restore). The log then takes a new identity and the server's own \
            counters continue above any it may have used, so nothing a laptop already holds is issued again for \
            other changes; each laptop re-sends at its next sync the changes the backup lacks (see stats: \
            synced_since_restore).
            Example: crm-sync-server restore /backups/crm-sync-2026-11-23.sqlite --db /var/lib/crm/crm-sync.sqlite
            """
    )
    @OptionGroup var database: DatabaseOption
    @Argument(help: "The backup file to restore (SQLite); omit to mark the database as it is restored.")
    var backup: String?

    func validate() throws {
        if database.isPostgres, backup != nil {
            throw ValidationError(
                "restore a PostgreSQL database with pg_restore, then run crm-sync-server restore --db URL (no file)"
            )
        }
        if let backup, !FileManager.default.fileExists(atPath: backup) {
            throw ValidationError("no backup file at \(backup)")
        }
    }

    func run() async throws {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var kept: String?
        if let backup {
            kept = try Self.replace(database.database, with: backup, now: now)
            // The backup's document contents join those beside the database (none is removed: a content stored
            // after the backup stays, for the versions laptops re-send).
            try FileBlobStore(folder: FileBlobStore.folder(besideDatabase: backup))
                .copyStored(to: FileBlobStore.folder(besideDatabase: database.database))
        }
        let backup = backup
        let mark = try await database.withService { service in
            try await service.markRestored(
                now: now,
                actor: cliActor,
                source: backup.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "the database as it is"
            )
        }
        guard let mark else { return }
        if !database.isPostgres {
            try ServedState(logID: mark.newLogID, end: mark.through).write(forDatabase: database.database)
        }
        if let backup { print("restored \(backup) into \(database.database)") }
        print(
            "the log is now \(mark.newLogID) (was \(mark.oldLogID); laptops' positions up to \(mark.through) stay valid); "
                + "laptops re-send what the backup lacks at their next sync (crm-sync-server stats: synced_since_restore)"
        )
        if let kept { print("the database before the restore is kept as \(kept)") }
    }

    /// Puts a copy of `backup` in place of the SQLite database `path` (its WAL and shared-memory files with it),
    /// keeping the old files under a new name; returns that name.
    static func replace(_ path: String, with backup: String, now: Int64) throws -> String? {
        let files = FileManager.default
        // The backup must be a server database: opened (and migrated) as a copy, never in place.
        let staged = path + ".restoring"
        try? files.removeItem(atPath: staged)
        try files.copyItem(atPath: backup, toPath: staged)
        do {
            _ = try SQLiteChangeStorage(path: staged)
        } catch {
            try? files.removeItem(atPath: staged)
            throw ValidationError("\(backup) is not a crm-sync-server database: \(error)")
        }
        var kept: String?
        if files.fileExists(atPath: path) {
            let aside = path + ".before-restore-\(now)"
            for suffix in ["", "-wal", "-shm"] where files.fileExists(atPath: path + suffix) {
                try files.moveItem(atPath: path + suffix, toPath: aside + suffix)
            }
            kept = aside
        }
        for suffix in ["-wal", "-shm"] where files.fileExists(atPath: staged + suffix) {
            try files.moveItem(atPath: staged + suffix, toPath: path + suffix)
        }
        try files.moveItem(atPath: staged, toPath: path)
        return kept
    }
}
