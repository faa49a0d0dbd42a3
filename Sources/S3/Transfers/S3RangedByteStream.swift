import Foundation
import S3HTTP
import S3Signing

/// An object's bytes in order, fetched as parallel ranged GETs: `options.concurrency` ranges of
/// `options.partSize` bytes in flight, reassembled in order, so memory stays near
/// `concurrency x partSize` whatever the object's size. Later ranges send `If-Match` with the
/// first one's ETag (`.objectChanged` if the object is replaced meanwhile). Each iteration is a
/// new download; a consumer that stops early cancels the ranges in flight.
///
/// With checksums on (``S3Configuration/checksums``), each range's CRC is computed as it
/// arrives and the CRCs are combined in order; when the store holds a full-object checksum,
/// the end of the stream is `.integrityFailure` instead of `nil` if the bytes do not match.
/// The bytes were handed out by then: do not act on them (commit, forward, acknowledge)
/// before the stream has ended. A composite checksum (a checksum of the parts' checksums) is
/// checked too when the store tells the parts' sizes (HEAD `?partNumber=N`, before the first
/// byte), each part's checksum computed as its bytes are handed out.
///
/// Each element is one range (``S3TransferOptions/partSize`` bytes, the last one shorter) as
/// ``S3Bytes`` viewing the buffer the transport received it into: no byte is copied after curl
/// wrote it. The buffer is reused for a later range once the element is released, so memory
/// stays at `concurrency + 1` parts as long as the consumer lets go of each element before it
/// asks for the next.
public struct S3RangedByteStream: AsyncSequence, Sendable {
    public typealias Element = S3Bytes
    public typealias Failure = any Error
    let client: S3Client
    let bucket: String
    let key: String
    let options: S3TransferOptions

    public func makeAsyncIterator() -> Iterator { Iterator(state: RangedDownload(client: client, bucket: bucket, key: key, options: options)) }

    /// Yields the bytes in order, one range per element.
    public struct Iterator: AsyncIteratorProtocol {
        let state: RangedDownload

        public mutating func next() async throws -> S3Bytes? { try await state.next(isolation: nil) }

        /// The next bytes, on the caller's executor.
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(any Error) -> S3Bytes? {
            try await state.next(isolation: actor)
        }
    }
}

/// The state of one ranged, ordered download. Used by one consumer at a time (its iterator);
/// the range tasks only return values. Dropping it cancels what is still in flight.
///
/// Each range is received straight into a part buffer from a small pool and handed to the
/// consumer as one `S3Bytes` viewing it (no copy); the buffer goes back to the pool when the
/// consumer lets go of it. Memory: `concurrency + 1` buffers of `partSize`, whatever the size
/// of the object, plus whatever the consumer holds on to.
final class RangedDownload: @unchecked Sendable {
    let client: S3Client
    let bucket: String
    let key: String
    let options: S3TransferOptions
    private var started = false
    private var ranges: [ClosedRange<Int64>] = []
    private var nextRange = 0
    private var eTag: String?
    private var window: [Task<(PartBuffer, CRC?), any Error>] = []
    /// The checksum the bytes must match at the end, and the CRC of those handed out so far.
    private var expected: S3Checksum?
    private var combined: CRC?
    private var digest: RunningChecksum?
    private var composite: CompositeChecker?
    private var meter: ProgressMeter?
    private let pool: PartBufferPool
    /// Once the download failed (its start, or a range), every later `next()` throws this:
    /// the stream never skips a range or ends as if the object were shorter.
    private var failure: (any Error)?

    init(client: S3Client, bucket: String, key: String, options: S3TransferOptions) {
        self.client = client
        self.bucket = bucket
        self.key = key
        self.options = options
        pool = PartBufferPool(bufferSize: Downloader.rangeSize(options.partSize), keep: options.concurrency + 1)
    }

    deinit { for t in window { t.cancel() } }

    func next(isolation actor: isolated (any Actor)? = #isolation) async throws -> S3Bytes? {
        if let failure { throw failure }
        do {
            return try await advance()
        } catch {
            failure = error
            for t in window { t.cancel() }
            window.removeAll()
            throw error
        }
    }

    private func advance(isolation actor: isolated (any Actor)? = #isolation) async throws -> S3Bytes? {
        if !started {
            started = true
            try await options.withRetryPolicy { try await start() }
        }
        while true {
            guard !window.isEmpty else {
                try finish()
                return nil
            }
            let task = window.removeFirst()
            launch(opening: nil)
            let (buffer, crc) = try await withTaskCancellationHandler {
                try await task.value
            } onCancel: {
                task.cancel()
            }
            if combined != nil {
                if let crc { combined = combined!.followed(by: crc) } else { (combined, expected) = (nil, nil) }  // cannot check: never refuse
            }
            digest?.update(buffer.bytes)
            composite?.update(buffer.bytes)
            let lease = PartBufferLease(buffer: buffer, pool: pool)
            guard buffer.count > 0 else { continue }
            return S3Bytes(lease: lease, offset: 0, count: buffer.count)
        }
    }

    /// At the end of the bytes: they must match the object's full-object checksum.
    private func finish() throws {
        guard let expected, !ranges.isEmpty else { return }
        let computed: S3Checksum
        if let combined {
            computed = S3Checksum(combined)
        } else if digest != nil {
            computed = digest!.finish()
        } else if composite != nil, let value = composite!.finish() {
            computed = value
        } else {
            return
        }
        self.expected = nil
        guard computed.value == expected.value else {
            throw S3Error.checksumMismatch(expected: expected, computed: computed, what: "the object's bytes", bucket: bucket, key: key)
        }
    }

    private func start() async throws {
        let first: S3ObjectDownload
        (first, ranges, expected) = try await Downloader.openRanges(client: client, bucket: bucket, key: key, partSize: options.partSize)
        if let expected, expected.kind == .fullObject {
            if let kind = expected.algorithm.crcKind { combined = CRC(kind) } else { digest = RunningChecksum(expected.algorithm) }
        } else if let expected, case .composite(let count) = expected.kind {
            // The parts' sizes before the first byte goes out; then each part's checksum as the bytes pass.
            do {
                if let sizes = try await client.partSizes(bucket: bucket, key: key, count: count, total: first.attributes.size,
                                                          eTag: first.attributes.eTag) {
                    composite = CompositeChecker(expected: expected, sizes: sizes)
                }
            } catch {
                first.body.cancel()
                throw error
            }
            if composite == nil { self.expected = nil }
        } else {
            expected = nil
        }
        eTag = first.attributes.eTag
        meter = ProgressMeter(total: first.attributes.size, callback: options.progress, parent: options.parentMeter)
        guard !ranges.isEmpty else {
            for try await _ in first.body {}
            return
        }
        // The first range continues the opening GET; the next ones start beside it.
        launch(opening: first)
        for _ in 0..<max(options.concurrency - 1, 0) { launch(opening: nil) }
    }

    private func launch(opening: S3ObjectDownload?) {
        guard nextRange < ranges.count else { return }
        let range = ranges[nextRange]
        nextRange += 1
        let (client, bucket, key, eTag, meter, limiter, pool) = (client, bucket, key, eTag, meter!, options.limiter, pool)
        let (options, policy, kind) = (options, options.retry ?? client.retryPolicy, combined?.kind)
        window.append(Task {
            try await limiter?.acquire()
            defer { limiter?.release() }
            let buffer = pool.take()
            let crc = try await options.withRetryPolicy {
                try await Downloader.fetch(range, opening: opening, into: .buffer(buffer), client: client, bucket: bucket, key: key, eTag: eTag,
                                           policy: policy, meter: meter, crc: kind)
            }
            return (buffer, crc)
        })
    }
}
