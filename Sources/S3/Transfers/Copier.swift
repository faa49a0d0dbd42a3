import Foundation

/// A server-side copy of one object: CopyObject up to ``S3TransferOptions/copyThreshold``,
/// above it a multipart upload whose parts are UploadPartCopy ranges of the source, run in a
/// window of ``S3TransferOptions/concurrency``, each retried like any request, all pinned to
/// the source's ETag; completed in order, or aborted on failure or cancellation.
struct Copier {
    let client: S3Client
    let sourceBucket: String
    let sourceKey: String
    let bucket: String
    let key: String
    let metadata: S3MetadataDirective
    let sourceIfMatch: String?
    let options: S3TransferOptions

    func run() async throws -> S3PutObjectResult {
        guard (Uploader.minimumPartSize...Uploader.maximumPartSize).contains(options.copyPartSize) else {
            throw S3Error.invalidArgument("copy part size must be between 5 MiB and 5 GiB, got \(options.copyPartSize) bytes", bucket: bucket, key: key)
        }
        guard options.concurrency >= 1 else {
            throw S3Error.invalidArgument("concurrency must be at least 1, got \(options.concurrency)", bucket: bucket, key: key)
        }
        return try await options.withRetryPolicy {
            let source = try await client.headObject(bucket: sourceBucket, key: sourceKey)
            if let wanted = sourceIfMatch, let eTag = source.eTag, S3Client.unquote(wanted) != eTag {
                throw S3Error(code: .preconditionFailed, message: "the source's ETag is \(eTag), not \(S3Client.unquote(wanted))",
                              httpStatus: 412, bucket: sourceBucket, key: sourceKey)
            }
            let pin = sourceIfMatch ?? source.eTag
            guard source.size > options.copyThreshold else {
                let meter = ProgressMeter(total: source.size, callback: options.progress, parent: options.parentMeter)
                let result = try await client.copyObject(sourceBucket: sourceBucket, sourceKey: sourceKey, bucket: bucket, key: key,
                                                         metadata: metadata, sourceIfMatch: pin)
                meter.add(bytes: Int(source.size), partDone: true)
                meter.finish()
                return result
            }
            let (contentType, userMetadata): (String, [String: String]) = switch metadata {
            case .copy: (source.contentType ?? "application/octet-stream", source.metadata)
            case .replace(let m, let type): (type, m)
            }
            return try await multipart(size: source.size, pin: pin, contentType: contentType, metadata: userMetadata)
        }
    }

    private func multipart(size: Int64, pin: String?, contentType: String, metadata: [String: String]) async throws -> S3PutObjectResult {
        let partSize = Int64(Uploader.partSize(for: size, preferred: options.copyPartSize))
        let count = Int((size + partSize - 1) / partSize)
        let uploadID = try await client.createMultipartUpload(bucket: bucket, key: key, contentType: contentType, metadata: metadata,
                                                              algorithm: nil, fullObject: false)
        let meter = ProgressMeter(total: size, callback: options.progress, parent: options.parentMeter)
        let (client, sourceBucket, sourceKey, bucket, key, limiter) = (client, sourceBucket, sourceKey, bucket, key, options.limiter)
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
                            let part = try await client.uploadPartCopy(sourceBucket: sourceBucket, sourceKey: sourceKey, range: range,
                                                                       bucket: bucket, key: key, uploadID: uploadID, partNumber: number,
                                                                       sourceIfMatch: pin)
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
