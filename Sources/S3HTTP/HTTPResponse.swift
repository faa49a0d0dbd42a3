/// The status line and headers of a response, delivered as soon as the headers are in.
public struct HTTPResponseHead: Sendable {
    /// The HTTP status code.
    public let status: Int
    /// The response headers.
    public let headers: HTTPHeaders

    /// A response head.
    public init(status: Int, headers: HTTPHeaders) {
        self.status = status
        self.headers = headers
    }
}

/// A response: the head, and the body as it streams in.
public struct HTTPResponse: Sendable {
    /// Status and headers.
    public let head: HTTPResponseHead
    /// The body; read it, or drop it to cancel the rest of the transfer.
    public let body: HTTPResponseBody

    /// The HTTP status code.
    public var status: Int { head.status }
    /// The response headers.
    public var headers: HTTPHeaders { head.headers }
}

/// A response body as an `AsyncSequence` of byte chunks, with back-pressure.
///
/// While the reader lags more than the engine's buffer limit behind, the transfer pauses; it
/// resumes once the reader drains the buffer. Chunks are a few hundred KiB at most. Dropping
/// the body before its end cancels the transfer and frees its connection slot.
public final class HTTPResponseBody: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    public typealias Failure = any Error

    let transfer: Transfer

    init(transfer: Transfer) { self.transfer = transfer }

    deinit { transfer.cancel() }

    public func makeAsyncIterator() -> Iterator { Iterator(body: self) }

    /// Once curl has ended the transfer: the number of body bytes it received (for a request
    /// with a `responseBuffer`, those it wrote there); `nil` while it runs or once cancelled. Read under the
    /// transfer's lock, which the loop thread takes when the transfer ends, so reading the
    /// response buffer after this call is ordered after every write the transport made to it.
    /// (The end of the body stream alone can reach the reader through a continuation resumed
    /// before the reader suspended, an ordering ThreadSanitizer cannot see.)
    package var finishedByteCount: Int64? { transfer.finishedBodyBytes() }

    /// For a request with a `responseFile`: the body bytes written into it so far, while it
    /// runs (for progress; ``finishedByteCount`` is the count to act on).
    package var fileBytesSoFar: Int64 { transfer.fileBytesSoFar.load(ordering: .relaxed) }

    /// Reads the chunks of the body in order.
    public struct Iterator: AsyncIteratorProtocol {
        let body: HTTPResponseBody

        public mutating func next() async throws -> [UInt8]? {
            try await body.transfer.nextChunk()
        }

        public mutating func next(isolation actor: isolated (any Actor)?) async throws(any Error) -> [UInt8]? {
            try await body.transfer.nextChunk(isolation: actor)
        }
    }

    /// Reads the whole body into memory; throws ``HTTPTransportError`` of kind
    /// `.bodyTooLarge` past `limit` bytes.
    public func collect(upTo limit: Int = .max) async throws -> [UInt8] {
        var out = [UInt8]()
        for try await chunk in self {
            if out.count + chunk.count > limit {
                transfer.cancel()
                throw HTTPTransportError(kind: .bodyTooLarge, host: transfer.host, curlCode: 0,
                                         message: "response body exceeds \(limit) bytes")
            }
            if out.isEmpty { out = chunk } else { out.append(contentsOf: chunk) }
        }
        return out
    }

    /// The most bytes this body ever held buffered ahead of its reader (for tests and
    /// diagnostics of back-pressure).
    public var peakBufferedBytes: Int { transfer.peakBuffered }

    /// Stops the transfer now; later reads throw `CancellationError`.
    public func cancel() { transfer.cancel() }
}
