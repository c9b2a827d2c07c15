public import Foundation

/// A small tmpfs mounted for a test (needs root: `mount -t tmpfs`), and a filler file that takes all but a little of
/// its space, so a test can fill the disk under a real SQLite file and free it again.
public final class SmallDisk: Sendable {
    public let path: String

    /// Whether this process may mount one (root).
    public static var available: Bool { getuid() == 0 }

    public init(megabytes: Int) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("disk-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", path])
    }

    /// Fills the disk but `leavingKilobytes` (again: a further filler file).
    public func fill(leavingKilobytes: Int) throws {
        var status = statvfs()
        guard statvfs(path, &status) == 0 else { throw ServerProcessError("statvfs \(path) failed") }
        let free = Int(status.f_bavail) * Int(status.f_frsize)
        let size = max(0, free - leavingKilobytes * 1024)
        let fillers =
            (try? FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasPrefix("filler") }) ?? []
        guard size > 0 else { return }
        try Self.run("/usr/bin/fallocate", ["-l", "\(size)", path + "/filler-\(fillers.count)"])
    }

    /// Frees what ``fill(leavingKilobytes:)`` took.
    public func free() throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: path) where name.hasPrefix("filler") {
            try FileManager.default.removeItem(atPath: path + "/" + name)
        }
    }

    public func unmount() { try? Self.run("/bin/umount", ["-l", path]) }

    static func run(_ tool: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ServerProcessError("\(tool) \(arguments.joined(separator: " ")) failed")
        }
    }
}
