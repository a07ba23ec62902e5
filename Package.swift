// swift-tools-version:6.0
import PackageDescription

// Dependencies are pinned to the versions the build machines mirror (see docs/decisions.md).
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
        .systemLibrary(name: "CLibYAML", path: "Sources/CLibYAML", providers: [.apt(["libyaml-dev"])]),
        .target(
            name: "BeamsyncModel",
            dependencies: ["CLibYAML", .product(name: "Yams", package: "Yams")]
        ),
        .target(
            name: "BeamsyncPlan",
            dependencies: ["BeamsyncModel"]
        ),
        .systemLibrary(
            name: "CPostgres",
            path: "Sources/CPostgres",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .target(
            name: "BeamsyncStore",
            dependencies: ["BeamsyncModel", "BeamsyncPlan", "CPostgres"]
        ),
        .systemLibrary(
            name: "CGit2",
            path: "Sources/CGit2",
            pkgConfig: "libgit2",
            providers: [.apt(["libgit2-dev"])]
        ),
        .target(
            name: "BeamsyncGit",
            dependencies: ["CGit2"]
        ),
        .systemLibrary(
            name: "CSSH2",
            path: "Sources/CSSH2",
            pkgConfig: "libssh2",
            providers: [.apt(["libssh2-1-dev"])]
        ),
        // SSH sessions on their own threads, the session pool and beampipe's SSH key policy.
        .target(
            name: "BeamsyncSSH",
            dependencies: ["CSSH2"]
        ),
        .systemLibrary(
            name: "CCurl",
            path: "Sources/CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(
            name: "BeamsyncEngine",
            dependencies: ["BeamsyncModel", "BeamsyncStore", "CCurl"]
        ),
        .target(
            name: "BeamsyncController",
            dependencies: [
                "BeamsyncModel", "BeamsyncPlan", "BeamsyncStore", "BeamsyncGit",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "BeamsyncServer",
            dependencies: [
                "BeamsyncModel", "BeamsyncPlan", "BeamsyncStore", "BeamsyncController",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .target(
            name: "BeamsyncCLI",
            dependencies: [
                "BeamsyncModel",
                "BeamsyncPlan",
                "BeamsyncStore",
                "BeamsyncGit",
                "BeamsyncController",
                "BeamsyncServer",
                "BeamsyncEngine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(name: "beamsync", dependencies: ["BeamsyncCLI"]),
        .executableTarget(name: "beamsync-bench", dependencies: ["BeamsyncModel", "BeamsyncPlan", "BeamsyncStore", "BeamsyncCLI",
                                                               "BeamsyncController", "BeamsyncServer", "BeamsyncEngine"]),
        .testTarget(name: "BeamsyncModelTests", dependencies: ["BeamsyncModel"]),
        .testTarget(name: "BeamsyncPlanTests", dependencies: ["BeamsyncPlan", "BeamsyncModel"]),
        .testTarget(name: "BeamsyncStoreTests", dependencies: ["BeamsyncStore", "BeamsyncModel", "BeamsyncPlan"]),
        .testTarget(name: "BeamsyncGitTests", dependencies: ["BeamsyncGit"]),
        .testTarget(name: "BeamsyncSSHTests", dependencies: ["BeamsyncSSH"]),
        // Loopback HTTP server, counting DIM proxy and child processes for the engine and CLI tests.
        .target(name: "BeamsyncTestSupport", path: "Tests/BeamsyncTestSupport"),
        .testTarget(name: "BeamsyncEngineTests", dependencies: ["BeamsyncEngine", "BeamsyncModel", "BeamsyncStore", "BeamsyncTestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "BeamsyncControllerTests", dependencies: ["BeamsyncController", "BeamsyncModel", "BeamsyncPlan", "BeamsyncStore"]),
        .testTarget(name: "BeamsyncServerTests", dependencies: [
            "BeamsyncServer", "BeamsyncController",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ]),
        .testTarget(name: "BeamsyncCLITests", dependencies: ["BeamsyncCLI", "BeamsyncModel", "BeamsyncPlan", "BeamsyncStore",
                                                             "BeamsyncTestSupport"]),
    ]
)
