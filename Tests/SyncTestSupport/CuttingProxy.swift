import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy on 127.0.0.1 in front of a server on 127.0.0.1: it forwards both ways and **cuts** the network
/// (shuts both sides of the connection it is forwarding on) each time the bytes it has forwarded towards the
/// server, counted over all connections, reach the next of `cuts`. A test sees a connection dropped in the middle
/// of a request body, as a train's Wi-Fi drops it. `bytesPerSecond` slows each direction, so that a test
/// can act (kill a process) while a transfer is under way.
public final class CuttingProxy: @unchecked Sendable {
    public let port: Int
    private let upstreamPort: Int
    private let listener: Int32
    private let bytesPerSecond: Int?
    // NOTE: `lock` guards `forwarded`, `cuts`, `cutsDone`, `stopped` and `open`.
    private let lock = NSLock()
    private var forwarded: Int64 = 0
    private var cuts: [Int64]
    private var cutsDone = 0
    private var stopped = false
    private var open: [Pair] = []

    public init(upstreamPort: Int, cuts: [Int64], bytesPerSecond: Int? = nil) throws {
        self.upstreamPort = upstreamPort
        self.cuts = cuts.sorted()
        self.bytesPerSecond = bytesPerSecond
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServerProcessError("proxy: socket failed") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 16) == 0 else { throw ServerProcessError("proxy: bind or listen failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// Bytes forwarded towards the server so far.
    public var forwardedUp: Int64 { lock.withLock { forwarded } }
    /// How many times the network was cut.
    public var cutCount: Int { lock.withLock { cutsDone } }
    public var url: String { "http://127.0.0.1:\(port)" }

    /// Stops accepting and cuts every open connection (a server stopping gracefully would otherwise wait for them).
    public func stop() {
        let pairs = lock.withLock {
            stopped = true
            return open
        }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for pair in pairs { pair.cut() }
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if lock.withLock({ stopped }) { return }
                continue
            }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: UInt16(upstreamPort))
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard connected == 0 else {
                close(client)
                close(server)
                continue
            }
            let pair = Pair(client: client, server: server)
            lock.withLock { open.append(pair) }
            Thread { [self] in pump(pair, up: true) }.start()
            Thread { [self] in pump(pair, up: false) }.start()
        }
    }

    /// One proxied connection: both sockets, closed when both directions ended.
    private final class Pair: @unchecked Sendable {
        let client: Int32
        let server: Int32
        // NOTE: `lock` guards `ended` and the sockets' shutdown and close.
        private let lock = NSLock()
        private var ended = 0

        init(client: Int32, server: Int32) {
            self.client = client
            self.server = server
        }

        /// Shuts both sockets (the pumps then end); nothing once they are closed (their numbers may be reused).
        func cut() {
            lock.withLock {
                guard ended < 2 else { return }
                shutdown(client, Int32(SHUT_RDWR))
                shutdown(server, Int32(SHUT_RDWR))
            }
        }

        func end() {
            cut()
            lock.withLock {
                ended += 1
                if ended == 2 {
                    // A reset, as from a killed process's socket: a FIN after the shutdown would leave the server
                    // sending into a closed window until TCP gives up.
                    var reset = linger(l_onoff: 1, l_linger: 0)
                    for fd in [client, server] {
                        setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, socklen_t(MemoryLayout<linger>.size))
                        close(fd)
                    }
                }
            }
        }
    }

    private func pump(_ pair: Pair, up: Bool) {
        defer { pair.end() }
        let from = up ? pair.client : pair.server
        let to = up ? pair.server : pair.client
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(from, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return }
            var sending = count
            var cutNow = false
            if up {
                lock.withLock {
                    if let next = cuts.first, forwarded + Int64(count) >= next {
                        sending = Int(next - forwarded)
                        cuts.removeFirst()
                        cutsDone += 1
                        cutNow = true
                    }
                    forwarded += Int64(sending)
                }
            }
            var offset = 0
            while offset < sending {
                let written = buffer.withUnsafeBytes {
                    send(to, $0.baseAddress! + offset, sending - offset, Int32(MSG_NOSIGNAL))
                }
                guard written > 0 else { return }
                offset += written
            }
            if cutNow {
                pair.cut()
                return
            }
            if let bytesPerSecond {
                usleep(UInt32(min(1_000_000, Double(sending) / Double(bytesPerSecond) * 1_000_000)))
            }
        }
    }
}
