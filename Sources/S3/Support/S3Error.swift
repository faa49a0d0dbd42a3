import Foundation
import S3HTTP

/// Every failure of this library: an error S3 returned, a request refused before it was sent
/// (bad input), a transport failure, or a response we could not understand.
///
/// Match on ``code``:
/// ```swift
/// do { _ = try await client.headObject(bucket: "b", key: "k") }
/// catch let e as S3Error where e.code == .noSuchKey { ... }
/// ```
/// `description` carries the code, message, HTTP status, request ID, bucket and key; it never
/// contains credentials or signatures.
public struct S3Error: Error, Sendable, CustomStringConvertible {
    /// An S3 error code (`NoSuchKey`, `SlowDown`, ...) or one of this library's own.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(stringLiteral value: String) { self.rawValue = value }
        public var description: String { rawValue }

        /// The bucket does not exist.
        public static let noSuchBucket: Code = "NoSuchBucket"
        /// The key does not exist.
        public static let noSuchKey: Code = "NoSuchKey"
        /// The multipart upload does not exist.
        public static let noSuchUpload: Code = "NoSuchUpload"
        /// Creating a bucket you already own.
        public static let bucketAlreadyOwnedByYou: Code = "BucketAlreadyOwnedByYou"
        /// Creating a bucket someone else owns.
        public static let bucketAlreadyExists: Code = "BucketAlreadyExists"
        /// Deleting a bucket that still holds objects.
        public static let bucketNotEmpty: Code = "BucketNotEmpty"
        /// Permission denied.
        public static let accessDenied: Code = "AccessDenied"
        /// A conditional request (`If-Match`, ...) failed.
        public static let preconditionFailed: Code = "PreconditionFailed"
        /// The requested range is not satisfiable.
        public static let invalidRange: Code = "InvalidRange"
        /// Throttled: retry later.
        public static let slowDown: Code = "SlowDown"
        /// A server-side failure.
        public static let internalError: Code = "InternalError"

        /// Ours: the request was refused before sending because an argument is invalid.
        public static let invalidArgument: Code = "ClientInvalidArgument"
        /// Ours: the request did not get a response (see ``S3Error/underlying``). Whether the
        /// store carried it out is unknown: a write that failed so may be there, and may even be
        /// stored later than a newer write of the same key (SeaweedFS does so when a stalled
        /// gateway resumes; Amazon S3 orders writes of a key by when each began).
        public static let transportFailure: Code = "ClientTransportFailure"
        /// Ours: the response could not be understood.
        public static let invalidResponse: Code = "ClientInvalidResponse"
        /// Ours: a batch operation left some keys behind (see ``S3Error/failures``).
        public static let partialFailure: Code = "ClientPartialFailure"
        /// Ours: a multipart upload failed and was kept for resuming (see ``S3Error/resumeState``).
        public static let uploadIncomplete: Code = "ClientUploadIncomplete"
        /// Ours: the object changed while it was being downloaded (its ETag no longer matched).
        public static let objectChanged: Code = "ClientObjectChanged"
        /// Ours: what the server stored does not match what was sent (ETag or checksum).
        public static let integrityFailure: Code = "ClientIntegrityFailure"
    }

    /// What went wrong.
    public var code: Code
    /// A human-readable message (S3's, or ours).
    public var message: String
    /// The HTTP status, when a response arrived.
    public var httpStatus: Int?
    /// S3's request ID (`x-amz-request-id`), for support.
    public var requestID: String?
    /// S3's extended request ID (`x-amz-id-2`).
    public var hostID: String?
    /// The bucket of the request.
    public var bucket: String?
    /// The key of the request.
    public var key: String?
    /// The underlying cause (a transport or parse error), when there is one.
    public var underlying: (any Error)?
    /// For `.partialFailure`: each key that could not be processed, with S3's reason.
    public var failures: [S3DeleteFailure] = []
    /// For `.uploadIncomplete`: what ``S3Bucket/resumeUpload(_:file:contentType:options:)`` needs.
    public var resumeState: S3UploadResumeState?
    /// How many times the request was sent before this error was final (1 = no retry; 0 = it
    /// was refused before sending). Retries are described in ``S3RetryPolicy``.
    public var attempts: Int = 0
    /// The server's `Date`, for clock-skew correction.
    var serverDate: Date?
    /// The region a wrong-region answer named (`x-amz-bucket-region` or `<Region>`).
    var regionHint: String?
    /// The server's retry hint (`x-amz-retry-after` in ms, or `Retry-After` in seconds).
    var retryAfter: Duration?
    /// The `ETag` of the answer (a 304 carries the current one).
    var eTag: String?
    /// An answer a working store never gives and a retry can mend (`.invalidResponse` only):
    /// a ranged GET answered 200 with fewer bytes than the range, as a SeaweedFS gateway did
    /// when its chunk lookup failed after a stall (ClusterFaultTests).
    var transientAnswer = false

    /// An error value.
    public init(code: Code, message: String, httpStatus: Int? = nil, requestID: String? = nil, hostID: String? = nil,
                bucket: String? = nil, key: String? = nil, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.httpStatus = httpStatus
        self.requestID = requestID
        self.hostID = hostID
        self.bucket = bucket
        self.key = key
        self.underlying = underlying
    }

    static func invalidArgument(_ message: String, bucket: String? = nil, key: String? = nil) -> S3Error {
        S3Error(code: .invalidArgument, message: message, bucket: bucket, key: key)
    }

    /// `.partialFailure` for the keys a batch could not process, naming the first.
    static func partialFailure(_ failures: [S3DeleteFailure], what: String, bucket: String) -> S3Error {
        let first = failures[0]
        var e = S3Error(code: .partialFailure,
                        message: "\(failures.count) \(what) could not be deleted; first: \(first.key): \(first.code) \(first.message)",
                        bucket: bucket)
        e.failures = failures
        return e
    }

    /// Whether the same request may succeed if sent again: throttling, transient server errors
    /// (500, 502, 503, 504), broken, refused or stalled connections, timeouts (see
    /// ``S3RetryPolicy``). A clock skew or a wrong region is corrected by the client itself.
    public var isRetryable: Bool { S3RetryKind.of(self) != nil }

    /// Whether the store asked to slow down (`SlowDown`, `Throttling`, HTTP 429, ...).
    public var isThrottling: Bool { S3RetryKind.of(self) == .throttling }

    public var description: String {
        var s = "S3 error \(code.rawValue)"
        if let httpStatus { s += " (HTTP \(httpStatus))" }
        s += ": \(message)"
        var context: [String] = []
        if let bucket { context.append("bucket: \(bucket)") }
        if let key { context.append("key: \(key)") }
        if let requestID { context.append("request ID: \(requestID)") }
        if attempts > 1 { context.append("attempts: \(attempts)") }
        if let underlying { context.append("cause: \(underlying)") }
        if !context.isEmpty { s += " [" + context.joined(separator: ", ") + "]" }
        return s
    }
}
