import Foundation
import S3Locking

/// An object in a bucket, with lazy, cached properties.
///
/// `size`, `lastModified`, `eTag` and `metadata` come from what is already known (a listing, a
/// GET's headers) and otherwise from one HEAD request, whose answer is cached. ``body()``
/// downloads the bytes once and caches them; ``bodyStream`` starts a fresh streamed GET each
/// time it is iterated and buffers nothing.
public final class S3Object: Sendable, CustomStringConvertible {
    /// The bucket's name.
    public let bucketName: String
    /// The key.
    public let key: String
    /// The client used for the object's requests.
    public let client: S3Client
    /// The version this handle reads, when it was made for one (``S3Bucket/getObject(key:versionID:)``);
    /// `nil`: whatever is current when it reads.
    public let pinnedVersionID: String?

    struct Known {
        var size: Int64?
        var lastModified: Date?
        var eTag: String?
        var contentType: String?
        var metadata: [String: String]?
        /// `nil`: not asked yet; `.some(nil)`: unversioned.
        var versionID: String??
        /// `nil`: not asked yet; `.some(nil)`: the store keeps none.
        var checksum: S3Checksum??
        var body: [UInt8]?
    }
    private let known: Locked<Known>

    init(bucketName: String, key: String, client: S3Client, summary: S3ObjectSummary? = nil, attributes: S3ObjectHead? = nil,
         version: String? = nil) {
        self.bucketName = bucketName
        self.key = key
        self.client = client
        self.pinnedVersionID = version
        var k = Known()
        if let summary {
            k.size = summary.size
            k.lastModified = summary.lastModified
            k.eTag = summary.eTag
        }
        if let attributes { Self.merge(attributes, into: &k) }
        known = Locked(k)
    }

    private static func merge(_ a: S3ObjectHead, into k: inout Known) {
        k.size = a.size
        k.lastModified = a.lastModified ?? k.lastModified
        k.eTag = a.eTag ?? k.eTag
        k.contentType = a.contentType
        k.metadata = a.metadata
        k.versionID = .some(a.versionID)
        if let checksum = a.checksum { k.checksum = .some(checksum) }
    }

    /// Loads the attributes with one HEAD (NoSuchKey when the object is gone) and caches them.
    private func load() async throws -> Known {
        let attributes = try await client.headObject(bucket: bucketName, key: key, versionID: pinnedVersionID)
        return known.withLock { k in
            Self.merge(attributes, into: &k)
            k.checksum = .some(attributes.checksum)
            return k
        }
    }

    /// Runs on the caller's executor: a property already known costs no hop.
    private nonisolated(nonsending) func value<T>(_ pick: (Known) -> T?) async throws -> T {
        if let v = known.withLock({ pick($0) }) { return v }
        if let v = pick(try await load()) { return v }
        throw S3Error(code: .invalidResponse, message: "the server did not report this property", bucket: bucketName, key: key)
    }

    /// The size in bytes.
    public nonisolated(nonsending) var size: Int64 { get async throws { try await value { $0.size } } }
    /// When the object was last written.
    public nonisolated(nonsending) var lastModified: Date { get async throws { try await value { $0.lastModified } } }
    /// The ETag, quotes removed.
    public nonisolated(nonsending) var eTag: String { get async throws { try await value { $0.eTag } } }
    /// The `Content-Type` it was stored with.
    public nonisolated(nonsending) var contentType: String { get async throws { try await value { $0.contentType } } }
    /// User metadata, names lower-cased (as S3 stores them) and without `x-amz-meta-`.
    public nonisolated(nonsending) var metadata: [String: String] { get async throws { try await value { $0.metadata } } }

    /// Everything a HEAD tells about the object now (of the pinned version, if any): one
    /// request, not cached. Its ``S3ObjectHead/properties`` hold the storage class,
    /// `Cache-Control`, `Content-Disposition`, `Content-Encoding`, `Content-Language` and
    /// `Expires` it was stored with.
    public func attributes() async throws -> S3ObjectHead {
        let attributes = try await client.headObject(bucket: bucketName, key: key, versionID: pinnedVersionID)
        remember(attributes)
        return attributes
    }

    /// The tags of the object (of the pinned version, if any): one request.
    public func tags() async throws -> [String: String] {
        try await client.objectTags(bucket: bucketName, key: key, versionID: pinnedVersionID)
    }

    /// The version ID (`x-amz-version-id`), or `nil` on an unversioned bucket; one HEAD
    /// unless a GET or HEAD already told.
    public nonisolated(nonsending) var versionID: String? {
        get async throws {
            if let known = known.withLock({ $0.versionID }) { return known }
            return try await load().versionID ?? nil
        }
    }

    /// The checksum the store holds for the object (CRC or SHA, full-object or composite), or
    /// `nil` when it keeps none or checksums are off (``S3Configuration/checksums``); one HEAD
    /// unless a GET already told.
    public nonisolated(nonsending) var checksum: S3Checksum? {
        get async throws {
            if let known = known.withLock({ $0.checksum }) { return known }
            return try await load().checksum ?? nil
        }
    }

    /// All the bytes, downloaded on the first call and cached for later ones.
    public func body() async throws -> [UInt8] {
        if let cached = known.withLock({ $0.body }) { return cached }
        let download = try await client.getObject(bucket: bucketName, key: key, versionID: pinnedVersionID)
        let bytes = try await download.body.collect()
        known.withLock { k in
            Self.merge(download.attributes, into: &k)
            k.body = bytes
        }
        return bytes
    }

    /// The bytes as a stream: each iteration starts its own GET when first asked for a chunk,
    /// with back-pressure, and keeps nothing.
    public var bodyStream: S3ObjectBodyStream { S3ObjectBodyStream(object: self) }

    /// The bytes in order through parallel ranged GETs (for large objects): memory stays near
    /// `options.concurrency x options.partSize`. (Always the current version.)
    public func rangedBodyStream(options: S3TransferOptions = S3TransferOptions()) -> S3RangedByteStream {
        S3RangedByteStream(client: client, bucket: bucketName, key: key, options: options)
    }

    func remember(_ attributes: S3ObjectHead) { known.withLock { Self.merge(attributes, into: &$0) } }

    public var description: String { "S3Object(s3://\(bucketName)/\(key))" }
}

/// The bytes of an ``S3Object`` as an `AsyncSequence` of chunks; every iteration is a new GET.
public struct S3ObjectBodyStream: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    public typealias Failure = any Error
    let object: S3Object

    public func makeAsyncIterator() -> Iterator { Iterator(object: object) }

    /// Starts the GET on the first `next()`.
    public struct Iterator: AsyncIteratorProtocol {
        let object: S3Object
        var inner: S3ByteStream.Iterator?

        public mutating func next() async throws -> [UInt8]? {
            if inner == nil {
                let download = try await object.client.getObject(bucket: object.bucketName, key: object.key, versionID: object.pinnedVersionID)
                object.remember(download.attributes)
                inner = download.body.makeAsyncIterator()
            }
            return try await inner!.next()
        }
    }
}
