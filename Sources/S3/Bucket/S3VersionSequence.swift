import Foundation

/// Every version and delete marker of a bucket (or of the keys under a prefix), in key order
/// and newest first per key, as a lazy `AsyncSequence`: one ListObjectVersions page is asked
/// for when the previous one has been consumed.
public struct S3VersionSequence: AsyncSequence, Sendable {
    public typealias Element = S3ObjectVersion
    public typealias Failure = any Error
    let client: S3Client
    let bucket: String
    let prefix: String?

    public func makeAsyncIterator() -> Iterator { Iterator(client: client, bucket: bucket, prefix: prefix) }

    /// Fetches one page at a time.
    public struct Iterator: AsyncIteratorProtocol {
        let client: S3Client
        let bucket: String
        let prefix: String?
        var buffered: [S3ObjectVersion] = []
        var index = 0
        var markers: (key: String?, version: String?) = (nil, nil)
        var finished = false

        init(client: S3Client, bucket: String, prefix: String?) {
            self.client = client
            self.bucket = bucket
            self.prefix = prefix
        }

        public mutating func next() async throws -> S3ObjectVersion? {
            while index == buffered.count {
                if finished { return nil }
                let page = try await client.listObjectVersions(bucket: bucket, prefix: prefix, keyMarker: markers.key,
                                                               versionIDMarker: markers.version)
                buffered = page.versions
                index = 0
                if let key = page.nextKeyMarker {
                    guard (key, page.nextVersionIDMarker) != (markers.key ?? "", markers.version) else {
                        throw S3Error(code: .invalidResponse, message: "a version listing page repeated its markers", bucket: bucket)
                    }
                    markers = (key, page.nextVersionIDMarker)
                } else {
                    finished = true
                }
            }
            defer { index += 1 }
            return buffered[index]
        }
    }
}
