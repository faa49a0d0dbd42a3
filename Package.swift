// swift-tools-version:6.1
import PackageDescription

// Layers, bottom-up (see README "Architecture"):
//   CCurl, CCryptoShim, CTLS -> C shims over the system libcurl, libcrypto and libssl
//   S3Locking           -> the lock every layer uses (pthread: ThreadSanitizer sees it)
//   S3HTTP              -> the libcurl event loop: one multi handle on one thread
//   S3Signing           -> AWS Signature Version 4, pure functions over libcrypto
//   S3                  -> configuration, request building, XML, errors, the client
//   S3ServiceLifecycle  -> S3ClientService: a client as a swift-service-lifecycle Service
//   s3                  -> the command-line tool (swift-argument-parser)
//   s3-demo             -> the README's demonstration of the library
//   s3-fuzz             -> the fuzz target of the XML parser and response decoders (scripts/fuzz)
//   s3-soak             -> the soak: 256 tasks against a SeaweedFS cluster struck every 30 s (scripts/soak)
let package = Package(
    name: "swift-s3",
    products: [
        .library(name: "S3", targets: ["S3"]),
        .library(name: "S3Signing", targets: ["S3Signing"]),
        .library(name: "S3HTTP", targets: ["S3HTTP"]),
        .library(name: "S3ServiceLifecycle", targets: ["S3ServiceLifecycle"]),
        .executable(name: "s3", targets: ["s3"]),
        .executable(name: "s3-demo", targets: ["s3-demo"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // Only the S3ServiceLifecycle product (and the tests) build it; the S3 library does not.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.1.0"),
        // Documentation only (scripts/docs: `swift package generate-documentation`); no target depends on it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CCurl",
            path: "Sources/CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(
            name: "CCryptoShim",
            path: "Sources/CCryptoShim",
            linkerSettings: [.linkedLibrary("crypto")]
        ),
        .target(
            name: "CTLS",
            path: "Sources/CTLS",
            linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]
        ),
        .target(
            name: "S3Locking",
            path: "Sources/S3Locking"
        ),
        .target(
            name: "S3HTTP",
            dependencies: ["CCurl", "CTLS", "S3Locking"],
            path: "Sources/S3HTTP"
        ),
        .target(
            name: "S3Signing",
            dependencies: ["CCryptoShim", "S3Locking"],
            path: "Sources/S3Signing"
        ),
        .target(
            name: "S3",
            dependencies: ["S3HTTP", "S3Signing", "S3Locking", .product(name: "Logging", package: "swift-log"),
                           .product(name: "Metrics", package: "swift-metrics"),
                           .product(name: "Tracing", package: "swift-distributed-tracing")],
            path: "Sources/S3"
        ),
        .target(
            name: "S3ServiceLifecycle",
            dependencies: ["S3", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            path: "Sources/S3ServiceLifecycle"
        ),
        .executableTarget(
            name: "s3",
            dependencies: ["S3", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Logging", package: "swift-log")],
            path: "Sources/s3"
        ),
        .executableTarget(
            name: "s3-fuzz",
            dependencies: ["S3"],
            path: "Sources/s3-fuzz"
        ),
        .executableTarget(
            name: "s3-demo",
            dependencies: ["S3", "S3Signing"],
            path: "Sources/s3-demo"
        ),
        // The soak of a long-running process against the SeaweedFS cluster (scripts/soak).
        .executableTarget(
            name: "s3-soak",
            dependencies: ["S3", "S3HTTP", "S3Signing", "S3Locking", "S3TestSupport",
                           .product(name: "Logging", package: "swift-log")],
            path: "Sources/s3-soak"
        ),
        // Helpers both test targets use (a time-out that cannot hang the test run).
        .target(name: "S3TestSupport", dependencies: ["S3Locking"], path: "Tests/S3TestSupport"),
        .testTarget(name: "S3SigningTests", dependencies: ["S3Signing"], path: "Tests/S3SigningTests"),
        .testTarget(name: "S3HTTPTests", dependencies: ["S3HTTP", "S3Signing", "S3Locking", "S3TestSupport"], path: "Tests/S3HTTPTests"),
        .testTarget(name: "S3Tests", dependencies: ["S3", "S3Signing", "S3HTTP", "S3Locking", "S3TestSupport", "S3ServiceLifecycle",
                                                   .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                                                   .product(name: "Logging", package: "swift-log"),
                                                   .product(name: "MetricsTestKit", package: "swift-metrics"),
                                                   .product(name: "Tracing", package: "swift-distributed-tracing"),
                                                   .product(name: "InMemoryTracing", package: "swift-distributed-tracing")],
                       path: "Tests/S3Tests"),
    ],
    swiftLanguageModes: [.v6]
)
