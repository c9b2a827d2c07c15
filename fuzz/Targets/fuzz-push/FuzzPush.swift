// libFuzzer target: a push request body as the server decodes it (StrictJSON's scan, then the version check and the
// decode). Any input must end in a value or a WireFormatError: never a crash, a leak or unbounded memory.
import Foundation
import SyncProtocol

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPush(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    if let push = try? WireCoding.decode(PushRequest.self, from: data) {
        // What the server does next with an accepted body: re-encode for the log.
        for change in push.changes { _ = change.wireJSON }
    }
    return 0
}
