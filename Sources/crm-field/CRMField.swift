import ArgumentParser
import Foundation

/// `crm-field`: the field rep's CRM on the command line, working offline on a local replica and syncing with the
/// company's sync server when the network is there.
@main
struct CRMField: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crm-field",
        abstract: "Your customers, tasks, deals and stock, offline; `crm-field sync` when the network is back.",
        discussion: """
            Start with `crm-field init --server URL --token TOKEN` (IT gives you both), or try everything with
            `crm-field demo`. Every command takes --home DIR (default $CRM_FIELD_HOME, else
            ~/.local/share/crm-field) and --json. Times are shown in your time zone; money with two decimals.
            Shell completion: crm-field --generate-completion-script bash|zsh|fish
            """,
        version: "0.19.0",
        subcommands: [
            Init.self, Sync.self, Status.self, Today.self, AgendaCommand.self, Remind.self, AccountCommand.self,
            ContactCommand.self, Log.self, History.self, ActivityCommand.self, MeetingCommand.self, TaskCommand.self,
            DealCommand.self, Pipeline.self, ProductCommand.self, StockCommand.self, InvoiceCommand.self,
            Receivables.self, ReportCommand.self, ConflictCommand.self, DocumentCommand.self, Export.self,
            ConfigCommand.self, Demo.self,
        ]
    )

    /// Parses and runs like ArgumentParser's own `main()`, but also accepts the global options before the
    /// subcommand (`crm-field --home DIR status`), as people type them.
    static func main() async {
        // Output cut off by a pager or `head` is an EPIPE for Console.write to handle, never a crash.
        signal(SIGPIPE, SIG_IGN)
        do {
            try await run(Array(CommandLine.arguments.dropFirst()))
        } catch {
            exit(withError: error)
        }
    }

    /// Parses `arguments` as the executable does and runs the command, writing to `console` (the demo and the
    /// in-process tests capture it).
    static func run(_ arguments: [String], console: Console = Console.current) async throws {
        let arguments = hoistingGlobalOptions(arguments)
        var command: any ParsableCommand
        do {
            if let problem = UsageErrors.unknownSubcommand(arguments) { throw UsageProblem(message: problem) }
            command = try parseAsRoot(arguments)
        } catch {
            // Help and --version are "errors" that succeed; they print as ArgumentParser prints them.
            if exitCode(for: error) == .success {
                console.out(fullMessage(for: error))
                return
            }
            let message = (error as? UsageProblem)?.message ?? UsageErrors.message(for: error, arguments: arguments)
            if arguments.contains("--json") {
                let object = ["error": ["code": "usage", "message": message]]
                let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
                console.out(String(decoding: data, as: UTF8.self))
            } else {
                console.err("crm-field: \(message)")
            }
            throw ExitCode(error is UsageProblem ? ExitCode.validationFailure.rawValue : exitCode(for: error).rawValue)
        }
        try await Console.$current.withValue(console) {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        }
    }

    struct UsageProblem: Error {
        var message: String
    }

    /// Moves `--home DIR`, `--home=DIR` and `--json` given before the subcommand to the end of the arguments.
    static func hoistingGlobalOptions(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var rest = arguments[...]
        while let first = rest.first {
            if first == "--json" || first.hasPrefix("--home=") {
                leading.append(first)
                rest = rest.dropFirst()
            } else if first == "--home", rest.count >= 2 {
                leading += rest.prefix(2)
                rest = rest.dropFirst(2)
            } else {
                break
            }
        }
        return Array(rest) + leading
    }
}
