import Foundation

/// What a HEAD or GET tells about an object.
public struct S3ObjectAttributes: Sendable {
    /// The object's size in bytes (the whole object, even for a ranged GET).
    public var size: Int64
    /// The ETag, quotes removed.
    public var eTag: String?
    /// When the object was last written.
    public var lastModified: Date?
    /// The `Content-Type` it was stored with.
    public var contentType: String?
    /// User metadata (`x-amz-meta-*`), names lower-cased and without the prefix.
    public var metadata: [String: String]
    /// The version ID, on versioned buckets.
    public var versionID: String?
    /// The checksum the store holds for the object (asked for when
    /// ``S3Configuration/checksums`` is `.whenSupported`), if it keeps one. A ranged GET
    /// carries none.
    public var checksum: S3Checksum?
}

/// One object of a listing.
public struct S3ObjectSummary: Sendable, Hashable {
    /// The key.
    public var key: String
    /// Size in bytes.
    public var size: Int64
    /// The ETag, quotes removed.
    public var eTag: String?
    /// When the object was last written.
    public var lastModified: Date?
    /// The storage class (`STANDARD`, ...).
    public var storageClass: String?
}

/// One page of ListObjectsV2.
public struct ListObjectsV2Page: Sendable {
    /// Objects on this page, in key order.
    public var objects: [S3ObjectSummary]
    /// Common prefixes (with a delimiter): the "folders" on this page.
    public var commonPrefixes: [String]
    /// Whether more pages follow.
    public var isTruncated: Bool
    /// Pass this to get the next page.
    public var nextContinuationToken: String?
    /// Number of keys and prefixes on this page.
    public var keyCount: Int
}

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

/// A bucket as listed by ListBuckets.
public struct S3BucketSummary: Sendable, Hashable {
    /// The bucket name.
    public var name: String
    /// When it was created.
    public var creationDate: Date?
}
