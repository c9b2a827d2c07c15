import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PostgresNIO
import ReplicaStore
import SyncClient
import SyncProtocol
import SyncServer
import SyncTestSupport

/// A deliberately broken part, to prove each check of the simulation can fail.
enum Sabotage: String, CaseIterable, Sendable {
    /// One laptop never receives one change (a lost update): states differ.
    case dropChange = "drop-change"
    /// A laptop re-issues a sale under a new dot after a failed push (double counting): stock is off.
    case reissueSale = "reissue-sale"
    /// The network swallows one edit but answers "accepted": a written value is lost everywhere.
    case swallowEdit = "swallow-edit"
    /// One laptop's pushes never get through, even after the network healed: its outbox does not drain.
    case stuckOutbox = "stuck-outbox"
}

/// An operation of a real deployment a seed performs in the middle of the offline work (issue 13).
enum DeploymentEvent: String, CaseIterable, Sendable {
    case none
    /// IT backs the server up, the work goes on for a while, and IT restores the backup: the server loses what
    /// came after it; laptops re-send their lost changes and re-converge.
    case serverRollback = "server-rollback"
    /// A laptop's replica file is copied to a second laptop of the same rep; both go on working.
    case clonedReplica = "cloned-replica"

    /// The event of a seed when none is asked for: a quarter of the seeds roll the server back (SQLite), a quarter
    /// clone a laptop, so the CI's seeds cover both without more seeds.
    static func of(seed: UInt64, postgres: Bool) -> DeploymentEvent {
        switch seed % 4 {
        case 1: postgres ? .clonedReplica : .serverRollback
        case 3: .clonedReplica
        default: .none
        }
    }
}

struct SimulationConfig: Sendable {
    var seed: UInt64
    var replicas = 5
    var operations = 200
    var sabotage: Sabotage?
    /// The server's storage: nil for SQLite; else a PostgreSQL URL in which each seed gets a fresh database.
    var postgres: String?
    /// Nil: the seed's own (``DeploymentEvent/of(seed:postgres:)``).
    var deployment: DeploymentEvent?

    var event: DeploymentEvent { deployment ?? .of(seed: seed, postgres: postgres != nil) }

    var replayCommand: String {
        "swift run -c release crm-simulate --seed \(seed) --replicas \(replicas) --operations \(operations)"
            + (sabotage.map { " --sabotage \($0.rawValue)" } ?? "") + (postgres.map { " --postgres \($0)" } ?? "")
            + (deployment.map { " --deployment \($0.rawValue)" } ?? "")
    }
}

/// What one seed did and what it found wrong (empty: every check passed).
struct SeedResult: Sendable {
    var seed: UInt64
    var failures: [String] = []
    var changes = 0
    var syncs = 0
    var faults: [String: Int] = [:]
    var crashes = 0
    /// Deployment events performed (``DeploymentEvent``), and laptops that took a new replica ID.
    var events: [String: Int] = [:]
}

/// The simulated wall clock every laptop and the server read: deterministic, advanced by the simulation.
final class SimulatedClock: @unchecked Sendable {
    private let lock = NSLock()
    private var milliseconds: Int64 = 1_795_428_000_000
    func now() -> Int64 { lock.withLock { milliseconds } }
    func advance(_ by: Int64) { lock.withLock { milliseconds += by } }
}

/// One seed: N laptops (real replica files) and an in-process server (real SQLite storage, the real router),
/// joined by a faulty network; random offline edits of every entity and rule, random partial syncs and crashes
/// in the middle of an apply; then the network heals and everything must agree.
struct Simulation {
    let config: SimulationConfig

    /// One laptop; used by one task at a time.
    final class Laptop: @unchecked Sendable {
        let index: Int
        let path: String
        var replica: Replica
        let transport: FaultyTransport
        let skew: Int64
        var localChanges = 0
        var received = 0
        /// Local changes of the laptop this one was copied from, made before the copy: this laptop holds them as
        /// its own, so it never receives them.
        var inherited = 0
        /// The rep who uses the laptop (a copy is its original's rep's).
        lazy var user = "rep\(index)"
        init(index: Int, path: String, replica: Replica, transport: FaultyTransport, skew: Int64) {
            self.index = index
            self.path = path
            self.replica = replica
            self.transport = transport
            self.skew = skew
        }
    }

    /// What was written, to check against the final state.
    struct Ledger {
        var stockDeltas: [RecordID: Int64] = [:]
        var activities: Set<RecordID> = []
        var values: [(EntityKind, RecordID, String, FieldValue)] = []
        var records: [EntityKind: [RecordID]] = [:]
    }

    static let stockIDs = [
        RecordID.stock(partNumber: "P-1", warehouse: "w1"), RecordID.stock(partNumber: "P-2", warehouse: "w1"),
    ]
    static let initialStock: Int64 = 50

    func run() async throws -> SeedResult {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sim-\(config.seed)-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        guard let admin = config.postgres else {
            return try await run(
                storage: try SQLiteChangeStorage(path: folder.appendingPathComponent("server.sqlite").path),
                folder: folder
            )
        }
        let logger = Logger(label: "sim", factory: { _ in SwiftLogNoOpLogHandler() })
        let name = "crm_sim_\(config.seed)_\(UUID().uuidString.lowercased().prefix(8))"
        guard var components = URLComponents(string: admin) else {
            throw SyncServerError(.invalidValue, "--postgres must be postgres://USER@HOST:PORT/DATABASE")
        }
        components.path = "/" + name
        try await Self.postgresAdmin(admin, "CREATE DATABASE \(name)")
        let simulation = self
        let outcome: Result<SeedResult, any Error>
        do {
            // The application runs the storage's pool and migrates it before serving (see run(storage:folder:)).
            let storage = try PostgresChangeStorage(url: components.string ?? admin, logger: logger)
            outcome = .success(try await simulation.run(storage: storage, folder: folder))
        } catch {
            outcome = .failure(error)
        }
        try await Self.postgresAdmin(admin, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        return try outcome.get()
    }

    /// Runs one statement on the PostgreSQL server of `url` (creating and dropping the seeds' databases).
    static func postgresAdmin(_ url: String, _ sql: String) async throws {
        let logger = Logger(label: "sim", factory: { _ in SwiftLogNoOpLogHandler() })
        let storage = try PostgresChangeStorage(url: url, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await storage.run() }
            defer { group.cancelAll() }
            try await storage.client.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        }
    }

    func run(storage: some ChangeStorage, folder: URL) async throws -> SeedResult {
        let clock = SimulatedClock()
        let replicas = config.replicas
        let users = (0...replicas).map { index in
            (
                User(name: "rep\(index)", role: index == replicas ? .admin : .rep, territories: ["north"]),
                Tokens.generate()
            )
        }
        let app = try buildApplication(
            configuration: ServerConfiguration(port: 0, maxClockAheadMilliseconds: 60_000),
            storage: storage,
            logger: Logger(label: "sim", factory: { _ in SwiftLogNoOpLogHandler() }),
            now: { clock.now() }
        )
        let network = FaultyNetwork(seed: config.seed ^ 0xA5A5_A5A5)
        let config = config
        let outcome = ResultBox()
        try await app.test(.router) { client in
            // Users first: the accounts name them as owners, and an import refuses an owner who is no user.
            for (user, issued) in users { try await storage.addUser(user, tokenHash: issued.hash) }
            try await Self.loadServer(storage, clock: clock)
            let tokens = users.map(\.1.token)
            var result = SeedResult(seed: config.seed)
            var random = SeededGenerator.simulation(seed: config.seed)
            var ledger = Ledger()
            var laptops: [Laptop] = []
            for index in 0..<config.replicas {
                let skew = Int64(random.below(40_000)) - 20_000
                let path = folder.appendingPathComponent("laptop-\(index).sqlite").path
                let replica = try Self.open(path, clock: clock, skew: skew)
                try await replica.register(server: "sim", user: "rep\(index)", territories: ["north"], role: "rep")
                let inner = RouterTransport(client: client, token: tokens[index])
                let laptop = Laptop(
                    index: index,
                    path: path,
                    replica: replica,
                    transport: FaultyTransport(
                        inner: inner,
                        network: network,
                        laptop: index,
                        sabotage: config.sabotage
                    ),
                    skew: skew
                )
                // The first sync on a healthy network (the laptop is set up in the office).
                let summary = try await Self.engine(laptop, clock: clock, transport: inner).sync()
                laptop.received += summary.received
                laptops.append(laptop)
            }
            var sabotageDone = false
            let steps = config.operations * config.replicas
            var events = EventPlan(config.event, steps: steps, random: &random)
            for step in 0..<steps {
                clock.advance(Int64(random.below(900)) + 1)
                try await events.perform(
                    at: step,
                    storage: storage,
                    folder: folder,
                    clock: clock,
                    laptops: &laptops,
                    make: { source, index in
                        let path = folder.appendingPathComponent("laptop-\(index).sqlite").path
                        try await source.replica.backup(to: path)
                        let copy = Laptop(
                            index: index,
                            path: path,
                            replica: try Self.open(path, clock: clock, skew: source.skew),
                            transport: FaultyTransport(
                                inner: RouterTransport(client: client, token: tokens[source.index]),
                                network: network,
                                laptop: index,
                                sabotage: config.sabotage
                            ),
                            skew: source.skew
                        )
                        copy.received = source.received
                        copy.inherited = source.localChanges
                        copy.user = source.user
                        return copy
                    },
                    result: &result
                )
                let laptop = laptops[Int(random.below(UInt64(laptops.count)))]
                if random.chance(6) {
                    try await Self.partialSync(
                        laptop,
                        clock: clock,
                        random: &random,
                        result: &result,
                        config: config,
                        sabotageDone: &sabotageDone
                    )
                } else {
                    try await Self.edit(
                        laptop,
                        step: step,
                        random: &random,
                        ledger: &ledger,
                        config: config,
                        sabotageDone: &sabotageDone
                    )
                }
            }
            // The network heals: outboxes must drain within three rounds.
            network.heal()
            var drained = false
            for _ in 0..<3 {
                for laptop in laptops {
                    try? await Self.syncOnce(laptop, clock: clock, config: config, result: &result)
                }
                var pending = 0
                for laptop in laptops { pending += try await laptop.replica.pendingCount() }
                if pending == 0 {
                    drained = true
                    break
                }
            }
            if !drained {
                result.failures.append("outboxes did not drain within three rounds after the network healed")
            }
            // One more round so everyone pulls what the last ones pushed.
            for laptop in laptops { try? await Self.syncOnce(laptop, clock: clock, config: config, result: &result) }

            // An auditor laptop set up from the server's snapshot: the server's merged state.
            let auditorPath = folder.appendingPathComponent("auditor.sqlite").path
            let auditor = try Self.open(auditorPath, clock: clock, skew: 0)
            try await auditor.register(server: "sim", user: "rep\(config.replicas)", territories: ["north"])
            let auditorTransport = RouterTransport(client: client, token: tokens[config.replicas])
            _ = try await SyncEngine(replica: auditor, transport: auditorTransport, now: { clock.now() }).sync()

            result.failures += try await Self.check(laptops: laptops, auditor: auditor, ledger: ledger)
            for laptop in laptops where !(try await laptop.replica.syncInfo().previousReplicaIDs.isEmpty) {
                result.events["new replica id", default: 0] += 1
            }
            result.changes = laptops.map(\.localChanges).reduce(0, +)
            for laptop in laptops { try laptop.replica.close() }
            try auditor.close()
            outcome.set(result)
        }
        var final = outcome.value ?? SeedResult(seed: config.seed, failures: ["the run ended without a result"])
        final.faults = network.faults
        return final
    }

    final class ResultBox: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: SeedResult?
        func set(_ value: SeedResult) { lock.withLock { stored = value } }
        var value: SeedResult? { lock.withLock { stored } }
    }

    static func open(_ path: String, clock: SimulatedClock, skew: Int64) throws -> Replica {
        try Replica(path: path, configuration: ReplicaConfiguration(now: { clock.now() + skew }, synchronous: .normal))
    }

    static func engine(_ laptop: Laptop, clock: SimulatedClock, transport: (any SyncTransport)? = nil) -> SyncEngine {
        SyncEngine(
            replica: laptop.replica,
            transport: transport ?? laptop.transport,
            options: SyncOptions(
                pushBatch: 40,
                pageSize: 40,
                snapshotPageSize: 40,
                retries: 2,
                backoff: .zero,
                maxBackoff: .zero
            ),
            now: { clock.now() + laptop.skew }
        )
    }

    static func loadServer(_ storage: some ChangeStorage, clock: SimulatedClock) async throws {
        let sheets: [(ImportKind, String)] = [
            (
                .products,
                "part_number,name,unit,price_list,currency,active\nP-1,Pump,pcs,19900,EUR,true\nP-2,Valve,pcs,2450,EUR,true\n"
            ),
            (.stock, "part_number,warehouse,quantity\nP-1,w1,\(initialStock)\nP-2,w1,\(initialStock)\n"),
            (
                .accounts,
                "id,name,kind,territory,owner\nacc-0,Alpha,customer,north,rep0\nacc-1,Beta,customer,north,rep1\nacc-2,Gamma,prospect,north,rep2\n"
            ),
        ]
        for (kind, text) in sheets {
            let report = try await SyncService(storage: storage).importCSV(
                kind,
                data: Data(text.utf8),
                actor: "simulation",
                now: clock.now()
            )
            guard report.rejected.isEmpty else {
                throw SyncServerError(
                    .invalidValue,
                    "the simulation's sheet was rejected: \(report.lines.joined(separator: "; "))"
                )
            }
        }
    }

    /// A sync that may be cut by the network, or a crash in the middle of applying a pulled page.
    static func partialSync(
        _ laptop: Laptop,
        clock: SimulatedClock,
        random: inout SeededGenerator,
        result: inout SeedResult,
        config: SimulationConfig,
        sabotageDone: inout Bool
    ) async throws {
        if random.chance(25) {
            // Crash mid-apply: pull one page, apply a prefix, "crash" (close without saving the cursor), restart.
            let cursor = try await laptop.replica.syncInfo().cursor
            if let page = try? await laptop.transport.pull(
                replicaID: laptop.replica.replicaID,
                cursor: cursor,
                limit: 40
            ),
                !page.changes.isEmpty
            {
                let prefix = page.changes.prefix(Int(random.below(UInt64(page.changes.count))) + 1)
                let report = try await laptop.replica.applyRemote(Array(prefix))
                laptop.received += report.applied + report.superseded
                try laptop.replica.close()
                laptop.replica = try open(laptop.path, clock: clock, skew: laptop.skew)
                result.crashes += 1
            }
            return
        }
        try? await syncOnce(laptop, clock: clock, config: config, result: &result)
    }

    static func syncOnce(
        _ laptop: Laptop,
        clock: SimulatedClock,
        config: SimulationConfig,
        result: inout SeedResult
    ) async throws {
        result.syncs += 1
        let transport: any SyncTransport =
            config.sabotage == .stuckOutbox && laptop.index == 2
            ? StuckTransport(inner: laptop.transport) : laptop.transport
        // Count what was applied page by page: a sync the network cuts short has still applied its first pages.
        let applied = Counter()
        defer { laptop.received += applied.value }
        let summary = try await engine(laptop, clock: clock, transport: transport).sync { progress in
            if progress.phase == .pull { applied.set(progress.done) }
        }
        if ProcessInfo.processInfo.environment["SIM_DEBUG"] != nil {
            for rejected in summary.rejected {
                print("laptop \(laptop.index) rejected \(rejected.change.dot) \(rejected.rejection)")
            }
            if let restamp = summary.restamp { print("laptop \(laptop.index) restamp \(restamp)") }
            if summary.resent > 0 { print("laptop \(laptop.index) resent \(summary.resent)") }
        }
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var stored = 0
        func set(_ value: Int) { lock.withLock { stored = value } }
        var value: Int { lock.withLock { stored } }
    }

    /// One random offline edit on `laptop`, recorded in the ledger.
    static func edit(
        _ laptop: Laptop,
        step: Int,
        random: inout SeededGenerator,
        ledger: inout Ledger,
        config: SimulationConfig,
        sabotageDone: inout Bool
    ) async throws {
        let replica = laptop.replica
        let tag = "s\(step)-r\(laptop.index)"
        func known(_ entity: EntityKind) async throws -> [RecordID] {
            try await replica.records(entity, limit: 100_000).map(\.id)
        }
        func set(_ entity: EntityKind, _ id: RecordID, _ fields: [String: FieldValue]) async throws {
            try await replica.update(entity, id: id, fields: fields)
            laptop.localChanges += 1
            for (field, value) in fields { ledger.values.append((entity, id, field, value)) }
        }
        func create(_ entity: EntityKind, _ fields: [String: FieldValue]) async throws {
            let id = RecordID("\(entity)-\(tag)")
            try await replica.create(entity, id: id, fields: fields)
            laptop.localChanges += 1
            ledger.records[entity, default: []].append(id)
            if entity == .activity { ledger.activities.insert(id) }
            for (field, value) in fields { ledger.values.append((entity, id, field, value)) }
        }
        let accounts = try await known(.account)
        let account = FieldValue.string(random.pick(accounts).rawValue)
        switch random.below(100) {
        case 0..<20:
            let field = random.pick(["phone", "industry", "region", "website"])
            try await set(.account, random.pick(accounts), [field: .string("\(field)-\(tag)")])
        case 20..<25:
            try await create(
                .account,
                ["name": .string("New \(tag)"), "territory": "north", "owner": .string(laptop.user)]
            )
        case 25..<33:
            try await create(
                .contact,
                ["account_id": account, "last_name": .string("Person \(tag)"), "role": "technical"]
            )
        case 33..<40:
            let contacts = try await known(.contact)
            if let id = contacts.isEmpty ? nil : random.pick(contacts) {
                try await set(.contact, id, [random.pick(["title", "phone", "email"]): .string("c-\(tag)")])
            }
        case 40..<52:
            try await create(
                .activity,
                [
                    "account_id": account, "kind": "call", "subject": .string("Call \(tag)"),
                    "occurred_at": "2026-11-23T10:00:00Z",
                ]
            )
        case 52..<58:
            try await create(.task, ["account_id": account, "title": .string("Task \(tag)"), "status": "open"])
        case 58..<68:
            let tasks = try await known(.task)
            if let id = tasks.isEmpty ? nil : random.pick(tasks) {
                if random.chance(50) {
                    try await set(.task, id, ["status": .string(random.pick(["open", "done", "cancelled"]))])
                } else {
                    try await set(.task, id, ["title": .string("Title \(tag)")])
                }
            }
        case 68..<72:
            try await create(.deal, ["account_id": account, "title": .string("Deal \(tag)"), "stage": "new"])
        case 72..<80:
            let deals = try await known(.deal)
            if let id = deals.isEmpty ? nil : random.pick(deals) {
                if random.chance(60) {
                    try await set(.deal, id, ["stage": .string(random.pick(CRMSchema.dealStages))])
                } else {
                    try await set(.deal, id, ["amount": .integer(Int64(random.below(100_000)))])
                }
            }
        case 80..<94:
            let id = random.pick(stockIDs)
            let delta = Int64(random.below(5)) - 3
            guard delta != 0 else { return }
            try await replica.adjustCounter(.stock, id: id, by: delta)
            laptop.localChanges += 1
            ledger.stockDeltas[id, default: 0] += delta
            if config.sabotage == .reissueSale && !sabotageDone && laptop.index == 0 {
                // The broken client: the sale is made again under a new dot, as if the first had failed.
                try await replica.adjustCounter(.stock, id: id, by: delta)
                laptop.localChanges += 1
                sabotageDone = true
            }
        default:
            let entity = random.pick([EntityKind.contact, .task, .deal])
            let ids = try await known(entity)
            if let id = ids.isEmpty ? nil : random.pick(ids) {
                do {
                    try await replica.delete(entity, id: id)
                    laptop.localChanges += 1
                } catch let error as ReplicaError where error.rejection?.code == .notPermitted {
                    // A rep deletes only what they created (PRODUCT.md): the laptop refuses the others first.
                }
            }
        }
    }

    /// Every check of the issue; each returns a line per problem.
    static func check(laptops: [Laptop], auditor: Replica, ledger: Ledger) async throws -> [String] {
        var failures: [String] = []
        let entities: [EntityKind] = [.account, .contact, .activity, .task, .deal, .product, .stock]
        func canonical(_ replica: Replica) async throws -> [String] {
            var lines: [String] = []
            for entity in entities {
                for record in try await replica.records(entity, limit: 1_000_000).sorted(by: { $0.id < $1.id }) {
                    let values = record.values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                    lines.append("\(entity)/\(record.id): " + values.joined(separator: ";"))
                }
            }
            lines += try await replica.openConflicts().map { "conflict \($0.id)" }.sorted()
            return lines
        }
        let reference = try await canonical(auditor)
        for laptop in laptops {
            let lines = try await canonical(laptop.replica)
            if lines != reference, ProcessInfo.processInfo.environment["SIM_DEBUG"] != nil {
                for other in laptops {
                    for entry in try await other.replica.history(.account, id: RecordID("acc-2"))
                    where entry.field == "website" {
                        print(
                            "laptop \(other.index): \(entry.dot) \(entry.origin) \(entry.status ?? "-") \(entry.newValue.map { "\($0)" } ?? "nil") \(entry.timestamp)"
                        )
                    }
                    print("laptop \(other.index) conflicts: \(try await other.replica.openConflicts().map(\.id))")
                }
            }
            if lines != reference {
                let missing = Set(reference).subtracting(lines).sorted().prefix(3)
                let extra = Set(lines).subtracting(reference).sorted().prefix(3)
                failures.append(
                    "laptop \(laptop.index) differs from the server: missing \(Array(missing)), extra \(Array(extra))"
                )
            }
        }
        // Stock: the initial quantity plus every recorded delta, exactly.
        for id in stockIDs {
            let expected = initialStock + (ledger.stockDeltas[id] ?? 0)
            for (name, replica) in [("server", auditor)] + laptops.map({ ("laptop \($0.index)", $0.replica) }) {
                let quantity = try await replica.record(.stock, id: id)?["quantity"]?.integerValue
                if quantity != expected {
                    failures.append("\(name): stock \(id) is \(quantity ?? 0), expected \(expected)")
                }
            }
        }
        // Every activity ever created, exactly once, everywhere.
        for (name, replica) in [("server", auditor)] + laptops.map({ ("laptop \($0.index)", $0.replica) }) {
            let ids = try await replica.records(.activity, limit: 1_000_000).map(\.id)
            if ids.count != Set(ids).count || Set(ids) != ledger.activities {
                failures.append("\(name): \(ids.count) activities, expected exactly \(ledger.activities.count)")
            }
        }
        // Every value ever written is current, or kept in a conflict or in the history (checked on the last
        // laptop, which received every other laptop's change through pulls).
        let witness = laptops[laptops.count - 1].replica
        let conflicts = try await witness.openConflicts()
        var historyCache: [String: [HistoryEntry]] = [:]
        var lost = 0
        // Timestamps are stored normalised (milliseconds), so compare them as instants.
        func same(_ stored: FieldValue?, _ written: FieldValue) -> Bool {
            if stored == written { return true }
            if let a = stored?.stringValue, let b = written.stringValue, let x = ISO8601.parseTimestamp(a),
                let y = ISO8601.parseTimestamp(b)
            {
                return x == y
            }
            return false
        }
        for (entity, id, field, value) in ledger.values {
            if same(try await witness.record(entity, id: id)?[field], value) { continue }
            if conflicts.contains(where: {
                $0.recordID == id && $0.field == field && (same($0.loser.value, value) || same($0.winner.value, value))
            }) {
                continue
            }
            let key = "\(entity)/\(id)"
            if historyCache[key] == nil { historyCache[key] = try await witness.history(entity, id: id) }
            if historyCache[key]!.contains(where: { $0.field == field && $0.newValue.map { same($0, value) } == true })
            {
                continue
            }
            lost += 1
            if lost <= 3 {
                failures.append(
                    "value \(value) of \(entity) \(id).\(field) is neither current, nor in a conflict, nor in the history"
                )
            }
        }
        // No dot applied twice: each laptop applied exactly the changes the others made.
        let total = laptops.map(\.localChanges).reduce(0, +)
        for laptop in laptops where laptop.received != total - laptop.localChanges - laptop.inherited {
            failures.append(
                "laptop \(laptop.index) applied \(laptop.received) remote changes, expected "
                    + "\(total - laptop.localChanges - laptop.inherited)"
            )
        }
        return failures
    }
}

/// Sabotage: pushes of this laptop never arrive.
struct StuckTransport: SyncTransport {
    let inner: any SyncTransport
    func handshake(replicaID: ReplicaID?) async throws -> HandshakeResponse {
        try await inner.handshake(replicaID: replicaID)
    }
    func push(_ request: PushRequest) async throws -> PushResponse { throw FaultyNetwork.lost }
    func pull(replicaID: ReplicaID, cursor: String?, limit: Int) async throws -> PullResponse {
        try await inner.pull(replicaID: replicaID, cursor: cursor, limit: limit)
    }
    func snapshot(replicaID: ReplicaID, after: String?, cursor: String?, limit: Int) async throws -> SnapshotResponse {
        try await inner.snapshot(replicaID: replicaID, after: after, cursor: cursor, limit: limit)
    }
}

/// When a seed's deployment event happens, and doing it.
struct EventPlan {
    let event: DeploymentEvent
    /// Server rollback: the step of the backup and the step of the restore (k operations later).
    var backupAt = -1
    var restoreAt = -1
    /// Cloned replica: the step of the copy.
    var cloneAt = -1
    var backupPath: String?

    init(_ event: DeploymentEvent, steps: Int, random: inout SeededGenerator) {
        self.event = event
        switch event {
        case .none: break
        case .serverRollback:
            backupAt = steps / 4 + Int(random.below(UInt64(max(1, steps / 4))))
            restoreAt = backupAt + 20 + Int(random.below(UInt64(max(1, steps / 4))))
        case .clonedReplica:
            cloneAt = steps / 4 + Int(random.below(UInt64(max(1, steps / 2))))
        }
    }

    mutating func perform(
        at step: Int,
        storage: some ChangeStorage,
        folder: URL,
        clock: SimulatedClock,
        laptops: inout [Simulation.Laptop],
        make: (Simulation.Laptop, Int) async throws -> Simulation.Laptop,
        result: inout SeedResult
    ) async throws {
        if step == backupAt, let sqlite = storage as? SQLiteChangeStorage {
            let path = folder.appendingPathComponent("server-backup.sqlite").path
            try await sqlite.backup(to: path)
            backupPath = path
        }
        if step == restoreAt, let sqlite = storage as? SQLiteChangeStorage, let backupPath {
            try await sqlite.restore(from: backupPath)
            try await SyncService(storage: storage).markRestored(now: clock.now())
            result.events["server rollback", default: 0] += 1
            result.events["operations rolled back", default: 0] += restoreAt - backupAt
        }
        if step == cloneAt {
            let source = laptops[step % laptops.count]
            laptops.append(try await make(source, laptops.count + 1))
            result.events["cloned replica", default: 0] += 1
        }
    }
}
