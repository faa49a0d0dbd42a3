import Foundation
import S3HTTP

/// Downloads one object: to a sink as one stream, or to a file as ranged GETs in a sliding
/// window of `concurrency` tasks.
///
/// The first ranged GET learns the size and ETag (no extra HEAD); every later range sends
/// `If-Match`, so an object replaced mid-download fails with `.objectChanged` instead of
/// producing a file spliced from two versions. Ranges are written at their offsets (`pwrite`)
/// into a temporary file beside the target, renamed only when complete. A range that breaks
/// mid-body is retried from the byte where it broke.
struct Downloader: Sendable {
    let client: S3Client
    let bucket: String
    let key: String
    var options = S3TransferOptions()

    func download(_ sink: ([UInt8]) async throws -> Void) async throws {
        let download = try await client.getObject(bucket: bucket, key: key)
        for try await chunk in download.body { try await sink(chunk) }
    }

    /// Downloads into `url` through a temporary file beside it.
    func download(to url: URL) async throws {
        let (first, ranges) = try await Self.openRanges(client: client, bucket: bucket, key: key, partSize: options.partSize)
        let total = first.attributes.size
        let eTag = first.attributes.eTag
        let temp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).s3-partial-\(UUID().uuidString.prefix(8))").path
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            first.body.cancel()
            throw S3Error.invalidArgument("cannot create \(temp): \(String(cString: strerror(errno)))", bucket: bucket, key: key)
        }
        let meter = ProgressMeter(total: total, callback: options.progress, parent: options.parentMeter)
        do {
            let (client, bucket, key, retry) = (client, bucket, key, options.retry)
            try await withThrowingTaskGroup(of: Void.self) { group in
                var inFlight = 0
                for (index, range) in ranges.enumerated() {
                    if inFlight == options.concurrency {
                        try await group.next()
                        inFlight -= 1
                    }
                    let opening = index == 0 ? first : nil
                    let limiter = options.limiter
                    group.addTask {
                        try await limiter?.acquire()
                        defer { limiter?.release() }
                        try await Self.fetch(range, opening: opening, client: client, bucket: bucket, key: key, eTag: eTag,
                                             retry: retry, meter: meter) { chunk, position in
                            try Downloader.writeAll(fd: fd, chunk, at: position)
                        }
                    }
                    inFlight += 1
                }
                if ranges.isEmpty { for try await _ in first.body {} }
                try await group.waitForAll()
            }
            guard !options.syncToDisk || fsync(fd) == 0 || errno == EINVAL, close(fd) == 0 else {
                throw S3Error.invalidArgument("writing \(temp) failed: \(String(cString: strerror(errno)))", bucket: bucket, key: key)
            }
            guard rename(temp, url.path) == 0 else {
                throw S3Error.invalidArgument("cannot move the download to \(url.path): \(String(cString: strerror(errno)))", bucket: bucket, key: key)
            }
            meter.finish()
        } catch {
            first.body.cancel()
            close(fd)
            unlink(temp)
            throw error
        }
    }

    /// Starts the first ranged GET, which tells the size and ETag, and splits the object into
    /// ranges of `partSize` (at least 1 MiB). An empty object has no byte 0: it gets a plain GET
    /// and no ranges.
    static func openRanges(client: S3Client, bucket: String, key: String, partSize: Int) async throws -> (S3ObjectDownload, [ClosedRange<Int64>]) {
        let size = Int64(max(partSize, 1 << 20))
        let first: S3ObjectDownload
        do {
            first = try await client.getObject(bucket: bucket, key: key, range: 0...(size - 1))
        } catch let e as S3Error where e.code == .invalidRange {
            first = try await client.getObject(bucket: bucket, key: key)
        }
        let total = first.attributes.size
        return (first, stride(from: Int64(0), to: total, by: Int(size)).map { $0...min($0 + size, total) - 1 })
    }

    /// Fetches one range, handing each chunk and its object offset to `consume`, resuming from
    /// the byte where a broken attempt stopped.
    static func fetch(_ range: ClosedRange<Int64>, opening: S3ObjectDownload?, client: S3Client, bucket: String, key: String,
                      eTag: String?, retry: S3RetryPolicy, meter: ProgressMeter,
                      consume: ([UInt8], Int64) throws -> Void) async throws {
        var position = range.lowerBound
        var pending = opening
        var attempt = 1
        while position <= range.upperBound {
            do {
                let download: S3ObjectDownload
                if let p = pending {
                    download = p
                    pending = nil
                } else {
                    do {
                        download = try await client.getObject(bucket: bucket, key: key, range: position...range.upperBound, ifMatch: eTag)
                    } catch let e as S3Error where e.code == .preconditionFailed {
                        var changed = e
                        changed.code = .objectChanged
                        changed.message = "the object changed during the download (its ETag is no longer \(eTag ?? "-"))"
                        throw changed
                    }
                }
                for try await chunk in download.body {
                    try consume(chunk, position)
                    position += Int64(chunk.count)
                    meter.add(bytes: chunk.count)
                }
                if position <= range.upperBound {
                    let cause = HTTPTransportError(kind: .connectionBroken, host: client.configuration.endpoint.host, curlCode: 0,
                                                   message: "the range ended at byte \(position), before \(range.upperBound + 1)")
                    throw S3Error(code: .transportFailure, message: cause.description, bucket: bucket, key: key, underlying: cause)
                }
            } catch let e as S3Error where e.isRetryable && attempt < retry.maxAttempts {
                attempt += 1
                try await retry.pause(attempt: attempt - 1)
            }
        }
        meter.add(bytes: 0, partDone: true)
    }

    static func writeAll(fd: Int32, _ bytes: [UInt8], at offset: Int64? = nil) throws {
        var done = 0
        try bytes.withUnsafeBytes { p in
            while done < p.count {
                let r = offset.map { pwrite(fd, p.baseAddress! + done, p.count - done, off_t($0) + off_t(done)) }
                    ?? write(fd, p.baseAddress! + done, p.count - done)
                if r < 0 && errno == EINTR { continue }
                if r < 0 { throw S3Error.invalidArgument("writing the download failed: \(String(cString: strerror(errno)))") }
                done += r
            }
        }
    }
}
