import Foundation

/// An object's bytes in order, fetched as parallel ranged GETs: `options.concurrency` ranges of
/// `options.partSize` bytes in flight, reassembled in order, so memory stays near
/// `concurrency x partSize` whatever the object's size. Later ranges send `If-Match` with the
/// first one's ETag (`.objectChanged` if the object is replaced meanwhile). Each iteration is a
/// new download; a consumer that stops early cancels the ranges in flight.
public struct S3RangedByteStream: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    public typealias Failure = any Error
    let client: S3Client
    let bucket: String
    let key: String
    let options: S3TransferOptions

    public func makeAsyncIterator() -> Iterator { Iterator(state: RangedDownload(client: client, bucket: bucket, key: key, options: options)) }

    /// Yields one range at a time, in order.
    public struct Iterator: AsyncIteratorProtocol {
        let state: RangedDownload

        public mutating func next() async throws -> [UInt8]? { try await state.next() }
    }
}

/// The state of one ranged, ordered download. Used by one consumer at a time (its iterator);
/// the range tasks only return values. Dropping it cancels what is still in flight.
final class RangedDownload: @unchecked Sendable {
    let client: S3Client
    let bucket: String
    let key: String
    let options: S3TransferOptions
    private var started = false
    private var firstBytes: [UInt8]?
    private var ranges: [ClosedRange<Int64>] = []
    private var nextRange = 1
    private var eTag: String?
    private var window: [Task<[UInt8], any Error>] = []
    private var meter: ProgressMeter?

    init(client: S3Client, bucket: String, key: String, options: S3TransferOptions) {
        self.client = client
        self.bucket = bucket
        self.key = key
        self.options = options
    }

    deinit { for t in window { t.cancel() } }

    func next() async throws -> [UInt8]? {
        if !started {
            started = true
            try await start()
        }
        if let first = firstBytes {
            firstBytes = nil
            return first
        }
        guard !window.isEmpty else { return nil }
        let task = window.removeFirst()
        launch()
        return try await withTaskCancellationHandler {
            try await task.value
        } onCancel: {
            task.cancel()
        }
    }

    private func start() async throws {
        let first: S3ObjectDownload
        (first, ranges) = try await Downloader.openRanges(client: client, bucket: bucket, key: key, partSize: options.partSize)
        eTag = first.attributes.eTag
        meter = ProgressMeter(total: first.attributes.size, callback: options.progress, parent: options.parentMeter)
        // The next ranges start while the first one is read.
        for _ in 0..<max(options.concurrency - 1, 0) { launch() }
        guard let range0 = ranges.first else {
            for try await _ in first.body {}
            return
        }
        firstBytes = try await collect(range0, opening: first)
    }

    private func launch() {
        guard nextRange < ranges.count else { return }
        let range = ranges[nextRange]
        nextRange += 1
        let (client, bucket, key, retry, eTag, meter, limiter) = (client, bucket, key, options.retry, eTag, meter!, options.limiter)
        window.append(Task {
            try await limiter?.acquire()
            defer { limiter?.release() }
            return try await Self.collect(range, opening: nil, client: client, bucket: bucket, key: key, eTag: eTag, retry: retry, meter: meter)
        })
    }

    private func collect(_ range: ClosedRange<Int64>, opening: S3ObjectDownload?) async throws -> [UInt8] {
        try await Self.collect(range, opening: opening, client: client, bucket: bucket, key: key, eTag: eTag, retry: options.retry, meter: meter!)
    }

    private static func collect(_ range: ClosedRange<Int64>, opening: S3ObjectDownload?, client: S3Client, bucket: String, key: String,
                                eTag: String?, retry: S3RetryPolicy, meter: ProgressMeter) async throws -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(Int(range.count))
        try await Downloader.fetch(range, opening: opening, client: client, bucket: bucket, key: key, eTag: eTag, retry: retry,
                                   meter: meter) { chunk, position in
            // A retry resumes at `position`: drop anything a broken attempt left past it.
            let offset = Int(position - range.lowerBound)
            if bytes.count > offset { bytes.removeSubrange(offset...) }
            bytes.append(contentsOf: chunk)
        }
        return bytes
    }
}
