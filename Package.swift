// swift-tools-version:6.0
import PackageDescription

// Dependencies are pinned to the versions the build machines mirror (docs/decisions.md, "Dependencies").
// Each target lists exactly the modules its sources import; scripts/check-imports.py enforces it.
let yams = Target.Dependency.product(name: "Yams", package: "Yams")
let crypto = Target.Dependency.product(name: "Crypto", package: "swift-crypto")
let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
let hummingbird = Target.Dependency.product(name: "Hummingbird", package: "hummingbird")
let hummingbirdCore = Target.Dependency.product(name: "HummingbirdCore", package: "hummingbird")
let prometheus = Target.Dependency.product(name: "Prometheus", package: "swift-prometheus")
let serviceLifecycle = Target.Dependency.product(name: "ServiceLifecycle", package: "swift-service-lifecycle")

let package = Package(
    name: "beamsync",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "beamsync", targets: ["beamsync"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        // C libraries, each wrapped once by the module named after it.
        .systemLibrary(name: "CLibYAML", path: "Sources/CLibYAML", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CPostgres", path: "Sources/CPostgres", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CGit2", path: "Sources/CGit2", pkgConfig: "libgit2", providers: [.apt(["libgit2-dev"])]),
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CSSH2", path: "Sources/CSSH2", pkgConfig: "libssh2", providers: [.apt(["libssh2-1-dev"])]),

        // Durations, jitter, UTC timestamps and the clock tests can drive.
        .target(name: "BeamsyncTime"),
        // Documents, validation, hashes, the desired state. No I/O.
        .target(name: "BeamsyncModel", dependencies: ["CLibYAML", yams, crypto]),
        // The live state, the pure planner, the Plan value and its renderers. No I/O.
        .target(name: "BeamsyncPlan", dependencies: ["BeamsyncModel"]),
        // libpq: connections on their own threads, pool, COPY, pipeline, LISTEN/NOTIFY, advisory
        // locks, the embedded server and the migration runner.
        .target(name: "BeamsyncPostgres", dependencies: ["CPostgres", "BeamsyncTime", crypto]),
        // Repositories over PostgreSQL: schema, live state, the apply transaction, execution ledger, source status.
        .target(name: "BeamsyncStore", dependencies: ["BeamsyncModel", "BeamsyncPlan", "BeamsyncPostgres", "BeamsyncTime"]),
        // libssh2: SSH sessions on their own threads, the session pool, SFTP, and beampipe's SSH key policy.
        .target(name: "BeamsyncSSH", dependencies: ["CSSH2"]),
        // libgit2: mirrors, fetch, tree reads, diffs.
        .target(name: "BeamsyncGit", dependencies: ["CGit2", "BeamsyncTime"]),
        // The execution engine: drivers, HTTP (libcurl), DALiuGE clients, the runner.
        .target(name: "BeamsyncEngine", dependencies: ["BeamsyncModel", "BeamsyncPostgres", "BeamsyncStore", "BeamsyncTime", "BeamsyncSSH", "CCurl"]),
        // The application layer: every operation the CLI, the controller and the HTTP API share.
        .target(name: "BeamsyncOperations", dependencies: [
            "BeamsyncModel", "BeamsyncPlan", "BeamsyncPostgres", "BeamsyncStore", "BeamsyncGit", "BeamsyncEngine", "BeamsyncSSH",
            "BeamsyncTime", crypto,
        ]),
        // The reconcile loop, leader election, metrics and the swift-service-lifecycle services.
        .target(name: "BeamsyncController", dependencies: [
            "BeamsyncModel", "BeamsyncPlan", "BeamsyncPostgres", "BeamsyncStore", "BeamsyncOperations", "BeamsyncEngine",
            "BeamsyncTime", logging, prometheus, serviceLifecycle,
        ]),
        // Hummingbird routes: webhooks, health, metrics, status and its page, the API v2.
        .target(name: "BeamsyncServer", dependencies: ["BeamsyncController", "BeamsyncOperations", "BeamsyncStore", "BeamsyncModel",
                                                       "BeamsyncPostgres", "BeamsyncTime", hummingbird, hummingbirdCore, crypto, logging, serviceLifecycle]),
        // The command line: parse, call the application layer, render.
        .target(name: "BeamsyncCLI", dependencies: [
            "BeamsyncModel", "BeamsyncPlan", "BeamsyncPostgres", "BeamsyncStore", "BeamsyncGit", "BeamsyncOperations",
            "BeamsyncController", "BeamsyncServer", "BeamsyncEngine", "BeamsyncTime", argumentParser, logging, serviceLifecycle,
        ]),
        .executableTarget(name: "beamsync", dependencies: ["BeamsyncCLI"]),
        .executableTarget(name: "beamsync-bench", dependencies: [
            "BeamsyncModel", "BeamsyncPlan", "BeamsyncPostgres", "BeamsyncStore", "BeamsyncOperations", "BeamsyncCLI",
            "BeamsyncController", "BeamsyncServer", "BeamsyncEngine", "BeamsyncSSH", logging,
        ]),

        // Shared test support: services, fresh databases, loopback servers, child processes.
        .target(name: "BeamsyncTestSupport", dependencies: ["BeamsyncPostgres"], path: "Tests/BeamsyncTestSupport"),
        .testTarget(name: "BeamsyncTimeTests", dependencies: ["BeamsyncTime"]),
        .testTarget(name: "BeamsyncModelTests", dependencies: ["BeamsyncModel", "BeamsyncTestSupport"]),
        .testTarget(name: "BeamsyncPlanTests", dependencies: ["BeamsyncPlan", "BeamsyncModel"]),
        .testTarget(name: "BeamsyncPostgresTests", dependencies: ["BeamsyncPostgres", "BeamsyncTestSupport"]),
        .testTarget(name: "BeamsyncStoreTests", dependencies: ["BeamsyncStore", "BeamsyncPostgres", "BeamsyncModel", "BeamsyncPlan",
                                                               "BeamsyncTestSupport"]),
        .testTarget(name: "BeamsyncGitTests", dependencies: ["BeamsyncGit", "BeamsyncTestSupport"]),
        .testTarget(name: "BeamsyncSSHTests", dependencies: ["BeamsyncSSH", "BeamsyncTestSupport"]),
        .testTarget(name: "BeamsyncEngineTests", dependencies: ["BeamsyncEngine", "BeamsyncModel", "BeamsyncPostgres", "BeamsyncStore",
                                                                "BeamsyncTestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "BeamsyncOperationsTests", dependencies: ["BeamsyncOperations", "BeamsyncModel", "BeamsyncStore", "BeamsyncPlan", "BeamsyncSSH",
                                                                    "BeamsyncPostgres", "BeamsyncEngine", "BeamsyncTestSupport"]),
        .testTarget(name: "BeamsyncControllerTests", dependencies: [
            "BeamsyncController", "BeamsyncModel", "BeamsyncOperations", "BeamsyncPostgres", "BeamsyncStore", "BeamsyncTime",
            "BeamsyncTestSupport", logging,
        ]),
        .testTarget(name: "BeamsyncServerTests", dependencies: [
            "BeamsyncServer", "BeamsyncController", "BeamsyncOperations", "BeamsyncStore", "BeamsyncModel", "BeamsyncPlan", "BeamsyncPostgres",
            "BeamsyncTestSupport", hummingbird, logging,
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ]),
        .testTarget(name: "BeamsyncCLITests", dependencies: ["BeamsyncCLI", "BeamsyncModel", "BeamsyncStore", "BeamsyncPostgres",
                                                             "BeamsyncOperations", "BeamsyncServer", "BeamsyncTestSupport"]),
    ]
)
