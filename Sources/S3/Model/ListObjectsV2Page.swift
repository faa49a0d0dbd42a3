import Foundation

/// One page of ListObjectsV2.
public struct ListObjectsV2Page: Sendable, Hashable {
    /// Objects on this page, in key order.
    public var objects: [S3ObjectSummary]
    /// Common prefixes (with a delimiter): the "folders" on this page.
    public var commonPrefixes: [String]
    /// Whether more pages follow.
    public var isTruncated: Bool
    /// Pass this to get the next page.
    public var nextContinuationToken: String?
    /// Number of keys and prefixes on this page.
    public var keyCount: Int
    /// The answer's `Server` header (which store answered: its listing order may differ).
    var server: String?

    /// A value with these fields (what the client decodes; tests and fakes make their own).
    public init(objects: [S3ObjectSummary], commonPrefixes: [String], isTruncated: Bool, nextContinuationToken: String? = nil, keyCount: Int) {
        self.objects = objects
        self.commonPrefixes = commonPrefixes
        self.isTruncated = isTruncated
        self.nextContinuationToken = nextContinuationToken
        self.keyCount = keyCount
    }
}
