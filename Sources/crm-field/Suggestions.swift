import ArgumentParser
import Foundation

/// What `crm-field` says when the command line itself is wrong: one line in the program's own style
/// (`crm-field: …`), with the subcommand or flag the rep probably meant.
enum UsageErrors {
    /// The subcommand path `arguments` name, and a problem with it: an unknown subcommand, with a suggestion.
    static func unknownSubcommand(_ arguments: [String]) -> String? {
        // `--generate-completion-script bash`: its value is no subcommand.
        if arguments.first == "--generate-completion-script" { return nil }
        var command: any ParsableCommand.Type = CRMField.self
        var path = ["crm-field"]
        for argument in arguments {
            if argument == "--" { return nil }
            if argument.hasPrefix("-") { continue }
            let subcommands = command.configuration.subcommands
            guard !subcommands.isEmpty else { return nil }
            if let next = subcommands.first(where: { names($0).contains(argument) }) {
                command = next
                path.append(argument)
                continue
            }
            if command.configuration.defaultSubcommand != nil { return nil }
            let known = subcommands.compactMap { names($0).first }
            let guess = closest(argument, in: known)
            let typed = (path.dropFirst() + [argument]).joined(separator: " ")
            let suggestion = guess.map { "; did you mean '\((path.dropFirst() + [$0]).joined(separator: " "))'?" }
            return "no command '\(typed)'\(suggestion ?? "") (commands: \(known.joined(separator: ", ")))"
        }
        return nil
    }

    /// The command `arguments` name (for the flags a mistyped one is compared with).
    static func command(_ arguments: [String]) -> (any ParsableCommand.Type, [String]) {
        var command: any ParsableCommand.Type = CRMField.self
        var path: [String] = []
        for argument in arguments where !argument.hasPrefix("-") {
            guard let next = command.configuration.subcommands.first(where: { names($0).contains(argument) }) else {
                break
            }
            command = next
            path.append(argument)
        }
        return (command, path)
    }

    static func names(_ command: any ParsableCommand.Type) -> [String] {
        let name =
            command.configuration.commandName
            ?? String(describing: command).replacingOccurrences(
                of: "([a-z])([A-Z])",
                with: "$1-$2",
                options: .regularExpression
            ).lowercased()
        return [name] + command.configuration.aliases
    }

    /// The one line for a parse error ArgumentParser reports, with a suggestion where one helps.
    static func message(for error: any Error, arguments: [String]) -> String {
        let (command, path) = command(arguments)
        let full = CRMField.message(for: error)
        var line = full.split(separator: "\n").first.map(String.init) ?? full
        if line.hasPrefix("Error: ") { line.removeFirst("Error: ".count) }
        if let index = arguments.firstIndex(where: { $0.wholeMatch(of: /-[0-9]+[mhdw]?/) != nil }) {
            let negative = arguments[index]
            let stock = path.first == "stock"
            // The flag it belongs to, as typed before it (`--from -365d` → `--from=-365d`).
            let flag = index > 0 && arguments[index - 1].hasPrefix("--") ? arguments[index - 1] : "--remind-at"
            return "\(negative) is read as a flag, not a number: "
                + (stock
                    ? "the quantity is a positive number (crm-field stock sell PART 2 sells two, stock return PART 2 takes two back)"
                    : "write it with an equals sign, e.g. \(flag)=\(negative)")
        }
        if !line.contains("Did you mean"), let range = line.range(of: "Unknown option '"),
            let end = line[range.upperBound...].firstIndex(of: "'")
        {
            let typed = String(line[range.upperBound..<end])
            let flags = Set(
                command.helpMessage(columns: 200).matches(of: /--[a-z][a-z0-9-]*/).map { String($0.output) }
            ).sorted()
            if let guess = closest(typed, in: flags) { line += "; did you mean \(guess)?" }
        }
        let help = (["crm-field"] + path + ["--help"]).joined(separator: " ")
        return "\(line) (\(help) shows how)"
    }

    /// The nearest of `candidates` to `typed`: a prefix of one, or at most two edits away.
    static func closest(_ typed: String, in candidates: [String]) -> String? {
        let lowered = typed.lowercased()
        if let prefixed = candidates.first(where: { $0.hasPrefix(lowered) && lowered.count >= 2 }) { return prefixed }
        let scored = candidates.map { ($0, distance(lowered, $0)) }.filter { $0.1 <= max(1, min(2, lowered.count / 3)) }
        return scored.min { $0.1 < $1.1 }?.0
    }

    /// Edit distance with adjacent transpositions (`shwo` is one edit from `show`).
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var table = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
                }
            }
        }
        return table[a.count][b.count]
    }
}
