import CompressNIO
import Foundation
import Hummingbird
import NIOCore
import SyncProtocol

/// A JSON response: the body encoded with the wire encoder, gzipped when the client accepts gzip and the body is
/// worth it.
func jsonResponse(
    _ value: some Encodable,
    status: HTTPResponse.Status = .ok,
    for request: Request? = nil
) throws
    -> Response
{
    jsonResponse(bytes: ByteBuffer(bytes: try WireCoding.encode(value)), status: status, for: request)
}

/// zlib's fastest level for big bodies (snapshot pages of several MB): about three times faster than the default
/// level for a few percent more bytes, so a first download waits for the network rather than for gzip.
private let fastGzip = CompressionAlgorithm.gzip(configuration: .init(compressionLevel: .fastestCompression))

/// A JSON response from bytes already in the wire encoding (a pull page written from the log).
func jsonResponse(bytes buffer: ByteBuffer, status: HTTPResponse.Status = .ok, for request: Request? = nil) -> Response
{
    var headers = HTTPFields()
    headers[.contentType] = "application/json"
    var buffer = buffer
    if let request, buffer.readableBytes > 1024, request.headers[.acceptEncoding]?.contains("gzip") == true,
        let compressed = try? buffer.compress(with: buffer.readableBytes > 512 * 1024 ? fastGzip : .gzip())
    {
        headers[.contentEncoding] = "gzip"
        buffer = compressed
    }
    return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: buffer))
}
