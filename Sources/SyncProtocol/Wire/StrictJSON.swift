#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// The checks a wire message passes before it is decoded, for what JSON parsers let through silently
/// (PROTOCOL.md §7, "Numbers and keys"):
///
/// - every number is an **integer literal** (`-?(0|[1-9][0-9]*)`, no fraction, no exponent) within a signed
///   64-bit integer: `1500.0`, `1e3`, `-0.0`, `12.5` and `9223372036854775808` are all refused, with one code
///   (`invalid_value`) and one message, wherever they are;
/// - no object has the same key twice (`{"delta": -1, "delta": -40}` is refused, never "first wins");
/// - nesting is at most ``maximumDepth`` deep.
///
/// One pass over the bytes, no allocation for keys of small objects. It does not replace the decoder's checks of
/// JSON syntax: it stops at the first syntax error it meets and leaves that to the decoder's message.
public enum StrictJSON {
    /// Wire messages nest five levels at most; anything deeper than this is refused.
    public static let maximumDepth = 64

    /// The message every refused number gets.
    public static let numberRule =
        "a number must be an integer literal from -9223372036854775808 to 9223372036854775807 "
        + "(no fraction, no exponent; money is an integer of minor units)"

    /// Throws the first problem found, naming its JSON path.
    public static func check(_ bytes: UnsafeRawBufferPointer) throws(WireFormatError) {
        var scanner = Scanner(bytes: bytes)
        try scanner.run()
    }

    /// Throws the first problem found, naming its JSON path.
    public static func check(_ data: Data) throws(WireFormatError) {
        let problem: WireFormatError? = data.withUnsafeBytes { bytes in
            do throws(WireFormatError) {
                try check(bytes)
                return nil
            } catch {
                return error
            }
        }
        if let problem { throw problem }
    }

    private enum PathItem {
        case key(Range<Int>)
        case index(Int)
    }

    /// Stops the scan where the syntax is not JSON: the decoder reports it.
    private struct SyntaxStop: Error {}

    private struct Scanner {
        let bytes: UnsafeRawBufferPointer
        var position = 0
        var path: [PathItem] = []

        init(bytes: UnsafeRawBufferPointer) {
            self.bytes = bytes
        }

        mutating func run() throws(WireFormatError) {
            do {
                skipSpace()
                try value()
            } catch is SyntaxStop {
                // Not JSON: the decoder that runs next names the problem.
            } catch let error as WireFormatError {
                throw error
            } catch {}
        }

        private var current: UInt8? { position < bytes.count ? bytes[position] : nil }

        private mutating func skipSpace() {
            while position < bytes.count {
                switch bytes[position] {
                case 0x20, 0x09, 0x0A, 0x0D: position += 1
                default: return
                }
            }
        }

        private mutating func value() throws {
            guard let byte = current else { throw SyntaxStop() }
            switch byte {
            case UInt8(ascii: "{"): try object()
            case UInt8(ascii: "["): try array()
            case UInt8(ascii: "\""): _ = try string()
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
            case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
                while let letter = current, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(letter) { position += 1 }
            default: throw SyntaxStop()
            }
        }

        private mutating func enter() throws {
            if path.count >= StrictJSON.maximumDepth {
                throw WireFormatError(
                    .malformedPayload,
                    "\(describe(path)): nested more than \(StrictJSON.maximumDepth) levels deep"
                )
            }
        }

        private mutating func object() throws {
            try enter()
            position += 1
            skipSpace()
            if current == UInt8(ascii: "}") {
                position += 1
                return
            }
            var keys: [Range<Int>] = []
            var keySet: Set<[UInt8]> = []
            while true {
                guard current == UInt8(ascii: "\"") else { throw SyntaxStop() }
                let key = try string()
                if isDuplicate(key, keys: &keys, keySet: &keySet) {
                    path.append(.key(key))
                    throw WireFormatError(.malformedPayload, "\(describe(path)): the key appears twice in one object")
                }
                skipSpace()
                guard current == UInt8(ascii: ":") else { throw SyntaxStop() }
                position += 1
                skipSpace()
                path.append(.key(key))
                try value()
                path.removeLast()
                skipSpace()
                switch current {
                case UInt8(ascii: ","):
                    position += 1
                    skipSpace()
                case UInt8(ascii: "}"):
                    position += 1
                    return
                default: throw SyntaxStop()
                }
            }
        }

        /// Whether the key (the bytes between its quotes) was seen in this object; keys are compared after
        /// unescaping, so `"a"` and `"\u0061"` are the same key.
        private func isDuplicate(_ key: Range<Int>, keys: inout [Range<Int>], keySet: inout Set<[UInt8]>) -> Bool {
            let hasEscape = bytes[key].contains(UInt8(ascii: "\\"))
            if hasEscape || keys.count >= 16 {
                if keySet.isEmpty { for old in keys { keySet.insert(canonical(old)) } }
                keys.append(key)
                return !keySet.insert(canonical(key)).inserted
            }
            for old in keys where old.count == key.count && bytes[old].elementsEqual(bytes[key]) { return true }
            keys.append(key)
            return false
        }

        /// A key's bytes with JSON escapes decoded.
        private func canonical(_ key: Range<Int>) -> [UInt8] {
            let raw = Array(bytes[key])
            guard raw.contains(UInt8(ascii: "\\")) else { return raw }
            var quoted = [UInt8(ascii: "\"")]
            quoted += raw
            quoted.append(UInt8(ascii: "\""))
            guard let text = try? JSONStringDecoder.decode(quoted) else { return raw }
            return Array(text.utf8)
        }

        private mutating func array() throws {
            try enter()
            position += 1
            skipSpace()
            if current == UInt8(ascii: "]") {
                position += 1
                return
            }
            var index = 0
            while true {
                path.append(.index(index))
                try value()
                path.removeLast()
                index += 1
                skipSpace()
                switch current {
                case UInt8(ascii: ","):
                    position += 1
                    skipSpace()
                case UInt8(ascii: "]"):
                    position += 1
                    return
                default: throw SyntaxStop()
                }
            }
        }

        /// Skips a string; returns the range of its bytes between the quotes.
        private mutating func string() throws -> Range<Int> {
            position += 1
            let start = position
            while position < bytes.count {
                switch bytes[position] {
                case UInt8(ascii: "\""):
                    let end = position
                    position += 1
                    return start..<end
                case UInt8(ascii: "\\"):
                    position += 2
                default:
                    position += 1
                }
            }
            throw SyntaxStop()
        }

        private mutating func number() throws {
            let negative = current == UInt8(ascii: "-")
            if negative { position += 1 }
            let digitsStart = position
            while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { position += 1 }
            let digits = bytes[digitsStart..<position]
            if digits.isEmpty { throw SyntaxStop() }
            var isInteger = true
            if let byte = current, byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
                isInteger = false
                while let byte = current,
                    (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".")
                        || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") || byte == UInt8(ascii: "+")
                        || byte == UInt8(ascii: "-")
                {
                    position += 1
                }
            }
            if isInteger, digits.count > 1, digits.first == UInt8(ascii: "0") {
                throw SyntaxStop()  // a leading zero is not JSON: the decoder says so
            }
            guard isInteger, Self.fitsInt64(digits, negative: negative) else {
                throw WireFormatError(.invalidValue, "\(describe(path)): \(StrictJSON.numberRule)")
            }
        }

        private static func fitsInt64(_ digits: Slice<UnsafeRawBufferPointer>, negative: Bool) -> Bool {
            let limit = Array((negative ? "9223372036854775808" : "9223372036854775807").utf8)
            if digits.count != limit.count { return digits.count < limit.count }
            return !digits.lexicographicallyPrecedes(limit) ? digits.elementsEqual(limit) : true
        }

        private func describe(_ path: [PathItem]) -> String {
            var text = ""
            for item in path {
                switch item {
                case .index(let index): text += "[\(index)]"
                case .key(let range):
                    let name = String(decoding: bytes[range].prefix(64), as: UTF8.self)
                    text += text.isEmpty ? name : ".\(name)"
                }
            }
            return text.isEmpty ? "(top level)" : text
        }
    }
}

/// Decodes one JSON string literal (with its quotes) to text; used only for keys that carry escapes.
enum JSONStringDecoder {
    static func decode(_ quoted: [UInt8]) throws -> String {
        var result: [UInt8] = []
        var index = 1
        let end = quoted.count - 1
        while index < end {
            let byte = quoted[index]
            guard byte == UInt8(ascii: "\\"), index + 1 < end else {
                result.append(byte)
                index += 1
                continue
            }
            let escape = quoted[index + 1]
            index += 2
            switch escape {
            case UInt8(ascii: "n"): result.append(0x0A)
            case UInt8(ascii: "t"): result.append(0x09)
            case UInt8(ascii: "r"): result.append(0x0D)
            case UInt8(ascii: "b"): result.append(0x08)
            case UInt8(ascii: "f"): result.append(0x0C)
            case UInt8(ascii: "u"):
                guard index + 4 <= end,
                    let unit = UInt16(String(decoding: quoted[index..<index + 4], as: UTF8.self), radix: 16)
                else { throw StrictJSONEscapeError() }
                index += 4
                var scalarValue = UInt32(unit)
                if (0xD800...0xDBFF).contains(unit), index + 6 <= end, quoted[index] == UInt8(ascii: "\\"),
                    quoted[index + 1] == UInt8(ascii: "u"),
                    let low = UInt16(String(decoding: quoted[index + 2..<index + 6], as: UTF8.self), radix: 16),
                    (0xDC00...0xDFFF).contains(low)
                {
                    index += 6
                    scalarValue = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                }
                result += Array(String(Character(Unicode.Scalar(scalarValue) ?? "\u{FFFD}")).utf8)
            default: result.append(escape)
            }
        }
        return String(decoding: result, as: UTF8.self)
    }
}

struct StrictJSONEscapeError: Error {}
