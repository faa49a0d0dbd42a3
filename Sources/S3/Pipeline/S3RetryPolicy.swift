import Foundation
import S3HTTP
import S3Locking

/// How failed requests are retried: the AWS SDKs' "standard" mode.
///
/// Every request a client sends (each part and range of a transfer too) goes through it. A
/// failure is retried when it is throttling (`SlowDown`, `Throttling`, HTTP 429, ...), transient
/// (HTTP 500/502/503/504, `InternalError`, `RequestTimeout`, a reset, refused, broken or
/// stalled connection) and the request body can be sent again. Before retry `n` (1-based) the
/// client sleeps a random time in `0 ... min(base * 2^(n-1), maxDelay)` ("full jitter"), with
/// `base` = ``throttlingBaseDelay`` for throttling and ``transientBaseDelay`` otherwise; a
/// server's `x-amz-retry-after` (milliseconds) or `Retry-After` (seconds) raises that sleep to at
/// most 5 s beyond it. Retries also draw on the client's ``S3RetryQuota``.
///
/// Set it per client (``S3Configuration/retry``), per transfer (``S3TransferOptions/retry``),
/// or per call with ``S3Client/withRetryPolicy(_:operation:)``.
public struct S3RetryPolicy: Sendable, Hashable {
    /// Attempts in all, the first included (1 = never retry). Default 3.
    public var maxAttempts: Int
    /// Back-off base for transient failures (server errors, broken connections). Default 50 ms.
    public var transientBaseDelay: Duration
    /// Back-off base for throttling. Default 1 s.
    public var throttlingBaseDelay: Duration
    /// The longest back-off. Default 20 s.
    public var maxDelay: Duration

    /// The standard mode: 3 attempts; 50 ms (transient) or 1 s (throttling) doubling up to 20 s,
    /// fully jittered.
    public init(maxAttempts: Int = 3, transientBaseDelay: Duration = .milliseconds(50),
                throttlingBaseDelay: Duration = .seconds(1), maxDelay: Duration = .seconds(20)) {
        self.maxAttempts = maxAttempts
        self.transientBaseDelay = transientBaseDelay
        self.throttlingBaseDelay = throttlingBaseDelay
        self.maxDelay = maxDelay
    }

    /// One base delay for both kinds of failure (for tests and tight loops).
    public init(maxAttempts: Int, baseDelay: Duration, maxDelay: Duration = .seconds(20)) {
        self.init(maxAttempts: maxAttempts, transientBaseDelay: baseDelay, throttlingBaseDelay: baseDelay, maxDelay: maxDelay)
    }

    /// Never retry.
    public static let none = S3RetryPolicy(maxAttempts: 1)

    /// The sleep before retry number `retry` (1-based) after a failure of `kind`: full jitter
    /// over the capped exponential, raised toward the server's hint (at most 5 s beyond it).
    func delay(beforeRetry retry: Int, kind: S3RetryKind, serverHint: Duration?) -> Duration {
        let base = kind == .throttling ? throttlingBaseDelay : transientBaseDelay
        let cap = min(maxDelay, base * (1 << min(max(retry - 1, 0), 30)))
        let computed = cap * Double.random(in: 0...1)
        guard let hint = serverHint else { return computed }
        return min(max(computed, hint), computed + .seconds(5))
    }

    /// The policy of the current task when ``S3Client/withRetryPolicy(_:operation:)`` set one.
    @TaskLocal static var current: S3RetryPolicy?
}
