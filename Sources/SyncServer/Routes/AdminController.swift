import Foundation
import Hummingbird
import SyncProtocol

/// `/v1/admin/…` for admin tokens: users, territories, imports and stats, what the admin subcommands do, for remote
/// IT tooling.
struct AdminController: Sendable {
    let service: SyncService
    let configuration: ServerConfiguration
    let now: @Sendable () -> Int64

    var storage: any ChangeStorage { service.storage }

    struct NewUser: Decodable {
        var name: String
        var role: Role
        var territories: [String]?

        enum CodingKeys: String, CodingKey { case name, role, territories }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            role = try container.decode(Role.self, forKey: .role)
            // Absent means none; `null` is not a list (openapi.yaml: an array when present).
            territories =
                container.contains(.territories)
                ? try container.decode([String].self, forKey: .territories) : nil
        }
    }

    struct TerritoryAssignment: Decodable {
        var accountID: String
        var territory: String
        enum CodingKeys: String, CodingKey {
            case accountID = "account_id"
            case territory
        }
    }

    struct IssuedToken: Encodable {
        var name: String
        var token: String
    }

    var routes: RouteCollection<SyncRequestContext> {
        let routes = RouteCollection(context: SyncRequestContext.self)
        routes.get("users", use: listUsers)
        routes.post("users", use: addUser)
        routes.post("users/:name/revoke", use: revokeUser)
        routes.post("users/:name/token", use: issueToken)
        routes.post("territory", use: assignTerritory)
        routes.post("import/:kind", use: importFile)
        routes.get("stats", use: stats)
        return routes
    }

    @Sendable func listUsers(_ request: Request, context: SyncRequestContext) async throws -> Response {
        try jsonResponse(["users": try await storage.users()])
    }

    @Sendable func addUser(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let body = try await decodeBody(NewUser.self, from: request, configuration: configuration)
        guard User.isValidName(body.name) else {
            throw SyncServerError(.invalidValue, "a user name is 1 to 64 of A-Z a-z 0-9 . _ - @")
        }
        let issued = Tokens.generate()
        try await service.addUser(
            User(name: body.name, role: body.role, territories: body.territories ?? []),
            tokenHash: issued.hash,
            actor: actor(context),
            now: now()
        )
        return try jsonResponse(IssuedToken(name: body.name, token: issued.token), status: .created)
    }

    @Sendable func revokeUser(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let name = try context.parameters.require("name")
        let wipe = try Self.flag("wipe", of: request)
        try await service.revokeUser(named: name, wipe: wipe, actor: actor(context), now: now())
        return try jsonResponse(["name": name, "status": wipe ? "revoked; the laptop will be wiped" : "revoked"])
    }

    @Sendable func issueToken(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let name = try context.parameters.require("name")
        let issued = Tokens.generate()
        try await service.setToken(named: name, tokenHash: issued.hash, actor: actor(context), now: now())
        return try jsonResponse(IssuedToken(name: name, token: issued.token))
    }

    @Sendable func assignTerritory(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let body = try await decodeBody(TerritoryAssignment.self, from: request, configuration: configuration)
        let moved = try await service.assignTerritory(
            account: RecordID(body.accountID),
            territory: body.territory,
            actor: actor(context),
            now: now()
        )
        return try jsonResponse(moved)
    }

    @Sendable func importFile(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let kindName = try context.parameters.require("kind")
        guard let kind = ImportKind(rawValue: kindName) else {
            throw SyncServerError(
                .notFound,
                "import products, stock, invoices or accounts (got '\(kindName.prefix(32))')"
            )
        }
        // The body is the CSV file as accounting exported it (text/csv, any charset parameter); anything else is
        // refused before it is read.
        let mediaType = request.headers[.contentType].map {
            $0.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        }
        guard mediaType == "text/csv" else {
            throw SyncServerError(
                .unsupportedMediaType,
                "send the CSV file with Content-Type: text/csv (got \(mediaType.map { "'\($0.prefix(40))'" } ?? "none"))"
            )
        }
        let dryRun = try Self.flag("dry_run", of: request)
        let buffer = try await readBody(
            request,
            maxBytes: configuration.maxBodyBytes,
            deadlineSeconds: configuration.requestDeadlineSeconds,
            stallSeconds: configuration.bodyStallSeconds
        )
        let report = try await service.importCSV(
            kind,
            data: Data(buffer.readableBytesView),
            actor: actor(context),
            now: now(),
            dryRun: dryRun
        )
        return try jsonResponse(report)
    }

    /// A boolean query parameter: absent or `false` is false, `true` is true, anything else a 400 (openapi.yaml).
    static func flag(_ name: String, of request: Request) throws -> Bool {
        switch request.uri.queryParameters[Substring(name)].map(String.init) {
        case nil, "false": return false
        case "true": return true
        case let other?: throw SyncServerError(.malformed, "\(name) must be true or false (got '\(other.prefix(20))')")
        }
    }

    /// Who the audit log names for a request: the signed-in admin.
    func actor(_ context: SyncRequestContext) -> String { context.user?.name ?? "unknown" }

    @Sendable func stats(_ request: Request, context: SyncRequestContext) async throws -> Response {
        try jsonResponse(try await SyncService(storage: storage).stats())
    }
}
