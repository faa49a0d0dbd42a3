// swift-tools-version:6.1
// Benchmarks live in their own package so the library never depends on package-benchmark.
// Run them with scripts/bench (from the repository root), which also starts nginx and runs
// curl side by side.
import Foundation
import PackageDescription

// A path dependency's identity is its folder name, which differs between clones.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent.lowercased()

let benchmark: Target.Dependency = .product(name: "Benchmark", package: "benchmark")
let benchmarkPlugin: Target.PluginUsage = .plugin(name: "BenchmarkPlugin", package: "benchmark")

let package = Package(
    name: "S3Benchmarks",
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.1.0"),
    ],
    targets: [
        .executableTarget(
            name: "SigningBenchmarks",
            dependencies: [benchmark, .product(name: "S3Signing", package: root), .product(name: "S3", package: root),
                           .product(name: "Logging", package: "swift-log"), .product(name: "MetricsTestKit", package: "swift-metrics"),
                           .product(name: "Tracing", package: "swift-distributed-tracing"),
                           .product(name: "InMemoryTracing", package: "swift-distributed-tracing")],
            path: "Benchmarks/SigningBenchmarks",
            plugins: [benchmarkPlugin]
        ),
        .executableTarget(
            name: "TransportBenchmarks",
            dependencies: [benchmark, .product(name: "S3HTTP", package: root)],
            path: "Benchmarks/TransportBenchmarks",
            plugins: [benchmarkPlugin]
        ),
        .executableTarget(
            name: "profile-cpu",
            dependencies: [.product(name: "S3", package: root), .product(name: "S3Signing", package: root)],
            path: "Sources/profile-cpu"
        ),
        .executableTarget(
            name: "transfer-memory",
            dependencies: [.product(name: "S3", package: root)],
            path: "Sources/transfer-memory"
        ),
        .executableTarget(
            name: "bench-s3-server",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "S3Signing", package: root),
            ],
            path: "Sources/bench-s3-server"
        ),
        .executableTarget(
            name: "s3-bench-client",
            dependencies: [.product(name: "S3", package: root), .product(name: "Logging", package: "swift-log"),
                           .product(name: "MetricsTestKit", package: "swift-metrics"),
                           .product(name: "Tracing", package: "swift-distributed-tracing"),
                           .product(name: "InMemoryTracing", package: "swift-distributed-tracing")],
            path: "Sources/s3-bench-client"
        ),
        .executableTarget(
            name: "transport-compare",
            dependencies: [.product(name: "S3HTTP", package: root)],
            path: "Sources/transport-compare"
        ),
    ],
    swiftLanguageModes: [.v6]
)
