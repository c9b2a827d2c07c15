import Foundation
import Hummingbird
import HummingbirdTesting
import ReplicaStore
import SyncProtocol
import SyncServer
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Admin operations and limits")
struct AdminTests {
    @Test("a backup taken while serving is a consistent, openable copy; it refuses to overwrite")
    func backupWhileServing() async throws {
        let harness = try await ServerHarness()
        try await harness.run { client in
            let token = try await client.addUser("alice", territories: ["north"])
            let alice = try await makeReplica(user: "alice", territories: ["north"])
            // Twenty pushes of ten accounts each, while backups are taken one after another until the pushes end.
            let batches: Int64 = 20
            let batch: Int64 = 10
            let done = Flag()
            let pushing = Task {
                defer { done.set() }
                for round in 0..<batches {
                    for index in 0..<batch {
                        _ = try await alice.create(
                            .account,
                            fields: ["name": .string("A\(round)-\(index)"), "territory": "north"]
                        )
                    }
                    _ = try await client.sync(alice, token: token)
                }
            }
            var counts: [Int64] = []
            var paths: [String] = []
            repeat {
                let path = harness.folder.appendingPathComponent("backup-\(paths.count).sqlite").path
                try await harness.storage.backup(to: path)
                let stats = try await SQLiteChangeStorage(path: path).stats()
                #expect(stats.users == 2)
                #expect(stats.records == stats.changes)
                counts.append(stats.changes)
                paths.append(path)
            } while !done.isSet
            try await pushing.value
            // Every copy holds whole pushes (a multiple of the batch), and at least one was taken while the
            // pushes were under way (neither before the first nor after the last), so the backup did run
            // beside the writes.
            #expect(counts.allSatisfy { $0 % batch == 0 }, "all of a push or none of it: \(counts)")
            #expect(counts.contains { $0 > 0 && $0 < batches * batch }, "no backup during the pushes: \(counts)")
            await #expect(throws: SyncServerError.self) { try await harness.storage.backup(to: paths[0]) }
        }
    }

    @Test("a client that trickles its body gets 408 instead of holding the connection")
    func slowClient() async throws {
        let harness = try await ServerHarness(configuration: ServerConfiguration(port: 0, requestDeadlineSeconds: 1))
        try await harness.run { client in
            let token = try await client.addUser("alice", territories: ["north"])
            let port = try #require(client.client.port)
            // The blocking socket calls run on a Dispatch thread, never on the test's cooperative threads.
            let reply = try await withCheckedThrowingContinuation { continuation in
                DispatchQueue.global().async {
                    continuation.resume(with: Result { try Self.trickle(port: port, token: token) })
                }
            }
            #expect(reply.hasPrefix("HTTP/1.1 408"), "\(reply.prefix(60))")
            #expect(reply.contains("request_timeout"))
        }
    }

    /// Sends a push whose declared body never fully arrives; returns what the server answers.
    static func trickle(port: Int, token: String) throws -> String {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: 40, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw SyncServerError(.internalError, "cannot connect") }
        let head =
            "POST /v1/push HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n"
            + "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
        _ = head.withCString { send(socket, $0, strlen($0), 0) }
        var received = [UInt8](repeating: 0, count: 4096)
        let count = recv(socket, &received, received.count, 0)
        return count > 0 ? String(decoding: received.prefix(count), as: UTF8.self) : ""
    }
}
