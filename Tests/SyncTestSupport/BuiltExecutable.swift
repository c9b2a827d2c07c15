public import Foundation

/// An executable of this package built beside the test bundle (`.build/debug/NAME`), for tests that run it as a
/// real child process. Falls back to the package's `.build/debug` found from the calling test file.
public func builtExecutable(_ name: String, testFile: String = #filePath) -> URL {
    let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name)
    if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
    return URL(fileURLWithPath: testFile).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/debug/\(name)")
}
