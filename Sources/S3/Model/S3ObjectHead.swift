import Foundation

/// What a HEAD or GET tells about an object (its response headers, decoded). Not to be confused
/// with S3's GetObjectAttributes, whose answer is ``S3GetObjectAttributesResult``.
public struct S3ObjectHead: Sendable {
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
    /// What the object is stored with besides its bytes: storage class (S3 reports it for
    /// classes other than STANDARD), `Cache-Control`, `Content-Disposition`,
    /// `Content-Encoding`, `Content-Language`, `Expires`. Its `tags` are empty: a HEAD or GET
    /// only tells their number (``tagCount``); ``S3Client/objectTags(bucket:key:versionID:)`` reads them.
    public var properties: S3ObjectProperties = S3ObjectProperties()
    /// How many tags the object has (`x-amz-tagging-count`), when the store says.
    public var tagCount: Int?
    /// Whether the object is encrypted with a customer key (SSE-C), which the answer never
    /// carries (``S3ObjectProperties/encryption`` is then `nil`).
    public var usesCustomerKey = false

    /// A value with these fields (what the client decodes; tests and fakes make their own).
    public init(size: Int64, eTag: String? = nil, lastModified: Date? = nil, contentType: String? = nil, metadata: [String: String], versionID: String? = nil, checksum: S3Checksum? = nil) {
        self.size = size
        self.eTag = eTag
        self.lastModified = lastModified
        self.contentType = contentType
        self.metadata = metadata
        self.versionID = versionID
        self.checksum = checksum
    }
}

/// The former name of ``S3ObjectHead``, renamed so that it is not taken for the answer of S3's
/// GetObjectAttributes (``S3GetObjectAttributesResult``).
@available(*, deprecated, renamed: "S3ObjectHead")
public typealias S3ObjectAttributes = S3ObjectHead
