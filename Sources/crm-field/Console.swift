import Foundation

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
            FileHandle.standardOutput.write(Data((text + "\n").utf8))
        }
    }

    func err(_ text: String, newline: Bool = true) {
        if capturing {
            lock.withLock { capturedErr += text + (newline ? "\n" : "") }
        } else {
            FileHandle.standardError.write(Data((text + (newline ? "\n" : "")).utf8))
        }
    }

    var standardOutput: String { lock.withLock { capturedOut } }
    var standardError: String { lock.withLock { capturedErr } }
}

/// A progress line on a terminal (redrawn in place), plain lines otherwise, nothing with `--json`.
struct ProgressReporter: Sendable {
    let console: Console
    let enabled: Bool

    func report(_ label: String, done: Int, total: Int?) {
        guard enabled else { return }
        if console.isTerminal {
            var line = "\r\(label): \(done)"
            if let total, total > 0 {
                let width = 24
                let filled = min(width, done * width / total)
                line =
                    "\r\(label) [\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(done)/\(total)"
            }
            console.err(line + "   ", newline: false)
        } else if done > 0 {
            console.err("\(label): \(done)\(total.map { " of \($0)" } ?? "")")
        }
    }

    /// Ends a progress line on a terminal.
    func finish() {
        if enabled && console.isTerminal { console.err("") }
    }
}
