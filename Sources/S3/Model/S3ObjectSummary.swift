import Foundation

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

    /// A value with these fields (what the client decodes; tests and fakes make their own).
    public init(key: String, size: Int64, eTag: String? = nil, lastModified: Date? = nil, storageClass: String? = nil) {
        self.key = key
        self.size = size
        self.eTag = eTag
        self.lastModified = lastModified
        self.storageClass = storageClass
    }
}
