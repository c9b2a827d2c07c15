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
        .library(name: "SyncProtocol", targets: ["SyncProtocol"]),
        .library(name: "ReplicaStore", targets: ["ReplicaStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0")
    ],
    targets: [
        // The pure core: clocks, changes, merge rules, schema and wire types. No I/O.
        .target(name: "SyncProtocol", swiftSettings: swiftSettings),

        // The laptop's SQLite replica: the only code that knows its schema.
        .target(
            name: "ReplicaStore",
            dependencies: [
                "SyncProtocol",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),

        // Prints the core's speed figures (see BENCHMARKS.md): `swift run -c release core-bench`.
        .executableTarget(
            name: "core-bench",
            dependencies: ["SyncProtocol"],
            swiftSettings: swiftSettings
        ),

        // Prints the replica's figures against raw SQLite (see BENCHMARKS.md): `swift run -c release replica-bench`.
        .executableTarget(
            name: "replica-bench",
            dependencies: [
                "ReplicaStore",
                "SyncProtocol",
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),

        // Non-product helpers shared by the test targets: seeded randomness, vector files.
        .target(
            name: "SyncTestSupport",
            dependencies: ["SyncProtocol"],
            path: "Tests/SyncTestSupport",
            swiftSettings: swiftSettings
        ),
        // A child process for the crash tests: makes local writes or applies remote batches until killed.
        .executableTarget(
            name: "replica-crash-child",
            dependencies: ["ReplicaStore", "SyncProtocol"],
            path: "Tests/ReplicaCrashChild",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ReplicaStoreTests",
            dependencies: [
                "ReplicaStore", "SyncProtocol", "SyncTestSupport", .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SyncProtocolTests",
            dependencies: ["SyncProtocol", "SyncTestSupport"],
            swiftSettings: swiftSettings
        ),
    ]
)
