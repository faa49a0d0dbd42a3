import Foundation
import S3HTTP

/// A bucket and every operation on it, as an actor.
///
/// The Swift counterpart of messageflux's `S3Bucket`: create and list buckets, put, get,
/// upload and download objects, find and list them lazily, delete objects or the whole bucket,
/// set an expiry lifecycle, open the bucket to public reads, and compute object URLs.
///
/// ```swift
/// let bucket = try await S3Bucket(name: "photos", client: client, autoCreate: true)
/// try await bucket.putObject(key: "hello.txt", body: "Hello!")
/// for try await object in bucket.listObjects() { print(object.key, try await object.size) }
/// ```
///
/// Every method validates its input before sending anything, and every failure is an
/// ``S3Error`` (`.noSuchBucket`, `.noSuchKey`, ...).
public actor S3Bucket {
    /// The bucket's name.
    public nonisolated let name: String
    /// The client that sends its requests.
    public nonisolated let client: S3Client

    /// Objects of at most this size go in one PUT; larger uploads use multipart.
    public static let defaultPartSize = 8 << 20

    /// Opens `name`: validates the name and checks with one HEAD that the bucket exists,
    /// creating it when it does not and `autoCreate` is true.
    public init(name: String, client: S3Client, autoCreate: Bool = false) async throws {
        try Validation.bucketName(name)
        self.name = name
        self.client = client
        do {
            try await client.headBucket(name)
        } catch let e as S3Error where e.code == .noSuchBucket && autoCreate {
            try await Self.createIfNeeded(name, client: client)
        }
    }

    /// A bucket value without any request or check: for names you know exist (from a
    /// listing, say). Operations on a bucket that does not exist fail with `.noSuchBucket`.
    public static func unchecked(name: String, client: S3Client) -> S3Bucket { S3Bucket(existing: name, client: client) }

    /// A bucket value without a request (names from a listing).
    init(existing name: String, client: S3Client) {
        self.name = name
        self.client = client
    }

    static func createIfNeeded(_ name: String, client: S3Client, objectLockEnabled: Bool = false) async throws {
        do {
            try await client.createBucket(name, objectLockEnabled: objectLockEnabled)
        } catch let e as S3Error where e.code == .bucketAlreadyOwnedByYou {
            return
        }
    }

    /// Creates a bucket (idempotent for a bucket you already own), optionally with an expiry
    /// lifecycle, public read access and S3 Object Lock (`objectLockEnabled`, which also turns
    /// versioning on; it is set at creation only, so a bucket that exists is left as it is).
    public static func create(name: String, client: S3Client, lifetimeInDays: Int? = nil,
                              allowPublicAccess: Bool = false, objectLockEnabled: Bool = false) async throws -> S3Bucket {
        try Validation.bucketName(name)
        try await createIfNeeded(name, client: client, objectLockEnabled: objectLockEnabled)
        let bucket = S3Bucket(existing: name, client: client)
        if let days = lifetimeInDays { try await bucket.setLifetimeInDays(days) }
        if allowPublicAccess { try await bucket.allowPublicAccess() }
        return bucket
    }

    /// The account's buckets, without a request per bucket.
    public static func listBuckets(client: S3Client) -> S3BucketSequence { S3BucketSequence(client: client) }

    // MARK: - Objects

    /// An object handle after one HEAD (so a missing key throws `.noSuchKey` here); its
    /// size, date and metadata are then known without further requests. With `versionID`, a
    /// handle on that version: its body and attributes are that version's.
    public func getObject(key: String, versionID: String? = nil) async throws -> S3Object {
        let attributes = try await client.headObject(bucket: name, key: key, versionID: versionID)
        return S3Object(bucketName: name, key: key, client: client, attributes: attributes, version: versionID)
    }

    /// Turns versioning on (`true`: every write keeps the previous version, deletes add
    /// delete markers) or suspends it (`false`).
    public func setVersioning(enabled: Bool) async throws {
        try await client.setBucketVersioning(bucket: name, enabled: enabled)
    }

    /// Every version and delete marker of the keys under `prefix`, lazily, page by page.
    public nonisolated func versions(prefix: String? = nil) -> S3VersionSequence {
        S3VersionSequence(client: client, bucket: name, prefix: prefix)
    }

    /// Stores `body` (its UTF-8) under `key`; with `conditions` (``S3Conditions/createOnly``,
    /// ``S3Conditions/ifMatch(_:)``) only when they hold, else `.preconditionFailed`.
    @discardableResult
    public func putObject(key: String, body: String, metadata: [String: String] = [:],
                          contentType: String = "text/plain; charset=utf-8", conditions: S3Conditions? = nil,
                          properties: S3ObjectProperties = S3ObjectProperties()) async throws -> S3PutObjectResult {
        try await client.putObject(bucket: name, key: key, bytes: Array(body.utf8), contentType: contentType, metadata: metadata,
                                   conditions: conditions, properties: properties)
    }

    /// Stores `body` under `key`.
    @discardableResult
    public func putObject(key: String, body: [UInt8], metadata: [String: String] = [:],
                          contentType: String = "application/octet-stream", conditions: S3Conditions? = nil,
                          properties: S3ObjectProperties = S3ObjectProperties()) async throws -> S3PutObjectResult {
        try await client.putObject(bucket: name, key: key, bytes: body, contentType: contentType, metadata: metadata,
                                   conditions: conditions, properties: properties)
    }

    /// Stores `body` under `key`.
    @discardableResult
    public func putObject(key: String, body: Data, metadata: [String: String] = [:],
                          contentType: String = "application/octet-stream", conditions: S3Conditions? = nil,
                          properties: S3ObjectProperties = S3ObjectProperties()) async throws -> S3PutObjectResult {
        try await client.putObject(bucket: name, key: key, bytes: [UInt8](body), contentType: contentType, metadata: metadata,
                                   conditions: conditions, properties: properties)
    }

    /// Stores the file at `file` under `key` (multipart above one part).
    @discardableResult
    public func putObject(key: String, file: URL, metadata: [String: String] = [:],
                          contentType: String = "application/octet-stream",
                          properties: S3ObjectProperties = S3ObjectProperties()) async throws -> S3PutObjectResult {
        try await uploadObject(key: key, file: file, metadata: metadata, contentType: contentType, properties: properties)
    }

    /// Uploads the bytes of `source`, of known or unknown length, holding at most
    /// `options.concurrency` parts in memory: one PUT up to `options.multipartThreshold`, else a
    /// multipart upload with parts in flight concurrently, each retried on its own, aborted on
    /// failure or cancellation (so no orphaned upload is left) unless
    /// `options.keepPartialUploadOnFailure` is set.
    @discardableResult
    public nonisolated func uploadObject<Source: AsyncSequence>(key: String, from source: Source, metadata: [String: String] = [:],
                                                                contentType: String = "application/octet-stream",
                                                                properties: S3ObjectProperties = S3ObjectProperties(),
                                                                options: S3TransferOptions = S3TransferOptions()) async throws -> S3PutObjectResult
    where Source.Element == [UInt8] {
        try await Uploader(client: client, bucket: name, key: key, metadata: metadata, contentType: contentType, options: options,
                           properties: properties)
            .upload(source)
    }

    /// Uploads bytes in memory: one PUT up to `options.multipartThreshold`, else parts in
    /// parallel (see ``uploadObject(key:from:metadata:contentType:properties:options:)``).
    @discardableResult
    public nonisolated func uploadObject(key: String, bytes: [UInt8], metadata: [String: String] = [:],
                                         contentType: String = "application/octet-stream",
                                         properties: S3ObjectProperties = S3ObjectProperties(),
                                         options: S3TransferOptions = S3TransferOptions()) async throws -> S3PutObjectResult {
        try await Uploader(client: client, bucket: name, key: key, metadata: metadata, contentType: contentType, options: options,
                           properties: properties)
            .upload(bytes: bytes)
    }

    /// Uploads a local file, each part read from its offset (see
    /// ``uploadObject(key:from:metadata:contentType:properties:options:)``). The part size grows so the
    /// file fits in 10,000 parts.
    @discardableResult
    public nonisolated func uploadObject(key: String, file: URL, metadata: [String: String] = [:],
                                         contentType: String = "application/octet-stream",
                                         properties: S3ObjectProperties = S3ObjectProperties(),
                                         options: S3TransferOptions = S3TransferOptions()) async throws -> S3PutObjectResult {
        try await Uploader(client: client, bucket: name, key: key, metadata: metadata, contentType: contentType, options: options,
                           properties: properties)
            .upload(file: file)
    }

    /// Finishes a multipart upload that failed with `.uploadIncomplete`: parts already on the
    /// server (per ListParts) are skipped, the rest are read from `file` and sent.
    @discardableResult
    public nonisolated func resumeUpload(_ state: S3UploadResumeState, file: URL, contentType: String = "application/octet-stream",
                                         options: S3TransferOptions = S3TransferOptions()) async throws -> S3PutObjectResult {
        guard state.bucket == name else {
            throw S3Error.invalidArgument("the upload belongs to bucket \(state.bucket), not \(name)", bucket: name, key: state.key)
        }
        var options = options
        options.partSize = state.partSize
        return try await Uploader(client: client, bucket: name, key: state.key, metadata: [:], contentType: contentType, options: options)
            .resume(state, file: file)
    }

    /// Downloads `key` into the file at `path` with ranged GETs in parallel (`options`),
    /// written to a temporary file beside it and renamed only when complete, so a failure or
    /// cancellation never leaves a partial file under `path`. Fails with `.objectChanged` when
    /// the object is replaced during the download.
    public nonisolated func downloadObject(key: String, to path: URL, options: S3TransferOptions = S3TransferOptions()) async throws {
        try await Downloader(client: client, bucket: name, key: key, options: options).download(to: path)
    }

    /// Downloads `key` into an open file descriptor, from its current position.
    public func downloadObject(key: String, toDescriptor fd: Int32) async throws {
        try await Downloader(client: client, bucket: name, key: key).download { try Downloader.writeAll(fd: fd, $0) }
    }

    /// Downloads `key`, handing each chunk to `sink` in order: one streamed GET by default;
    /// with `options`, parallel ranged GETs reassembled in order (see ``downloadStream(key:options:)``).
    public nonisolated func downloadObject(key: String, options: S3TransferOptions? = nil,
                                           to sink: @Sendable ([UInt8]) async throws -> Void) async throws {
        guard let options else {
            return try await Downloader(client: client, bucket: name, key: key).download(sink)
        }
        for try await chunk in downloadStream(key: key, options: options) { try await sink(chunk.array) }
    }

    /// The bytes of `key` in order, fetched as `options.concurrency` parallel ranged GETs of
    /// `options.partSize` bytes; memory stays near `concurrency x partSize` whatever the size.
    /// Fails with `.objectChanged` if the object is replaced during the download.
    public nonisolated func downloadStream(key: String, options: S3TransferOptions = S3TransferOptions()) -> S3RangedByteStream {
        S3RangedByteStream(client: client, bucket: name, key: key, options: options)
    }

    /// Copies `source` (a key of this bucket, or of `sourceBucket`; with `sourceVersionID`,
    /// that version) to `key` inside the store: no byte passes through the client. Up to
    /// ``S3TransferOptions/copyThreshold`` (5 GiB) one CopyObject; above it a parallel multipart
    /// copy (UploadPartCopy ranges of ``S3TransferOptions/copyPartSize``,
    /// ``S3TransferOptions/concurrency`` at a time, each retried, progress reported, aborted on
    /// failure or cancellation). Every part is pinned to the source's ETag (`sourceIfMatch`,
    /// else the one a HEAD reads first): a source replaced meanwhile fails the copy with
    /// `.preconditionFailed` instead of mixing two versions.
    ///
    /// Either way the copy looks the same: `metadata` `.copy` keeps the source's metadata,
    /// content type and stored headers, and its tags unless `properties` gives tags (a
    /// multipart copy reads them from a HEAD and GetObjectTagging and sets them on the new
    /// upload); `properties` sets the storage class and encryption (`nil`: the bucket's
    /// default), and with `.replace` the stored headers. `sourceCustomerKey` reads an SSE-C
    /// source (see ``S3Client/copyObject(sourceBucket:sourceKey:sourceVersionID:bucket:key:metadata:properties:sourceIfMatch:sourceCustomerKey:)``
    /// for how ``S3Client/withCustomerKey(_:operation:)`` applies).
    ///
    /// ```swift
    /// // Re-encrypt an SSE-C object with a new key, in place, keeping everything else.
    /// try await bucket.copyObject(from: "a.bin", to: "a.bin", properties: S3ObjectProperties(encryption: .customerKey(newKey)),
    ///                             sourceCustomerKey: oldKey)
    /// ```
    @discardableResult
    public nonisolated func copyObject(from source: String, to key: String, sourceBucket: String? = nil, sourceVersionID: String? = nil,
                                       metadata: S3MetadataDirective = .copy, properties: S3ObjectProperties? = nil,
                                       sourceIfMatch: String? = nil, sourceCustomerKey: S3CustomerKey? = nil,
                                       options: S3TransferOptions = S3TransferOptions()) async throws -> S3PutObjectResult {
        try Validation.bucketName(sourceBucket ?? name)
        try Validation.key(source, bucket: sourceBucket ?? name)
        try Validation.key(key, bucket: name)
        return try await Copier(client: client, sourceBucket: sourceBucket ?? name, sourceKey: source, sourceVersionID: sourceVersionID,
                                bucket: name, key: key, metadata: metadata, properties: properties, sourceIfMatch: sourceIfMatch,
                                sourceCustomerKey: sourceCustomerKey, options: options).run()
    }

    /// Deletes `key` (succeeds when it does not exist, as S3 does; on a versioned bucket it adds
    /// a delete marker), or with `versionID` that version for good; with `conditions`
    /// (``S3Conditions/ifMatch(_:)``) only the object with that ETag, else `.preconditionFailed`.
    /// `bypassGovernanceRetention` deletes a version under Object Lock governance retention.
    public func deleteObject(key: String, versionID: String? = nil, conditions: S3Conditions? = nil,
                             bypassGovernanceRetention: Bool = false) async throws {
        try await client.deleteObject(bucket: name, key: key, versionID: versionID, conditions: conditions,
                                      bypassGovernanceRetention: bypassGovernanceRetention)
    }

    /// Every object of the bucket, lazily, page by page.
    public nonisolated func listObjects() -> S3ObjectSequence { findObjects() }

    /// Objects under `prefix`, lazily. `maxKeys` is the page size (1-1,000). With a
    /// `delimiter`, keys below a common prefix are skipped: use
    /// ``findEntries(prefix:delimiter:maxKeys:)`` to get the prefixes as well.
    public nonisolated func findObjects(prefix: String? = nil, delimiter: String? = nil, maxKeys: Int? = nil) -> S3ObjectSequence {
        S3ObjectSequence(pager: ListingPager(client: client, bucket: name, prefix: prefix, delimiter: delimiter, maxKeys: maxKeys))
    }

    /// Objects and common prefixes under `prefix`, in key order, lazily: a directory-style
    /// listing when `delimiter` is `"/"`.
    public nonisolated func findEntries(prefix: String? = nil, delimiter: String? = "/", maxKeys: Int? = nil) -> S3EntrySequence {
        S3EntrySequence(pager: ListingPager(client: client, bucket: name, prefix: prefix, delimiter: delimiter, maxKeys: maxKeys))
    }

    /// Deletes every object, 1,000 keys per DeleteObjects request, several requests at once.
    /// Returns the number deleted; throws `.partialFailure` listing the keys S3 refused.
    @discardableResult
    public func clearObjects() async throws -> Int {
        try await BatchDeleter(client: client, bucket: name).deleteAll(findObjects().map { (key: $0.key, versionID: String?.none) })
    }

    /// Deletes every key `keys` yields (read lazily, so a listing can feed it), 1,000 per
    /// DeleteObjects request, a few requests at once. Returns the number deleted; throws
    /// `.partialFailure` (``S3Error/failures``) naming the keys S3 refused, after trying them all.
    ///
    /// ```swift
    /// let old = bucket.findObjects(prefix: "logs/2023-").map(\.key)
    /// let n = try await bucket.deleteObjects(keys: old)
    /// ```
    @discardableResult
    public nonisolated func deleteObjects<Keys: AsyncSequence>(keys: Keys) async throws -> Int where Keys.Element == String {
        try await BatchDeleter(client: client, bucket: name).deleteAll(keys.map { (key: $0, versionID: String?.none) })
    }

    /// Deletes the bucket. With `force`, first removes every object version and delete
    /// marker and aborts unfinished multipart uploads; when objects arrive meanwhile (the
    /// store answers `BucketNotEmpty`), it empties the bucket again, up to three rounds.
    public func deleteBucket(force: Bool = false) async throws {
        guard force else { return try await client.deleteBucket(name) }
        // An object can arrive between the emptying and the DeleteBucket: another writer's, or
        // one a store applies late (SeaweedFS stores a write whose client gave up on it when the
        // stalled gateway resumes). The store then answers BucketNotEmpty: empty it again, up
        // to three rounds, a moment apart.
        for round in 1...3 {
            try await deleteAllVersions()
            var keyMarker: String?, idMarker: String?
            repeat {
                let page = try await client.listMultipartUploads(bucket: name, keyMarker: keyMarker, uploadIDMarker: idMarker)
                for upload in page.uploads {
                    try await client.abortMultipartUpload(bucket: name, key: upload.key, uploadID: upload.uploadID)
                }
                (keyMarker, idMarker) = (page.nextKeyMarker, page.nextUploadIDMarker)
            } while keyMarker != nil
            do {
                return try await client.deleteBucket(name)
            } catch let e as S3Error where e.code == .bucketNotEmpty && round < 3 {
                try await Task.sleep(for: .milliseconds(500 * round))
            }
        }
    }

    /// Deletes every object version and delete marker, page by page: each round lists the
    /// first page again (no markers, so it works on stores whose markers break when the marker
    /// key is gone, moto among them) and deletes it in one DeleteObjects request.
    private func deleteAllVersions() async throws {
        var previous: [S3ObjectVersion] = []
        while true {
            let page = try await client.listObjectVersions(bucket: name).versions
            if page.isEmpty { return }
            if page == previous {
                throw S3Error(code: .partialFailure, message: "object versions remain after being deleted", bucket: name)
            }
            let failures = try await client.deleteObjects(bucket: name, keys: page.map { (key: $0.key, versionID: Optional($0.versionID)) })
            if !failures.isEmpty { throw S3Error.partialFailure(failures, what: "version(s)", bucket: name) }
            previous = page
        }
    }

    // MARK: - Bucket settings

    /// The id of the lifecycle rule ``setLifetimeInDays(_:)`` manages.
    public static let lifetimeRuleID = "expire"

    /// Objects expire `days` days after they were written (a lifecycle rule with ID `expire`
    /// and an empty prefix filter). Other rules are kept. `days <= 0` removes the rule, and
    /// the whole configuration when no other rule remains.
    public func setLifetimeInDays(_ days: Int) async throws {
        var rules = try await client.lifecycleRules(bucket: name).filter { $0.id != Self.lifetimeRuleID }
        if days > 0 { rules.append(.expiration(id: Self.lifetimeRuleID, days: days)) }
        try await client.setLifecycleRules(bucket: name, rules)
    }

    /// Lets anyone read objects and list the bucket: removes the bucket's public access block,
    /// then adds to the bucket policy (`Version` 2012-10-17) two statements granting
    /// `s3:GetObject` on `bucket/*` and `s3:ListBucket` on the bucket. The statements of a policy
    /// the bucket already has are kept (earlier grants of this method, by their `Sid`, replaced);
    /// reading it needs `s3:GetBucketPolicy`, and a policy that cannot be read is not replaced
    /// (the error is thrown).
    public func allowPublicAccess() async throws {
        let store = client.configuration.store
        guard store.hasBucketPolicy else {
            throw S3Error.invalidArgument("\(store.rawValue) has no bucket policy API: make the bucket public in the store's own console",
                                          bucket: name)
        }
        // Stores without the PublicAccessBlock API (SeaweedFS, GCS) block nothing: the policy
        // alone opens the bucket. (Unknown stores are asked; NotImplemented counts as nothing.)
        if store.hasPublicAccessBlock { try await client.deletePublicAccessBlock(bucket: name) }
        let existing = try await client.bucketPolicy(bucket: name)
        try await client.setBucketPolicy(bucket: name, json: try Self.publicReadPolicy(bucket: name, keeping: existing))
    }

    /// The `Sid`s of the statements ``allowPublicAccess()`` writes.
    static let publicReadStatementIDs = ["PublicReadGetObject", "PublicListBucket"]

    /// The public-read policy of `bucket`, with the statements of `existing` (a policy the
    /// bucket has) kept before it, ours by `Sid` replaced. Throws when `existing` is not a JSON
    /// object: nothing is overwritten that could not be read.
    static func publicReadPolicy(bucket: String, keeping existing: String? = nil) throws -> String {
        var document: [String: Any] = ["Version": "2012-10-17"]
        var statements: [Any] = []
        if let existing, !existing.allSatisfy(\.isWhitespace) {
            guard let old = try? JSONSerialization.jsonObject(with: Data(existing.utf8)) as? [String: Any] else {
                throw S3Error(code: .invalidResponse, message: "the bucket's policy is not a JSON object; it was left as it is", bucket: bucket)
            }
            document = old
            // A policy's Statement is a list, or one statement alone.
            let oldStatements = (old["Statement"] as? [Any]) ?? old["Statement"].map { [$0] } ?? []
            statements = oldStatements.filter { !publicReadStatementIDs.contains((($0 as? [String: Any])?["Sid"] as? String) ?? "") }
        }
        statements.append(["Sid": publicReadStatementIDs[0], "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                           "Resource": "arn:aws:s3:::\(bucket)/*"])
        statements.append(["Sid": publicReadStatementIDs[1], "Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket",
                           "Resource": "arn:aws:s3:::\(bucket)"])
        document["Statement"] = statements
        let data = try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    /// The URL of `key` (percent-encoded by S3's rules, endpoint path prefix kept, virtual-host
    /// addressing honoured, no `..` collapsing). No request is sent and nothing is signed.
    public nonisolated func url(forKey key: String) -> String {
        client.addressing.target(bucket: name, key: key, query: []).url
    }

    // MARK: - For test suites

    /// Creates a uniquely named bucket, runs `body` with it, and force-deletes the bucket
    /// afterwards, whether `body` returned, threw or was cancelled.
    public static func withTemporaryBucket<T: Sendable>(client: S3Client, namePrefix: String = "tmp",
                                                        _ body: (S3Bucket) async throws -> T) async throws -> T {
        let suffix = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        let prefix = String(namePrefix.lowercased().prefix(40))
        let bucket = try await create(name: "\(prefix)-\(suffix)", client: client)
        let result: Result<T, any Error>
        do {
            result = .success(try await body(bucket))
        } catch {
            result = .failure(error)
        }
        // Clean up even when the task was cancelled: run the deletion in an unstructured
        // task that does not inherit the cancellation, and wait for it.
        let cleanup = Task.detached {
            do {
                try await bucket.deleteBucket(force: true)
            } catch let e as S3Error where e.code == .noSuchBucket {
                return  // the body deleted it already
            }
        }
        let cleaned = await cleanup.result
        if case .failure(let e) = cleaned, case .success = result { throw e }
        return try result.get()
    }
}

/// The account's buckets as an `AsyncSequence` (one ListBuckets request, on first use).
public struct S3BucketSequence: AsyncSequence, Sendable {
    public typealias Element = S3Bucket
    public typealias Failure = any Error
    let client: S3Client

    public func makeAsyncIterator() -> Iterator { Iterator(client: client) }

    /// Lists on the first `next()`.
    public struct Iterator: AsyncIteratorProtocol {
        let client: S3Client
        var names: [String]?
        var index = 0

        public mutating func next() async throws -> S3Bucket? {
            try await next(isolation: nil)
        }

        /// The next bucket, without leaving the caller's actor unless the list must be fetched.
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(any Error) -> S3Bucket? {
            if names == nil { names = try await client.listBuckets().map(\.name) }
            guard let names, index < names.count else { return nil }
            defer { index += 1 }
            return S3Bucket(existing: names[index], client: client)
        }
    }
}
