import Foundation

/// A part of a multipart upload, as CompleteMultipartUpload wants it.
public struct S3CompletedPart: Sendable, Hashable {
    /// 1 to 10,000.
    public var partNumber: Int
    /// The ETag UploadPart returned, quotes removed.
    public var eTag: String
    /// The part's checksum, sent with it (``S3Configuration/checksums``), listed again when
    /// the upload completes.
    public var checksum: S3Checksum?
    /// The part's size in bytes, when known: with the parts' CRCs it gives the whole object's
    /// (full-object) CRC without reading the bytes again.
    public var size: Int64?

    /// A part as UploadPart or ListParts reported it.
    public init(partNumber: Int, eTag: String, checksum: S3Checksum? = nil, size: Int64? = nil) {
        self.partNumber = partNumber
        self.eTag = eTag
        self.checksum = checksum
        self.size = size
    }
}
