import Foundation

/// An unfinished multipart upload (ListMultipartUploads).
public struct S3MultipartUploadSummary: Sendable, Hashable {
    /// The key being uploaded.
    public var key: String
    /// The upload ID.
    public var uploadID: String

    /// A value with these fields (what the client decodes; tests and fakes make their own).
    public init(key: String, uploadID: String) {
        self.key = key
        self.uploadID = uploadID
    }
}
