import Foundation
import SyncProtocol

/// Any JSON value, as the scenario files hold them (steps, field values, raw changes).
enum JSONValue: Hashable, Sendable, Codable, CustomStringConvertible {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    var bool: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    var array: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    var object: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// The value as a record field value; nil for numbers with a fraction, arrays and objects.
    var fieldValue: FieldValue? {
        switch self {
        case .null: .null
        case .bool(let value): .bool(value)
        case .integer(let value): .integer(value)
        case .string(let value): .string(value)
        case .number, .array, .object: nil
        }
    }

    init(_ value: FieldValue) {
        switch value {
        case .null: self = .null
        case .bool(let flag): self = .bool(flag)
        case .integer(let number): self = .integer(number)
        case .string(let text): self = .string(text)
        }
    }

    /// Compact JSON text with sorted keys, for messages and for comparing.
    var description: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
    }

    /// Replaces every string `$alias` (anywhere inside) by what `resolve` returns for it.
    /// `plan-{$anna}-2026-11`: each `{$name}` inside a longer string resolved like a whole `$name`.
    static func interpolating(_ text: String, _ resolve: (String) throws -> String) rethrows -> String {
        var result = ""
        var rest = Substring(text)
        while let open = rest.range(of: "{$"), let close = rest[open.upperBound...].firstIndex(of: "}") {
            result += rest[..<open.lowerBound]
            result += try resolve(String(rest[open.upperBound..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return result + rest
    }

    func resolving(_ resolve: (String) throws -> String) rethrows -> JSONValue {
        switch self {
        case .string(let text) where text.hasPrefix("$"): .string(try resolve(String(text.dropFirst())))
        case .string(let text) where text.contains("{$"): .string(try Self.interpolating(text, resolve))
        case .array(let items): .array(try items.map { try $0.resolving(resolve) })
        case .object(let members): .object(try members.mapValues { try $0.resolving(resolve) })
        default: self
        }
    }
}
