import Foundation
import ReplicaStore
import SyncClient
import SyncProtocol
import Synchronization

/// A network fault a scenario asks for on one sync.
enum ScriptedFault: String, Sendable {
    /// The first push reaches the server and is committed, but its answer is lost.
    case losePushAnswer = "lose_push_answer"
    /// Every push is sent twice, one after the other; the laptop gets the second answer.
    case duplicatePush = "duplicate_push"
    /// Every push is sent twice at the same time; the laptop gets the first answer.
    case parallelDuplicatePush = "parallel_duplicate_push"
}

/// The laptop's transport: the real HTTP client, with the token replaceable (a new token from IT) and the faults a
/// scenario scripts.
final class ScriptedTransport: SyncTransport {
    private struct State {
        var inner: HTTPSyncTransport
        var fault: ScriptedFault?
        var retired: [HTTPSyncTransport] = []
    }
    private let state: Mutex<State>

    init(_ inner: HTTPSyncTransport) { state = Mutex(State(inner: inner)) }

    var inner: HTTPSyncTransport { state.withLock { $0.inner } }

    func setFault(_ fault: ScriptedFault?) { state.withLock { $0.fault = fault } }

    func replace(with transport: HTTPSyncTransport) {
        state.withLock {
            $0.retired.append($0.inner)
            $0.inner = transport
        }
    }

    func shutdown() async {
        let all = state.withLock { [$0.inner] + $0.retired }
        for transport in all { try? await transport.shutdown() }
    }

    func handshake(replicaID: ReplicaID?) async throws -> HandshakeResponse {
        try await inner.handshake(replicaID: replicaID)
    }

    func registerReplica() async throws -> ReplicaID? { try await inner.registerReplica() }

    func accountHistory(_ account: RecordID) async throws -> [Change]? {
        try await state.withLock { $0.inner }.accountHistory(account)
    }

    func push(_ request: PushRequest) async throws -> PushResponse {
        let (inner, fault) = state.withLock { state in
            let fault = state.fault
            if fault == .losePushAnswer { state.fault = nil }
            return (state.inner, fault)
        }
        switch fault {
        case .losePushAnswer:
            _ = try await inner.push(request)
            throw SyncClientError(.unreachable, "the answer to the push was lost (scripted fault)", isTransient: true)
        case .duplicatePush:
            _ = try await inner.push(request)
            return try await inner.push(request)
        case .parallelDuplicatePush:
            async let first = inner.push(request)
            async let second = inner.push(request)
            let answer = try await first
            _ = try await second
            return answer
        case nil:
            return try await inner.push(request)
        }
    }

    func pull(replicaID: ReplicaID, cursor: String?, limit: Int) async throws -> PullResponse {
        try await inner.pull(replicaID: replicaID, cursor: cursor, limit: limit)
    }

    func snapshot(replicaID: ReplicaID, after: String?, cursor: String?, limit: Int) async throws -> SnapshotResponse {
        try await inner.snapshot(replicaID: replicaID, after: after, cursor: cursor, limit: limit)
    }
}

/// A laptop clock's offset from the real clock, in milliseconds (a scenario sets it a year ahead).
final class ClockOffset: Sendable {
    private let milliseconds: Mutex<Int64>
    init(_ milliseconds: Int64) { self.milliseconds = Mutex(milliseconds) }
    var value: Int64 {
        get { milliseconds.withLock { $0 } }
        set { milliseconds.withLock { $0 = newValue } }
    }
    /// The laptop's idea of now.
    @Sendable func now() -> Int64 { ReplicaConfiguration.systemNow() + value }
}

/// One simulated laptop: a real replica file, the real sync engine, a clock that can be set off.
final class Laptop {
    let name: String
    let user: String
    let replica: Replica
    let transport: ScriptedTransport
    let offset: ClockOffset

    /// A laptop whose replica id the server registered (`POST /v1/replicas`), as `crm-field init` makes one.
    init(
        name: String,
        user: String,
        path: String,
        transport: ScriptedTransport,
        offsetMilliseconds: Int64,
        replicaID: ReplicaID?
    ) throws {
        self.name = name
        self.user = user
        self.transport = transport
        let offset = ClockOffset(offsetMilliseconds)
        self.offset = offset
        replica = try Replica(path: path, configuration: ReplicaConfiguration(now: offset.now), newReplicaID: replicaID)
    }

    func engine(retries: Int = 2, pushBatch: Int = 1_000) -> SyncEngine {
        SyncEngine(
            replica: replica,
            transport: transport,
            options: SyncOptions(
                pushBatch: pushBatch,
                pageSize: 500,
                snapshotPageSize: 500,
                retries: retries,
                backoff: .milliseconds(20),
                maxBackoff: .milliseconds(200)
            ),
            now: offset.now
        )
    }
}
