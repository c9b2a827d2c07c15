public import Foundation

/// The conformance vectors in `conformance/vectors/`, found relative to this source file so tests run from any
/// working directory.
public enum ConformanceVector {
    /// The repository's `conformance/` folder.
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // SyncTestSupport
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // package root
        .appendingPathComponent("conformance")

    /// Paths of every `.json` vector file below `conformance/vectors/FOLDER`, relative to `conformance/vectors`,
    /// sorted.
    public static func files(in folder: String) -> [String] {
        let base = root.appendingPathComponent("vectors")
        let start = base.appendingPathComponent(folder)
        guard let walker = FileManager.default.enumerator(at: start, includingPropertiesForKeys: nil) else { return [] }
        var found: [String] = []
        for case let url as URL in walker where url.pathExtension == "json" {
            found.append(String(url.standardizedFileURL.path.dropFirst(base.standardizedFileURL.path.count + 1)))
        }
        return found.sorted()
    }

    /// The bytes of one vector file.
    public static func data(_ relativePath: String) throws -> Data {
        try Data(contentsOf: root.appendingPathComponent("vectors").appendingPathComponent(relativePath))
    }
}
