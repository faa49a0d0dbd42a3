import S3HTTP

/// An object's bytes as they arrive: an `AsyncSequence` of chunks with back-pressure.
///
/// Reading slower than the network pauses the transfer instead of buffering; dropping the
/// stream before its end cancels the transfer.
public struct S3ByteStream: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    public typealias Failure = any Error

    let body: HTTPResponseBody
    let bucket: String
    let key: String
    /// The whole object's checksum, checked when the last byte has arrived (a GET of the
    /// whole object whose store reported a full-object checksum).
    var expected: S3Checksum? = nil

    public func makeAsyncIterator() -> Iterator {
        Iterator(inner: body.makeAsyncIterator(), bucket: bucket, key: key, expected: expected,
                 running: expected.map { RunningChecksum($0.algorithm) })
    }

    /// Yields the chunks in order; transport failures surface as ``S3Error``. When the store
    /// reported the object's checksum, the end of the body is `.integrityFailure` instead of
    /// `nil` if the bytes do not match it (the bytes were already handed out by then: do not
    /// act on them before the end).
    public struct Iterator: AsyncIteratorProtocol {
        var inner: HTTPResponseBody.Iterator
        let bucket: String
        let key: String
        let expected: S3Checksum?
        var running: RunningChecksum?

        public mutating func next() async throws -> [UInt8]? {
            let chunk: [UInt8]?
            do { chunk = try await inner.next() } catch { throw S3Client.wrap(error, bucket: bucket, key: key) }
            return try check(chunk)
        }

        public mutating func next(isolation actor: isolated (any Actor)?) async throws(any Error) -> [UInt8]? {
            let chunk: [UInt8]?
            do { chunk = try await inner.next(isolation: actor) } catch { throw S3Client.wrap(error, bucket: bucket, key: key) }
            return try check(chunk)
        }

        private mutating func check(_ chunk: [UInt8]?) throws -> [UInt8]? {
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

    /// Stops the transfer; later reads throw `CancellationError`.
    public func cancel() { body.cancel() }
}

/// A GET in progress: what the headers said, and the body as it streams.
public struct S3ObjectDownload: Sendable {
    /// Size, ETag, date, type and metadata of the object.
    public let attributes: S3ObjectAttributes
    /// The bytes (of the requested range, if one was asked for).
    public let body: S3ByteStream
    /// The `Content-Range` of a ranged GET.
    public let contentRange: String?
    /// How many times the GET was sent before its head came back (1 = no retry).
    public var attempts: Int = 1
}
