extension Change {
    /// The change's wire JSON (see `Change+Codable.swift`), written directly rather than through `JSONEncoder`: the
    /// server encodes every accepted change once for its log, so this is on the push path.
    ///
    /// Keys are sorted by their UTF-8 bytes, strings are escaped as JSON requires (`"`, `\`, control characters; `/`
    /// and non-ASCII text are written as they are), integers in decimal. It decodes to the same change as
    /// ``WireCoding/encode(_:)``'s output; the two differ at most in the order of keys that `JSONEncoder` sorts
    /// numerically (`a10` after `a9`).
    public var wireJSON: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        out.append(UInt8(ascii: "{"))
        out.key("author", first: true)
        out.string(author)
        out.key("context")
        out.append(UInt8(ascii: "{"))
        for (index, entry) in context.entries.sorted(by: {
            $0.replica.rawValue.utf8.lexicographicallyPrecedes($1.replica.rawValue.utf8)
        }).enumerated() {
            out.key(entry.replica.rawValue, first: index == 0)
            out.integer(entry.counter)
        }
        out.append(UInt8(ascii: "}"))
        if case .counterDelta(let delta) = operation {
            out.key("delta")
            out.integer(delta)
        }
        out.key("dot")
        out += Array(#"{"counter":"#.utf8)
        out.integer(dot.counter)
        out += Array(#","replica":"#.utf8)
        out.string(dot.replica.rawValue)
        out.append(UInt8(ascii: "}"))
        out.key("entity")
        out.string(entity.rawValue)
        switch operation {
        case .create(let fields), .set(let fields), .append(let fields):
            out.key("fields")
            out.append(UInt8(ascii: "{"))
            for (index, (name, value)) in fields.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) })
                .enumerated()
            {
                out.key(name, first: index == 0)
                out.value(value)
            }
            out.append(UInt8(ascii: "}"))
        case .delete, .counterDelta, .counterReset:
            break
        }
        out.key("hlc")
        out.string(timestamp.description)
        out.key("op")
        out.string(operation.name)
        if case .counterReset(let quantity) = operation {
            out.key("quantity")
            out.integer(quantity)
        }
        out.key("record_id")
        out.string(recordID.rawValue)
        out.append(UInt8(ascii: "}"))
        return out
    }
}

extension [UInt8] {
    mutating func key(_ name: String, first: Bool = false) {
        if !first { append(UInt8(ascii: ",")) }
        string(name)
        append(UInt8(ascii: ":"))
    }

    mutating func integer(_ value: some BinaryInteger) {
        append(contentsOf: String(value).utf8)
    }

    mutating func value(_ value: FieldValue) {
        switch value {
        case .null: append(contentsOf: "null".utf8)
        case .bool(let flag): append(contentsOf: (flag ? "true" : "false").utf8)
        case .integer(let number): integer(number)
        case .string(let text): string(text)
        }
    }

    mutating func string(_ text: String) {
        append(UInt8(ascii: "\""))
        // Most text needs no escape: append it whole.
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            append(contentsOf: text.utf8)
            append(UInt8(ascii: "\""))
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): append(contentsOf: #"\\"#.utf8)
            case 0x0A: append(contentsOf: #"\n"#.utf8)
            case 0x0D: append(contentsOf: #"\r"#.utf8)
            case 0x09: append(contentsOf: #"\t"#.utf8)
            case 0x08: append(contentsOf: #"\b"#.utf8)
            case 0x0C: append(contentsOf: #"\f"#.utf8)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                append(contentsOf: #"\u00"#.utf8)
                append(hex[Int(byte >> 4)])
                append(hex[Int(byte & 0x0F)])
            default: append(byte)
            }
        }
        append(UInt8(ascii: "\""))
    }
}
