import Foundation

/// A server-side copy of one object: CopyObject up to ``S3TransferOptions/copyThreshold``,
/// above it a multipart upload whose parts are UploadPartCopy ranges of the source, run in a
/// window of ``S3TransferOptions/concurrency``, each retried like any request, all pinned to
/// the source's ETag; completed in order, or aborted on failure or cancellation.
struct Copier {
    let client: S3Client
    let sourceBucket: String
    let sourceKey: String
    var sourceVersionID: String? = nil
    let bucket: String
    let key: String
    let metadata: S3MetadataDirective
    var properties: S3ObjectProperties? = nil
    let sourceIfMatch: String?
    var sourceCustomerKey: S3CustomerKey? = nil
    let options: S3TransferOptions

    func run() async throws -> S3PutObjectResult {
        guard (Uploader.minimumPartSize...Uploader.maximumPartSize).contains(options.copyPartSize) else {
            throw S3Error.invalidArgument("copy part size must be between 5 MiB and 5 GiB, got \(options.copyPartSize) bytes", bucket: bucket, key: key)
        }
        guard options.concurrency >= 1 else {
            throw S3Error.invalidArgument("concurrency must be at least 1, got \(options.concurrency)", bucket: bucket, key: key)
        }
        try S3Client.checkCopyProperties(properties, metadata: metadata, bucket: bucket, key: key)
        if let properties { _ = try properties.headers(bucket: bucket, key: key) }
        if let sourceVersionID, sourceVersionID.isEmpty || sourceVersionID.utf8.count > 1024 {
            throw S3Error.invalidArgument("a source version ID must be 1 to 1,024 bytes", bucket: bucket, key: key)
        }
        // The source's key is fixed here: the parts of an upload run with the destination's.
        let sourceCustomerKey = sourceCustomerKey ?? S3CustomerKey.current
        return try await options.withRetryPolicy {
            let source = try await S3CustomerKey.$current.withValue(sourceCustomerKey) {
                try await client.headObject(bucket: sourceBucket, key: sourceKey, versionID: sourceVersionID)
            }
            if let wanted = sourceIfMatch, let eTag = source.eTag, S3Client.unquote(wanted) != eTag {
                throw S3Error(code: .preconditionFailed, message: "the source's ETag is \(eTag), not \(S3Client.unquote(wanted))",
                              httpStatus: 412, bucket: sourceBucket, key: sourceKey)
            }
            let pin = sourceIfMatch ?? source.eTag
            guard source.size > options.copyThreshold else {
                let meter = ProgressMeter(total: source.size, callback: options.progress, parent: options.parentMeter)
                let result = try await client.copyObject(sourceBucket: sourceBucket, sourceKey: sourceKey, sourceVersionID: sourceVersionID,
                                                         bucket: bucket, key: key, metadata: metadata, properties: properties,
                                                         sourceIfMatch: pin, sourceCustomerKey: sourceCustomerKey)
                meter.add(bytes: Int(source.size), partDone: true)
                meter.finish()
                return result
            }
            // A multipart copy starts a new object: what CopyObject would carry over is read from
            // the source and set on the upload.
            var target = properties ?? S3ObjectProperties()
            let (contentType, userMetadata): (String, [String: String])
            switch metadata {
            case .copy:
                (contentType, userMetadata) = (source.contentType ?? "application/octet-stream", source.metadata)
                target.cacheControl = source.properties.cacheControl
                target.contentDisposition = source.properties.contentDisposition
                target.contentEncoding = source.properties.contentEncoding
                target.contentLanguage = source.properties.contentLanguage
                target.expires = source.properties.expires
            case .replace(let m, let type):
                (contentType, userMetadata) = (type, m)
            }
            if target.tags.isEmpty {
                target.tags = try await client.objectTags(bucket: sourceBucket, key: sourceKey, versionID: sourceVersionID)
            }
            return try await S3CustomerKey.forWrites(of: target.encryption) {
                try await multipart(size: source.size, pin: pin, contentType: contentType, metadata: userMetadata, properties: target,
                                    sourceCustomerKey: sourceCustomerKey)
            }
        }
    }

    private func multipart(size: Int64, pin: String?, contentType: String, metadata: [String: String], properties: S3ObjectProperties,
                           sourceCustomerKey: S3CustomerKey?) async throws -> S3PutObjectResult {
        let partSize = Int64(Uploader.partSize(for: size, preferred: options.copyPartSize))
        let count = Int((size + partSize - 1) / partSize)
        let uploadID = try await client.createLeavingNothing(bucket: bucket, key: key) { [client, bucket, key] in
            let (id, attempts) = try await client.createMultipartUpload(bucket: bucket, key: key, contentType: contentType,
                                                                       metadata: metadata, algorithm: nil, fullObject: false,
                                                                       properties: properties)
            return (id, id, attempts)
        }
        let meter = ProgressMeter(total: size, callback: options.progress, parent: options.parentMeter)
        let (client, sourceBucket, sourceKey, sourceVersionID, bucket, key, limiter) =
            (client, sourceBucket, sourceKey, sourceVersionID, bucket, key, options.limiter)
        do {
            var parts: [S3CompletedPart] = []
            try await withThrowingTaskGroup(of: S3CompletedPart.self) { group in
                var next = 1, inFlight = 0
                while next <= count || inFlight > 0 {
                    if next <= count && inFlight < options.concurrency {
                        let number = next
                        let first = Int64(number - 1) * partSize
                        let range = first...min(first + partSize, size) - 1
                        try await limiter?.acquire()
                        group.addTask {
                            defer { limiter?.release() }
                            let part = try await client.uploadPartCopy(sourceBucket: sourceBucket, sourceKey: sourceKey,
                                                                       sourceVersionID: sourceVersionID, range: range,
                                                                       bucket: bucket, key: key, uploadID: uploadID, partNumber: number,
                                                                       sourceIfMatch: pin, sourceCustomerKey: sourceCustomerKey)
                            meter.add(bytes: Int(range.count), partDone: true)
                            return part
                        }
                        next += 1
                        inFlight += 1
                        continue
                    }
                    if let part = try await group.next() { parts.append(part) }
                    inFlight -= 1
                }
            }
            try Task.checkCancellation()
            let result = try await client.completeMultipartUpload(bucket: bucket, key: key, uploadID: uploadID, parts: parts, fullObject: false)
            meter.finish()
            return result
        } catch {
            if let abortError = await client.abortLeavingNothing(bucket: bucket, key: key, uploadID: uploadID) {
                throw S3Error(code: .uploadIncomplete,
                              message: "the multipart copy failed (\(error)) and could not be aborted (\(abortError)); abort upload ID \(uploadID)",
                              bucket: bucket, key: key, underlying: error)
            }
            throw error
        }
    }
}
