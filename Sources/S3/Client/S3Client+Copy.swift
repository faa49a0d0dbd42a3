import Foundation
import S3Signing

/// What a copy does with the source's metadata.
public enum S3MetadataDirective: Sendable, Hashable {
    /// Keep the source's user metadata and content type (`x-amz-metadata-directive: COPY`).
    case copy
    /// Replace them (`REPLACE`): the copy gets these and only these.
    case replace(metadata: [String: String], contentType: String)
}

extension S3Client {
    /// Copies an object inside the store (CopyObject): no byte passes through the client. Works
    /// across buckets of one store, up to 5 GiB (larger objects: ``S3Bucket/copyObject(from:to:sourceBucket:sourceVersionID:metadata:properties:sourceIfMatch:sourceCustomerKey:options:)``,
    /// which copies in parts).
    ///
    /// - `sourceVersionID` copies that version of the source.
    /// - `metadata` `.copy` keeps the source's user metadata, content type and stored headers
    ///   (`Cache-Control` and the like); `.replace` sets new ones, and `properties` may then
    ///   carry the new stored headers.
    /// - `properties`: the copy's tags (any given replace the source's, which are copied
    ///   otherwise: `x-amz-tagging-directive`), storage class and encryption (`nil`: the
    ///   bucket's default, as S3 does, not the source's). Stored headers in `properties` with
    ///   `metadata: .copy` are refused before sending: S3 would ignore them.
    /// - `sourceIfMatch` copies only if the source's ETag is that one (else
    ///   `.preconditionFailed`, nothing written).
    /// - `sourceCustomerKey` reads a source encrypted with SSE-C; `nil`: the key of
    ///   ``withCustomerKey(_:operation:)``, if any, which also encrypts the copy unless
    ///   `properties` names an encryption.
    ///
    /// A copy that fails after S3 answered 200 (an `<Error>` body) is an error, retried when
    /// transient.
    @discardableResult
    public func copyObject(sourceBucket: String, sourceKey: String, sourceVersionID: String? = nil, bucket: String, key: String,
                           metadata: S3MetadataDirective = .copy, properties: S3ObjectProperties? = nil, sourceIfMatch: String? = nil,
                           sourceCustomerKey: S3CustomerKey? = nil) async throws -> S3PutObjectResult {
        try Self.checkCopyProperties(properties, metadata: metadata, bucket: bucket, key: key)
        var r = try copyRequest(sourceBucket: sourceBucket, sourceKey: sourceKey, sourceVersionID: sourceVersionID, bucket: bucket, key: key,
                                metadata: metadata, properties: properties, sourceIfMatch: sourceIfMatch,
                                sourceCustomerKey: sourceCustomerKey ?? S3CustomerKey.current)
        if let tags = properties?.tags, !tags.isEmpty { r.headers.set("x-amz-tagging-directive", "REPLACE") }
        r.errorMayComeWith200 = true
        let response = try await sendAndCollect(r)
        let xml = try parse(response.body, expecting: "CopyObjectResult", bucket: bucket, key: key)
        return S3PutObjectResult(eTag: xml.value("ETag").map(Self.unquote), versionID: response.head.headers["x-amz-version-id"],
                                 attempts: response.attempts)
    }

    /// Copies bytes `range` of a source object as part `partNumber` of a multipart upload
    /// (UploadPartCopy). `sourceIfMatch` pins the source: a source replaced meanwhile fails the
    /// part with `.preconditionFailed` instead of splicing two versions. `sourceCustomerKey`
    /// (else the key of ``withCustomerKey(_:operation:)``) reads an SSE-C source; an upload
    /// encrypted with SSE-C takes its key from ``withCustomerKey(_:operation:)``, as UploadPart does.
    public func uploadPartCopy(sourceBucket: String, sourceKey: String, sourceVersionID: String? = nil, range: ClosedRange<Int64>,
                               bucket: String, key: String, uploadID: String, partNumber: Int,
                               sourceIfMatch: String? = nil, sourceCustomerKey: S3CustomerKey? = nil) async throws -> S3CompletedPart {
        guard (1...10_000).contains(partNumber) else {
            throw S3Error.invalidArgument("part number must be between 1 and 10000, got \(partNumber)", bucket: bucket, key: key)
        }
        guard range.lowerBound >= 0 else { throw S3Error.invalidArgument("range must not start below 0", bucket: bucket, key: key) }
        var r = try copyRequest(sourceBucket: sourceBucket, sourceKey: sourceKey, sourceVersionID: sourceVersionID, bucket: bucket, key: key,
                                metadata: nil, properties: nil, sourceIfMatch: sourceIfMatch,
                                sourceCustomerKey: sourceCustomerKey ?? S3CustomerKey.current)
        r.query = [("partNumber", String(partNumber)), ("uploadId", uploadID)]
        r.headers.set("x-amz-copy-source-range", "bytes=\(range.lowerBound)-\(range.upperBound)")
        r.errorMayComeWith200 = true
        let response = try await sendAndCollect(r)
        let xml = try parse(response.body, expecting: "CopyPartResult", bucket: bucket, key: key)
        guard let eTag = xml.value("ETag").map(Self.unquote), !eTag.isEmpty else {
            throw S3Error(code: .invalidResponse, message: "UploadPartCopy returned no ETag for part \(partNumber)", bucket: bucket, key: key)
        }
        return S3CompletedPart(partNumber: partNumber, eTag: eTag, size: Int64(range.count))
    }

    /// Stored headers are replaced only with the metadata: S3 ignores them on a `COPY`, so
    /// asking for both is a mistake caught before sending.
    static func checkCopyProperties(_ properties: S3ObjectProperties?, metadata: S3MetadataDirective, bucket: String, key: String) throws(S3Error) {
        guard case .copy = metadata, let p = properties else { return }
        let named = [("Cache-Control", p.cacheControl != nil), ("Content-Disposition", p.contentDisposition != nil),
                     ("Content-Encoding", p.contentEncoding != nil), ("Content-Language", p.contentLanguage != nil),
                     ("Expires", p.expires != nil)].filter(\.1).map(\.0)
        guard named.isEmpty else {
            throw S3Error.invalidArgument("\(named.joined(separator: ", ")) of a copy can be set only with metadata: .replace "
                                          + "(.copy keeps the source's)", bucket: bucket, key: key)
        }
    }

    /// The request of a copy: `x-amz-copy-source` (bucket and key encoded as in a path, the
    /// version as a query), the directive (none for a part copy), the destination's properties,
    /// the source condition and the source's SSE-C key; the destination's SSE-C key comes from
    /// `properties` or, when that names no encryption, from ``withCustomerKey(_:operation:)``.
    private func copyRequest(sourceBucket: String, sourceKey: String, sourceVersionID: String?, bucket: String, key: String,
                             metadata: S3MetadataDirective?, properties: S3ObjectProperties?, sourceIfMatch: String?,
                             sourceCustomerKey: S3CustomerKey?) throws -> S3Request {
        try Validation.bucketName(sourceBucket)
        try Validation.key(sourceKey, bucket: sourceBucket)
        var replaced: [String: String] = [:]
        if case .replace(let m, _) = metadata { replaced = m }
        var r = try objectRequest("PUT", bucket: bucket, key: key, metadata: replaced, properties: properties)
        var source = "/" + sourceBucket + "/" + S3URIEncoding.encodePath(sourceKey)
        if let sourceVersionID {
            guard !sourceVersionID.isEmpty, sourceVersionID.utf8.count <= 1024 else {
                throw S3Error.invalidArgument("a source version ID must be 1 to 1,024 bytes", bucket: bucket, key: key)
            }
            source += "?versionId=" + S3URIEncoding.encodeQueryComponent(sourceVersionID)
        }
        r.headers.set("x-amz-copy-source", source)
        switch metadata {
        case .copy?: r.headers.set("x-amz-metadata-directive", "COPY")
        case .replace(_, let contentType)?:
            r.headers.set("x-amz-metadata-directive", "REPLACE")
            r.headers.set("Content-Type", contentType)
        case nil: break
        }
        if let sourceIfMatch {
            let tag = Self.unquote(sourceIfMatch)
            guard !tag.isEmpty, CredentialEndpoints.isSafeHeaderValue(tag) else {
                throw S3Error.invalidArgument("sourceIfMatch \(String(reflecting: sourceIfMatch)) is not an ETag", bucket: bucket, key: key)
            }
            r.headers.set("x-amz-copy-source-if-match", "\"" + tag + "\"")
        }
        if let sourceCustomerKey {
            for (name, value) in sourceCustomerKey.headers(copySource: true) { r.headers.set(name, value) }
        }
        Self.addCustomerKey(to: &r)
        return r
    }
}
