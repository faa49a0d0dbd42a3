import Foundation
import S3HTTP
import S3Locking

/// Why a failure may be retried.
enum S3RetryKind: Sendable, Equatable {
    /// The store asked to slow down.
    case throttling
    /// A server error or a broken connection.
    case transient
    /// A timeout (costs more of the retry quota).
    case timeout

    /// S3 and AWS error codes that mean "too many requests" (GUIDE §10, from the AWS SDKs).
    static let throttlingCodes: Set<String> = [
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "TooManyRequestsException",
        "ProvisionedThroughputExceededException", "TransactionInProgressException", "RequestLimitExceeded",
        "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
        "EC2ThrottledException",
    ]
    /// Codes of transient server-side failures. `ConditionalRequestConflict` (409): a
    /// conditional write raced another write of the key; S3 asks to retry it (the retry then
    /// meets the other write's result: success or `PreconditionFailed`).
    static let transientCodes: Set<String> = ["InternalError", "ServiceUnavailable", "RequestTimeout", "RequestTimeoutException",
                                              "ConditionalRequestConflict"]

    /// How `error` may be retried, or nil when sending it again cannot help.
    static func of(_ error: S3Error) -> S3RetryKind? {
        if let t = error.underlying as? HTTPTransportError {
            switch t.kind {
            case .stalled, .connectTimeout: return .timeout
            case .connectionRefused, .connectionBroken, .hostNotFound: return .transient
            default: return nil
            }
        }
        if throttlingCodes.contains(error.code.rawValue) || error.httpStatus == 429 { return .throttling }
        if error.code.rawValue == "RequestTimeout" || error.code.rawValue == "RequestTimeoutException" || error.httpStatus == 408 {
            return .timeout
        }
        if transientCodes.contains(error.code.rawValue) || error.transientAnswer { return .transient }
        if let s = error.httpStatus, [500, 502, 503, 504].contains(s) { return .transient }
        return nil
    }
}
