import Foundation
import SyncServer
import Testing

@testable import crm_field

/// A lost laptop: `user revoke NAME --wipe` makes the laptop that holds the token delete its replica and token at its
/// next contact with the server, after saying so; a plain revocation keeps the data (the laptop just cannot sync).
@Suite("A lost laptop wiped")
struct LostLaptopTests {
    @Test("revoke --wipe deletes the laptop's CRM data at its next sync, even after a new token; plain revoke keeps it")
    func wipe() async throws {
        try await CLIServer.with { server in
            try await server.loadSample()
            let stolen = try await server.laptop(try await server.addRep("ivan"))
            let kept = try await server.laptop(try await server.addRep("olga"))
            #expect(await cli(["account", "edit", "acc-mueller", "--phone", "+49 40 9"], home: stolen).exitCode == 0)
            #expect(await cli(["account", "edit", "acc-mueller", "--phone", "+49 40 8"], home: kept).exitCode == 0)
            let service = SyncService(storage: server.storage)
            try await service.revokeUser(named: "ivan", wipe: true, actor: "it", now: 0)
            try await service.revokeUser(named: "olga", actor: "it", now: 0)
            // IT gives ivan a new token for his new laptop: the stolen one is still wiped.
            try await service.setToken(named: "ivan", tokenHash: Tokens.generate().hash, actor: "it", now: 0)

            let plain = await cli(["sync", "--retries", "0"], home: kept)
            #expect(plain.exitCode != 0 && plain.err.contains("refused the token"), "\(plain.err)")
            #expect(FileManager.default.fileExists(atPath: kept + "/replica.sqlite"), "a plain revoke kept the data")
            #expect(await cli(["status", "--json"], home: kept).object["pending"] as? Int == 1)

            let wiped = await cli(["sync", "--retries", "0"], home: stolen)
            #expect(wiped.exitCode == 4, "exit \(wiped.exitCode): \(wiped.err)")
            let line = wiped.err.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("crm-field:") }
            #expect(line.count == 1 && line[0].contains("reported this laptop lost"), "\(wiped.err)")
            for name in ["replica.sqlite", "replica.sqlite-wal", "replica.sqlite-shm", "token"] {
                #expect(!FileManager.default.fileExists(atPath: stolen + "/" + name), "\(name) is still there")
            }
            let after = await cli(["account", "list"], home: stolen)
            #expect(after.exitCode != 0 && after.err.contains("crm-field init"), "\(after.err)")
            // The server told it once and wrote that down.
            let audit = try await server.storage.withReadTransaction { try await $0.audit(after: 0, limit: 1000) }
            #expect(audit.contains { $0.action == "user.wipe_told" && $0.target == "ivan" })
        }
    }
}
