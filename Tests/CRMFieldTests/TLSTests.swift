import Foundation
import SyncServer
import Testing

@testable import crm_field

@Suite("TLS")
struct TLSTests {
    /// A self-signed certificate for 127.0.0.1, made with the system's openssl.
    static func makeCertificate(in folder: URL) throws -> ServerConfiguration.TLSFiles {
        let cert = folder.appendingPathComponent("server.pem").path
        let key = folder.appendingPathComponent("server.key").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert,
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "openssl req failed")
        return ServerConfiguration.TLSFiles(certificate: cert, key: key)
    }

    @Test("crm-field syncs with an https server whose CA it was given, and refuses one it cannot verify")
    func httpsSync() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let files = try Self.makeCertificate(in: folder)
        try await CLIServer.with(tls: files) { server in
            #expect(server.url.hasPrefix("https://"))
            try await server.loadSample()
            let token = try await server.addRep("alice")
            let untrusted = await cli(
                ["init", "--server", server.url, "--token", token, "--retries", "0"],
                home: folder.appendingPathComponent("untrusted").path
            )
            #expect(untrusted.exitCode != 0)
            #expect(untrusted.err.contains("TLS"), "\(untrusted.err)")
            let home = folder.appendingPathComponent("alice").path
            let trusted = await cli(
                ["init", "--server", server.url, "--token", token, "--ca-cert", files.certificate],
                home: home
            )
            #expect(trusted.exitCode == 0, "\(trusted.err)")
            #expect(await cli(["account", "edit", "acc-mueller", "--phone", "+49 3"], home: home).exitCode == 0)
            let sync = await cli(["sync", "--json"], home: home)
            #expect(sync.object["sent"] as? Int == 1, "\(sync.err)")
        }
    }

    @Test("a missing certificate file is a clear error, not a plain-HTTP server")
    func missingCertificate() throws {
        #expect(throws: SyncServerError.self) {
            _ = try ServerConfiguration.TLSFiles(certificate: "/nonexistent.pem", key: "/nonexistent.key")
                .configurationForTesting()
        }
    }
}
