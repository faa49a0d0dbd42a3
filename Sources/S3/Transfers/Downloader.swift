import Foundation
import S3HTTP
import S3Signing
import S3Locking

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
    /// The object's size when known beforehand (from a listing): one that fits in one range is
    /// fetched with a plain GET, whose full-object checksum comes with it (no HEAD needed).
    var sizeHint: Int64? = nil

    func download(_ sink: ([UInt8]) async throws -> Void) async throws {
        let download = try await client.getObject(bucket: bucket, key: key)
        for try await chunk in download.body { try await sink(chunk) }
    }

    /// Downloads into `url` through a temporary file beside it. Every range after the first is
    /// written at its offset by the transport, on the loop thread: over plain HTTP the kernel
    /// moves the bytes from the socket into the file (`splice`), so they are copied once, into
    /// the page cache, and no task wakes until the range ends. The file is given the object's
    /// size first (`fallocate`). 1 GiB from nginx: 0.37 s at 0.36 s of CPU, where chunks handed
    /// to tasks that `pwrite` them took 0.68 s at 0.88 s (medians of 5 interleaved runs).
    /// (Whole ranges received into part buffers, then one `pwrite` each, measured slower still.)
    func download(to url: URL) async throws {
        try await options.withRetryPolicy { try await downloadRanges(to: url) }
    }

    private func downloadRanges(to url: URL) async throws {
        let (first, ranges, expected) = try await Self.openRanges(client: client, bucket: bucket, key: key, partSize: options.partSize,
                                                                  sizeHint: sizeHint)
        let crcKind = expected.flatMap { $0.kind == .fullObject ? $0.algorithm.crcKind : nil }
        let total = first.attributes.size
        let eTag = first.attributes.eTag
        let temp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).s3-partial-\(UUID().uuidString.prefix(8))").path
        let fd = open(temp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            first.body.cancel()
            throw S3Error.invalidArgument("cannot create \(temp): \(String(cString: strerror(errno)))", bucket: bucket, key: key)
        }
        let meter = ProgressMeter(total: total, callback: options.progress, parent: options.parentMeter)
        var isOpen = true
        do {
            guard let file = ResponseFile(duplicating: fd) else {
                throw S3Error.invalidArgument("cannot use \(temp): \(String(cString: strerror(errno)))", bucket: bucket, key: key)
            }
            // The whole object's blocks at once: faster to fill, and a disk without room for it
            // fails now rather than after most of it came.
            let reserved = file.reserve(total)
            if reserved == ENOSPC || reserved == EFBIG || reserved == EDQUOT {
                throw S3Error.invalidArgument("no room for the \(total) bytes of the object in \(temp): \(String(cString: strerror(reserved)))",
                                              bucket: bucket, key: key)
            }
            let (client, bucket, key, policy) = (client, bucket, key, options.retry ?? client.retryPolicy)
            // Each range's CRC is computed from its bytes in the file once it is complete;
            // combined in order, they give the whole object's, checked before the file takes
            // the target's name.
            var rangeCRCs = [CRC?](repeating: nil, count: ranges.count)
            try await withThrowingTaskGroup(of: (Int, CRC?).self) { group in
                var inFlight = 0
                for (index, range) in ranges.enumerated() {
                    if inFlight == options.concurrency, let (done, crc) = try await group.next() {
                        rangeCRCs[done] = crc
                        inFlight -= 1
                    }
                    let opening = index == 0 ? first : nil
                    let limiter = options.limiter
                    group.addTask {
                        try await limiter?.acquire()
                        defer { limiter?.release() }
                        let crc = try await Self.fetch(range, opening: opening, into: .file(file), client: client, bucket: bucket, key: key,
                                                       eTag: eTag, policy: policy, meter: meter, crc: crcKind)
                        return (index, crc)
                    }
                    inFlight += 1
                }
                if ranges.isEmpty { for try await _ in first.body {} }
                while let (done, crc) = try await group.next() { rangeCRCs[done] = crc }
            }
            if let expected, !ranges.isEmpty {
                try Self.check(fd: fd, total: total, rangeCRCs: rangeCRCs, against: expected, bucket: bucket, key: key)
                try await Self.checkComposite(fd: fd, total: total, against: expected, client: client, bucket: bucket, key: key, eTag: eTag)
            }
            let synced = !options.syncToDisk || fsync(fd) == 0 || errno == EINVAL
            let syncError = errno
            // Closed exactly once, whatever happens next: a second close() could close a
            // descriptor another thread has opened under the same number meanwhile.
            isOpen = false
            let closed = close(fd) == 0
            guard synced, closed else {
                throw S3Error.invalidArgument("writing \(temp) failed: \(String(cString: strerror(synced ? errno : syncError)))", bucket: bucket, key: key)
            }
            guard rename(temp, url.path) == 0 else {
                throw S3Error.invalidArgument("cannot move the download to \(url.path): \(String(cString: strerror(errno)))", bucket: bucket, key: key)
            }
            meter.finish()
        } catch {
            first.body.cancel()
            if isOpen { close(fd) }
            unlink(temp)
            throw error
        }
    }

    /// The size of the ranges an object is split into: `partSize`, at least 1 MiB.
    static func rangeSize(_ partSize: Int) -> Int { max(partSize, 1 << 20) }

    /// Starts the first ranged GET, which tells the size and ETag, and splits the object into
    /// ranges of `partSize` (at least 1 MiB). An empty object has no byte 0: it gets a plain GET
    /// and no ranges. With checksums on, a HEAD beside the first GET asks for the object's
    /// checksum (ranged GETs carry none): `expected`, `nil` when the store keeps none.
    static func openRanges(client: S3Client, bucket: String, key: String, partSize: Int, sizeHint: Int64? = nil) async throws
        -> (first: S3ObjectDownload, ranges: [ClosedRange<Int64>], expected: S3Checksum?) {
        let size = Int64(rangeSize(partSize))
        if let sizeHint, sizeHint <= size {
            // One plain GET: its body stream checks the object's checksum itself. (Should the
            // object have grown meanwhile, it still comes whole, as one range.)
            let first = try await client.getObject(bucket: bucket, key: key)
            let total = first.attributes.size
            return (first, total == 0 ? [] : [0...(total - 1)], nil)
        }
        async let head = client.configuration.validatesReads
            ? client.headObject(bucket: bucket, key: key, partNumber: nil, ifMatch: nil) : nil
        let first: S3ObjectDownload
        do {
            first = try await client.getObject(bucket: bucket, key: key, range: 0...(size - 1))
        } catch let e as S3Error where e.code == .invalidRange {
            first = try await client.getObject(bucket: bucket, key: key)
        }
        var expected: S3Checksum?
        do {
            if let attributes = try await head {
                guard attributes.eTag == first.attributes.eTag else {
                    throw S3Error(code: .objectChanged, message: "the object changed as the download started (ETag \(attributes.eTag ?? "-"), "
                                  + "then \(first.attributes.eTag ?? "-"))", bucket: bucket, key: key)
                }
                // The same object, so the same size. A first range answered 200 with no body (a
                // failing SeaweedFS gateway did so) reads as an empty object: without this, an
                // object with no checksum would be written as an empty file.
                guard attributes.size == first.attributes.size else {
                    throw S3Error(code: .invalidResponse, message: "the first ranged GET gave the object \(first.attributes.size) bytes, "
                                  + "its HEAD \(attributes.size)", bucket: bucket, key: key)
                }
                expected = attributes.checksum
            }
        } catch {
            first.body.cancel()
            throw error
        }
        let total = first.attributes.size
        return (first, stride(from: Int64(0), to: total, by: Int(size)).map { $0...min($0 + size, total) - 1 }, expected)
    }

    /// Checks a completed download (the temporary file `fd` holds all `total` bytes) against
    /// the object's full-object checksum: a CRC from the ranges' CRCs combined, a SHA digest by
    /// reading the file back. (Composite checksums: ``checkComposite(fd:total:against:client:bucket:key:eTag:)``.)
    static func check(fd: Int32, total: Int64, rangeCRCs: [CRC?], against expected: S3Checksum, bucket: String, key: String) throws {
        switch expected.kind {
        case .fullObject:
            let computed: S3Checksum
            if let kind = expected.algorithm.crcKind {
                var whole = CRC(kind)
                for crc in rangeCRCs {
                    guard let crc else { return }
                    whole = whole.followed(by: crc)
                }
                computed = S3Checksum(whole)
            } else {
                var running = RunningChecksum(expected.algorithm)
                try S3Client.readFile(fd, offset: 0, length: total, bucket: bucket, key: key) { running.update($0) }
                computed = running.finish()
            }
            guard computed.value == expected.value else {
                throw S3Error.checksumMismatch(expected: expected, computed: computed, what: "the downloaded file", bucket: bucket, key: key)
            }
        case .composite:
            return
        }
    }

    /// Checks a completed download against a composite checksum: the file read back, cut at
    /// the parts' sizes (``S3Client/partSizes(bucket:key:count:total:eTag:)``).
    static func checkComposite(fd: Int32, total: Int64, against expected: S3Checksum, client: S3Client,
                               bucket: String, key: String, eTag: String?) async throws {
        guard case .composite(let count) = expected.kind,
              let sizes = try await client.partSizes(bucket: bucket, key: key, count: count, total: total, eTag: eTag),
              var checker = CompositeChecker(expected: expected, sizes: sizes) else { return }
        try S3Client.readFile(fd, offset: 0, length: total, bucket: bucket, key: key) { checker.update($0) }
        guard let computed = checker.finish() else { return }
        guard computed.value == expected.value else {
            throw S3Error.checksumMismatch(expected: expected, computed: computed, what: "the downloaded file (composite, \(count) parts)",
                                           bucket: bucket, key: key)
        }
    }

    /// Where a range's bytes go.
    enum RangeSink {
        /// Straight into this buffer (empty, with room for the range), written by the transport.
        case buffer(PartBuffer)
        /// Straight into this file at the range's offsets, written by the transport (over plain
        /// HTTP, moved by the kernel from the socket into the file).
        case file(ResponseFile)
    }

    /// Fetches one range into `sink`. Opening each GET goes through the client's pipeline
    /// (which retries it); a body that breaks after its head came is resumed here from the
    /// first byte the sink has not received, under the same policy and retry quota. The
    /// opening transfer (the first range, started before the sink existed) is read as a stream.
    /// Returns the range's CRC of kind `crc`, when asked for.
    @discardableResult
    static func fetch(_ range: ClosedRange<Int64>, opening: S3ObjectDownload?, into sink: RangeSink, client: S3Client,
                      bucket: String, key: String, eTag: String?, policy: S3RetryPolicy, meter: ProgressMeter,
                      crc kind: CRC.Kind? = nil) async throws -> CRC? {
        var pending = opening
        var attempt = 1
        var received: Int64 = 0
        func take(_ chunk: UnsafeRawBufferPointer) throws {
            guard received + Int64(chunk.count) <= Int64(range.count) else {
                throw S3Error(code: .invalidResponse, message: "the server sent more bytes than the range \(range)", bucket: bucket, key: key)
            }
            switch sink {
            case .buffer(let buffer): buffer.append(chunk)  // its CRC is taken at the end, over the whole buffer
            case .file(let file):  // its CRC is taken at the end, from the file
                let e = file.write(chunk, at: range.lowerBound + received)
                guard e == 0 else { throw S3Error.invalidArgument("writing the download failed: \(String(cString: strerror(e)))", bucket: bucket, key: key) }
            }
            received += Int64(chunk.count)
            meter.add(bytes: chunk.count)
        }
        var direct: PartBuffer?
        var directFile: ResponseFile?
        switch sink {
        case .buffer(let buffer): direct = buffer
        case .file(let file): directFile = file
        }
        while range.lowerBound + received <= range.upperBound {
            let download: S3ObjectDownload
            let filledByTransport: Bool
            if let opening = pending {
                pending = nil
                download = opening
                filledByTransport = false
            } else {
                let rest = range.lowerBound + received...range.upperBound
                download = try await openRange(rest, client: client, bucket: bucket, key: key, eTag: eTag, into: direct,
                                               file: directFile.map { ResponseFileRange(file: $0, offset: rest.lowerBound, length: Int64(rest.count)) })
                filledByTransport = true
            }
            do {
                if filledByTransport {
                    // The transport fills the buffer; the body stream only says when the range ended.
                    // Its count is read only once the transport is done with it: after the end, or
                    // after an error the transport reported (it writes no more then). Cancelled here,
                    // the transfer may still be writing until the loop thread sees the cancel
                    // (ThreadSanitizer caught that read): then nothing is resumed, so nothing is read.
                    // Bytes of this attempt already shown by the sampler below.
                    let shown = Locked<Int64>(0)
                    func account() {
                        // Taken under the transfer's lock, after the loop thread's last write.
                        let written = download.body.transportFinishedByteCount
                        if let direct {
                            meter.add(bytes: Int(Int64(direct.count) - received))
                            received = Int64(direct.count)
                        } else if let written {
                            // This attempt's bytes, written at its offset (after those received before).
                            meter.add(bytes: Int(written - shown.withLock { $0 }))
                            received += written
                        }
                    }
                    do {
                        if directFile != nil && meter.isObserved {
                            // A range going into a file wakes nobody until it ends: someone who
                            // watches the progress sees its bytes sampled ten times a second.
                            try await withThrowingTaskGroup(of: Void.self) { group in
                                group.addTask { for try await _ in download.body {} }
                                group.addTask {
                                    while true {
                                        try await Task.sleep(for: .milliseconds(100))
                                        let now = download.body.transportFileBytesSoFar
                                        let delta = shown.withLock { s -> Int64 in
                                            defer { s = max(s, now) }
                                            return now - s
                                        }
                                        if delta > 0 { meter.add(bytes: Int(delta)) }
                                    }
                                }
                                defer { group.cancelAll() }
                                try await group.next()
                            }
                        } else {
                            for try await _ in download.body {}
                        }
                    } catch {
                        if !(error is CancellationError) && !Task.isCancelled { account() }
                        throw error
                    }
                    account()
                } else {
                    for try await chunk in download.body { try chunk.withUnsafeBytes { try take($0) } }
                }
                let position = range.lowerBound + received
                if position <= range.upperBound {
                    let cause = HTTPTransportError(kind: .connectionBroken, host: client.configuration.endpoint.host, curlCode: 0,
                                                   message: "the range ended at byte \(position), before \(range.upperBound + 1)")
                    throw S3Error(code: .transportFailure, message: cause.description, bucket: bucket, key: key, underlying: cause)
                }
            } catch {
                download.body.cancel()
                guard try await client.shouldResume(after: error, attempt: attempt, policy: policy) else {
                    if var e = error as? S3Error {
                        e.attempts = attempt
                        throw e
                    }
                    throw error
                }
                attempt += 1
            }
        }
        meter.add(bytes: 0, partDone: true)
        if let kind, let direct { return CRC(kind, of: direct.bytes) }
        if let kind, let directFile {
            var fromFile = CRC(kind)
            try S3Client.readFile(directFile.fd, offset: range.lowerBound, length: Int64(range.count), bucket: bucket, key: key) {
                fromFile.update($0)
            }
            return fromFile
        }
        return nil
    }

    /// Starts the ranged GET of `range` with `If-Match`; a failed precondition means the object
    /// was replaced since the first range (`.objectChanged`).
    private static func openRange(_ range: ClosedRange<Int64>, client: S3Client, bucket: String, key: String, eTag: String?,
                                  into direct: PartBuffer?, file: ResponseFileRange?) async throws -> S3ObjectDownload {
        do {
            return try await client.getObject(bucket: bucket, key: key, range: range, ifMatch: eTag, into: direct, file: file)
        } catch let e as S3Error where e.code == .preconditionFailed {
            var changed = e
            changed.code = .objectChanged
            changed.message = "the object changed during the download (its ETag is no longer \(eTag ?? "-"))"
            throw changed
        }
    }

    static func writeAll(fd: Int32, _ bytes: [UInt8], at offset: Int64? = nil) throws {
        try bytes.withUnsafeBytes { try writeAll(fd: fd, $0, at: offset) }
    }

    static func writeAll(fd: Int32, _ p: UnsafeRawBufferPointer, at offset: Int64? = nil) throws {
        let e = ResponseFile.write(fd: fd, p, at: offset)
        if e != 0 { throw S3Error.invalidArgument("writing the download failed: \(String(cString: strerror(e)))") }
    }
}
