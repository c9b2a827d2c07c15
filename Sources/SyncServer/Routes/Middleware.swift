import Foundation
import Hummingbird
import Logging
import NIOCore
import SyncProtocol

/// Turns every error into the JSON error body: ours with their status, Hummingbird's (404, 405, 413…) with theirs,
/// anything else a 500 whose details go to the log only.
struct JSONErrorMiddleware: RouterMiddleware {
    typealias Context = SyncRequestContext
    /// The served routes, for 405 with `Allow` on a known path asked with another method.
    let routes: RouteTable

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as SyncServerError {
            return SyncServerError.jsonResponse(status: error.status, code: error.code.rawValue, message: error.message)
        } catch let error as NIOTooManyBytesError {
            _ = error
            return SyncServerError.jsonResponse(
                status: .contentTooLarge,
                code: "payload_too_large",
                message: "the request body is too large"
            )
        } catch let error as HTTPError {
            if error.status == .notFound {
                let allowed = routes.allowedMethods(at: request.uri.path)
                if !allowed.isEmpty {
                    var response = SyncServerError.jsonResponse(
                        status: .methodNotAllowed,
                        code: "method_not_allowed",
                        message:
                            "\(request.method) is not allowed on \(request.uri.path); use \(allowed.joined(separator: ", "))"
                    )
                    response.headers[.allow] = allowed.joined(separator: ", ")
                    return response
                }
            }
            let code: String =
                switch error.status {
                case .notFound: "not_found"
                case .methodNotAllowed: "method_not_allowed"
                case .contentTooLarge: "payload_too_large"
                case .badRequest: "malformed_payload"
                case .unauthorized: "unauthorized"
                default: "http_\(error.status.code)"
                }
            let message =
                error.status == .notFound
                ? "no route \(request.method) \(request.uri.path)" : (error.body ?? error.status.reasonPhrase)
            return SyncServerError.jsonResponse(status: error.status, code: code, message: message)
        } catch {
            context.logger.error("Request failed", metadata: ["error.type": "\(type(of: error))"])
            return SyncServerError.jsonResponse(
                status: .internalServerError,
                code: "internal_error",
                message: "internal error"
            )
        }
    }
}

/// Resolves the bearer token of `/v1` requests to a user; refuses missing, unknown and revoked tokens. The token
/// is never logged.
struct AuthMiddleware<Storage: ChangeStorage>: RouterMiddleware {
    typealias Context = SyncRequestContext
    let storage: Storage
    let service: SyncService
    let now: @Sendable () -> Int64

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "), header.count > 7 else {
            context.logger.notice("Denied", metadata: ["http.path": "\(request.uri.path)", "error.code": "no_token"])
            throw SyncServerError(.unauthorized, "send a bearer token: Authorization: Bearer crm_…")
        }
        let token = String(header.dropFirst("Bearer ".count)).trimmingCharacters(in: .whitespaces)
        let hash = Tokens.hash(token)
        guard let user = try await storage.user(tokenHash: hash), !user.isRevoked else {
            // A token IT revoked with --wipe: the laptop that holds it is told to delete its data (and the telling
            // is audited). Any other unknown or revoked token is the same plain 401.
            if let owner = try await service.wipeOrdered(tokenHash: hash) {
                context.logger.notice(
                    "Denied: wipe ordered",
                    metadata: [
                        "sync.user": "\(owner)", "http.path": "\(request.uri.path)", "error.code": "wipe_requested",
                    ]
                )
                try? await service.audit(actor: "server", action: "user.wipe_told", target: owner, now: now())
                throw SyncServerError(
                    .wipeRequested,
                    "IT reported this laptop lost and revoked its access: delete the local CRM data and the token"
                )
            }
            context.logger.notice(
                "Denied",
                metadata: ["http.path": "\(request.uri.path)", "error.code": "unauthorized"]
            )
            throw SyncServerError(.unauthorized, "the token is unknown or revoked; ask IT for a new one")
        }
        var context = context
        context.user = user
        context.logger[metadataKey: "sync.user"] = .string(user.name)
        do {
            return try await next(request, context)
        } catch let error as SyncServerError where error.status == .forbidden || error.status == .notFound {
            // Every refusal of a signed-in user is in the log: who, what, why (never the record's data).
            context.logger.notice(
                "Denied",
                metadata: [
                    "http.method": "\(request.method)", "http.path": "\(request.uri.path)",
                    "http.status": "\(error.status.code)", "error.code": "\(error.code)",
                ]
            )
            throw error
        }
    }
}

/// Lets only admins through.
struct AdminOnlyMiddleware: RouterMiddleware {
    typealias Context = SyncRequestContext

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        guard context.user?.role == .admin else { throw SyncServerError(.forbidden, "this needs an admin token") }
        return try await next(request, context)
    }
}
