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

    public func makeAsyncIterator() -> Iterator { Iterator(inner: body.makeAsyncIterator(), bucket: bucket, key: key) }

    /// Yields the chunks in order; transport failures surface as ``S3Error``.
    public struct Iterator: AsyncIteratorProtocol {
        var inner: HTTPResponseBody.Iterator
        let bucket: String
        let key: String

        public mutating func next() async throws -> [UInt8]? {
            do { return try await inner.next() } catch { throw S3Client.wrap(error, bucket: bucket, key: key) }
        }

        public mutating func next(isolation actor: isolated (any Actor)?) async throws(any Error) -> [UInt8]? {
            do { return try await inner.next(isolation: actor) } catch { throw S3Client.wrap(error, bucket: bucket, key: key) }
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
