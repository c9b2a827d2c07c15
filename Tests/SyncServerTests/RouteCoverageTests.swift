import Foundation
import Hummingbird
import SyncServer
import Testing

/// The other half of `conformance/tools/check_openapi.py` (which proves every spec operation exists on a live
/// server): every route the server registers is described in `openapi.yaml`, so a route added without the spec
/// fails here.
@Suite("OpenAPI route coverage")
struct RouteCoverageTests {
    static let specURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("conformance/openapi.yaml")

    /// `METHOD /path` of every operation in the spec, path parameters written `{name}`.
    static func specOperations() throws -> Set<String> {
        let text = try String(contentsOf: specURL, encoding: .utf8)
        var operations: Set<String> = []
        var path: String?
        var inPaths = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "paths:" {
                inPaths = true
                continue
            }
            guard inPaths else { continue }
            if !line.isEmpty, !line.hasPrefix(" ") { break }
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
            } else if let path, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":") {
                let method = line.trimmingCharacters(in: .whitespaces).dropLast().uppercased()
                if ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(method) {
                    operations.insert("\(method) \(path)")
                }
            }
        }
        return operations
    }

    @Test("every server route is in openapi.yaml, and every spec operation is a server route")
    func routesMatchSpec() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("routes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let storage = try SQLiteChangeStorage(path: folder.appendingPathComponent("s.sqlite").path)
        let router = buildRouter(configuration: ServerConfiguration(port: 0), storage: storage)
        let served = Set(
            router.routes.map { route -> String in
                // Hummingbird writes captures as `:name`; the spec as `{name}`.
                let path = route.path.description.split(separator: "/").map { part -> String in
                    part.hasPrefix(":") ? "{\(part.dropFirst())}" : String(part)
                }
                return "\(route.method.rawValue) /" + path.joined(separator: "/")
            }
        )
        let spec = try Self.specOperations()
        #expect(spec.count >= 13, "parsed \(spec.count) operations from the spec")
        #expect(
            served.subtracting(spec).isEmpty,
            "routes missing from openapi.yaml: \(served.subtracting(spec).sorted())"
        )
        #expect(
            spec.subtracting(served).isEmpty,
            "spec operations the server lacks: \(spec.subtracting(served).sorted())"
        )
    }
}
