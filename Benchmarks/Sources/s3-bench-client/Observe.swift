import InMemoryTracing
import Logging
import MetricsTestKit
import S3
import Tracing

/// BENCH_OBSERVE=1: the client with backends behind its observability, to measure what they
/// cost: a logger at debug level whose handler drops every line (the library still builds each
/// line's metadata), swift-metrics' TestMetrics (an in-memory backend), and
/// swift-distributed-tracing's InMemoryTracer bootstrapped for the process.
enum BenchObservability {
    struct DroppingHandler: LogHandler {
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {}
    }

    static func install(_ configuration: inout S3Configuration) {
        var logger = Logger(label: "bench") { _ in DroppingHandler() }
        logger.logLevel = .debug
        configuration.logger = logger
        configuration.metricsFactory = TestMetrics()
        InstrumentationSystem.bootstrap(InMemoryTracer())
    }
}
