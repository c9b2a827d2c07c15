// libFuzzer target: the server's answers the client parses: a pull page, a snapshot page (through the direct
// SnapshotReader when it recognises the page, else the checked decode), a history page and a handshake.
import Foundation
import SyncProtocol

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPull(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    _ = try? WireCoding.decodeMessage(PullResponse.self, from: data)
    _ = try? WireCoding.decodeSnapshotPage(from: data)
    _ = try? WireCoding.decodeMessage(HistoryResponse.self, from: data)
    _ = try? WireCoding.decodeMessage(HandshakeResponse.self, from: data)
    return 0
}
