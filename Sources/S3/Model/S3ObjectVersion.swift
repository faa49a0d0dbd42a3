import Foundation

/// An object version or delete marker (ListObjectVersions).
public struct S3ObjectVersion: Sendable, Hashable {
    /// The key.
    public var key: String
    /// The version ID (`null` on unversioned objects).
    public var versionID: String
    /// Whether this is a delete marker rather than a version.
    public var isDeleteMarker: Bool

    /// A value with these fields (what the client decodes; tests and fakes make their own).
    public init(key: String, versionID: String, isDeleteMarker: Bool) {
        self.key = key
        self.versionID = versionID
        self.isDeleteMarker = isDeleteMarker
    }
}
