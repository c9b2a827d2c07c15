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
        subcommands: [
            Serve.self, UserCommand.self, TerritoryCommand.self, Import.self, Backup.self, Restore.self, Stats.self,
            Schema.self,
        ]
    )
}

struct DatabaseOption: ParsableArguments {
    @Option(
        name: .customLong("db"),
        help: "A SQLite database file, or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (shared by several servers)."
    )
    var database = "crm-sync.sqlite"

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
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the sync API.",
        discussion: """
            Example: crm-sync-server serve --db /var/lib/crm/crm-sync.sqlite --host 0.0.0.0 --port 8443 \\
                       --tls-cert /etc/crm/server.pem --tls-key /etc/crm/server.key
            """
    )

    @OptionGroup var database: DatabaseOption
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on.") var port = 8080
    @Option(help: "Largest request body in bytes.") var maxBodyBytes = 8 * 1024 * 1024
    @Option(help: "How far ahead of the server's clock a change may be stamped, in seconds.")
    var maxClockAheadSeconds: Int64 = 60
    @Option(
        help:
            "For how many days after a territory move the old territory's laptops may still send edits they made before they learned of it."
    )
    var handOffGraceDays: Int64 = 30
    @Option(help: "A PEM certificate (chain) to serve HTTPS with (TLS 1.2 at least); needs --tls-key.")
    var tlsCert: String?
    @Option(help: "The PEM private key of --tls-cert.") var tlsKey: String?

    func validate() throws {
        if (tlsCert == nil) != (tlsKey == nil) {
            throw ValidationError("--tls-cert and --tls-key go together")
        }
    }

    func run() async throws {
        var logger = Logger(label: "crm-sync-server")
        logger.logLevel = .info
        let configuration = ServerConfiguration(
            host: host,
            port: port,
            database: database.database,
            maxBodyBytes: maxBodyBytes,
            maxClockAheadMilliseconds: maxClockAheadSeconds * 1000,
            handOffGraceMilliseconds: handOffGraceDays * 86_400_000,
            tls: tlsCert.flatMap { cert in tlsKey.map { ServerConfiguration.TLSFiles(certificate: cert, key: $0) } }
        )
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
        subcommands: [Add.self, List.self, Revoke.self, Token.self]
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
            try await database.withStorage {
                try await $0.addUser(
                    User(name: name, role: Role(rawValue: role)!, territories: territories),
                    tokenHash: issued.hash
                )
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
                print(String(decoding: try WireCoding.encode(users), as: UTF8.self))
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
            abstract: "Revoke a user's token (effective on the next request)."
        )
        @OptionGroup var database: DatabaseOption
        @Argument var name: String
        func run() async throws { try await database.withStorage { try await $0.revokeUser(named: name) } }
    }

    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a new token for a user and print it (the old one stops working)."
        )
        @OptionGroup var database: DatabaseOption
        @Argument var name: String
        func run() async throws {
            let issued = Tokens.generate()
            try await database.withStorage { try await $0.setToken(named: name, tokenHash: issued.hash) }
            print(issued.token)
        }
    }
}

struct TerritoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "territory",
        abstract: "Move accounts between territories.",
        subcommands: [Assign.self]
    )

    struct Assign: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move an account to a territory.",
            discussion: "Example: crm-sync-server territory assign 01JD7Q8X4N1V3F2Y6Z0B9C8D7E south"
        )
        @OptionGroup var database: DatabaseOption
        @Argument var accountID: String
        @Argument var territory: String
        func run() async throws {
            let (accountID, territory) = (accountID, territory)
            try await database.withStorage {
                try await SyncService(storage: $0).assignTerritory(
                    account: RecordID(accountID),
                    territory: territory,
                    now: Int64(Date().timeIntervalSince1970 * 1000)
                )
            }
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
        abstract: "Users, replicas, last sync per replica, changes, conflicts."
    )
    @OptionGroup var database: DatabaseOption
    func run() async throws {
        let stats = try await database.withStorage { try await SyncService(storage: $0).stats() }
        print(String(decoding: try WireCoding.encode(stats), as: UTF8.self))
    }
}

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import products, stock recounts, invoices or accounts from accounting's CSV.",
        discussion: """
            The header row names the fields (stock: part_number,warehouse,quantity). Rows upsert by natural key: \
            part number; part number and warehouse; invoice number; account id (a new id when empty). Money is in \
            minor units. Importing the same file twice changes nothing.
            Example: crm-sync-server import products catalog.csv
            """
    )
    @OptionGroup var database: DatabaseOption
    @Argument(help: "products, stock, invoices or accounts.") var kind: String
    @Argument(help: "The CSV file.") var file: String

    func validate() throws {
        guard ImportKind(rawValue: kind) != nil else {
            throw ValidationError("import products, stock, invoices or accounts (got '\(kind)')")
        }
    }

    func run() async throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ValidationError("cannot read \(file)")
        }
        let kind = ImportKind(rawValue: kind)!
        let (rows, rejected) = CSVImport.rows(kind, csv: String(decoding: data, as: UTF8.self))
        var report = try await database.withStorage {
            try await SyncService(storage: $0).importRows(
                kind,
                rows: rows,
                now: Int64(Date().timeIntervalSince1970 * 1000)
            )
        }
        report.rejected = (rejected + report.rejected).sorted { $0.line < $1.line }
        print(
            "created \(report.created), updated \(report.updated), unchanged \(report.unchanged), rejected \(report.rejected.count)"
        )
        for rejection in report.rejected { print("line \(rejection.line): \(rejection.reason)") }
        if !report.rejected.isEmpty { throw ExitCode(2) }
    }
}

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a consistent copy of the database to FILE, also while the server runs.",
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
        }
        let mark = try await database.withStorage { storage in
            try await SyncService(storage: storage).markRestored(now: now)
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
