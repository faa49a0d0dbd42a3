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
    /// across buckets of one store, up to 5 GiB (larger objects: ``S3Bucket/copyObject(from:to:sourceBucket:metadata:sourceIfMatch:options:)``,
    /// which copies in parts). `sourceIfMatch` copies only if the source's ETag is that one
    /// (else `.preconditionFailed`, nothing written). A copy that fails after S3 answered 200 (an
    /// `<Error>` body) is an error, retried when transient.
    @discardableResult
    public func copyObject(sourceBucket: String, sourceKey: String, sourceVersionID: String? = nil, bucket: String, key: String,
                           metadata: S3MetadataDirective = .copy, sourceIfMatch: String? = nil) async throws -> S3PutObjectResult {
        var r = try copyRequest(sourceBucket: sourceBucket, sourceKey: sourceKey, sourceVersionID: sourceVersionID, bucket: bucket, key: key,
                                metadata: metadata, sourceIfMatch: sourceIfMatch)
        r.errorMayComeWith200 = true
        let response = try await sendAndCollect(r)
        let xml = try parse(response.body, expecting: "CopyObjectResult", bucket: bucket, key: key)
        return S3PutObjectResult(eTag: xml.value("ETag").map(Self.unquote), versionID: response.head.headers["x-amz-version-id"],
                                 attempts: response.attempts)
    }

    /// Copies bytes `range` of a source object as part `partNumber` of a multipart upload
    /// (UploadPartCopy). `sourceIfMatch` pins the source: a source replaced meanwhile fails the
    /// part with `.preconditionFailed` instead of splicing two versions.
    public func uploadPartCopy(sourceBucket: String, sourceKey: String, sourceVersionID: String? = nil, range: ClosedRange<Int64>,
                               bucket: String, key: String, uploadID: String, partNumber: Int,
                               sourceIfMatch: String? = nil) async throws -> S3CompletedPart {
        guard (1...10_000).contains(partNumber) else {
            throw S3Error.invalidArgument("part number must be between 1 and 10000, got \(partNumber)", bucket: bucket, key: key)
        }
        guard range.lowerBound >= 0 else { throw S3Error.invalidArgument("range must not start below 0", bucket: bucket, key: key) }
        var r = try copyRequest(sourceBucket: sourceBucket, sourceKey: sourceKey, sourceVersionID: sourceVersionID, bucket: bucket, key: key,
                                metadata: nil, sourceIfMatch: sourceIfMatch)
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

    /// The request of a copy: `x-amz-copy-source` (bucket and key encoded as in a path, the
    /// version as a query), the directive (none for a part copy) and the source condition.
    private func copyRequest(sourceBucket: String, sourceKey: String, sourceVersionID: String?, bucket: String, key: String,
                             metadata: S3MetadataDirective?, sourceIfMatch: String?) throws -> S3Request {
        try Validation.bucketName(sourceBucket)
        try Validation.key(sourceKey, bucket: sourceBucket)
        var replaced: [String: String] = [:]
        if case .replace(let m, _) = metadata { replaced = m }
        var r = try objectRequest("PUT", bucket: bucket, key: key, metadata: replaced)
        var source = "/" + sourceBucket + "/" + S3URIEncoding.encodePath(sourceKey)
        if let sourceVersionID {
            guard !sourceVersionID.isEmpty else { throw S3Error.invalidArgument("the source version ID is empty", bucket: bucket, key: key) }
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
        return r
    }
}
