extension RecordState {
    /// The record state's wire JSON (PROTOCOL.md §5, as ``RecordState``'s `Codable` form writes it), written directly
    /// rather than through `JSONEncoder`: a first download sends a territory's every record, and the encoder's
    /// generic machinery cost the server most of a snapshot page's time.
    ///
    /// Keys are sorted by their UTF-8 bytes and empty parts are left out, as the encoder does; it decodes to the
    /// same state (see ``Change/wireJSON`` for how strings and numbers are written).
    public var wireJSON: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1_024)
        // The entries of one change share its timestamp: its text is made once (formatting a date is the costly
        // part of an entry).
        var stamps = StampText()
        out.append(UInt8(ascii: "{"))
        if let appended {
            out.key("appended", first: true)
            out.append(UInt8(ascii: "{"))
            out.key("author", first: true)
            out.string(appended.author)
            out.key("dot")
            out.dot(appended.dot)
            out.key("fields")
            out.fieldMap(appended.fields)
            out.key("hlc")
            out.string(stamps.text(appended.timestamp))
            out.append(UInt8(ascii: "}"))
        }
        out.key("clock", first: appended == nil)
        out.clock(clock)
        if let counter {
            out.key("counter")
            out += Array(#"{"deltas":["#.utf8)
            for (index, (dot, delta)) in counter.deltas.sorted(by: { $0.key < $1.key }).enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                out += Array(#"{"delta":"#.utf8)
                out.integer(delta)
                out += Array(#","dot":"#.utf8)
                out.dot(dot)
                out.append(UInt8(ascii: "}"))
            }
            out += Array(#"],"resets":["#.utf8)
            for (index, reset) in counter.resets.elements.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                out += Array(#"{"context":"#.utf8)
                out.clock(reset.context)
                out += Array(#","dot":"#.utf8)
                out.dot(reset.dot)
                out += Array(#","hlc":"#.utf8)
                out.string(stamps.text(reset.timestamp))
                out += Array(#","quantity":"#.utf8)
                out.integer(reset.quantity)
                out.append(UInt8(ascii: "}"))
            }
            out += Array("]}".utf8)
        }
        if let created {
            out.key("created")
            out += Array(#"{"author":"#.utf8)
            out.string(created.author)
            out += Array(#","dot":"#.utf8)
            out.dot(created.dot)
            out += Array(#","hlc":"#.utf8)
            out.string(stamps.text(created.timestamp))
            out.append(UInt8(ascii: "}"))
        }
        out.key("entity")
        out.string(entity.rawValue)
        if !fields.isEmpty {
            out.key("fields")
            out.append(UInt8(ascii: "{"))
            let slots = fields.map { $0 }.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
            for (index, slot) in slots.enumerated() {
                out.key(slot.name, first: index == 0)
                out.append(UInt8(ascii: "["))
                for (position, entry) in slot.register.elements.enumerated() {
                    if position > 0 { out.append(UInt8(ascii: ",")) }
                    out += Array(#"{"author":"#.utf8)
                    out.string(entry.author)
                    out += Array(#","context":"#.utf8)
                    out.clock(entry.context)
                    out += Array(#","dot":"#.utf8)
                    out.dot(entry.dot)
                    out += Array(#","hlc":"#.utf8)
                    out.string(stamps.text(entry.timestamp))
                    out += Array(#","value":"#.utf8)
                    out.value(entry.value)
                    out.append(UInt8(ascii: "}"))
                }
                out.append(UInt8(ascii: "]"))
            }
            out.append(UInt8(ascii: "}"))
        }
        out.key("record_id")
        out.string(id.rawValue)
        if !tombstones.isEmpty {
            out.key("tombstones")
            out += Array(#"{"dots":["#.utf8)
            for (index, dot) in tombstones.dots.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                out.dot(dot)
            }
            out += Array(#"],"seen":"#.utf8)
            out.clock(tombstones.seen)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "}"))
        return out
    }
}

/// The last hybrid timestamp written and its text.
private struct StampText {
    var last: HybridTimestamp?
    var lastText = ""

    mutating func text(_ stamp: HybridTimestamp) -> String {
        if stamp != last {
            last = stamp
            lastText = stamp.description
        }
        return lastText
    }
}

extension [UInt8] {
    mutating func dot(_ dot: Dot) {
        append(contentsOf: #"{"counter":"#.utf8)
        integer(dot.counter)
        append(contentsOf: #","replica":"#.utf8)
        string(dot.replica.rawValue)
        append(UInt8(ascii: "}"))
    }

    mutating func clock(_ clock: VectorClock) {
        append(UInt8(ascii: "{"))
        for (index, entry) in clock.entries.sorted(by: {
            $0.replica.rawValue.utf8.lexicographicallyPrecedes($1.replica.rawValue.utf8)
        }).enumerated() {
            key(entry.replica.rawValue, first: index == 0)
            integer(entry.counter)
        }
        append(UInt8(ascii: "}"))
    }

    mutating func fieldMap(_ fields: [String: FieldValue]) {
        append(UInt8(ascii: "{"))
        for (index, (name, value)) in fields.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) })
            .enumerated()
        {
            key(name, first: index == 0)
            self.value(value)
        }
        append(UInt8(ascii: "}"))
    }
}
