public import Foundation

/// The fuzzers' committed inputs (fuzz/corpus/TARGET, fuzz/crashes/TARGET), for the tests that replay them through
/// the ordinary decoders.
public enum FuzzCorpus {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fuzz")

    /// Every file of fuzz/corpus/TARGET and fuzz/crashes/TARGET, with a name that says which.
    public static func inputs(_ target: String) -> [(name: String, bytes: [UInt8])] {
        ["corpus", "crashes"].flatMap { folder -> [(name: String, bytes: [UInt8])] in
            let directory = root.appendingPathComponent(folder).appendingPathComponent(target)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            return names.sorted().filter { !$0.hasPrefix(".") }.compactMap { name in
                FileManager.default.contents(atPath: directory.appendingPathComponent(name).path).map {
                    ("\(folder)/\(target)/\(name)", Array($0))
                }
            }
        }
    }

    /// Where the binary codec's seeds are written (`CRM_FUZZ_WRITE_SEEDS=1`).
    public static func corpusFolder(_ target: String) -> URL {
        root.appendingPathComponent("corpus").appendingPathComponent(target)
    }
}
