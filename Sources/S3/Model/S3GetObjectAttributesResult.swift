import Foundation

/// What S3's GetObjectAttributes tells about an object without its bytes: ETag, checksum,
/// parts (with each part's size and checksum), storage class and size
/// (``S3Client/objectAttributes(bucket:key:versionID:maxParts:partNumberMarker:)``).
/// Each field is `nil` (or empty) when the store did not report it.
public struct S3GetObjectAttributesResult: Sendable, Hashable {
    /// One part of a multipart object.
    public struct Part: Sendable, Hashable {
        /// The part's number (1-based).
        public var partNumber: Int
        /// Its size in bytes.
        public var size: Int64
        /// Its checksum, when the object was uploaded with one.
        public var checksum: S3Checksum?

        /// A part.
        public init(partNumber: Int, size: Int64, checksum: S3Checksum? = nil) {
            self.partNumber = partNumber
            self.size = size
            self.checksum = checksum
        }
    }

    /// The ETag, quotes removed.
    public var eTag: String?
    /// The object's checksum: full-object, or composite (the checksum of the parts' checksums).
    public var checksum: S3Checksum?
    /// How many parts the object has (multipart objects only).
    public var partsCount: Int?
    /// The parts of this page (``S3Client/objectAttributes(bucket:key:versionID:maxParts:partNumberMarker:)``
    /// returns up to `maxParts` of them, from after `partNumberMarker`).
    public var parts: [Part] = []
    /// Where the next page of parts starts, when there are more.
    public var nextPartNumberMarker: Int?
    /// The storage class (`STANDARD`, ...).
    public var storageClass: String?
    /// The object's size in bytes.
    public var size: Int64?
    /// When the object was last written.
    public var lastModified: Date?
    /// The version ID, on versioned buckets.
    public var versionID: String?

    /// A value with these fields (what the client decodes; tests and fakes make their own).
    public init(eTag: String? = nil, checksum: S3Checksum? = nil, partsCount: Int? = nil, parts: [Part] = [], nextPartNumberMarker: Int? = nil,
                storageClass: String? = nil, size: Int64? = nil, lastModified: Date? = nil, versionID: String? = nil) {
        self.eTag = eTag
        self.checksum = checksum
        self.partsCount = partsCount
        self.parts = parts
        self.nextPartNumberMarker = nextPartNumberMarker
        self.storageClass = storageClass
        self.size = size
        self.lastModified = lastModified
        self.versionID = versionID
    }
}
