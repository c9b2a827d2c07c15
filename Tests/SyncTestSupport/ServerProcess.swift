public import Foundation
import SyncClient

#if canImport(Glibc)
import Glibc
#endif

/// Why a server child process did not do what a test asked.
public struct ServerProcessError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A `crm-sync-server serve` child process on a free loopback port.
public final class ServerProcess: Sendable {
    public let process: Process
    public let url: String
    /// Where the server's output goes.
    public let logPath: String

    /// Serves `db`; its output goes to `server-PORT.log` in `folder`. `arguments` are added to `serve`'s.
    public init(db: String, folder: URL, port chosen: Int? = nil, arguments extra: [String] = []) throws {
        let port = try chosen ?? Self.freePort()
        url = "http://127.0.0.1:\(port)"
        process = Process()
        process.executableURL = builtExecutable("crm-sync-server")
        process.arguments = ["serve", "--db", db, "--host", "127.0.0.1", "--port", "\(port)"] + extra
        logPath = folder.appendingPathComponent("server-\(port).log").path
        let log = folder.appendingPathComponent("server-\(port).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    /// Runs an admin subcommand on `db` and returns what it printed.
    public static func admin(_ arguments: [String], db: String) throws -> String {
        let process = Process()
        process.executableURL = builtExecutable("crm-sync-server")
        process.arguments = arguments + ["--db", db]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ServerProcessError("crm-sync-server \(arguments.joined(separator: " ")) failed")
        }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public func waitUntilHealthy() async throws {
        let transport = try HTTPSyncTransport(server: url, token: "none")
        defer { Task { try? await transport.shutdown() } }
        for _ in 0..<200 {
            if let answer = try? await transport.send("GET", "/healthz"), answer.status == 200 { return }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ServerProcessError("the server at \(url) did not start")
    }

    public func stop() {
        if process.isRunning {
            process.interrupt()
            process.waitUntilExit()
        }
    }

    public static func freePort() throws -> Int {
        let socket = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0
            }
        }
        guard bound else { throw ServerProcessError("no free port on 127.0.0.1") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
