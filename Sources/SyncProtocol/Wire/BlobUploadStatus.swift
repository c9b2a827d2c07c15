import Foundation

/// The wire types of the content exchange (PROTOCOL.md §10).

/// Where an upload stands (`GET /v1/blobs/{digest}/upload`, and the answer to each chunk).
public struct BlobUploadStatus: Codable, Sendable, Hashable {
    public var protocolVersion: Int = WireVersion.current
    public var digest: String
    public var size: Int64
    /// Bytes the server has of it; the next chunk starts here.
    public var received: Int64
    /// Whether the content is stored (checked against its digest); nothing more to send.
    public var complete: Bool
    /// The largest content this server takes.
    public var maxBytes: Int64

    enum CodingKeys: String, CodingKey {
        case digest, size, received, complete
        case maxBytes = "max_bytes"
        case protocolVersion = "protocol_version"
    }

    public init(digest: String, size: Int64, received: Int64, complete: Bool, maxBytes: Int64) {
        self.digest = digest
        self.size = size
        self.received = received
        self.complete = complete
        self.maxBytes = maxBytes
    }
}

/// Sizes as people read them.
public enum ByteCount {
    public static func describe(_ bytes: Int64) -> String {
        if bytes < 1024 { return "\(bytes) bytes" }
        if bytes < 1024 * 1024 { return String(format: "%.0f KB", Double(bytes) / 1024) }
        return String(format: "%.1f MB", Double(bytes) / 1_048_576)
    }
}

/// Limits and rules of the content exchange both sides follow.
public enum BlobExchange {
    /// The largest chunk of an upload, and of one ranged download answer the client asks for.
    public static let maxChunkBytes = 4 * 1024 * 1024

    /// Whether a content of `mediaType` is already compressed (images, PDF, Office's zip formats, archives,
    /// audio and video): gzip is not applied to it in either direction, it would only cost time.
    public static func isCompressed(_ mediaType: String?) -> Bool {
        guard let type = mediaType?.lowercased().split(separator: ";").first.map(String.init) else { return false }
        if type.hasPrefix("image/") && type != "image/svg+xml" && type != "image/bmp" { return true }
        if type.hasPrefix("audio/") || type.hasPrefix("video/") { return true }
        if type.hasPrefix("application/vnd.openxmlformats-") || type.hasPrefix("application/vnd.oasis.opendocument") {
            return true
        }
        return [
            "application/pdf", "application/zip", "application/gzip", "application/x-gzip",
            "application/x-7z-compressed",
            "application/x-bzip2", "application/x-xz", "application/zstd", "application/x-rar-compressed",
            "application/vnd.rar", "application/epub+zip", "application/java-archive",
        ].contains(type)
    }

    /// The media type of a file by its extension, for `document add` (application/octet-stream when unknown).
    public static func mediaType(forFileName name: String) -> String {
        let ext = name.split(separator: ".").last.map { $0.lowercased() } ?? ""
        let types: [String: String] = [
            "pdf": "application/pdf", "doc": "application/msword", "xls": "application/vnd.ms-excel",
            "ppt": "application/vnd.ms-powerpoint",
            "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "odt": "application/vnd.oasis.opendocument.text", "ods": "application/vnd.oasis.opendocument.spreadsheet",
            "txt": "text/plain", "csv": "text/csv", "rtf": "application/rtf", "html": "text/html", "htm": "text/html",
            "xml": "application/xml", "json": "application/json", "eml": "message/rfc822", "jpg": "image/jpeg",
            "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp", "tif": "image/tiff",
            "tiff": "image/tiff", "heic": "image/heic", "svg": "image/svg+xml", "zip": "application/zip",
            "gz": "application/gzip", "md": "text/markdown",
        ]
        return types[ext] ?? "application/octet-stream"
    }
}
