import Foundation
import InMemoryTracing
import Logging
import MetricsTestKit
import S3Locking
import Testing
import Tracing
@testable import S3

/// Logs, metrics and spans of real requests (moto and SeaweedFS, and the fault proxy in front
/// of each for a retry), through swift-log, swift-metrics' TestMetrics and
/// swift-distributed-tracing's InMemoryTracer.
@Suite struct ObservabilityTests {
    /// A client of the proxy in front of the current server, logging to `logs` and measuring into `metrics`.
    func observedClient(logs: LogCapture? = nil, metrics: TestMetrics? = nil, level: Logger.Level = .trace) throws -> S3Client {
        var configuration = try S3Configuration(endpoint: try proxyEndpoint(), credentials: testCredentials)
        configuration.retry = S3RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(5))
        if let logs {
            var logger = logs.logger
            logger.logLevel = level
            configuration.logger = logger
        }
        configuration.metricsFactory = metrics
        return S3Client(configuration: configuration)
    }

    @Test(arguments: TestServer.all) func logsEachRequestAndRetryAtDebugWithTheirMetadata(server: TestServer) async throws {
        try await server.run {
            let logs = LogCapture()
            let client = try observedClient(logs: logs)
            try await S3Bucket.withTemporaryBucket(client: try makeClient(), namePrefix: "logs") { b in
                try setFaults(bucket: b.name, #"[{"method":"PUT","action":"status","status":503,"code":"SlowDown","times":1}]"#)
                defer { try? setFaults(bucket: b.name, "[]") }
                try await client.putObject(bucket: b.name, key: "a.txt", bytes: Array("hello".utf8))
                _ = try await client.getObject(bucket: b.name, key: "a.txt").body.collect()
                let lines = logs.lines.withLock { $0 }
                let put = lines.filter { $0.hasPrefix("debug [S3 request]") && $0.contains("s3.operation=PutObject") }
                #expect(put.count == 2, "\(lines)")
                #expect(put.first?.contains("http.status=503") == true)
                #expect(put.last?.contains("http.status=200") == true)
                #expect(put.last?.contains("s3.attempt=2") == true)
                #expect(put.last?.contains("s3.bucket=\(b.name)") == true)
                #expect(put.last?.contains("s3.key=a.txt") == true)
                #expect(put.last?.contains("duration_ms=") == true)
                let retry = lines.filter { $0.hasPrefix("debug [retrying S3 request]") }
                #expect(retry.count == 1)
                #expect(retry.first?.contains("error.code=SlowDown") == true)
                #expect(retry.first?.contains("retry.delay_ms=") == true)
                #expect(lines.contains { $0.hasPrefix("trace [sending S3 request]") && $0.contains("s3.operation=GetObject") })
                let get = lines.first { $0.hasPrefix("debug [S3 request]") && $0.contains("s3.operation=GetObject") }
                #expect(get?.contains("http.status=200") == true)
                if server.kind == .seaweedfs { #expect(get?.contains("s3.request_id=") == true) }  // moto sends no x-amz-request-id
                // Only trace and debug: nothing at info or above.
                #expect(lines.allSatisfy { $0.hasPrefix("trace ") || $0.hasPrefix("debug ") })
                // Never a secret, a signature or an Authorization header.
                let text = logs.text
                #expect(!text.contains("testing-secret"))
                #expect(!text.lowercased().contains("authorization"))
                #expect(!text.contains("Signature="))
            }
        }
    }

    @Test func aLoggerAtInfoGetsNothingAndAPerCallLoggerWins() async throws {
        try await TestServer.moto.run {
            let quiet = LogCapture()
            let client = try observedClient(logs: quiet, level: .info)
            try await S3Bucket.withTemporaryBucket(client: try makeClient(), namePrefix: "quiet") { b in
                try await client.putObject(bucket: b.name, key: "k", bytes: [1])
                #expect(quiet.lines.withLock { $0.isEmpty })
                // A request's own logger, for this call only.
                let perCall = LogCapture()
                var logger = perCall.logger
                logger[metadataKey: "request.id"] = "req-42"
                _ = try await S3Client.withLogger(logger) { try await client.headObject(bucket: b.name, key: "k") }
                let lines = perCall.lines.withLock { $0 }
                #expect(lines.contains { $0.contains("s3.operation=HeadObject") && $0.contains("request.id=req-42") })
                #expect(quiet.lines.withLock { $0.isEmpty })
                // Failures are logged with their code.
                _ = try? await S3Client.withLogger(logger) { try await client.headObject(bucket: b.name, key: "missing") }
                #expect(perCall.lines.withLock { $0 }.contains { $0.hasPrefix("debug [S3 request failed]") && $0.contains("error.code=NoSuchKey") })
            }
        }
    }

    @Test(arguments: TestServer.all) func metricsPerOperation(server: TestServer) async throws {
        try await server.run {
            let metrics = TestMetrics()
            let client = try observedClient(metrics: metrics)
            try await S3Bucket.withTemporaryBucket(client: try makeClient(), namePrefix: "metrics") { b in
                let body = patternBytes(100_000)
                try setFaults(bucket: b.name, #"[{"method":"GET","action":"status","status":503,"code":"SlowDown","times":1}]"#)
                defer { try? setFaults(bucket: b.name, "[]") }
                try await client.putObject(bucket: b.name, key: "m", bytes: body)
                #expect(try await client.getObject(bucket: b.name, key: "m").body.collect() == body)
                await #expect(throws: S3Error.self) { try await client.headObject(bucket: b.name, key: "missing") }
                func counter(_ label: String, _ operation: String) throws -> Int64 {
                    try metrics.expectCounter(label, [("operation", operation)]).totalValue
                }
                #expect(try counter("s3_requests_total", "PutObject") == 1)
                #expect(try counter("s3_bytes_sent_total", "PutObject") == Int64(body.count))
                #expect(try counter("s3_requests_total", "GetObject") == 2)  // a 503 and the retry
                #expect(try counter("s3_retries_total", "GetObject") == 1)
                #expect(try counter("s3_bytes_received_total", "GetObject") >= Int64(body.count))
                #expect(try metrics.expectTimer("s3_request_duration_seconds", [("operation", "PutObject")]).values.count == 1)
                let errors = try metrics.expectCounter("s3_request_errors_total", [("operation", "HeadObject"), ("code", "NoSuchKey")])
                #expect(errors.totalValue == 1)
            }
        }
    }

    @Test func aSpanPerOperationAndPerAttempt() async throws {
        try await TestServer.moto.run {
            let tracer = InMemoryTracer()
            let client = try observedClient()
            try await S3Bucket.withTemporaryBucket(client: try makeClient(), namePrefix: "spans") { b in
                try setFaults(bucket: b.name, #"[{"method":"PUT","action":"status","status":503,"code":"SlowDown","times":1}]"#)
                defer { try? setFaults(bucket: b.name, "[]") }
                try await withTracer(tracer) {
                    try await withSpan("handler") { _ in
                        try await client.putObject(bucket: b.name, key: "s", bytes: [1, 2, 3])
                        _ = try? await client.headObject(bucket: b.name, key: "missing")
                    }
                }
                let spans = tracer.finishedSpans
                let handler = try #require(spans.first { $0.operationName == "handler" })
                let put = try #require(spans.first { $0.operationName == "S3.PutObject" })
                #expect(put.kind == .client)
                #expect(put.parentSpanID == handler.spanID)
                #expect(put.traceID == handler.traceID)
                #expect(put.attributes.get("rpc.system") == .string("aws-api"))
                #expect(put.attributes.get("rpc.method") == .string("PutObject"))
                #expect(put.attributes.get("aws.s3.bucket") == .string(b.name))
                #expect(put.attributes.get("aws.s3.key") == .string("s"))
                let attempts = spans.filter { $0.parentSpanID == put.spanID }
                #expect(attempts.map(\.operationName) == ["PUT", "PUT"])
                #expect(attempts.first?.attributes.get("http.response.status_code") == .int64(503))
                #expect(attempts.first?.attributes.get("error.type") == .string("SlowDown"))
                #expect(attempts.last?.attributes.get("http.response.status_code") == .int64(200))
                #expect(attempts.last?.attributes.get("http.request.resend_count") == .int64(1))
                #expect(attempts.last?.attributes.get("url.full").map { "\($0)" }?.contains("/s") == true)
                let head = try #require(spans.first { $0.operationName == "S3.HeadObject" })
                #expect(head.status?.code == .error)
                #expect(head.attributes.get("error.type") == .string("NoSuchKey"))
                // No span records a secret or a signature.
                let rendered = spans.map { "\($0.attributes)" }.joined()
                #expect(!rendered.contains("testing-secret") && !rendered.contains("Signature="))
            }
        }
    }
}
