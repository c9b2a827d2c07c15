import ArgumentParser
import Foundation
import ReplicaStore
import SyncClient
import SyncProtocol

/// `crm-field document …`: offers, contracts and orders attached to customers and deals, with versions, an
/// advisory lock, and contents fetched on demand (PRODUCT.md; PROTOCOL.md §10).
struct DocumentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "document",
        abstract: "Documents of your customers and deals: offers, contracts, orders, with their versions.",
        discussion: """
            A document's contents move apart from the records: `sync` sends your changes first and then the files \
            (within --blob-seconds), and fetches the latest version of your customers' documents within \
            `crm-field config set prefetch-mb N` (default \(DocumentCommand.defaultPrefetchMB) MB). `document get` \
            fetches any version on demand.
            """,
        subcommands: [Add.self, List.self, Show.self, Get.self, VersionCommand.self, Lock.self, Unlock.self]
    )

    static let defaultPrefetchMB: Int64 = 200

    /// The documents on a customer's or a deal's card.
    static let cardColumns: [Render.Column] = [
        Render.Column("id") { $0.id.rawValue },
        .field("title"), .field("kind"),
        Render.Column("checked out") { $0["locked_by"]?.stringValue.map { "by \($0)" } ?? "" },
    ]

    /// One version for people and for `--json`.
    struct VersionView {
        var number: Int
        var record: StoredRecord
        var isCurrent: Bool
        var isHere: Bool

        var digest: String { record["digest"]?.stringValue ?? "" }
        var size: Int64 {
            if case .integer(let size) = record["size"] ?? .null { return size }
            return 0
        }

        var json: [String: Any] {
            var object = Render.json(record)
            object["number"] = number
            object["current"] = isCurrent
            object["here"] = isHere
            return object
        }
    }

    /// The versions of `document`, numbered from 1 (oldest), the shown one marked.
    static func versions(of document: StoredRecord, _ replica: Replica) async throws -> [VersionView] {
        let records = try await replica.versions(ofDocument: document.id)
        let current = document["current_version"]?.stringValue ?? records.last?.id.rawValue
        return records.enumerated().map { index, record in
            VersionView(
                number: index + 1,
                record: record,
                isCurrent: record.id.rawValue == current,
                isHere: replica.hasBlob(record["digest"]?.stringValue ?? "")
            )
        }
    }

    /// "checked out by ivan since 3 Dec 14:05", or nil.
    static func lockLine(_ document: StoredRecord) -> String? {
        guard let holder = document["locked_by"]?.stringValue else { return nil }
        let since = document["locked_at"]?.stringValue.flatMap(ISO8601.parseTimestamp).map {
            " since " + Render.localTime(millis: $0)
        }
        return "checked out by \(holder)\(since ?? "") (advisory: anyone may still add a version)"
    }

    /// The version fields for `file`, copied into this laptop's blob folder: the record and its queued upload.
    static func newVersion(
        of documentID: RecordID,
        account: String,
        file: String,
        lockedBy: String?,
        _ context: FieldContext
    ) async throws -> (Replica.Edit, QueuedUpload, BlobInfo) {
        let url = URL(fileURLWithPath: (file as NSString).expandingTildeInPath)
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), !isFolder.boolValue else {
            throw CLIError.invalid("no file \(file)")
        }
        let replica = try context.replica()
        let blob = try replica.storeBlob(copying: url)
        let me = try await context.user()
        let mediaType = BlobExchange.mediaType(forFileName: url.lastPathComponent)
        var fields: [String: FieldValue] = [
            "document_id": .string(documentID.rawValue), "account_id": .string(account),
            "digest": .string(blob.digest), "size": .integer(blob.size), "media_type": .string(mediaType),
            "file_name": .string(String(url.lastPathComponent.prefix(255))), "author": .string(me),
            "created_at": .string(ISO8601.format(millisecondsSince1970: ReplicaConfiguration.systemNow())),
        ]
        if let lockedBy, lockedBy != me { fields["against_lock"] = .string(lockedBy) }
        let id = RecordID(RecordIDGenerator.ulid(now: ReplicaConfiguration.systemNow()))
        return (
            Replica.Edit(.documentVersion, id: id, .create(fields)),
            QueuedUpload(digest: blob.digest, size: blob.size, mediaType: mediaType), blob
        )
    }

    struct Add: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Attach a file to a customer (and a deal): a new document with it as version 1.",
            discussion: """
                The file is copied into this laptop's CRM folder, so it is yours offline and uploaded at the next \
                sync. Example: crm-field document add ~/scans/contract-signed.pdf --account 01JD7Q8X \
                --deal 01JD7QD --kind contract
                """
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The file (PDF, Word, Excel, a scan…).") var file: String
        @Option(help: "The customer's account id.") var account: String
        @Option(help: "The deal it belongs to.") var deal: String?
        @Option(help: "The interaction it came with (a visit, an e-mail).") var activity: String?
        @Option(help: "Its title (default: the file's name).") var title: String?
        @Option(help: "offer, contract, order or other (default: other).") var kind: String?
        @Option(help: "Notes.") var notes: String?

        func execute(_ context: FieldContext) async throws {
            let customer = try await context.existing(.account, account).id.rawValue
            var input = FieldInput(.document)
            input.set("account_id", value: .string(customer))
            try input.set("deal_id", try await context.belonging(.deal, deal, to: customer), flag: "--deal")
            if let activity {
                try input.set(
                    "activity_id",
                    try await context.belonging(.activity, activity, to: customer),
                    flag: "--activity"
                )
            }
            let name = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
            try input.set("title", title ?? name)
            try input.set("kind", kind ?? "other", flag: "--kind")
            try input.set("notes", notes)
            let replica = try context.replica()
            let id = RecordID(RecordIDGenerator.ulid(now: ReplicaConfiguration.systemNow()))
            let (version, upload, blob) = try await DocumentCommand.newVersion(
                of: id,
                account: customer,
                file: file,
                lockedBy: nil,
                context
            )
            var fields = input.fields
            fields["current_version"] = .string(version.id.rawValue)
            let records = try await replica.writeBatch(
                [Replica.Edit(.document, id: id, .create(fields)), version],
                uploading: [upload]
            )
            if context.json { return context.printJSON(Render.json(records[0])) }
            context.print(
                "Added document \(History.label(records[0])) (\(Render.shortID(id.rawValue))) with version 1, "
                    + "\(ByteCount.describe(blob.size)); it is uploaded at the next sync."
            )
        }
    }

    struct List: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Documents of a customer, of a deal, or all of yours.",
            discussion: "Example: crm-field document list --account 01JD7Q8X"
        )
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this customer's.") var account: String?
        @Option(help: "Only this deal's.") var deal: String?

        func execute(_ context: FieldContext) async throws {
            let replica = try context.replica()
            let documents = try await replica.documents(
                account: try await context.resolve(.account, account).map(RecordID.init),
                deal: try await context.resolve(.deal, deal).map(RecordID.init)
            )
            if context.json {
                var out: [[String: Any]] = []
                for document in documents {
                    var object = Render.json(document)
                    object["versions"] = try await DocumentCommand.versions(of: document, replica).map(\.json)
                    out.append(object)
                }
                return context.printJSON(out)
            }
            guard !documents.isEmpty else { return context.print("No documents.") }
            let names = try await context.accountNames(documents)
            var rows: [[String]] = []
            for document in documents {
                let versions = try await DocumentCommand.versions(of: document, replica)
                let shown = versions.first(where: \.isCurrent) ?? versions.last
                rows.append([
                    document.id.rawValue, document["title"]?.description ?? "", document["kind"]?.description ?? "",
                    names[document["account_id"]?.stringValue ?? ""] ?? "", "\(versions.count)",
                    shown.map { "\($0.record["file_name"]?.description ?? "") (\(ByteCount.describe($0.size)))" }
                        ?? "",
                    shown.map { $0.isHere ? "here" : "not fetched" } ?? "",
                    document["locked_by"]?.stringValue.map { "by \($0)" } ?? "",
                ])
            }
            let short = Render.shortIDs(rows.map { $0[0] })
            for index in rows.indices { rows[index][0] = short[index] }
            context.print(
                Render.grid(
                    header: ["id", "title", "kind", "customer", "versions", "shown version", "offline", "checked out"],
                    rows: rows,
                    rightAligned: [4]
                )
            )
        }
    }

    struct Show: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "One document: its versions (who, when, which shows), its lock, conflicts.",
            discussion: "Example: crm-field document show 01JD7QX"
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The document's id (or the start of it).") var id: String

        func execute(_ context: FieldContext) async throws {
            let document = try await context.existing(.document, id)
            let replica = try context.replica()
            let versions = try await DocumentCommand.versions(of: document, replica)
            let conflicts = try await replica.openConflicts().filter {
                $0.recordID == document.id && $0.entity == .document
            }
            let account = try await replica.record(.account, id: RecordID(document["account_id"]?.stringValue ?? ""))
            if context.json {
                var object = Render.json(document)
                object["versions"] = versions.map(\.json)
                object["conflicts"] = conflicts.map(ConflictCommand.json)
                return context.printJSON(object)
            }
            context.print("== \(document["title"]?.description ?? "") ==")
            var lines: [(String, String)] = [
                ("id", document.id.rawValue),
                ("kind", Render.display(document, "kind")),
                (
                    "customer",
                    account.map { "\($0["name"]?.description ?? "") (\(Render.shortID($0.id.rawValue)))" } ?? ""
                ),
                ("deal", document["deal_id"]?.stringValue.map(Render.shortID) ?? ""),
                ("notes", Render.display(document, "notes")),
            ]
            if let lock = DocumentCommand.lockLine(document) { lines.append(("lock", lock)) }
            context.print(Render.pairs(lines.filter { !$0.1.isEmpty }))
            context.print("")
            context.print("Versions (\(versions.count))")
            context.print(
                Render.grid(
                    header: ["#", "file", "size", "by", "when", "offline", ""],
                    rows: versions.map { version in
                        var notes: [String] = []
                        if version.isCurrent { notes.append("shown") }
                        if let holder = version.record["against_lock"]?.stringValue {
                            notes.append("added while \(holder) had it checked out")
                        }
                        return [
                            "\(version.number)", version.record["file_name"]?.description ?? "",
                            ByteCount.describe(version.size), version.record["author"]?.description ?? "",
                            version.record["created_at"]?.stringValue.flatMap(ISO8601.parseTimestamp)
                                .map { Render.localTime(millis: $0) } ?? "",
                            version.isHere ? "here" : "not fetched", notes.joined(separator: "; "),
                        ]
                    },
                    maxCell: 60,
                    rightAligned: [0, 2]
                )
            )
            for conflict in conflicts where conflict.field == "current_version" {
                let other = versions.first { $0.record.id.rawValue == conflict.loser.value.stringValue }
                context.print("")
                context.print(
                    "Two versions were added at the same time: version "
                        + "\(other.map { "\($0.number) by \($0.record["author"]?.description ?? "")" } ?? "?") is kept "
                        + "as a conflict. Keep the shown one or take the other: crm-field conflict resolve "
                        + "\(ConflictCommand.handle(conflict)) --keep | --take-other"
                )
            }
        }
    }

    struct Get: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Save a version of a document as a file (fetched from the server when it is not here).",
            discussion: """
                Without --version the shown version; without --out the file's own name in the current folder. \
                Example: crm-field document get 01JD7QX --out ~/Desktop/offer.pdf
                """
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The document's id (or the start of it).") var id: String
        @Option(help: "The version's number (1 is the first; document show lists them).") var version: Int?
        @Option(help: "Where to write the file.") var out: String?

        func execute(_ context: FieldContext) async throws {
            let document = try await context.existing(.document, id)
            let replica = try context.replica()
            let versions = try await DocumentCommand.versions(of: document, replica)
            guard !versions.isEmpty else { throw CLIError.notFound("document \(id) has no version yet") }
            let chosen: VersionView
            if let version {
                guard let found = versions.first(where: { $0.number == version }) else {
                    throw CLIError.invalid("document \(id) has versions 1 to \(versions.count), not \(version)")
                }
                chosen = found
            } else {
                chosen = versions.first(where: \.isCurrent) ?? versions[versions.count - 1]
            }
            // The file's own name (its last part only: a name is never a path) unless --out names a file; a file of
            // that name is replaced only when --out named it.
            let name = (chosen.record["file_name"]?.stringValue ?? chosen.digest as String) as NSString
            var target = URL(fileURLWithPath: ((out ?? name.lastPathComponent) as NSString).expandingTildeInPath)
            var isFolder: ObjCBool = false
            var named = out != nil
            if FileManager.default.fileExists(atPath: target.path, isDirectory: &isFolder), isFolder.boolValue {
                target.appendPathComponent(name.lastPathComponent)
                named = false
            }
            if !named, FileManager.default.fileExists(atPath: target.path) {
                throw CLIError.invalid("\(target.path) exists; name the file to write with --out")
            }
            let fetched = !chosen.isHere
            if fetched { try await fetch(chosen, replica, context) }
            do {
                let temporary = target.deletingLastPathComponent().appendingPathComponent(".\(UUID().uuidString).part")
                try FileManager.default.copyItem(at: replica.blobURL(chosen.digest), to: temporary)
                if FileManager.default.fileExists(atPath: target.path) {
                    try FileManager.default.removeItem(at: target)
                }
                try FileManager.default.moveItem(at: temporary, to: target)
            } catch {
                throw CLIError("cannot_write", "cannot write \(target.path): \(error.localizedDescription)")
            }
            if context.json {
                var object = chosen.json
                object["path"] = target.path
                object["fetched"] = fetched
                return context.printJSON(object)
            }
            context.print(
                "Saved version \(chosen.number) of \(History.label(document)) to \(target.path) "
                    + "(\(ByteCount.describe(chosen.size))\(fetched ? ", fetched from the server" : ", from this laptop"))."
            )
        }

        private func fetch(_ version: VersionView, _ replica: Replica, _ context: FieldContext) async throws {
            guard let server = try await replica.syncInfo().server else {
                throw CLIError("not_initialized", "this replica has no server: run crm-field init first")
            }
            let reporter = ProgressReporter(console: context.console, enabled: !context.json)
            defer { reporter.finish() }
            let started = ContinuousClock.now
            let from = replica.partialBlobSize(version.digest)
            do {
                try await context.withTransport(server: server) { transport in
                    let transfer = BlobTransfer(replica: replica, transport: transport)
                    try await transfer.download(version.digest, size: version.size) { _, done, total in
                        reporter.report(
                            "fetching \(version.record["file_name"]?.description ?? "") (KB)",
                            done: Int(done / 1024),
                            total: Int(total / 1024),
                            perSecond: SyncRun.kilobytesPerSecond(done - from, since: started)
                        )
                    }
                }
            } catch let error as SyncClientError where error.code == .unreachable {
                throw CLIError(
                    "unreachable",
                    "version \(version.number) is not on this laptop and the server cannot be reached (\(error.message)); "
                        + "fetch it when you are online, or raise prefetch-mb so sync keeps it here",
                    exitCode: 3
                )
            } catch let error as SyncClientError where error.code.rawValue == "not_uploaded" {
                throw CLIError(
                    "not_uploaded",
                    "version \(version.number) was added on \(version.record["author"]?.description ?? "a colleague")'s "
                        + "laptop and has not been uploaded yet: it arrives after their next sync"
                )
            }
        }
    }

    struct VersionCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "version",
            abstract: "Versions of a document.",
            subcommands: [AddVersion.self]
        )
    }

    struct AddVersion: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "add",
            abstract: "Add a new version of a document (it becomes the one shown).",
            discussion: """
                Works offline. If someone has the document checked out, your version is still added and marked as \
                added against their lock. Example: crm-field document version add 01JD7QX ~/scans/signed.pdf
                """
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The document's id (or the start of it).") var id: String
        @Argument(help: "The file.") var file: String

        func execute(_ context: FieldContext) async throws {
            let document = try await context.existing(.document, id)
            let replica = try context.replica()
            let lockedBy = document["locked_by"]?.stringValue
            let (version, upload, blob) = try await DocumentCommand.newVersion(
                of: document.id,
                account: document["account_id"]?.stringValue ?? "",
                file: file,
                lockedBy: lockedBy,
                context
            )
            let records = try await replica.writeBatch(
                [
                    version,
                    Replica.Edit(.document, id: document.id, .set(["current_version": .string(version.id.rawValue)])),
                ],
                uploading: [upload]
            )
            let me = try await context.user()
            let number = try await replica.versions(ofDocument: document.id).count
            if let lockedBy, lockedBy != me {
                context.console.err(
                    "note: \(lockedBy) has this document checked out; your version is added anyway and marked as "
                        + "added against the lock"
                )
            }
            if context.json { return context.printJSON(Render.json(records[0])) }
            context.print(
                "Added version \(number) of \(History.label(document)) (\(ByteCount.describe(blob.size))); it is "
                    + "uploaded at the next sync."
            )
        }
    }

    struct Lock: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a document out: everyone sees that you are working on it (advisory, never enforced).",
            discussion: "Example: crm-field document lock 01JD7QX"
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The document's id (or the start of it).") var id: String

        func execute(_ context: FieldContext) async throws {
            let document = try await context.existing(.document, id)
            let me = try await context.user()
            if let holder = document["locked_by"]?.stringValue, holder != me {
                context.console.err("note: \(holder) had it checked out; it is now checked out by you")
            }
            let record = try await context.replica().update(
                .document,
                id: document.id,
                fields: [
                    "locked_by": .string(me),
                    "locked_at": .string(ISO8601.format(millisecondsSince1970: ReplicaConfiguration.systemNow())),
                ]
            )
            context.printRecord(
                record,
                title: "\(History.label(record)) is " + (DocumentCommand.lockLine(record) ?? "")
            )
        }
    }

    struct Unlock: FieldCommand {
        static let configuration = CommandConfiguration(
            abstract: "Release a document you (or someone who forgot) checked out.",
            discussion: "Example: crm-field document unlock 01JD7QX"
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The document's id (or the start of it).") var id: String

        func execute(_ context: FieldContext) async throws {
            let document = try await context.existing(.document, id)
            guard let holder = document["locked_by"]?.stringValue else {
                throw CLIError.invalid("\(History.label(document)) is not checked out")
            }
            let me = try await context.user()
            if holder != me { context.console.err("note: it was checked out by \(holder), not you") }
            let record = try await context.replica().update(
                .document,
                id: document.id,
                fields: ["locked_by": .null, "locked_at": .null]
            )
            context.printRecord(record, title: "\(History.label(record)) is no longer checked out.")
        }
    }
}
