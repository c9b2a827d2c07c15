// libFuzzer target: the binary storage codec (replica and server rows). The first byte picks the type, the rest is
// the encoding; a decoded value must encode back to bytes that decode to the same value.
import SyncProtocol

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBinary(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    guard count > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: start + 1, count: count - 1))
    switch start[0] % 3 {
    case 0:
        if let change = try? Change(binary: bytes) {
            precondition((try? Change(binary: change.binaryEncoded)) == change, "a change does not round-trip")
        }
    case 1:
        if let state = try? RecordState(binary: bytes) {
            precondition((try? RecordState(binary: state.binaryEncoded)) == state, "a record state does not round-trip")
        }
    default:
        if let result = try? ChangeResult(binary: bytes) {
            precondition((try? ChangeResult(binary: result.binaryEncoded)) == result, "a result does not round-trip")
        }
    }
    return 0
}
