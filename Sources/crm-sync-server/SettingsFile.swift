import ArgumentParser
import Foundation

/// The server's settings file (`/etc/crm-sync/server.conf` when it exists, or `--config FILE`): `name = value`
/// lines named like the flags (`db`, `host`, `port`, `tls-cert`, `tls-key`, `max-body-bytes`,
/// `max-clock-ahead-seconds`, `hand-off-grace-days`, `max-document-mb`), `#` comments and blank lines. A flag given
/// on the command line overrides the file; an unknown name or a line that is not `name = value` is an error that
/// names its line, so a typo never passes silently.
struct SettingsFile: Sendable {
    static let defaultPath = "/etc/crm-sync/server.conf"
    static let names: Set<String> = [
        "db", "host", "port", "tls-cert", "tls-key", "max-body-bytes", "max-clock-ahead-seconds",
        "hand-off-grace-days", "max-document-mb",
    ]

    let path: String?
    let values: [String: String]

    /// The file at `path`, else at `$CRM_SYNC_CONFIG`, else the default one if it exists, else no settings.
    static func load(_ path: String?) throws -> SettingsFile {
        let chosen =
            path ?? ProcessInfo.processInfo.environment["CRM_SYNC_CONFIG"]
            ?? (FileManager.default.fileExists(atPath: defaultPath) ? defaultPath : nil)
        guard let chosen else { return SettingsFile(path: nil, values: [:]) }
        guard let data = FileManager.default.contents(atPath: chosen) else {
            throw ValidationError("cannot read the settings file \(chosen)")
        }
        var values: [String: String] = [:]
        for (index, raw) in String(decoding: data, as: UTF8.self).split(
            separator: "\n",
            omittingEmptySubsequences: false
        )
        .enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            let parts = text.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty else {
                throw ValidationError("\(chosen):\(index + 1): write name = value")
            }
            guard names.contains(parts[0]) else {
                throw ValidationError(
                    "\(chosen):\(index + 1): no setting '\(parts[0])' (known: \(names.sorted().joined(separator: ", ")))"
                )
            }
            values[parts[0]] = parts[1]
        }
        return SettingsFile(path: chosen, values: values)
    }

    subscript(name: String) -> String? { values[name] }

    /// A number setting, checked.
    func number<T: FixedWidthInteger>(_ name: String, as type: T.Type = T.self) throws -> T? {
        guard let text = values[name] else { return nil }
        guard let value = T(text) else {
            throw ValidationError("\(path ?? "settings"): \(name) must be a whole number, not '\(text)'")
        }
        return value
    }
}
