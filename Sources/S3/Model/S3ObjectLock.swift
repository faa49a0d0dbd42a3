import Foundation

/// How strictly an Object Lock retention holds a version.
public enum S3RetentionMode: String, Sendable, Hashable, CaseIterable, Codable {
    /// Nobody may delete or overwrite the version, or shorten its retention, before the date,
    /// except a caller with `s3:BypassGovernanceRetention` who asks to
    /// (`bypassGovernanceRetention: true`).
    case governance = "GOVERNANCE"
    /// Nobody may delete the version or shorten its retention before the date, the account's
    /// root user included.
    case compliance = "COMPLIANCE"
}

/// The retention of one object version under S3 Object Lock: it cannot be deleted before
/// ``retainUntil``.
public struct S3ObjectRetention: Sendable, Hashable {
    /// How strictly it holds.
    public var mode: S3RetentionMode
    /// The date before which the version cannot be deleted (S3 keeps whole seconds).
    public var retainUntil: Date

    /// A retention.
    public init(mode: S3RetentionMode, retainUntil: Date) {
        self.mode = mode
        self.retainUntil = retainUntil
    }

    /// The date as S3 takes it: ISO 8601, UTC, whole seconds (`2027-01-31T12:00:00Z`).
    var retainUntilText: String { S3Dates.iso8601Seconds(retainUntil) }
}

/// The retention a bucket gives every new object version unless the write names its own.
public struct S3DefaultRetention: Sendable, Hashable {
    /// A retention period, in days or in years (S3 takes one or the other).
    public enum Period: Sendable, Hashable {
        /// So many days (1 or more).
        case days(Int)
        /// So many years (1 or more).
        case years(Int)
    }

    /// How strictly it holds.
    public var mode: S3RetentionMode
    /// For how long after each write.
    public var period: Period

    /// A default retention.
    public init(mode: S3RetentionMode, period: Period) {
        self.mode = mode
        self.period = period
    }
}

/// A bucket's Object Lock configuration (GetObjectLockConfiguration).
public struct S3ObjectLockConfiguration: Sendable, Hashable {
    /// Whether the bucket has Object Lock (set when it is created, or later on a versioned
    /// bucket; it cannot be turned off).
    public var enabled: Bool
    /// The retention new versions get, if any.
    public var defaultRetention: S3DefaultRetention?

    /// A configuration.
    public init(enabled: Bool, defaultRetention: S3DefaultRetention? = nil) {
        self.enabled = enabled
        self.defaultRetention = defaultRetention
    }
}
