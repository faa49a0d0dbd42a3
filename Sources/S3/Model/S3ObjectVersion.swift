import Foundation

/// An object version or delete marker (ListObjectVersions).
public struct S3ObjectVersion: Sendable, Hashable {
    /// The key.
    public var key: String
    /// The version ID (`null` on unversioned objects).
    public var versionID: String
    /// Whether this is a delete marker rather than a version.
    public var isDeleteMarker: Bool
    /// Whether this is the key's current version (or marker).
    public var isLatest: Bool
    /// Size in bytes (versions only).
    public var size: Int64?
    /// The ETag, quotes removed (versions only).
    public var eTag: String?
    /// When the version (or marker) was written.
    public var lastModified: Date?

    /// A value with these fields (what the client decodes; tests and fakes make their own).
    public init(key: String, versionID: String, isDeleteMarker: Bool, isLatest: Bool = false, size: Int64? = nil, eTag: String? = nil,
                lastModified: Date? = nil) {
        self.key = key
        self.versionID = versionID
        self.isDeleteMarker = isDeleteMarker
        self.isLatest = isLatest
        self.size = size
        self.eTag = eTag
        self.lastModified = lastModified
    }
}

/// A bucket's versioning state (GetBucketVersioning).
public enum S3VersioningStatus: String, Sendable, Hashable {
    /// Versioning was never enabled: each key has one object.
    case unversioned
    /// Every write keeps the previous version; deletes add a delete marker.
    case enabled = "Enabled"
    /// Versions already kept stay; new writes replace the `null` version.
    case suspended = "Suspended"
}
