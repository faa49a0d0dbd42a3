import Foundation

/// What resuming an unfinished multipart upload needs; carried by the error of a failed upload
/// when ``S3TransferOptions/keepPartialUploadOnFailure`` is set.
public struct S3UploadResumeState: Sendable, Hashable {
    /// The bucket.
    public var bucket: String
    /// The key.
    public var key: String
    /// The multipart upload ID.
    public var uploadID: String
    /// The part size the upload was split with.
    public var partSize: Int
    /// Parts known to be on the server.
    public var completedParts: [S3CompletedPart]
    /// Whether the upload was started with a full-object checksum (`x-amz-checksum-type:
    /// FULL_OBJECT`), which its completion must then state again.
    public var fullObjectChecksum: Bool = false

    /// A resume state, e.g. one saved from an earlier process (it is `Hashable`; encode its
    /// fields to keep it).
    public init(bucket: String, key: String, uploadID: String, partSize: Int, completedParts: [S3CompletedPart],
                fullObjectChecksum: Bool = false) {
        self.bucket = bucket
        self.key = key
        self.uploadID = uploadID
        self.partSize = partSize
        self.completedParts = completedParts
        self.fullObjectChecksum = fullObjectChecksum
    }
}
