/// A small RFC 4180 CSV reader: one separator (comma, semicolon or tab), double-quoted fields with `""` escapes,
/// CRLF or LF line ends, newlines inside quotes, a UTF-8 byte order mark ignored. Returns each record with the line
/// it starts on (1-based).
enum CSVParser {
    struct Record {
        var line: Int
        var fields: [String]
    }

    struct Failure: Error {
        var line: Int
        var message: String
    }

    /// The separators accounting programs write.
    static let separators: [Unicode.Scalar] = [",", ";", "\t"]

    /// The text without a leading byte order mark.
    static func withoutBOM(_ text: String) -> Substring {
        text.unicodeScalars.first == "\u{FEFF}" ? Substring(text.unicodeScalars.dropFirst()) : Substring(text)
    }

    /// The separator of the header line: whichever of comma, semicolon and tab occurs most often outside quotes
    /// (a comma when none does, a one-column file).
    static func detectSeparator(_ text: Substring) -> Unicode.Scalar {
        var counts: [Unicode.Scalar: Int] = [:]
        var inQuotes = false
        for scalar in text.unicodeScalars {
            if scalar == "\"" { inQuotes.toggle() }
            if inQuotes { continue }
            if scalar == "\n" { break }
            if separators.contains(scalar) { counts[scalar, default: 0] += 1 }
        }
        // The first of the most frequent: a comma on a tie or when there is none.
        var best: Unicode.Scalar = ","
        for separator in separators where counts[separator, default: 0] > counts[best, default: 0] { best = separator }
        return best
    }

    /// Parses `text` with its detected separator; returns the records and the separator.
    static func parseDetecting(_ text: String) throws(Failure) -> (records: [Record], separator: Unicode.Scalar) {
        let body = withoutBOM(text)
        let separator = detectSeparator(body)
        return (try parse(body, separator: separator), separator)
    }

    static func parse(_ text: some StringProtocol, separator: Unicode.Scalar = ",") throws(Failure) -> [Record] {
        var records: [Record] = []
        var field = ""
        var fields: [String] = []
        var inQuotes = false
        var line = 1
        var recordLine = 1
        var afterQuote = false
        var iterator = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil

        func endRecord() {
            fields.append(field)
            field = ""
            if !(fields.count == 1 && fields[0].isEmpty) { records.append(Record(line: recordLine, fields: fields)) }
            fields = []
        }

        while let scalar = pending ?? iterator.next() {
            pending = nil
            if inQuotes {
                if scalar == "\"" {
                    let next = iterator.next()
                    if next == "\"" {
                        field.unicodeScalars.append("\"")
                    } else {
                        inQuotes = false
                        afterQuote = true
                        pending = next
                    }
                } else {
                    if scalar == "\n" { line += 1 }
                    field.unicodeScalars.append(scalar)
                }
                continue
            }
            switch scalar {
            case separator:
                fields.append(field)
                field = ""
                afterQuote = false
            case "\r":
                continue
            case "\n":
                endRecord()
                line += 1
                recordLine = line
                afterQuote = false
            case "\"":
                guard field.isEmpty, !afterQuote else {
                    throw Failure(line: line, message: "a quote in the middle of an unquoted field")
                }
                inQuotes = true
            default:
                if afterQuote { throw Failure(line: line, message: "text after a closing quote") }
                field.unicodeScalars.append(scalar)
            }
        }
        if inQuotes { throw Failure(line: recordLine, message: "a quoted field is not closed") }
        if !field.isEmpty || !fields.isEmpty { endRecord() }
        return records
    }
}
