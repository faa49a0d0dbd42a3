import Foundation

/// A bucket as listed by ListBuckets.
public struct S3BucketSummary: Sendable, Hashable {
    /// The bucket name.
    public var name: String
    /// When it was created.
    public var creationDate: Date?

    /// A value with these fields (what the client decodes; tests and fakes make their own).
    public init(name: String, creationDate: Date? = nil) {
        self.name = name
        self.creationDate = creationDate
    }
}
