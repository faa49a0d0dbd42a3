import Foundation

/// A key that a batch delete could not remove.
public struct S3DeleteFailure: Sendable, Hashable {
    /// The key.
    public var key: String
    /// The version, when a version was being deleted.
    public var versionID: String?
    /// S3's error code.
    public var code: String
    /// S3's message.
    public var message: String

    /// A value with these fields (what the client decodes; tests and fakes make their own).
    public init(key: String, versionID: String? = nil, code: String, message: String) {
        self.key = key
        self.versionID = versionID
        self.code = code
        self.message = message
    }
}
