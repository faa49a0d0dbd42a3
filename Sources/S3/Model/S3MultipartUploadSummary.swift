import Foundation

/// An unfinished multipart upload (ListMultipartUploads).
public struct S3MultipartUploadSummary: Sendable, Hashable {
    /// The key being uploaded.
    public var key: String
    /// The upload ID.
    public var uploadID: String
    /// When the upload was started, by the store's clock (nil when the store does not say).
    public var initiated: Date?

    /// A value with these fields (what the client decodes; tests and fakes make their own).
    public init(key: String, uploadID: String, initiated: Date? = nil) {
        self.key = key
        self.uploadID = uploadID
        self.initiated = initiated
    }
}
