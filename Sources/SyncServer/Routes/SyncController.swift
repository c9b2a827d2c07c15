import Foundation
import Hummingbird
import Logging
import NIOCore
import SyncProtocol

/// `GET /v1/handshake`, `POST /v1/push`, `GET /v1/pull`, `GET /v1/snapshot`: the sync API of any token.
struct SyncController: Sendable {
    let service: SyncService
    let configuration: ServerConfiguration
    let metrics: ServerMetrics
    let now: @Sendable () -> Int64

    var routes: RouteCollection<SyncRequestContext> {
        let routes = RouteCollection(context: SyncRequestContext.self)
        routes.get("handshake", use: handshake)
        routes.post("push", use: push)
        routes.get("pull", use: pull)
        routes.get("snapshot", use: snapshot)
        routes.get("history", use: history)
        routes.post("replicas", use: registerReplica)
        return routes
    }

    @Sendable func handshake(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let user = try context.requireUser()
        var answer = HandshakeResponse(
            user: user.name,
            role: user.role.rawValue,
            territories: user.territories,
            serverTime: ISO8601.format(millisecondsSince1970: now()),
            maxClockAheadMilliseconds: configuration.maxClockAheadMilliseconds
        )
        answer.logID = try await service.logPosition().logID
        answer.serverVersion = ServerVersion.current
        if let replicaText = request.uri.queryParameters["replica_id"].map(String.init) {
            guard ReplicaID.isValid(replicaText) else {
                throw SyncServerError(.malformed, "replica_id is not a replica id")
            }
            answer.replica = try await service.replicaStatus(ReplicaID(unchecked: replicaText), user: user, now: now())
        }
        return try jsonResponse(answer)
    }

    @Sendable func push(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let push = try await decodeBody(PushRequest.self, from: request, configuration: configuration)
        guard push.changes.count <= configuration.maxChangesPerPush else {
            throw SyncServerError(
                .tooMany,
                "\(push.changes.count) changes in one push; send at most \(configuration.maxChangesPerPush)"
            )
        }
        let summary = try await service.push(
            push.changes,
            replica: push.replicaID,
            user: user,
            now: now(),
            maxClockAhead: configuration.maxClockAheadMilliseconds,
            cursor: push.cursor,
            handOffGrace: configuration.handOffGraceMilliseconds
        )
        let results = summary.results
        // A change refused for who sent it (another territory, another author, a role's limit, the server's own
        // data) is a denial like a refused request: each one is in the log, with the record's id, never its data.
        let denialCodes: Set<ChangeRejection.Code> = [.outOfScope, .wrongAuthor, .notPermitted, .serverOwned]
        for (change, result) in zip(push.changes, results) {
            guard let rejection = result.rejection, denialCodes.contains(rejection.code) else { continue }
            context.logger.notice(
                "Denied change",
                metadata: [
                    "sync.replica": "\(push.replicaID)", "sync.entity": "\(change.entity)",
                    "sync.record": "\(change.recordID)", "error.code": "\(rejection.code)",
                ]
            )
        }
        metrics.pushed(
            Dictionary(grouping: results, by: \.status).mapValues(\.count),
            rejectionCodes: Dictionary(grouping: results.compactMap(\.rejection?.code.rawValue), by: { $0 })
                .mapValues(\.count),
            conflicts: summary.conflicts
        )
        context.logger.info(
            "Push",
            metadata: [
                "sync.replica": "\(push.replicaID)",
                "sync.changes.in": "\(push.changes.count)",
                "sync.changes.rejected": "\(results.filter { $0.status == .rejected }.count)",
            ]
        )
        return try jsonResponse(
            PushResponse(results: results, serverTime: ISO8601.format(millisecondsSince1970: now())),
            for: request
        )
    }

    @Sendable func pull(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let query = request.uri.queryParameters
        guard let replicaText = query["replica_id"].map(String.init), ReplicaID.isValid(replicaText) else {
            throw SyncServerError(.malformed, "replica_id is missing or not a replica id")
        }
        let replica = ReplicaID(unchecked: replicaText)
        let limit = try pageLimit(query["limit"].map(String.init))
        let pending = try query["pending"].map { text -> Int in
            guard let count = Int(String(text)), count >= 0 else {
                throw SyncServerError(.malformed, "pending must be a count of changes (0 or more)")
            }
            return count
        }
        let page = try await service.pull(
            user: user,
            replica: replica,
            cursor: query["cursor"].map(String.init),
            limit: limit,
            now: now(),
            pending: pending
        )
        metrics.pulled(page.changes.count)
        return jsonResponse(bytes: ByteBuffer(bytes: try page.responseJSON()), for: request)
    }

    @Sendable func snapshot(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let query = request.uri.queryParameters
        let limit = try pageLimit(query["limit"].map(String.init))
        if let replicaText = query["replica_id"].map(String.init) {
            guard ReplicaID.isValid(replicaText) else {
                throw SyncServerError(.malformed, "replica_id is not a replica id")
            }
            try await service.claim(ReplicaID(unchecked: replicaText), for: user, now: now())
        }
        // The cursor of a paged snapshot is the one of its first page, which the client sends back (checked).
        let page = try await service.snapshot(
            user: user,
            after: query["after"].map(String.init),
            cursor: query["cursor"].flatMap { $0.isEmpty ? nil : String($0) },
            limit: limit
        )
        // Written directly (`RecordState.wireJSON`): the same JSON as `SnapshotResponse`'s encoder writes, at a
        // fraction of the cost for the thousands of records of a page.
        var out: [UInt8] = []
        out.reserveCapacity(page.records.count * 1_400 + 256)
        out += Array(#"{"cursor":"#.utf8)
        out += try WireCoding.encode(page.cursorText)
        out += Array(#","has_more":"#.utf8)
        out += Array((page.next != nil ? "true" : "false").utf8)
        if let next = page.next {
            out += Array(#","next":"#.utf8)
            out += try WireCoding.encode(next)
        }
        out += Array(#","protocol_version":"#.utf8)
        out += Array(String(WireVersion.current).utf8)
        out += Array(#","records":["#.utf8)
        for (index, record) in page.records.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out += record.wireJSON
        }
        out.append(UInt8(ascii: "]"))
        if let total = page.total { out += Array(#","total":\#(total)"#.utf8) }
        out.append(UInt8(ascii: "}"))
        return jsonResponse(bytes: ByteBuffer(bytes: out), for: request)
    }

    /// `GET /v1/history?account=ID`: every logged change of the account and what hangs off it, in log order.
    @Sendable func history(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let user = try context.requireUser()
        guard let text = request.uri.queryParameters["account"].map(String.init), !text.isEmpty,
            RecordID.isValid(text)
        else {
            throw SyncServerError(.malformed, "account must be an account id")
        }
        let changes = try await service.accountHistory(user: user, account: RecordID(text))
        var out: [UInt8] = []
        out.reserveCapacity(changes.reduce(128) { $0 + $1.json.count + 1 })
        out += Array(#"{"account":"#.utf8)
        out += try WireCoding.encode(text)
        out += Array(#","changes":"#.utf8)
        LoggedChange.appendArray(changes, to: &out)
        out += Array(#","protocol_version":"#.utf8)
        out += Array(String(WireVersion.current).utf8)
        out.append(UInt8(ascii: "}"))
        return jsonResponse(bytes: ByteBuffer(bytes: out), for: request)
    }

    /// `POST /v1/replicas`: a new laptop's replica id, made by the server and bound to the caller.
    @Sendable func registerReplica(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let user = try context.requireUser()
        _ = try await decodeBody(ReplicaRegistrationRequest.self, from: request, configuration: configuration)
        let id = try await service.registerReplica(user: user, now: now())
        var response = try jsonResponse(ReplicaRegistration(replicaID: id, user: user.name))
        response.status = .created
        return response
    }

    /// The `limit` query parameter of pull and snapshot: 1 to the configured maximum, the default when absent.
    func pageLimit(_ text: String?) throws -> Int {
        guard let text else { return PullRequest.defaultLimit }
        guard let value = Int(text), (1...configuration.maxPullLimit).contains(value) else {
            throw SyncServerError(.malformed, "limit must be between 1 and \(configuration.maxPullLimit)")
        }
        return value
    }
}

extension SyncRequestContext {
    func requireUser() throws -> User {
        guard let user else { throw SyncServerError(.unauthorized, "send a bearer token") }
        return user
    }
}
