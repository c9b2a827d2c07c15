import Crypto
import Foundation
import SyncClient
import SyncProtocol
import SyncServer
import SyncTestSupport
import Testing

@testable import crm_field

/// Documents offline (issue 19): offers and contracts on customers and deals, their contents moved apart from the
/// records, resumable, checked against their digest, scoped like the records. Real servers (in process, and
/// `crm-sync-server` processes on SQLite and PostgreSQL), real laptops through `crm-field`, real files.
@Suite("Documents", .serialized)
struct DocumentTests {
    static func sha256(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    /// `size` bytes that do not compress (a scan, a PDF), from a seeded generator.
    static func randomFile(_ size: Int, seed: UInt64, at path: String) throws -> Data {
        var state = seed | 1
        var bytes = [UInt8](repeating: 0, count: size)
        for index in bytes.indices {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            bytes[index] = UInt8(truncatingIfNeeded: state)
        }
        let data = Data(bytes)
        try data.write(to: URL(fileURLWithPath: path))
        return data
    }

    static func files(_ home: String) async -> [String: Any] {
        let status = await cli(["status", "--json"], home: home)
        return status.object["files"] as? [String: Any] ?? [:]
    }

    @Test(
        "the seed story: an offer prepared in the office, read offline at the customer, a signed scan added offline, synced later, seen by the manager",
        arguments: ITServer.Backend.available
    )
    func seedStory(backend: ITServer.Backend) async throws {
        let it = try ITServer(backend)
        defer { it.cleanUp() }
        let alice = try it.addRep("alice")
        let bob = try it.addRep("bob")
        let mara = try it.admin([
            "user", "add", "mara", "--role", "manager", "--territory", "north", "--territory", "south",
        ])
        try it.importAccounts()
        var server = try await it.serve()
        // On PostgreSQL the manager syncs with a second server process: the contents are in the shared database.
        let second = backend == .postgresql ? try await it.serve(port: try ServerProcess.freePort()) : nil
        defer {
            server.stop()
            second?.stop()
        }
        let office = try await it.laptop(alice, server: server)
        let field = try await it.laptop(bob, server: server)

        // In the office: Alice prepares the offer and attaches it to the customer.
        let offerPath = it.folder.appendingPathComponent("Angebot-2026-117.pdf").path
        let offer = try Self.randomFile(3 * 1024 * 1024 + 17, seed: 1, at: offerPath)
        let added = await cli(
            [
                "document", "add", offerPath, "--account", "acc-mueller", "--kind", "offer", "--title", "Offer 117",
                "--json",
            ],
            home: office
        )
        let document = try #require(added.object["id"] as? String, "\(added.err)")
        let sent = await cli(["sync", "--json"], home: office)
        #expect((sent.object["files"] as? [String: Any])?["uploaded"] as? [Any] != nil, "\(sent.out)")
        #expect((await Self.files(office))["waiting_up"] as? Int == 0)

        // Bob syncs before he leaves: the offer's record and (prefetch) its content come down.
        let morning = await cli(["sync", "--json"], home: field)
        #expect(morning.exitCode == 0, "\(morning.err)")
        #expect(((morning.object["files"] as? [String: Any])?["downloaded"] as? [Any])?.count == 1, "\(morning.out)")

        // At the customer, no network: the offer opens from the laptop; the signed scan is added as a new version.
        server.stop()
        let read = it.folder.appendingPathComponent("read.pdf").path
        let got = await cli(["document", "get", String(document.prefix(10)), "--out", read, "--json"], home: field)
        #expect(got.object["fetched"] as? Bool == false, "\(got.err)")
        #expect(FileManager.default.contents(atPath: read) == offer)
        let scanPath = it.folder.appendingPathComponent("signed-scan.pdf").path
        let scan = try Self.randomFile(1_500_000, seed: 2, at: scanPath)
        let version = await cli(["document", "version", "add", document, scanPath, "--json"], home: field)
        #expect(version.exitCode == 0, "\(version.err)")
        let offline = await cli(["sync"], home: field)
        #expect(offline.exitCode != 0, "a sync without the server must say so")
        #expect((await Self.files(field))["waiting_up"] as? Int == 1)
        let card = await cli(["history", "acc-mueller", "--json"], home: field)
        #expect((card.object["documents"] as? [[String: Any]])?.first?["id"] as? String == document)

        // Back online: the version and its content go up.
        server = try await it.serve()
        let evening = await cli(["sync", "--json"], home: field)
        #expect(((evening.object["files"] as? [String: Any])?["uploaded"] as? [Any])?.count == 1, "\(evening.out)")
        #expect((await Self.files(field))["waiting_up"] as? Int == 0)

        // The manager sees both versions, the scan shown, and can open either.
        let manager = try await it.laptop(mara, server: second ?? server)
        let shown = await cli(["document", "show", document, "--json"], home: manager)
        let versions = try #require(shown.object["versions"] as? [[String: Any]], "\(shown.out)")
        #expect(versions.count == 2)
        #expect(versions.last?["current"] as? Bool == true)
        #expect(versions.last?["author"] as? String == "bob")
        #expect(versions.last?["digest"] as? String == Self.sha256(scan))
        let managerCopy = it.folder.appendingPathComponent("manager-scan.pdf").path
        #expect(await cli(["document", "get", document, "--out", managerCopy], home: manager).exitCode == 0)
        #expect(FileManager.default.contents(atPath: managerCopy) == scan)
        let first = it.folder.appendingPathComponent("manager-offer.pdf").path
        #expect(
            await cli(["document", "get", document, "--version", "1", "--out", first], home: manager).exitCode == 0
        )
        #expect(FileManager.default.contents(atPath: first) == offer)
        let list = await cli(["document", "list", "--account", "acc-mueller"], home: manager)
        #expect(list.out.contains("Offer 117"), "\(list.out)")
    }

    @Test("a 20 MB upload over a network cut three times resumes where it was and arrives once, with its digest")
    func uploadResumesOverCutConnections() async throws {
        let it = try ITServer(.sqlite)
        defer { it.cleanUp() }
        let alice = try it.addRep("alice")
        try it.importAccounts()
        let server = try await it.serve()
        defer { server.stop() }
        let megabyte: Int64 = 1_048_576
        let proxy = try CuttingProxy(upstreamPort: it.port, cuts: [3 * megabyte, 9 * megabyte, 15 * megabyte])
        defer { proxy.stop() }
        let home = it.folder.appendingPathComponent("laptop").path
        #expect(await cli(["init", "--server", proxy.url, "--token", alice], home: home).exitCode == 0)
        let path = it.folder.appendingPathComponent("big.pdf").path
        let content = try Self.randomFile(20 * 1024 * 1024, seed: 3, at: path)
        let digest = Self.sha256(content)
        #expect(await cli(["document", "add", path, "--account", "acc-mueller"], home: home).exitCode == 0)
        var runs = 0
        var failures = 0
        while runs < 8, (await Self.files(home))["waiting_up"] as? Int != 0 {
            runs += 1
            let sync = await cli(["sync", "--json"], home: home)
            #expect(sync.exitCode == 0, "records sync even when a file's upload is cut: \(sync.err)")
            failures += ((sync.object["files"] as? [String: Any])?["failed"] as? [Any])?.count ?? 0
        }
        #expect((await Self.files(home))["waiting_up"] as? Int == 0, "still waiting after \(runs) syncs")
        #expect(proxy.cutCount == 3)
        #expect(failures == 3, "each cut is one failed try, reported")
        let stored = it.folder.appendingPathComponent("crm-sync-blobs").appendingPathComponent(digest)
        #expect(FileManager.default.contents(atPath: stored.path) == content)
        // Resumed, not restarted: what went up is the file once plus at most the chunks in flight at each cut.
        #expect(proxy.forwardedUp < 20 * megabyte + 3 * 4 * megabyte + megabyte, "\(proxy.forwardedUp) bytes")
        let log = try String(contentsOfFile: server.logPath, encoding: .utf8)
        #expect(log.components(separatedBy: "Content stored").count - 1 == 1)
    }

    @Test(
        "a chunk that does not hash to its Chunk-SHA256, and a content that does not hash to its digest, are refused and not kept"
    )
    func tamperedChunksAreRefused() async throws {
        try await CLIServer.with { server in
            try await server.loadSample()
            let token = try await server.addRep("alice")
            let home = try await server.laptop(token)
            let path = server.folder.appendingPathComponent("offer.txt").path
            let content = Data(repeating: UInt8(ascii: "a"), count: 10_000)
            try content.write(to: URL(fileURLWithPath: path))
            let digest = Self.sha256(content)
            #expect(await cli(["document", "add", path, "--account", "acc-mueller"], home: home).exitCode == 0)
            #expect(await cli(["sync", "--blob-seconds", "0"], home: home).exitCode == 0)
            let transport = try HTTPSyncTransport(server: server.url, token: token)
            defer { Task { try? await transport.shutdown() } }
            #expect(try await transport.uploadStatus(digest).received == 0)

            // Damaged on the way: the bytes are not those the Chunk-SHA256 names.
            var damaged = content.prefix(4_000)
            damaged[100] = UInt8(ascii: "b")
            let refused = try await transport.send(
                "PUT",
                "/v1/blobs/\(digest)/upload?offset=0",
                body: damaged,
                contentType: "application/octet-stream",
                headers: [("Chunk-SHA256", Self.sha256(content.prefix(4_000)))]
            )
            #expect(refused.status == 400)
            #expect(String(decoding: refused.body, as: UTF8.self).contains("digest_mismatch"))
            #expect(try await transport.uploadStatus(digest).received == 0, "nothing of a damaged chunk is kept")

            // A laptop that lies: every chunk is what it says, but the whole is not the content of the digest.
            var other = content
            other[9_999] = UInt8(ascii: "z")
            _ = try await transport.uploadChunk(digest, offset: 0, bytes: other.prefix(6_000), compress: true)
            do {
                _ = try await transport.uploadChunk(digest, offset: 6_000, bytes: other.suffix(4_000), compress: true)
                Issue.record("a content that does not hash to its digest was stored")
            } catch let error as SyncClientError {
                #expect(error.code.rawValue == "digest_mismatch", "\(error)")
            }
            let status = try await transport.uploadStatus(digest)
            #expect(status.received == 0 && !status.complete, "the lie is discarded: \(status)")

            // The honest upload then goes through, and the content comes back whole.
            let sync = await cli(["sync", "--json"], home: home)
            #expect(((sync.object["files"] as? [String: Any])?["uploaded"] as? [Any])?.count == 1, "\(sync.out)")
            let back = try await transport.download(digest, from: 0, count: nil)
            #expect(back == content)
            let range = try await transport.download(digest, from: 1_000, count: 500)
            #expect(range == content[1_000..<1_500])
        }
    }

    @Test("bad input and no network get one readable line and the right exit status; --json gets the error object")
    func badInput() async throws {
        let it = try ITServer(.sqlite)
        defer { it.cleanUp() }
        let alice = try it.addRep("alice")
        let bob = try it.addRep("bob")
        try it.importAccounts()
        let server = try await it.serve()
        defer { server.stop() }
        let home = try await it.laptop(alice, server: server)
        let other = try await it.laptop(bob, server: server)
        let missing = await cli(["document", "add", "/nonexistent/offer.pdf", "--account", "acc-mueller"], home: home)
        #expect(missing.exitCode == 2 && missing.err.contains("no file /nonexistent/offer.pdf"), "\(missing.err)")
        let path = it.folder.appendingPathComponent("offer.txt").path
        try Data("offer".utf8).write(to: URL(fileURLWithPath: path))
        let kind = await cli(
            ["document", "add", path, "--account", "acc-mueller", "--kind", "memo", "--json"],
            home: home
        )
        #expect(kind.exitCode == 2 && kind.failure?.code == "invalid_input", "\(kind.out)")
        let foreign = await cli(["document", "add", path, "--account", "acc-south"], home: home)
        #expect(foreign.exitCode != 0 && foreign.err.contains("no account acc-south"), "\(foreign.err)")
        let added = await cli(["document", "add", path, "--account", "acc-mueller", "--json"], home: home)
        let document = try #require(added.object["id"] as? String)
        #expect(await cli(["document", "get", document, "--version", "7"], home: home).exitCode == 2)
        #expect(await cli(["document", "unlock", document], home: home).exitCode == 2)
        #expect(await cli(["sync"], home: home).exitCode == 0)
        #expect(await cli(["sync", "--blob-seconds", "0"], home: other).exitCode == 0)
        let notYet = await cli(["sync", "--blob-seconds=-1"], home: other)
        #expect(notYet.exitCode == 2)
        server.stop()
        // Into a folder that has a file of that name already: refused before anything moves (--out FILE replaces).
        let exists = await cli(["document", "get", document, "--out", it.folder.path], home: other)
        #expect(exists.exitCode == 2 && exists.err.contains("exists"), "\(exists.err)")
        let downloads = it.folder.appendingPathComponent("downloads")
        try FileManager.default.createDirectory(at: downloads, withIntermediateDirectories: true)
        let offline = await cli(["document", "get", document, "--out", downloads.path], home: other)
        #expect(offline.exitCode == 3, "no network is exit 3 as for sync: \(offline.err)")
        #expect(
            offline.err.contains("cannot be reached") && offline.err.split(separator: "\n").count == 1,
            "\(offline.err)"
        )
    }

    @Test("gzip is offered for a text document and never for an already-compressed one (PDF, images, Office)")
    func gzipOnlyWhereItHelps() async throws {
        try await CLIServer.with { server in
            try await server.loadSample()
            let token = try await server.addRep("alice")
            let home = try await server.laptop(token)
            let text = Data(String(repeating: "Angebot: 20 Pumpen P-100 zu je 159,00 EUR.\n", count: 2_000).utf8)
            var digests: [String: String] = [:]
            for name in ["offer.txt", "offer.pdf", "scan.jpg", "prices.xlsx"] {
                let path = server.folder.appendingPathComponent(name).path
                // The same bytes under four names would be one content: make each its own.
                try (text + Data(name.utf8)).write(to: URL(fileURLWithPath: path))
                digests[name] = Self.sha256(text + Data(name.utf8))
                #expect(await cli(["document", "add", path, "--account", "acc-mueller"], home: home).exitCode == 0)
            }
            #expect(await cli(["sync"], home: home).exitCode == 0)
            let transport = try HTTPSyncTransport(server: server.url, token: token)
            defer { Task { try? await transport.shutdown() } }
            for (name, digest) in digests.sorted(by: { $0.key < $1.key }) {
                let answer = try await transport.send("GET", "/v1/blobs/\(digest)")
                #expect(answer.status == 200)
                #expect(answer.body == text + Data(name.utf8), "\(name) comes back whole")
                let gzipped = answer.headers["content-encoding"] == "gzip"
                #expect(gzipped == (name == "offer.txt"), "\(name): \(answer.headers)")
                let ranged = try await transport.send("GET", "/v1/blobs/\(digest)", headers: [("Range", "bytes=0-99")])
                #expect(ranged.status == 206 && ranged.headers["content-encoding"] == nil && ranged.body.count == 100)
                #expect(ranged.headers["content-range"] == "bytes 0-99/\(text.count + name.utf8.count)")
            }
        }
    }

    @Test(
        "two versions added offline on two laptops: one shows everywhere, the other is a kept conflict a person resolves"
    )
    func concurrentVersionsAreAKeptConflict() async throws {
        try await CLIServer.with { server in
            try await server.loadSample()
            let alice = try await server.laptop(try await server.addRep("alice"))
            let bob = try await server.laptop(try await server.addRep("bob"))
            let folder = server.folder
            func file(_ name: String, _ text: String) throws -> String {
                let path = folder.appendingPathComponent(name).path
                try Data(text.utf8).write(to: URL(fileURLWithPath: path))
                return path
            }
            let added = await cli(
                [
                    "document", "add", try file("contract.txt", "v1"), "--account", "acc-mueller", "--kind", "contract",
                    "--json",
                ],
                home: alice
            )
            let document = try #require(added.object["id"] as? String)
            #expect(await cli(["document", "lock", document], home: alice).exitCode == 0)
            #expect(await cli(["sync"], home: alice).exitCode == 0)
            #expect(await cli(["sync"], home: bob).exitCode == 0)
            // Both offline: each adds a version; Bob's is against Alice's lock.
            #expect(
                await cli(["document", "version", "add", document, try file("a2.txt", "alice v2")], home: alice)
                    .exitCode == 0
            )
            let bobs = await cli(["document", "version", "add", document, try file("b2.txt", "bob v2")], home: bob)
            #expect(bobs.err.contains("checked out"), "\(bobs.err)")
            for home in [alice, bob, alice] { #expect(await cli(["sync"], home: home).exitCode == 0) }
            var current: [String] = []
            for home in [alice, bob] {
                let shown = await cli(["document", "show", document, "--json"], home: home)
                let versions = shown.object["versions"] as? [[String: Any]] ?? []
                #expect(versions.count == 3, "\(shown.out)")
                let conflicts = shown.object["conflicts"] as? [[String: Any]] ?? []
                #expect(conflicts.count == 1 && conflicts.first?["field"] as? String == "current_version")
                current.append(versions.first { $0["current"] as? Bool == true }?["id"] as? String ?? "")
                #expect(versions.first { $0["author"] as? String == "bob" }?["against_lock"] as? String == "alice")
            }
            #expect(current[0] == current[1] && !current[0].isEmpty, "the same version shows on both laptops")
            let people = await cli(["document", "show", document], home: alice)
            #expect(
                people.out.contains("checked out by alice") && people.out.contains("kept as a conflict"),
                "\(people.out)"
            )
            // Alice takes the other one; after a sync both laptops show it and no conflict is open.
            let conflict = await cli(["conflict", "list", "--json"], home: alice).array.first
            let handle = try #require(conflict?["handle"] as? String)
            #expect(await cli(["conflict", "resolve", handle, "--take-other"], home: alice).exitCode == 0)
            for home in [alice, bob] { #expect(await cli(["sync"], home: home).exitCode == 0) }
            for home in [alice, bob] {
                let shown = await cli(["document", "show", document, "--json"], home: home)
                #expect((shown.object["conflicts"] as? [Any])?.isEmpty == true, "\(shown.out)")
                let versions = shown.object["versions"] as? [[String: Any]] ?? []
                let now = versions.first { $0["current"] as? Bool == true }?["id"] as? String
                #expect(now != nil && now != current[0], "the other version shows now")
            }
        }
    }

    @Test(
        "a file the server refuses (too large) is reported with its reason and retried later, and never stops the records or the other files"
    )
    func refusedFileDoesNotStopRecords() async throws {
        let it = try ITServer(.sqlite)
        defer { it.cleanUp() }
        let alice = try it.addRep("alice")
        let bob = try it.addRep("bob")
        try it.importAccounts()
        let server = try await it.serve(["--max-document-mb", "1"])
        defer { server.stop() }
        let home = try await it.laptop(alice, server: server)
        let big = it.folder.appendingPathComponent("scan.tiff").path
        _ = try Self.randomFile(2 * 1024 * 1024, seed: 4, at: big)
        let small = it.folder.appendingPathComponent("offer.txt").path
        try Data("the offer".utf8).write(to: URL(fileURLWithPath: small))
        #expect(await cli(["document", "add", big, "--account", "acc-mueller"], home: home).exitCode == 0)
        #expect(await cli(["document", "add", small, "--account", "acc-mueller"], home: home).exitCode == 0)
        #expect(await cli(["account", "edit", "acc-mueller", "--phone", "+49 30 777"], home: home).exitCode == 0)
        let sync = await cli(["sync", "--json"], home: home)
        #expect(sync.exitCode == 0, "\(sync.err)")
        #expect(sync.object["accepted"] as? Int == 5, "\(sync.out)")
        let files = sync.object["files"] as? [String: Any] ?? [:]
        #expect((files["uploaded"] as? [Any])?.count == 1, "the small file is not held up: \(files)")
        let failed = files["failed"] as? [[String: Any]] ?? []
        #expect(failed.count == 1 && failed.first?["code"] as? String == "payload_too_large", "\(failed)")
        #expect((failed.first?["reason"] as? String)?.contains("up to 1.0 MB") == true, "\(failed)")
        let people = await cli(["sync"], home: home)
        #expect(people.exitCode == 0)
        let status = await cli(["status"], home: home)
        #expect(status.out.contains("1 waiting to upload") && status.out.contains("up to 1.0 MB"), "\(status.out)")
        // The records reached the others.
        let other = try await it.laptop(bob, server: server)
        let shown = await cli(["account", "show", "acc-mueller", "--json"], home: other)
        #expect(shown.object["phone"] as? String == "+49 30 777")
        #expect(await cli(["document", "list", "--json"], home: other).array.count == 2)
    }

    @Test(
        "a rep of another territory gets the same 404 for a colleague's digest as for one nobody has; a manager gets it"
    )
    func foreignTerritoryCannotFetch() async throws {
        try await CLIServer.with { server in
            try await server.loadSample()
            let alice = try await server.addRep("alice")
            let carol = try await server.addRep("carol", territories: ["south"])
            let mara = try await server.addRep("mara", territories: ["north", "south"], role: .manager)
            let home = try await server.laptop(alice)
            let path = server.folder.appendingPathComponent("contract.txt").path
            let content = Data("the contract of Müller".utf8)
            try content.write(to: URL(fileURLWithPath: path))
            #expect(await cli(["document", "add", path, "--account", "acc-mueller"], home: home).exitCode == 0)
            #expect(await cli(["sync"], home: home).exitCode == 0)
            let digest = Self.sha256(content)
            let nobody = Self.sha256(Data("nothing".utf8))
            let south = try HTTPSyncTransport(server: server.url, token: carol)
            let manager = try HTTPSyncTransport(server: server.url, token: mara)
            defer {
                Task {
                    try? await south.shutdown()
                    try? await manager.shutdown()
                }
            }
            for suffix in ["", "/upload"] {
                let foreign = try await south.send("GET", "/v1/blobs/\(digest)\(suffix)")
                let unknown = try await south.send("GET", "/v1/blobs/\(nobody)\(suffix)")
                #expect(foreign.status == 404 && unknown.status == 404)
                #expect(foreign.body == unknown.body, "the answers must not tell the two apart")
            }
            let put = try await south.send(
                "PUT",
                "/v1/blobs/\(digest)/upload?offset=0",
                body: content,
                contentType: "application/octet-stream",
                headers: [("Chunk-SHA256", digest)]
            )
            #expect(put.status == 404)
            #expect(try await manager.download(digest, from: 0, count: nil) == content)
        }
    }

    @Test(
        "kill -9 of crm-field during an upload and during a download, and of the server during an upload: nothing is lost, everything arrives once"
    )
    func killsDuringTransfers() async throws {
        let it = try ITServer(.sqlite)
        defer { it.cleanUp() }
        let alice = try it.addRep("alice")
        let bob = try it.addRep("bob")
        try it.importAccounts()
        var server = try await it.serve()
        defer { server.stop() }
        // 4 MB/s each way, so a 12 MB file takes seconds and a kill lands in the middle.
        let proxy = try CuttingProxy(upstreamPort: it.port, cuts: [], bytesPerSecond: 4 * 1_048_576)
        defer { proxy.stop() }
        let home = it.folder.appendingPathComponent("alice").path
        #expect(await cli(["init", "--server", proxy.url, "--token", alice], home: home).exitCode == 0)
        let path = it.folder.appendingPathComponent("plans.pdf").path
        let content = try Self.randomFile(12 * 1024 * 1024, seed: 5, at: path)
        let digest = Self.sha256(content)
        let added = await cli(["document", "add", path, "--account", "acc-mueller", "--json"], home: home)
        let document = try #require(added.object["id"] as? String)
        let partial = it.folder.appendingPathComponent("crm-sync-blobs/uploads/\(digest).part")
        let stored = it.folder.appendingPathComponent("crm-sync-blobs/\(digest)")

        // The laptop killed mid-upload.
        let sync = try Self.start(["sync", "--home", home])
        try await Self.waitFor { (Self.size(partial) ?? 0) >= 4 * 1_048_576 }
        kill(sync.processIdentifier, SIGKILL)
        sync.waitUntilExit()
        #expect(sync.terminationReason == .uncaughtSignal)
        let afterKill = Self.size(partial) ?? 0
        #expect(afterKill > 0 && afterKill < Int64(content.count), "killed in the middle: \(afterKill)")

        // The server killed mid-upload, then restarted on the same database.
        let resumed = try Self.start(["sync", "--home", home])
        try await Self.waitFor { (Self.size(partial) ?? 0) >= afterKill + 4 * 1_048_576 }
        kill(server.process.processIdentifier, SIGKILL)
        server.process.waitUntilExit()
        resumed.waitUntilExit()
        #expect(resumed.terminationStatus == 0, "a file that fails never fails the sync")
        server = try await it.serve()
        #expect(await cli(["sync"], home: home).exitCode == 0)
        #expect((await Self.files(home))["waiting_up"] as? Int == 0)
        #expect(FileManager.default.contents(atPath: stored.path) == content)
        #expect(!FileManager.default.fileExists(atPath: partial.path))

        // The other laptop killed mid-download; the download resumes from its part file.
        let other = it.folder.appendingPathComponent("bob").path
        #expect(
            await cli(["init", "--server", proxy.url, "--token", bob], home: other).exitCode == 0
        )
        let copy = it.folder.appendingPathComponent("copy.pdf").path
        let get = try Self.start(["document", "get", document, "--out", copy, "--home", other])
        let part = URL(fileURLWithPath: other + "/replica.sqlite-blobs/\(digest).part")
        try await Self.waitFor { (Self.size(part) ?? 0) >= 4 * 1_048_576 }
        kill(get.processIdentifier, SIGKILL)
        get.waitUntilExit()
        let kept = Self.size(part) ?? 0
        #expect(kept > 0 && kept < Int64(content.count))
        let before = proxy.forwardedUp
        #expect(await cli(["document", "get", document, "--out", copy], home: other).exitCode == 0)
        #expect(FileManager.default.contents(atPath: copy) == content)
        #expect(!FileManager.default.fileExists(atPath: part.path))
        #expect(proxy.forwardedUp - before < 64 * 1024, "a download sends requests, not the file")
    }

    @Test(
        "IT restores the server from a backup onto a new machine: the backup's files come back, and a file uploaded after the backup is sent again by its laptop",
        arguments: ITServer.Backend.available
    )
    func restoreBringsDocumentsBack(backend: ITServer.Backend) async throws {
        let it = try ITServer(backend)
        defer { it.cleanUp() }
        let alice = try it.addRep("alice")
        let bob = try it.addRep("bob")
        try it.importAccounts()
        var server = try await it.serve()
        defer { server.stop() }
        let home = try await it.laptop(alice, server: server)
        var documents: [(id: String, content: Data)] = []
        for (index, name) in ["before-the-backup.pdf", "after-the-backup.pdf"].enumerated() {
            let path = it.folder.appendingPathComponent(name).path
            let content = try Self.randomFile(600_000 + index, seed: UInt64(10 + index), at: path)
            let added = await cli(["document", "add", path, "--account", "acc-mueller", "--json"], home: home)
            documents.append((try #require(added.object["id"] as? String), content))
            let sync = await cli(["sync", "--json"], home: home)
            #expect(((sync.object["files"] as? [String: Any])?["uploaded"] as? [Any])?.count == 1, "\(sync.out)")
            if index == 0 { _ = try it.backup() }
        }
        let backup = try #require(
            try FileManager.default.contentsOfDirectory(atPath: it.folder.path).first {
                $0.hasPrefix("backup-") && !$0.hasSuffix("-blobs")
            }
        )
        server.stop()
        if backend == .sqlite {
            // A new machine: the database and its files are gone; only the backup is left.
            for name in ["crm-sync.sqlite", "crm-sync.sqlite-wal", "crm-sync.sqlite-shm", "crm-sync-blobs"] {
                try? FileManager.default.removeItem(at: it.folder.appendingPathComponent(name))
            }
        }
        try it.restore(it.folder.appendingPathComponent(backup).path)
        server = try await it.serve()
        let repaired = await cli(["sync", "--json"], home: home)
        #expect(repaired.exitCode == 0, "\(repaired.err)")
        #expect(
            ((repaired.object["files"] as? [String: Any])?["uploaded"] as? [Any])?.isEmpty == false,
            "the laptop sends the file the restored server lacks: \(repaired.out)"
        )
        let other = try await it.laptop(bob, server: server)
        for (index, document) in documents.enumerated() {
            let copy = it.folder.appendingPathComponent("copy-\(index)").path
            let got = await cli(["document", "get", document.id, "--out", copy], home: other)
            #expect(got.exitCode == 0, "\(got.err)")
            #expect(FileManager.default.contents(atPath: copy) == document.content, "document \(index)")
        }
    }

    @Test("a customer moved to another territory takes its documents' files off the old rep's laptop")
    func movedCustomerLeavesNoFiles() async throws {
        let it = try ITServer(.sqlite)
        defer { it.cleanUp() }
        let alice = try it.addRep("alice")
        try it.importAccounts()
        let server = try await it.serve()
        defer { server.stop() }
        let home = try await it.laptop(alice, server: server)
        let path = it.folder.appendingPathComponent("offer.txt").path
        let content = Data("the offer for Müller".utf8)
        try content.write(to: URL(fileURLWithPath: path))
        #expect(await cli(["document", "add", path, "--account", "acc-mueller"], home: home).exitCode == 0)
        #expect(await cli(["sync"], home: home).exitCode == 0)
        let file = URL(fileURLWithPath: home + "/replica.sqlite-blobs/" + Self.sha256(content))
        #expect(FileManager.default.fileExists(atPath: file.path))
        try it.admin(["territory", "assign", "acc-mueller", "south"])
        // Files younger than an hour are spared (a `document add` may be copying one in): this one is older.
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSinceNow: -7_200)],
            ofItemAtPath: file.path
        )
        #expect(await cli(["sync"], home: home).exitCode == 0)
        #expect(await cli(["document", "list", "--json"], home: home).array.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: file.path), "the moved customer's file is gone")
    }

    static func size(_ url: URL) -> Int64? {
        (try? FileManager.default.attributesOfItem(atPath: url.path))?[.size].flatMap { ($0 as? NSNumber)?.int64Value }
    }

    static func start(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = builtExecutable("crm-field")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Polls `condition` every 10 ms for at most 60 s.
    static func waitFor(_ condition: () -> Bool) async throws {
        for _ in 0..<6_000 {
            if condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw ServerProcessError("gave up waiting")
    }
}
