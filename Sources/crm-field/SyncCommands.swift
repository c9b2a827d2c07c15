import ArgumentParser
import Foundation
import ReplicaStore
import SyncClient
import SyncProtocol
import Synchronization

struct Init: FieldCommand {
    static let configuration = CommandConfiguration(
        abstract: "Register this laptop with the sync server and download your data.",
        discussion: """
            Example: crm-field init --server https://crm-sync.example.com --token crm_…
            Run it again after an interruption: it carries on where it stopped.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: "The sync server, http://HOST:PORT or https://HOST:PORT.") var server: String
    @Option(help: "Your token from IT (crm-sync-server user add).") var token: String
    @Option(help: "A PEM file of the certificate authority that signed the server's certificate, if not public.")
    var caCert: String?
    @Option(help: "How often a request that failed for a passing reason is tried again, waiting longer each time.")
    var retries = 3

    func execute(_ context: FieldContext) async throws {
        let server = server.hasSuffix("/") ? String(server.dropLast()) : server
        try await context.withTransport(server: server, token: token, caCertificateFile: caCert) { transport in
            try await setUp(context, server: server, transport: transport)
        }
    }

    private func setUp(_ context: FieldContext, server: String, transport: HTTPSyncTransport) async throws {
        // Check the token with the server before anything is written on this laptop.
        let hello = try await transport.handshake(replicaID: nil)
        // A new laptop's replica id comes from the server, bound to this user from the start, so nobody can have
        // pushed under it first; an earlier server does not register ids and the laptop makes its own.
        let replica =
            context.hasReplica
            ? try context.replica() : try context.createReplica(replicaID: try await transport.registerReplica())
        let engine = SyncEngine(replica: replica, transport: transport, options: SyncOptions(retries: retries))
        // Refuses a home that holds another user's or server's replica before its token is replaced.
        try await engine.register(server: server, handshake: hello)
        try context.saveToken(token)
        if let caCert {
            try? FileManager.default.removeItem(atPath: context.caPath)
            try FileManager.default.copyItem(atPath: caCert, toPath: context.caPath)
        }
        let summary = try await SyncRun.run(engine, context: context)
        let counts = try await replica.recordCounts()
        if context.json {
            context.printJSON([
                "replica_id": replica.replicaID.rawValue, "server": server, "user": hello.user,
                "territories": hello.territories, "downloaded": summary.downloaded, "received": summary.received,
                "server_version": hello.serverVersion ?? NSNull(),
                "records": counts,
            ])
        } else {
            context.print(
                "This laptop is set up for \(hello.user) (territories: \(hello.territories.joined(separator: ", "))) "
                    + "with \(server)\(hello.serverVersion.map { " (crm-sync-server \($0))" } ?? "")."
            )
            context.print(
                "Downloaded \(counts["account"] ?? 0) accounts, \(counts["contact"] ?? 0) contacts, "
                    + "\(counts["activity"] ?? 0) interactions, \(counts["task"] ?? 0) tasks, "
                    + "\(counts["deal"] ?? 0) deals, \(counts["invoice"] ?? 0) invoices, "
                    + "\(counts["product"] ?? 0) products and \(counts["stock"] ?? 0) stock rows."
            )
            if let warning = summary.clockWarning { context.console.err("warning: \(warning)") }
        }
    }
}

struct Sync: FieldCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send your changes and receive everyone else's.",
        discussion: """
            Example: crm-field sync
            Safe to interrupt (Ctrl-C, a closed lid, a killed process) and to run again: nothing is lost or applied
            twice. Without network it says so and leaves your data as it is.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: "How often a request that failed for a passing reason is tried again, waiting longer each time.")
    var retries = 3
    @Option(
        help: ArgumentHelp(
            "After the records: how long document files may move (uploads, then prefetch); 0 moves none.",
            valueName: "seconds"
        )
    )
    var blobSeconds = 120

    func execute(_ context: FieldContext) async throws {
        let replica = try context.replica()
        guard let server = try await replica.syncInfo().server else {
            throw CLIError("not_initialized", "this replica has no server: run crm-field init first")
        }
        guard blobSeconds >= 0 else { throw CLIError.invalid("--blob-seconds must be 0 or more") }
        let summary: SyncSummary
        let blobs: BlobReport
        do {
            (summary, blobs) = try await context.withTransport(server: server) { transport in
                let engine = SyncEngine(replica: replica, transport: transport, options: SyncOptions(retries: retries))
                let summary = try await SyncRun.run(engine, context: context)
                // A server restored from a backup may lack contents it had confirmed: this laptop offers its own
                // again (the server answers "complete" for those it has).
                if summary.pulledFromStart || summary.resent > 0 { _ = try? await replica.requeueOwnContents() }
                // The records are in; the files move after them, within their time budget, and never fail a sync.
                let blobs = await SyncRun.moveBlobs(replica, transport, context: context, seconds: blobSeconds)
                return (summary, blobs)
            }
        } catch let error as SyncClientError where error.code == .unreachable {
            let pending = try await replica.pendingCount()
            throw SyncClientError(
                .unreachable,
                "\(error.message). Nothing changed here; \(pending) change\(pending == 1 ? "" : "s") wait to be sent.",
                isTransient: true
            )
        }
        SyncRun.printSummary(summary, server: server, context: context, blobs: blobs)
    }
}

/// Running the engine with progress on the console, and printing what it did.
enum SyncRun {
    static func run(_ engine: SyncEngine, context: FieldContext) async throws -> SyncSummary {
        let reporter = ProgressReporter(console: context.console, enabled: !context.json)
        let last = LastPhase()
        defer { reporter.finish() }
        return try await engine.sync { progress in
            if let previous = last.swap(progress.phase), previous != progress.phase { reporter.finish() }
            reporter.report(
                progress.phase.rawValue,
                done: progress.done,
                total: progress.total,
                perSecond: progress.perSecond
            )
        }
    }

    final class LastPhase: @unchecked Sendable {
        private let lock = NSLock()
        private var phase: SyncProgress.Phase?
        func swap(_ new: SyncProgress.Phase) -> SyncProgress.Phase? {
            lock.withLock {
                defer { phase = new }
                return phase
            }
        }
    }

    /// Uploads the queued files and prefetches the latest versions within the rep's budget (`prefetch-mb`), for
    /// at most `seconds`, with progress; what is left waits for the next sync.
    static func moveBlobs(
        _ replica: Replica,
        _ transport: HTTPSyncTransport,
        context: FieldContext,
        seconds: Int
    ) async -> BlobReport {
        let reporter = ProgressReporter(console: context.console, enabled: !context.json)
        defer { reporter.finish() }
        let transfer = BlobTransfer(replica: replica, transport: transport)
        let megabytes = Int64(FieldConfig.load(context)["prefetch-mb"] ?? "") ?? DocumentCommand.defaultPrefetchMB
        let rates = TransferRates()
        func progress(_ verb: String) -> BlobTransfer.Progress {
            { digest, done, total in
                reporter.report(
                    "\(verb) a file, \(digest.prefix(8)) (KB)",
                    done: Int(done / 1024),
                    total: Int(total / 1024),
                    perSecond: rates.kilobytesPerSecond(digest, done)
                )
            }
        }
        return await transfer.run(
            deadline: .now + .seconds(seconds),
            prefetchBytes: megabytes * 1_048_576,
            uploadProgress: progress("uploading"),
            downloadProgress: progress("fetching")
        )
    }

    /// Each file's rate since its first progress report (a sync moves several, one after the other).
    final class TransferRates: Sendable {
        private let starts = Mutex<[String: (ContinuousClock.Instant, Int64)]>([:])

        func kilobytesPerSecond(_ digest: String, _ done: Int64) -> Double? {
            let (start, from) = starts.withLock { starts in
                if let known = starts[digest] { return known }
                starts[digest] = (ContinuousClock.now, done)
                return (ContinuousClock.now, done)
            }
            return SyncRun.kilobytesPerSecond(done - from, since: start)
        }
    }

    /// A transfer's rate for the progress line (which prints at most every few seconds when not on a terminal).
    static func kilobytesPerSecond(_ bytes: Int64, since start: ContinuousClock.Instant) -> Double? {
        let elapsed = (ContinuousClock.now - start) / .milliseconds(1)
        return elapsed > 0 ? Double(bytes) / 1024 / (elapsed / 1000) : nil
    }

    static func blobJSON(_ report: BlobReport) -> [String: Any] {
        [
            "uploaded": report.uploaded.map { ["digest": $0.digest, "size": $0.size] },
            "downloaded": report.downloaded.map { ["digest": $0.digest, "size": $0.size] },
            "failed": report.failures.map {
                [
                    "digest": $0.digest, "direction": $0.direction.rawValue, "code": $0.code, "reason": $0.reason,
                    "size": $0.size,
                ] as [String: Any]
            },
            "waiting_up": report.waitingUp, "waiting_up_bytes": report.waitingUpBytes,
            "waiting_down": report.waitingDown, "waiting_down_bytes": report.waitingDownBytes,
            "out_of_time": report.outOfTime,
        ]
    }

    static func printBlobs(_ report: BlobReport, context: FieldContext) {
        var moved: [String] = []
        if !report.uploaded.isEmpty {
            moved.append(
                "\(report.uploaded.count) uploaded (\(ByteCount.describe(report.uploaded.reduce(0) { $0 + $1.size })))"
            )
        }
        if !report.downloaded.isEmpty {
            moved.append(
                "\(report.downloaded.count) fetched (\(ByteCount.describe(report.downloaded.reduce(0) { $0 + $1.size })))"
            )
        }
        if report.waitingUp > 0 {
            moved.append("\(report.waitingUp) waiting to upload (\(ByteCount.describe(report.waitingUpBytes)))")
        }
        if report.waitingDown > 0 {
            moved.append("\(report.waitingDown) to fetch (\(ByteCount.describe(report.waitingDownBytes)))")
        }
        guard !moved.isEmpty || !report.failures.isEmpty else { return }
        context.print(
            "  files      " + (moved.isEmpty ? "none moved" : moved.joined(separator: ", "))
                + (report.outOfTime ? "; the rest moves at the next sync (--blob-seconds)" : "")
        )
        for failure in report.failures {
            context.print(
                "    \(failure.direction == .up ? "upload" : "download") of \(failure.digest.prefix(12)) "
                    + "(\(ByteCount.describe(failure.size))) failed: \(failure.reason); tried again later"
            )
        }
    }

    static func printSummary(
        _ summary: SyncSummary,
        server: String,
        context: FieldContext,
        blobs: BlobReport? = nil
    ) {
        if context.json {
            let files: Any = blobs.map { blobJSON($0) as Any } ?? NSNull()
            context.printJSON([
                "files": files,
                "server": server,
                "sent": summary.sent, "accepted": summary.accepted, "duplicates": summary.duplicates,
                "received": summary.received, "downloaded": summary.downloaded,
                "resumed_download": summary.resumedDownload,
                "conflicts": summary.newConflicts.map(ConflictCommand.json),
                "rejected": summary.rejected.map(StatusJSON.rejected),
                "removed": summary.removed.map { ["entity": $0.entity.rawValue, "id": $0.recordID.rawValue] },
                "unsent_edits_of_removed": summary.unsentEditsOfRemoved.count,
                "handed_off": summary.handedOff,
                "pending": summary.pending, "open_conflicts": summary.openConflicts,
                "clock_offset_ms": summary.clockOffsetMilliseconds,
                "clock_warning": summary.clockWarning ?? NSNull(),
                "pulled_from_start": summary.pulledFromStart,
                "resent": summary.resent,
                "awaiting_restore": summary.awaitingRestore,
                "new_replica_id": summary.restamp.map {
                    [
                        "old": $0.oldID.rawValue, "new": $0.newID.rawValue, "restamped": $0.restamped,
                    ] as [String: Any]
                } ?? NSNull(),
                "seconds": Double(summary.milliseconds) / 1000,
            ])
            return
        }
        if let warning = summary.clockWarning { context.console.err("warning: \(warning)") }
        if let restamp = summary.restamp {
            context.console.err(
                "note: another copy of this laptop's data (a copied folder or a restored backup) synced under the "
                    + "same identity, so this laptop now syncs as \(restamp.newID) (was \(restamp.oldID)); "
                    + "\(restamp.restamped) unsent change\(restamp.restamped == 1 ? "" : "s") went out under it and "
                    + "the other copy's changes came in; nothing was lost"
            )
        } else if summary.pulledFromStart {
            context.console.err(
                "note: the server did not recognise this laptop's sync position (it was restored or replaced), "
                    + "so this sync received its whole log again; nothing here was lost or doubled"
            )
        }
        if summary.resent > 0 {
            context.console.err(
                "note: the server had lost \(summary.resent) of this laptop's changes (it was restored from a backup); "
                    + "they were sent again"
            )
        }
        if summary.awaitingRestore > 0 {
            context.console.err(
                "note: \(summary.awaitingRestore) change\(summary.awaitingRestore == 1 ? "" : "s") wait here: the server "
                    + "was restored and lacks records they need, which a colleague's laptop sends again when it syncs; "
                    + "the next sync tries again"
            )
        }
        let seconds = String(format: "%.1f", Double(summary.milliseconds) / 1000)
        context.print("Synced with \(server) in \(seconds) s.")
        var sent = "  sent       \(summary.sent) change\(summary.sent == 1 ? "" : "s")"
        if summary.duplicates > 0 { sent += " (\(summary.duplicates) the server already had)" }
        context.print(sent)
        if summary.downloaded > 0 {
            var line = "  downloaded \(summary.downloaded) records"
            if summary.resumedDownload > 0 {
                line += " (carrying on after the \(summary.resumedDownload) an interrupted download had installed)"
            }
            context.print(line)
        }
        context.print("  received   \(summary.received) change\(summary.received == 1 ? "" : "s")")
        if summary.newConflicts.isEmpty {
            context.print("  conflicts  none new")
        } else {
            context.print("  conflicts  \(summary.newConflicts.count) new, see crm-field conflict list")
        }
        if summary.rejected.isEmpty {
            context.print("  rejected   none")
        } else {
            context.print("  rejected   \(summary.rejected.count), kept on this laptop:")
            for rejected in summary.rejected {
                context.print("    \(StatusJSON.describe(rejected))")
            }
        }
        if !summary.removed.isEmpty {
            context.print(
                "  removed    \(summary.removed.count) records moved out of your territories"
                    + (summary.unsentEditsOfRemoved.isEmpty
                        ? "" : "; \(summary.unsentEditsOfRemoved.count) of your edits to them never reached the server")
            )
            if summary.handedOff > 0 {
                context.print(
                    "  handed on \(summary.handedOff) of your edits to them, made before you learned of the move, "
                        + "went to the new territory's reps"
                )
            }
        }
        if summary.pending > 0 { context.print("  pending    \(summary.pending) (made while syncing)") }
        if let blobs { printBlobs(blobs, context: context) }
    }
}

enum StatusJSON {
    static func rejected(_ rejected: RejectedChange) -> [String: Any] {
        [
            "entity": rejected.change.entity.rawValue, "id": rejected.change.recordID.rawValue,
            "dot": rejected.change.dot.description, "code": rejected.rejection.code.rawValue,
            "reason": rejected.rejection.reason,
        ]
    }

    static func describe(_ rejected: RejectedChange) -> String {
        "\(rejected.change.entity) \(rejected.change.recordID): \(rejected.rejection.code) — \(rejected.rejection.reason)"
    }
}

struct Status: FieldCommand {
    static let configuration = CommandConfiguration(
        abstract: "This laptop's replica: server, user, pending changes, last sync, conflicts, rejections.",
        discussion: "Example: crm-field status"
    )

    @OptionGroup var global: GlobalOptions

    func execute(_ context: FieldContext) async throws {
        let replica = try context.replica()
        let info = try await replica.syncInfo()
        let pending = try await replica.pendingCount()
        let conflicts = try await replica.openConflicts()
        let rejected = try await replica.rejectedChanges()
        let counts = try await replica.recordCounts()
        let uploads = try await replica.queuedUploads()
        let wanted = try await replica.wantedBlobs(latestOnly: false)
        let files: [String: Any] = [
            "waiting_up": uploads.count, "waiting_up_bytes": uploads.reduce(0) { $0 + $1.size },
            "upload_failures": uploads.filter { $0.lastError != nil }.map {
                ["digest": $0.digest, "size": $0.size, "reason": $0.lastError ?? "", "sent": $0.sent] as [String: Any]
            },
            "not_here": wanted.count, "not_here_bytes": wanted.reduce(0) { $0 + $1.size },
            "here_bytes": replica.blobBytesHere(),
        ]
        if context.json {
            context.printJSON([
                "files": files,
                "replica_id": info.replicaID.rawValue, "server": info.server ?? NSNull(),
                "user": info.user ?? NSNull(), "territories": info.territories, "pending": pending,
                "last_sync": info.lastSync.map { ISO8601.format(millisecondsSince1970: $0) } ?? NSNull(),
                "open_conflicts": conflicts.count, "rejected": rejected.map(StatusJSON.rejected),
                "home": context.home.path, "records": counts,
            ])
            return
        }
        let held = ["account", "contact", "activity", "task", "deal", "invoice", "product"].map { entity in
            "\(counts[entity] ?? 0) \(entity == "activity" ? "interactions" : entity + "s")"
        }
        let rows: [(String, String)] = [
            ("replica", info.replicaID.rawValue),
            ("home", context.home.path),
            ("server", info.server ?? "none"),
            ("user", info.user ?? "none"),
            ("territories", info.territories.joined(separator: ", ")),
            ("pending", "\(pending) change\(pending == 1 ? "" : "s") to send"),
            ("last sync", info.lastSync.map { Render.localTime(millis: $0) } ?? "never"),
            ("conflicts", conflicts.isEmpty ? "none open" : "\(conflicts.count) open (crm-field conflict list)"),
            ("rejected", rejected.isEmpty ? "none" : "\(rejected.count)"),
            ("records", held.joined(separator: ", ")),
            (
                "files",
                "\(uploads.count) waiting to upload (\(ByteCount.describe(uploads.reduce(0) { $0 + $1.size }))), "
                    + "\(wanted.count) not on this laptop (\(ByteCount.describe(wanted.reduce(0) { $0 + $1.size }))), "
                    + "\(ByteCount.describe(replica.blobBytesHere())) here"
            ),
        ]
        for (name, value) in rows { context.print(name.padding(toLength: 12, withPad: " ", startingAt: 0) + value) }
        for change in rejected { context.print("  " + StatusJSON.describe(change)) }
        for upload in uploads {
            guard let reason = upload.lastError else { continue }
            context.print(
                "  upload of \(upload.digest.prefix(12)) (\(ByteCount.describe(upload.size)), "
                    + "\(ByteCount.describe(upload.sent)) sent) failed \(upload.attempts)×: \(reason)"
            )
        }
    }
}
