import Foundation
import ReplicaStore
import SyncProtocol

/// Run by the crash tests and killed with SIGKILL at a random moment.
///
/// - `writes PATH`: makes local writes forever, one transaction each (create an account, then edit it), printing
///   `committed N` after each commit.
/// - `apply PATH START`: applies batches of 2,000 remote changes (one transaction each) forever, printing
///   `committed N` after each batch.
@main
struct CrashChild {
    /// Written straight to the pipe (no buffering), so the parent knows what was committed before the kill.
    static func report(_ count: Int) {
        FileHandle.standardOutput.write(Data("committed \(count)\n".utf8))
    }

    static func main() async throws {
        let arguments = CommandLine.arguments
        guard arguments.count >= 3 else {
            FileHandle.standardError.write(Data("usage: replica-crash-child writes|apply PATH [START]\n".utf8))
            exit(2)
        }
        let replica = try Replica(path: arguments[2])
        switch arguments[1] {
        case "writes":
            var written = 0
            while true {
                let account = try await replica.create(
                    .account,
                    fields: ["name": .string("Account \(written)"), "territory": "north"]
                )
                written += 1
                report(written)
                try await replica.update(.account, id: account.id, fields: ["phone": .string("+49 \(written)")])
                written += 1
                report(written)
            }
        case "apply":
            var batch = Int(arguments.count > 3 ? arguments[3] : "0") ?? 0
            let origin = ReplicaID(unchecked: "remote-laptop")
            while true {
                let changes = (0..<2_000).map { index -> Change in
                    let counter = UInt64(batch * 2_000 + index + 1)
                    return Change(
                        dot: Dot(replica: origin, counter: counter),
                        context: VectorClock(),
                        timestamp: HybridTimestamp(wallMilliseconds: 1_795_428_000_000 + Int64(counter)),
                        author: "bob",
                        entity: .contact,
                        recordID: RecordID("c-\(batch)-\(index)"),
                        operation: .create(["account_id": "acc-1", "last_name": .string("Name \(counter)")])
                    )
                }
                try await replica.applyRemote(changes)
                batch += 1
                report(batch)
            }
        default:
            exit(2)
        }
    }
}
