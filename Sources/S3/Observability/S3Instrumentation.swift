import Foundation
import Logging
import Metrics
import S3HTTP
import S3Locking
import Tracing

// What a client reports about its requests, through the three server-ecosystem APIs:
//
//   swift-log                 debug: one line per request (operation, bucket, key, attempt, status,
//                             request ID, duration), retries, credential refreshes; trace: each send
//   swift-metrics             s3_requests_total, s3_request_errors_total, s3_request_duration_seconds,
//                             s3_retries_total, s3_bytes_sent_total, s3_bytes_received_total
//                             (dimension "operation"; errors also "code")
//   swift-distributed-tracing a span per S3 operation ("S3.GetObject") and a child span per HTTP
//                             attempt, with OpenTelemetry's rpc.*, http.*, aws.* attributes
//
// With no backend bootstrapped each costs next to nothing: the logger's level check, no-op
// metric handles looked up once per operation name, no-op spans (attributes are only set on a
// span that records).

/// The metric handles of one operation, made once per client and operation name.
final class OperationMetrics: Sendable {
    let operation: String
    let requests: Counter
    let duration: Metrics.Timer
    let retries: Counter
    let bytesSent: Counter
    let bytesReceived: Counter

    let factory: any MetricsFactory

    init(operation: String, factory: any MetricsFactory) {
        let dimensions = [("operation", operation)]
        self.operation = operation
        self.factory = factory
        requests = Counter(label: "s3_requests_total", dimensions: dimensions, factory: factory)
        duration = Metrics.Timer(label: "s3_request_duration_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds, factory: factory)
        retries = Counter(label: "s3_retries_total", dimensions: dimensions, factory: factory)
        bytesSent = Counter(label: "s3_bytes_sent_total", dimensions: dimensions, factory: factory)
        bytesReceived = Counter(label: "s3_bytes_received_total", dimensions: dimensions, factory: factory)
    }

    /// Counts a failed operation by its S3 error code (made when it happens: errors are rare).
    func failed(code: String) {
        Counter(label: "s3_request_errors_total", dimensions: [("operation", operation), ("code", code)], factory: factory).increment()
    }
}

/// A client's metric handles by operation name.
final class S3Instrumentation: Sendable {
    private let byOperation = Locked<[String: OperationMetrics]>([:])
    let factory: any MetricsFactory

    /// Metrics through `factory`, else the process's (`MetricsSystem.factory`, a no-op unless
    /// bootstrapped).
    init(factory: (any MetricsFactory)?) {
        self.factory = factory ?? MetricsSystem.factory
    }

    func metrics(for operation: String) -> OperationMetrics {
        byOperation.withLock { table in
            if let m = table[operation] { return m }
            let m = OperationMetrics(operation: operation, factory: factory)
            table[operation] = m
            return m
        }
    }

    /// The logger for a request sent now: the task's (``S3Client/withLogger(_:operation:)``)
    /// or the configuration's.
    @TaskLocal static var taskLogger: Logger?
}

extension S3Client {
    /// Runs `operation` with `logger` for every request it sends from this task and its child
    /// tasks, instead of the configuration's ``S3Configuration/logger``: a request's own
    /// logger, with its request ID in the metadata, say.
    ///
    /// ```swift
    /// var logger = request.logger          // e.g. a Hummingbird or Vapor request's
    /// logger[metadataKey: "job"] = "thumbnails"
    /// let data = try await S3Client.withLogger(logger) { try await bucket.get("a.jpg") }
    /// ```
    public static func withLogger<T>(_ logger: Logger, operation: () async throws -> T) async rethrows -> T {
        try await S3Instrumentation.$taskLogger.withValue(logger, operation: operation)
    }
}

/// Follows one S3 operation through the pipeline: its span, its attempts' spans, its log lines
/// and metrics.
struct OperationObservation {
    let logger: Logger
    let operation: String
    let method: String
    let bucket: String?
    let key: String?
    let metrics: OperationMetrics
    let tracer: any Tracer
    let span: any Span
    let started: ContinuousClock.Instant

    init(request: S3Request, client: S3Client) {
        logger = S3Instrumentation.taskLogger ?? client.configuration.logger
        operation = request.operationName
        method = request.method
        bucket = request.bucket
        key = request.key
        metrics = client.instrumentation.metrics(for: operation)
        tracer = InstrumentationSystem.tracer
        span = tracer.startSpan("S3." + operation, context: ServiceContext.current ?? .topLevel, ofKind: .client)
        if span.isRecording {
            span.attributes["rpc.system"] = "aws-api"
            span.attributes["rpc.service"] = "S3"
            span.attributes["rpc.method"] = operation
            if let bucket { span.attributes["aws.s3.bucket"] = bucket }
            if let key { span.attributes["aws.s3.key"] = key }
        }
        started = .now
    }

    var baseMetadata: Logger.Metadata {
        var m: Logger.Metadata = ["s3.operation": "\(operation)"]
        if let bucket { m["s3.bucket"] = "\(bucket)" }
        if let key { m["s3.key"] = "\(key)" }
        return m
    }

    /// The operation's metadata plus what `error` tells: its code, status and request ID.
    func metadata(for error: S3Error) -> Logger.Metadata {
        var m = baseMetadata
        m["error.code"] = "\(error.code.rawValue)"
        if let status = error.httpStatus { m["http.status"] = "\(status)" }
        if let id = error.requestID { m["s3.request_id"] = "\(id)" }
        return m
    }

    /// Starts attempt number `attempt`.
    func startAttempt(_ attempt: Int, url: @autoclosure () -> String) -> AttemptObservation {
        let span = tracer.startSpan(method, context: self.span.context, ofKind: .client)
        if span.isRecording {
            span.attributes["http.request.method"] = method
            span.attributes["url.full"] = url()
            if attempt > 1 { span.attributes["http.request.resend_count"] = attempt - 1 }
        }
        if logger.logLevel <= .trace {
            var m = baseMetadata
            m["s3.attempt"] = "\(attempt)"
            logger.trace("sending S3 request", metadata: m)
        }
        return AttemptObservation(span: span, attempt: attempt, started: .now)
    }

    /// The head of a response arrived (any status).
    func received(_ head: HTTPResponseHead, bodyLength: Int64?, in attempt: AttemptObservation) {
        let elapsed = attempt.started.duration(to: .now)
        metrics.requests.increment()
        metrics.duration.recordNanoseconds(Self.nanoseconds(elapsed))
        if let bodyLength, bodyLength > 0 { metrics.bytesSent.increment(by: bodyLength) }
        if let length = head.headers["content-length"].flatMap({ Int64($0) }), length > 0, method != "HEAD" {
            metrics.bytesReceived.increment(by: length)
        }
        let requestID = head.headers["x-amz-request-id"]
        if attempt.span.isRecording {
            attempt.span.attributes["http.response.status_code"] = head.status
            if let requestID { attempt.span.attributes["aws.request_id"] = requestID }
            if head.status >= 400 { attempt.span.setStatus(SpanStatus(code: .error)) }
        }
        if logger.logLevel <= .debug {
            var m = baseMetadata
            m["s3.attempt"] = "\(attempt.attempt)"
            m["http.status"] = "\(head.status)"
            if let requestID { m["s3.request_id"] = "\(requestID)" }
            m["duration_ms"] = "\(Self.milliseconds(elapsed))"
            logger.debug("S3 request", metadata: m)
        }
    }

    /// The attempt ended (successfully or not); `error` when it failed.
    func endAttempt(_ attempt: AttemptObservation, error: S3Error?) {
        if let error, attempt.span.isRecording {
            attempt.span.attributes["error.type"] = error.code.rawValue
            attempt.span.setStatus(SpanStatus(code: .error))
        }
        attempt.span.end()
    }

    /// A failed attempt will be sent again after `delay`.
    func retrying(after error: S3Error, attempt: Int, delay: Duration) {
        metrics.retries.increment()
        if logger.logLevel <= .debug {
            var m = metadata(for: error)
            m["s3.attempt"] = "\(attempt)"
            m["retry.delay_ms"] = "\(Self.milliseconds(delay))"
            logger.debug("retrying S3 request", metadata: m)
        }
    }

    /// A clock skew, region or expired-token correction: sent again at once.
    func correcting(after error: S3Error, attempt: Int) {
        if logger.logLevel <= .debug {
            var m = metadata(for: error)
            m["s3.attempt"] = "\(attempt)"
            logger.debug("correcting and sending the S3 request again", metadata: m)
        }
    }

    /// The operation succeeded.
    func succeeded(attempts: Int) {
        if attempts > 1, logger.logLevel <= .debug {
            var m = baseMetadata
            m["s3.attempts"] = "\(attempts)"
            m["duration_ms"] = "\(Self.milliseconds(started.duration(to: .now)))"
            logger.debug("S3 request succeeded after retries", metadata: m)
        }
        span.end()
    }

    /// The operation failed for good with `error` (cancellation is not a failure).
    func failed(_ error: any Error, attempts: Int) {
        if let s3 = error as? S3Error {
            metrics.failed(code: s3.code.rawValue)
            if span.isRecording {
                span.attributes["error.type"] = s3.code.rawValue
                if let status = s3.httpStatus { span.attributes["http.response.status_code"] = status }
                if let id = s3.requestID { span.attributes["aws.request_id"] = id }
                span.recordError(s3)
                span.setStatus(SpanStatus(code: .error))
            }
            if logger.logLevel <= .debug {
                var m = metadata(for: s3)
                m["s3.attempts"] = "\(attempts)"
                m["duration_ms"] = "\(Self.milliseconds(started.duration(to: .now)))"
                logger.debug("S3 request failed", metadata: m)
            }
        }
        span.end()
    }

    static func nanoseconds(_ d: Duration) -> Int64 {
        let (s, atto) = d.components
        return s * 1_000_000_000 + atto / 1_000_000_000
    }

    static func milliseconds(_ d: Duration) -> Int64 { nanoseconds(d) / 1_000_000 }
}

/// One HTTP attempt of an operation.
struct AttemptObservation {
    let span: any Span
    let attempt: Int
    let started: ContinuousClock.Instant
}

@_spi(Benchmarking)
extension S3Client {
    /// What the pipeline adds to every request for credentials, logs, metrics and spans, without
    /// the request: the credential lookup, the operation's observation, one attempt with a 200
    /// head, and its end, `count` times (the observability benchmark's unit of work). Not API.
    public func measureRequestOverhead(_ count: Int) async throws {
        let request = S3Request("GET", bucket: "bucket", key: "photos/2024/image.jpg")
        let head = HTTPResponseHead(status: 200, headers: HTTPHeaders([("Content-Length", "1024"), ("x-amz-request-id", "0123456789ABCDEF")]))
        for _ in 0..<count {
            _ = try await signingIdentity()
            let observation = OperationObservation(request: request, client: self)
            let attempt = observation.startAttempt(1, url: "http://127.0.0.1:9000/bucket/photos/2024/image.jpg")
            observation.received(head, bodyLength: 0, in: attempt)
            observation.endAttempt(attempt, error: nil)
            observation.succeeded(attempts: 1)
        }
    }
}
