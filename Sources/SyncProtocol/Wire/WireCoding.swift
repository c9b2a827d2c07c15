#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// The one place that sets how wire messages are encoded and decoded, so every part of the product writes the
/// same bytes: snake_case keys spelled out in each type's `CodingKeys`, keys sorted (stable output for vectors
/// and tests), no floating point anywhere, dates as ISO 8601 UTC strings.
public enum WireCoding {
    /// Encodes a wire message. Fails only for values that cannot be encoded at all, which our types never are.
    public static func encode(_ value: some Encodable) throws(WireFormatError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return try encoder.encode(value)
        } catch {
            throw WireFormatError(.malformedPayload, "cannot encode \(type(of: value)): \(error)")
        }
    }

    /// Decodes a message that carries `protocol_version`, checking the version first so a message from a newer
    /// peer gets ``WireFormatError/Code/unsupportedVersion`` rather than a confusing shape error.
    public static func decodeMessage<Message: Decodable>(
        _ type: Message.Type,
        from data: Data
    ) throws(WireFormatError) -> Message {
        // The bytes are scanned once (StrictJSON), not once per decode.
        try StrictJSON.check(data)
        try WireVersion.check(try decodeScanned(VersionProbe.self, from: data).protocolVersion)
        return try decodeScanned(type, from: data)
    }

    /// Decodes a snapshot page: with the direct reader (``SnapshotReader``) when the page is what it expects, with
    /// `JSONDecoder` otherwise, so the checks and error messages are those of ``decodeMessage(_:from:)``.
    public static func decodeSnapshotPage(from data: Data) throws(WireFormatError) -> SnapshotResponse {
        try StrictJSON.check(data)
        if let page = data.withUnsafeBytes({ SnapshotReader.read($0) }) {
            try WireVersion.check(page.protocolVersion)
            return page
        }
        try WireVersion.check(try decodeScanned(VersionProbe.self, from: data).protocolVersion)
        return try decodeScanned(SnapshotResponse.self, from: data)
    }

    /// Decodes any wire value; the error names the JSON path and what was wrong there. Numbers that are not
    /// integer literals within 64 bits and duplicate keys are refused first (``StrictJSON``), wherever they are.
    public static func decode<Value: Decodable>(_ type: Value.Type, from data: Data) throws(WireFormatError) -> Value {
        try StrictJSON.check(data)
        return try decodeScanned(type, from: data)
    }

    /// Decodes bytes that ``StrictJSON`` has already checked.
    private static func decodeScanned<Value: Decodable>(
        _ type: Value.Type,
        from data: Data
    ) throws(WireFormatError)
        -> Value
    {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as DecodingError {
            throw describe(error)
        } catch let error as WireFormatError {
            // Thrown by a message's own decoding (a version check before its other fields).
            throw error
        } catch {
            throw WireFormatError(.malformedPayload, "not valid JSON")
        }
    }

    private struct VersionProbe: Decodable {
        var protocolVersion: Int?
        enum CodingKeys: String, CodingKey { case protocolVersion = "protocol_version" }
    }

    static func describe(_ error: DecodingError) -> WireFormatError {
        switch error {
        case .keyNotFound(let key, let context):
            return WireFormatError(.malformedPayload, "\(path(context.codingPath + [key])): required key is missing")
        case .typeMismatch(let type, let context):
            return WireFormatError(.malformedPayload, "\(path(context.codingPath)): expected \(typeName(type))")
        case .valueNotFound(let type, let context):
            return WireFormatError(
                .malformedPayload,
                "\(path(context.codingPath)): expected \(typeName(type)), got null"
            )
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                return WireFormatError(.malformedPayload, "not valid JSON")
            }
            let code: WireFormatError.Code =
                context.debugDescription == StrictJSON.numberRule || context.debugDescription.hasPrefix("unknown op")
                ? .invalidValue : .malformedPayload
            return WireFormatError(code, "\(path(context.codingPath)): \(context.debugDescription)")
        @unknown default:
            return WireFormatError(.malformedPayload, "malformed message")
        }
    }

    /// `changes[3].dot.counter`
    static func path(_ keys: [any CodingKey]) -> String {
        var text = ""
        for key in keys {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return text.isEmpty ? "(top level)" : text
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type, is UInt64.Type, is UInt32.Type: "an integer"
        case is Bool.Type: "a boolean"
        case is [Any].Type: "an array"
        default: "an object"
        }
    }
}
