import Foundation
import ReplicaStore
import Synchronization

/// Where the CLI writes: standard output and error for the real program, a buffer in the in-process tests.
final class Console: @unchecked Sendable {
    private let lock = NSLock()
    private var capturedOut = ""
    private var capturedErr = ""
    private let capturing: Bool
    /// Whether standard error is a terminal (progress bars and colours only then).
    let isTerminal: Bool

    init(capturing: Bool = false) {
        self.capturing = capturing
        isTerminal = !capturing && isatty(STDERR_FILENO) == 1
    }

    @TaskLocal static var current = Console()

    func out(_ text: String) {
        if capturing {
            lock.withLock { capturedOut += text + "\n" }
        } else {
            Self.write(text + "\n", to: STDOUT_FILENO)
        }
    }

    /// Writes `text` as it is (no newline added): CSV with its own line ends.
    func outRaw(_ text: String) {
        if capturing {
            lock.withLock { capturedOut += text }
        } else {
            Self.write(text, to: STDOUT_FILENO)
        }
    }

    func err(_ text: String, newline: Bool = true) {
        if capturing {
            lock.withLock { capturedErr += text + (newline ? "\n" : "") }
        } else {
            Self.write(text + (newline ? "\n" : ""), to: STDERR_FILENO)
        }
    }

    /// Writes all of `text`. A reader that went away (`crm-field sync | head -3`) ends the program quietly with
    /// the status a shell gives a process killed by SIGPIPE (141), as `git log | head` does: what was written to
    /// the replica is committed or rolled back by SQLite, and a rerun resumes. SIGPIPE itself is ignored (see
    /// ``CRMField/main()``), so the write fails with EPIPE rather than killing the process mid-statement.
    static func write(_ text: String, to descriptor: Int32) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if written >= 0 {
                offset += written
            } else if errno == EINTR || errno == EAGAIN {
                continue
            } else if errno == EPIPE {
                exit(141)
            } else {
                return  // a full disk or a closed descriptor: nothing sensible is left to tell
            }
        }
    }

    var standardOutput: String { lock.withLock { capturedOut } }
    var standardError: String { lock.withLock { capturedErr } }
}

/// A progress line on a terminal (redrawn in place), plain lines otherwise, nothing with `--json`.
final class ProgressReporter: Sendable {
    let console: Console
    let enabled: Bool
    /// When the last plain line was written (not on a terminal: one line per few seconds, not per page).
    private let lastLine = Mutex<Int64>(0)

    init(console: Console, enabled: Bool) {
        self.console = console
        self.enabled = enabled
    }

    func report(_ label: String, done: Int, total: Int?, perSecond: Double? = nil) {
        guard enabled else { return }
        var rate = ""
        if let perSecond, perSecond > 0 {
            rate = ", \(Self.count(Int(perSecond)))/s"
            if let total, total > done { rate += ", about \(Self.remaining(Double(total - done) / perSecond)) left" }
        }
        if console.isTerminal {
            var line = "\r\(label): \(done)\(rate)"
            if let total, total > 0 {
                let width = 24
                let filled = min(width, done * width / total)
                line =
                    "\r\(label) [\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(done)/\(total)\(rate)"
            }
            console.err(line + "   ", newline: false)
        } else if done > 0 {
            let now = ReplicaConfiguration.systemNow()
            let due = lastLine.withLock { last in
                // Every line of a short run; a long download prints one line every 5 s and its last page.
                guard perSecond == nil || now - last >= 5_000 || done == total else { return false }
                last = now
                return true
            }
            if due { console.err("\(label): \(done)\(total.map { " of \($0)" } ?? "")\(rate)") }
        }
    }

    static func count(_ value: Int) -> String {
        value >= 10_000 ? "\(value / 1_000)k" : "\(value)"
    }

    static func remaining(_ seconds: Double) -> String {
        seconds < 60 ? "\(max(1, Int(seconds.rounded()))) s" : "\(Int(seconds / 60)) min \(Int(seconds) % 60) s"
    }

    /// Ends a progress line on a terminal.
    func finish() {
        if enabled && console.isTerminal { console.err("") }
    }
}
