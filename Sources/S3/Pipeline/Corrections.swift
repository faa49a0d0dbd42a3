import Foundation
import Synchronization
import S3Locking

/// The offset between the store's clock and ours, learnt from a refused request and applied to
/// every later signature (as the AWS SDKs do).
final class ClockSkew: Sendable {
    /// Seconds to add to the local clock.
    private let offset = Atomic<Int>(0)

    /// Skews smaller than this are left alone (S3 accepts 15 minutes; the SDKs correct above 5).
    static let threshold = 300

    /// Error codes that say the request's time was refused.
    static let skewCodes: Set<String> = ["RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture"]
    /// Codes that may hide a skew (a signature made with a wrong date does not match).
    static let likelyCodes: Set<String> = ["SignatureDoesNotMatch", "AuthFailure", "InvalidSignatureException"]

    var seconds: Int { offset.load(ordering: .relaxed) }

    /// Sets the offset (tests simulate a wrong local clock with it).
    func set(_ seconds: Int) { offset.store(seconds, ordering: .relaxed) }

    /// The current time as the store sees it, whole seconds since 1970.
    func now() -> Int { Int(Date().timeIntervalSince1970) + seconds }

    /// Adopts the store's clock when `error` (answering a request signed at `signedAt`) says
    /// the time was wrong and its `Date` is more than ``threshold`` seconds off. Returns
    /// whether the offset changed (then the request is worth sending once more).
    func correct(after error: S3Error, signedAt: Int) -> Bool {
        guard let serverDate = error.serverDate else { return false }
        let code = error.code.rawValue
        let isHeadForbidden = error.httpStatus == 403 && code == S3Error.Code.accessDenied.rawValue
        guard Self.skewCodes.contains(code) || Self.likelyCodes.contains(code) || isHeadForbidden else { return false }
        let skew = Int(serverDate.timeIntervalSince1970) - (signedAt - seconds)
        guard abs(skew - seconds) > Self.threshold || (Self.skewCodes.contains(code) && skew != seconds) else { return false }
        offset.store(skew, ordering: .relaxed)
        return true
    }
}

/// The region each bucket lives in, learnt from redirects (`301`, `307`, or `400
/// AuthorizationHeaderMalformed` naming the region), so later requests are signed right at once.
final class BucketRegions: Sendable {
    private let regions = Locked<[String: String]>([:])

    /// The remembered region of `bucket`, if a redirect named one.
    func region(of bucket: String) -> String? { regions.withLock { $0[bucket] } }

    func remember(_ region: String, for bucket: String) { regions.withLock { $0[bucket] = region } }

    /// The region an error response points to, when it is a wrong-region answer that names it.
    static func redirectRegion(in error: S3Error) -> String? {
        guard let region = error.regionHint, !region.isEmpty, Validation.isRegionName(region) else { return nil }
        switch error.httpStatus {
        case 301, 307: return region
        case 400 where error.code.rawValue == "AuthorizationHeaderMalformed" || error.code.rawValue == "IllegalLocationConstraintException":
            return region
        default:
            return nil
        }
    }
}
