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
        .library(name: "SyncServer", targets: ["SyncServer"]),
        .library(name: "SyncClient", targets: ["SyncClient"]),
        .executable(name: "crm-sync-server", targets: ["crm-sync-server"]),
        .executable(name: "crm-field", targets: ["crm-field"]),
        .executable(name: "crm-conformance", targets: ["crm-conformance"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
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
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),

        // The central sync server: HTTP API, auth and scope, storage, admin operations.
        .target(
            name: "SyncServer",
            dependencies: [
                "SyncProtocol",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            swiftSettings: swiftSettings
        ),

        // The laptop's side of the exchange: the HTTP transport and the sync engine (push, pull, snapshot), shared
        // by `crm-field` and the conformance runner.
        .target(
            name: "SyncClient",
            dependencies: [
                "SyncProtocol",
                "ReplicaStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),

        // The rep's command line, `crm-field` (with `crm-field demo`, which runs a server in process).
        .executableTarget(
            name: "crm-field",
            dependencies: [
                "SyncClient",
                "ReplicaStore",
                "SyncProtocol",
                "SyncServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // The seeded, fault-injecting convergence simulation (issue 6): `swift run -c release crm-simulate --seeds 300`.
        .executableTarget(
            name: "crm-simulate",
            dependencies: [
                "SyncClient",
                "SyncTestSupport",
                "SyncServer",
                "ReplicaStore",
                "SyncProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // Runs the conformance scenarios (conformance/scenarios) against a live server: `crm-conformance --server URL`.
        .executableTarget(
            name: "crm-conformance",
            dependencies: [
                "SyncClient",
                "ReplicaStore",
                "SyncProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),

        // The server executable IT runs: `serve` and the admin subcommands.
        .executableTarget(
            name: "crm-sync-server",
            dependencies: [
                "SyncServer",
                "SyncProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
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

        // A real territory's size end to end with the release binaries (see BENCHMARKS.md): `scale-bench`.
        .executableTarget(
            name: "scale-bench",
            dependencies: ["ReplicaStore", "SyncClient", "SyncProtocol"],
            swiftSettings: swiftSettings
        ),

        // Prints the server's loopback push and pull throughput (see BENCHMARKS.md).
        .executableTarget(
            name: "server-bench",
            dependencies: [
                "SyncServer",
                "SyncProtocol",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // Many reps syncing at once against live servers, at a fixed arrival rate (see BENCHMARKS.md).
        .executableTarget(
            name: "load-bench",
            dependencies: [
                "SyncProtocol",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),

        // Non-product helpers shared by the test targets: seeded randomness, vector files.
        .target(
            name: "SyncTestSupport",
            dependencies: [
                "SyncProtocol", "SyncClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
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
            name: "SyncServerTests",
            dependencies: [
                "SyncServer", "SyncClient", "SyncProtocol", "ReplicaStore", "SyncTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CRMFieldTests",
            dependencies: [
                "crm-field", "SyncClient", "SyncServer", "ReplicaStore", "SyncProtocol", "SyncTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SimulationTests",
            dependencies: ["crm-simulate"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SyncProtocolTests",
            dependencies: ["SyncProtocol", "SyncTestSupport"],
            swiftSettings: swiftSettings
        ),
    ]
)

// The libFuzzer targets (fuzz/Targets; scripts/fuzz.sh). They have no `main` of their own, so they join the package
// only for a fuzzer build (CRM_FUZZ=1, `--sanitize=fuzzer`, its own --scratch-path), never the ordinary build.
if Context.environment["CRM_FUZZ"] == "1" {
    let fuzzTargets: [(name: String, dependency: Target.Dependency)] = [
        ("fuzz-push", "SyncProtocol"), ("fuzz-pull", "SyncProtocol"), ("fuzz-binary", "SyncProtocol"),
        ("fuzz-csv", "SyncServer"),
    ]
    for target in fuzzTargets {
        package.targets.append(
            .executableTarget(
                name: target.name,
                dependencies: [target.dependency],
                path: "fuzz/Targets/\(target.name)",
                swiftSettings: swiftSettings
            )
        )
        package.products.append(.executable(name: target.name, targets: [target.name]))
    }
}
