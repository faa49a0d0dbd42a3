import Foundation

/// The result of a PUT.
public struct S3PutObjectResult: Sendable {
    /// The new object's ETag, quotes removed.
    public var eTag: String?
    /// The new version ID, on versioned buckets.
    public var versionID: String?
    /// How many times the request was sent (1 = no retry; for a multipart upload, those of
    /// CompleteMultipartUpload; ``S3Client/retryCount`` counts every retry of a client).
    public var attempts: Int = 1

    /// A result.
    public init(eTag: String?, versionID: String?, attempts: Int = 1) {
        self.eTag = eTag
        self.versionID = versionID
        self.attempts = attempts
    }
}
