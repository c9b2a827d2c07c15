import Foundation
import ReplicaStore
import SyncProtocol

/// The checks of one `expect` step, on each laptop it names (or the server's merged state).
struct Expectations {
    let run: ScenarioRun
    let step: Step

    func check() async throws {
        let targets = try await run.targets(of: step)
        var problems: [String] = []
        for target in targets {
            problems += try await check(target).map { "\(target.name): \($0)" }
        }
        if step["converged"]?.bool == true {
            guard targets.count >= 2 else { throw StepError("converged needs two places or more") }
            let reference = try await canonical(targets[0].replica)
            for target in targets.dropFirst() {
                let lines = try await canonical(target.replica)
                if lines != reference {
                    let missing = Array(Set(reference).subtracting(lines).sorted().prefix(3))
                    let extra = Array(Set(lines).subtracting(reference).sorted().prefix(3))
                    problems.append("\(target.name) differs from \(targets[0].name): lacks \(missing), has \(extra)")
                }
            }
        }
        if !problems.isEmpty { throw StepError(problems.joined(separator: "; ")) }
    }

    private func value(_ key: String) throws -> JSONValue? { try step[key].map(run.resolvedValue) }

    private func check(_ laptop: Laptop) async throws -> [String] {
        let replica = laptop.replica
        var problems: [String] = []
        for expected in try list("record") {
            let (entity, id) = try target(expected)
            guard let record = try await replica.record(entity, id: id) else {
                problems.append("\(entity)/\(id) is missing")
                continue
            }
            if let deleted = expected["deleted"]?.bool, deleted != record.isDeleted {
                problems.append("\(entity)/\(id) is \(record.isDeleted ? "" : "not ")deleted")
            }
            for (field, wanted) in (expected["fields"]?.object ?? [:]).sorted(by: { $0.key < $1.key }) {
                let actual = record[field] ?? .null
                if !Self.same(actual, wanted) {
                    problems.append("\(entity)/\(id).\(field): expected \(wanted), got \(JSONValue(actual))")
                }
            }
        }
        for expected in try list("absent") {
            let (entity, id) = try target(expected)
            if let record = try await replica.record(entity, id: id) {
                problems.append("\(entity)/\(id) should not be here, but is (\(record.values.count) fields)")
            }
        }
        for expected in try list("count") {
            guard let entityName = expected["entity"]?.string, let wanted = expected["equals"]?.integer else {
                throw StepError("count needs entity and equals")
            }
            let account = expected["account"]?.string
            let records = try await replica.records(EntityKind(entityName), limit: 1_000_000).filter { record in
                !record.isDeleted && (account == nil || record["account_id"]?.stringValue == account)
            }
            if records.count != wanted {
                problems.append(
                    "\(records.count) \(entityName) records\(account.map { " of \($0)" } ?? ""), expected \(wanted)"
                )
            }
        }
        for expected in try list("conflicts") {
            let (entity, id) = try target(expected)
            let wanted = (expected["open"]?.array ?? []).compactMap(\.object).map { item in
                "\(item["field"]?.string ?? "?"): shows \(item["shown"] ?? .null), kept \(item["loser"] ?? .null)"
            }
            let actual = try await replica.openConflicts().filter { $0.entity == entity && $0.recordID == id }.map {
                "\($0.field): shows \(JSONValue($0.winner.value)), kept \(JSONValue($0.loser.value))"
            }
            if wanted.sorted() != actual.sorted() {
                problems.append(
                    "open conflicts of \(entity)/\(id): expected \(wanted.sorted()), got \(actual.sorted())"
                )
            }
        }
        if let outbox = try value("outbox")?.object {
            let pending = try await replica.pendingCount()
            if let wanted = outbox["pending"]?.integer, wanted != Int64(pending) {
                problems.append("\(pending) changes waiting in the outbox, expected \(wanted)")
            }
            if let wanted = outbox["rejected"]?.array?.compactMap(\.string) {
                let actual = try await replica.rejectedChanges().map(\.rejection.code.rawValue)
                if actual.sorted() != wanted.sorted() {
                    problems.append("rejected changes kept: expected \(wanted.sorted()), got \(actual.sorted())")
                }
            }
        }
        for text in try value("not_seen")?.array?.compactMap(\.string) ?? [] {
            for entity in CRMSchema.entities.keys.sorted(by: { $0.rawValue < $1.rawValue }) {
                for record in try await replica.records(entity, limit: 1_000_000)
                where record.id.rawValue.contains(text)
                    || record.values.values.contains(where: { $0.stringValue?.contains(text) == true })
                {
                    problems.append("sees '\(text)' in \(entity)/\(record.id)")
                }
            }
        }
        for expected in try list("history") {
            let (entity, id) = try target(expected)
            let entries = try await replica.history(entity, id: id)
            for (field, values) in expected["values"]?.object ?? [:] {
                for wanted in values.array ?? [] {
                    let found = entries.contains { entry in
                        entry.field == field && entry.newValue.map { Self.same($0, wanted) } == true
                    }
                    if !found { problems.append("the history of \(entity)/\(id) lacks \(field) = \(wanted)") }
                }
            }
        }
        return problems
    }

    /// A key that holds one object or a list of them.
    private func list(_ key: String) throws -> [[String: JSONValue]] {
        guard let value = try value(key) else { return [] }
        if let object = value.object { return [object] }
        guard let items = value.array?.compactMap(\.object) else { throw StepError("'\(key)' is an object or a list") }
        return items
    }

    private func target(_ object: [String: JSONValue]) throws -> (EntityKind, RecordID) {
        guard let entity = object["entity"]?.string, let id = object["id"]?.string else {
            throw StepError("entity and id are needed")
        }
        return (EntityKind(entity), RecordID(id))
    }

    /// Timestamps compare as instants (a replica may store `…:00Z` as `…:00.000Z`).
    static func same(_ actual: FieldValue, _ wanted: JSONValue) -> Bool {
        guard let wanted = wanted.fieldValue else { return false }
        if actual == wanted { return true }
        if let a = actual.stringValue, let b = wanted.stringValue, let x = ISO8601.parseTimestamp(a),
            let y = ISO8601.parseTimestamp(b)
        {
            return x == y
        }
        return false
    }

    /// Everything a rep's replica holds of this scenario, as sorted lines: the territory-scoped records (only this
    /// scenario's territories are in scope), this scenario's catalog, and the open conflicts.
    private func canonical(_ replica: Replica) async throws -> [String] {
        var lines: [String] = []
        let own = run.ownCatalog
        for entity in CRMSchema.entities.keys.sorted(by: { $0.rawValue < $1.rawValue }) {
            let catalog = CRMSchema.schema(for: entity).scope == .everyone
            for record in try await replica.records(entity, limit: 1_000_000).sorted(by: { $0.id < $1.id })
            where !catalog || own.contains(record.id.rawValue) {
                let values = record.values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                lines.append(
                    "\(entity)/\(record.id)\(record.isDeleted ? " deleted" : ""): " + values.joined(separator: ";")
                )
            }
        }
        lines += try await replica.openConflicts().map { "conflict \($0.id)" }.sorted()
        return lines
    }
}
