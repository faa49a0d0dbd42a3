import S3HTTP

/// An object's bytes as they arrive: an `AsyncSequence` of chunks with back-pressure.
///
/// Reading slower than the network pauses the transfer instead of buffering; dropping the
/// stream before its end cancels the transfer.
public struct S3ByteStream: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    public typealias Failure = any Error

    /// The response body it reads, or nil for a stream of canned chunks.
    let body: HTTPResponseBody?
    /// The chunks of a stream made with ``init(chunks:)``.
    let canned: [[UInt8]]
    let bucket: String
    let key: String
    /// The whole object's checksum, checked when the last byte has arrived (a GET of the
    /// whole object whose store reported one).
    var expected: S3Checksum? = nil
    /// For a composite `expected`: how to learn the parts' sizes (asked before the first
    /// chunk is handed out; `nil` from it means the checksum cannot be checked).
    var partSizes: (@Sendable () async throws -> [Int64]?)? = nil

    init(body: HTTPResponseBody, bucket: String, key: String) {
        self.body = body
        self.canned = []
        self.bucket = bucket
        self.key = key
    }

    /// A stream that yields `chunks` and ends: for tests and fakes of code that reads objects.
    public init(chunks: [[UInt8]]) {
        self.body = nil
        self.canned = chunks
        self.bucket = ""
        self.key = ""
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(inner: body?.makeAsyncIterator(), canned: canned[...], bucket: bucket, key: key, expected: expected,
                 running: expected.flatMap { $0.kind == .fullObject ? RunningChecksum($0.algorithm) : nil },
                 partSizes: expected?.kind == .fullObject ? nil : partSizes)
    }

    /// Yields the chunks in order; transport failures surface as ``S3Error``. When the store
    /// reported the object's checksum, the end of the body is `.integrityFailure` instead of
    /// `nil` if the bytes do not match it (the bytes were already handed out by then: do not
    /// act on them before the end).
    public struct Iterator: AsyncIteratorProtocol {
        var inner: HTTPResponseBody.Iterator?
        var canned: ArraySlice<[UInt8]>
        let bucket: String
        let key: String
        let expected: S3Checksum?
        var running: RunningChecksum?
        var partSizes: (@Sendable () async throws -> [Int64]?)?
        var composite: CompositeChecker?

        public mutating func next() async throws -> [UInt8]? {
            try await next(isolation: nil)
        }

        public mutating func next(isolation actor: isolated (any Actor)?) async throws(any Error) -> [UInt8]? {
            if let fetch = partSizes, let expected {
                // A composite checksum: the parts' sizes first, then each part's checksum as it passes.
                partSizes = nil
                if let sizes = try await fetch() { composite = CompositeChecker(expected: expected, sizes: sizes) }
            }
            guard inner != nil else { return canned.popFirst() }
            let chunk: [UInt8]?
            do { chunk = try await inner!.next(isolation: actor) } catch { throw S3Client.wrap(error, bucket: bucket, key: key) }
            return try check(chunk)
        }

        private mutating func check(_ chunk: [UInt8]?) throws -> [UInt8]? {
            if composite != nil, let expected {
                if let chunk {
                    chunk.withUnsafeBytes { composite!.update($0) }
                    return chunk
                }
                let computed = composite!.finish()
                composite = nil
                if let computed, computed.value != expected.value {
                    throw S3Error.checksumMismatch(expected: expected, computed: computed, what: "the object's bytes (composite)",
                                                   bucket: bucket, key: key)
                }
                return nil
            }
            guard running != nil, let expected else { return chunk }
            if let chunk {
                chunk.withUnsafeBytes { running!.update($0) }
                return chunk
            }
            let computed = running!.finish()
            running = nil
            guard computed.value == expected.value else {
                throw S3Error.checksumMismatch(expected: expected, computed: computed, what: "the object's bytes", bucket: bucket, key: key)
            }
            return nil
        }
    }

    /// Reads everything into memory.
    public func collect() async throws -> [UInt8] {
        var out = [UInt8]()
        for try await chunk in self {
            if out.isEmpty { out = chunk } else { out.append(contentsOf: chunk) }
        }
        return out
    }

    /// Once the transfer ended, the body bytes it received, read under its lock (see
    /// `HTTPResponseBody.finishedByteCount`): after this, a response buffer it filled can be read.
    var transportFinishedByteCount: Int64? { body?.finishedByteCount }

    /// While the transport writes the body into a file: the bytes written so far.
    var transportFileBytesSoFar: Int64 { body?.fileBytesSoFar ?? 0 }

    /// Stops the transfer; later reads throw `CancellationError`.
    public func cancel() { body?.cancel() }
}

/// A GET in progress: what the headers said, and the body as it streams.
public struct S3ObjectDownload: Sendable {
    /// Size, ETag, date, type and metadata of the object.
    public let attributes: S3ObjectHead
    /// The bytes (of the requested range, if one was asked for).
    public let body: S3ByteStream
    /// The `Content-Range` of a ranged GET.
    public let contentRange: String?
    /// How many times the GET was sent before its head came back (1 = no retry).
    public var attempts: Int = 1

    /// A download; with ``S3ByteStream/init(chunks:)``, a fake one for tests.
    public init(attributes: S3ObjectHead, body: S3ByteStream, contentRange: String? = nil, attempts: Int = 1) {
        self.attributes = attributes
        self.body = body
        self.contentRange = contentRange
        self.attempts = attempts
    }
}
