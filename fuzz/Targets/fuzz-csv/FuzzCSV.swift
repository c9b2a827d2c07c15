// libFuzzer target: an accounting export as `import` reads it (byte order mark, separator detection, RFC 4180
// quoting, then every row's typed fields), for each kind of import. The first byte picks the kind.
import SyncServer

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCSV(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    guard count > 0 else { return 0 }
    let kinds = ImportKind.allCases
    let kind = kinds[Int(start[0]) % kinds.count]
    let text = String(decoding: UnsafeBufferPointer(start: start + 1, count: count - 1), as: UTF8.self)
    let parsed = CSVImport.parse(kind, csv: text)
    // Every refusal names a line of the file.
    for rejection in parsed.rejected { precondition(rejection.line >= 1, "a rejection without a line") }
    return 0
}
