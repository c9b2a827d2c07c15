import Foundation
public import Hummingbird
import SyncProtocol

/// The one place that maps error codes to HTTP statuses.
extension SyncServerError: HTTPResponseError {
    public var status: HTTPResponse.Status {
        switch code {
        case .malformed, .invalidValue, .unknownCursor, .wrongOffset, .digestMismatch: .badRequest
        case .unauthorized, .wipeRequested: .unauthorized
        case .forbidden, .reservedReplica, .foreignReplica: .forbidden
        case .notFound, .notUploaded: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .unsupportedVersion, .conflict: .conflict
        case .tooLarge: .contentTooLarge
        case .tooMany: .tooManyRequests
        case .unsupportedMediaType: .unsupportedMediaType
        case .unavailable: .serviceUnavailable
        case .storageFull: HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage")
        case .timeout: .requestTimeout
        default: .internalServerError
        }
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        Self.jsonResponse(status: status, code: code.rawValue, message: message)
    }

    static func jsonResponse(status: HTTPResponse.Status, code: String, message: String) -> Response {
        let body = (try? WireCoding.encode(ErrorResponse(code: code, message: message))) ?? Data("{}".utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}
