// swift-tools-version: 6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "crm-field",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SyncProtocol", targets: ["SyncProtocol"])
    ],
    targets: [
        // The pure core: clocks, changes, merge rules, schema and wire types. No I/O.
        .target(name: "SyncProtocol", swiftSettings: swiftSettings),

        // Prints the core's speed figures (see BENCHMARKS.md): `swift run -c release core-bench`.
        .executableTarget(
            name: "core-bench",
            dependencies: ["SyncProtocol"],
            swiftSettings: swiftSettings
        ),

        // Non-product helpers shared by the test targets: seeded randomness, vector files.
        .target(
            name: "SyncTestSupport",
            dependencies: ["SyncProtocol"],
            path: "Tests/SyncTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SyncProtocolTests",
            dependencies: ["SyncProtocol", "SyncTestSupport"],
            swiftSettings: swiftSettings
        ),
    ]
)
