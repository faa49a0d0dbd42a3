import Foundation
import S3Locking

/// How large transfers are split and run.
public struct S3TransferOptions: Sendable {
    /// Bytes per part (multipart upload) or per range (download). Grows automatically so an
    /// upload fits in 10,000 parts. 5 MiB to 5 GiB for uploads.
    public var partSize: Int = 8 << 20
    /// Parts or ranges in flight at once (a sliding window).
    public var concurrency: Int = 8
    /// Uploads larger than this use multipart; smaller ones are one PUT.
    public var multipartThreshold: Int = 8 << 20
    /// How the transfer's requests (each part and range) are retried; nil: the client's
    /// ``S3Configuration/retry``.
    public var retry: S3RetryPolicy?
    /// Keep an unfinished multipart upload when an upload fails, so it can be resumed (the error
    /// carries an ``S3UploadResumeState``). By default it is aborted.
    public var keepPartialUploadOnFailure = false
    /// Called with progress, at most about 20 times a second (and once at the end).
    public var progress: (@Sendable (S3TransferProgress) -> Void)?
    /// A limit shared with other transfers: each part or range also holds one of its permits
    /// while in memory or in flight (see ``S3TransferLimiter``).
    public var limiter: S3TransferLimiter?
    /// Multipart uploads send `Content-MD5` with every part and check the completed object's
    /// ETag (`md5-of-md5s-N`) against the MD5s sent. Off by default: every part's SHA-256 is
    /// already signed (`x-amz-content-sha256`), which S3 checks against the bytes it receives,
    /// and an MD5 of every byte costs more CPU than the SHA-256 (0.72 GB/s against 1.74 GB/s
    /// on the benchmark machine). Turn it on for stores that do not check the payload hash.
    public var contentMD5 = false
    /// Downloads to a file call `fsync` before the rename that publishes them, so the file
    /// survives a power loss once the call returns. Off by default, as in `cp`, curl, s5cmd and
    /// boto3: the rename alone already guarantees that no partial file appears under the
    /// target name, and waiting for the disk costs more than the transfer on a fast network
    /// (1 GiB: 1.0 s without, 2.8-3.2 s with, measured on the benchmark machine).
    public var syncToDisk = false
    /// Copies of objects larger than this go as multipart copies (UploadPartCopy ranges in
    /// parallel); smaller ones are one CopyObject. 5 GiB by default: CopyObject's own limit.
    public var copyThreshold: Int64 = 5 << 30
    /// Bytes per part of a multipart copy (5 MiB to 5 GiB; grown so the copy fits in 10,000
    /// parts). No byte passes through the client, so parts can be large: 256 MiB by default.
    public var copyPartSize: Int = 256 << 20
    /// S3's limit on the parts of one upload (10,000); lowered only by tests, to reach it cheaply.
    var maximumParts = Uploader.maximumParts
    /// Bytes are also counted here (the meter of a batch of transfers).
    var parentMeter: ProgressMeter?

    /// Options; the defaults are 8 MiB parts, 8 in flight, multipart above 8 MiB.
    public init(partSize: Int = 8 << 20, concurrency: Int = 8, multipartThreshold: Int? = nil,
                retry: S3RetryPolicy? = nil, keepPartialUploadOnFailure: Bool = false,
                progress: (@Sendable (S3TransferProgress) -> Void)? = nil) {
        self.partSize = partSize
        self.concurrency = concurrency
        self.multipartThreshold = multipartThreshold ?? partSize
        self.retry = retry
        self.keepPartialUploadOnFailure = keepPartialUploadOnFailure
        self.progress = progress
    }
}

extension S3TransferOptions {
    /// Runs `operation` with this transfer's retry policy in force (when it has one) for every
    /// request it and its child tasks send.
    func withRetryPolicy<T>(_ operation: () async throws -> T) async rethrows -> T {
        guard let retry else { return try await operation() }
        return try await S3RetryPolicy.$current.withValue(retry, operation: operation)
    }
}
