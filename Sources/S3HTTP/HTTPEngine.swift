import Synchronization

/// An HTTP/1.1 client on one libcurl multi handle driven by one dedicated thread.
///
/// All transfers of an engine share its connection pool. Submit a request with
/// ``execute(_:)``: it returns as soon as the response headers are in, and the body streams
/// with back-pressure. Cancelling the calling task cancels the transfer.
///
/// ```swift
/// let engine = HTTPEngine()
/// let response = try await engine.execute(HTTPRequest(method: "GET", url: "http://127.0.0.1:8080/x"))
/// for try await chunk in response.body { consume(chunk) }
/// ```
///
/// Lifetime: the loop thread runs while the engine or anything it returned (a response body,
/// its iterator, a request in flight) is alive, so a body may outlive the engine that opened
/// it. When the last of them is released the loop stops by itself; ``shutdown()`` stops it
/// at once.
public final class HTTPEngine: Sendable {
    let lease: EngineLease
    var loop: CurlLoop { lease.loop }
    /// The engine's settings.
    public let configuration: HTTPEngineConfiguration
    private let nextID = Atomic<UInt64>(1)

    /// A process-wide engine with the default configuration.
    public static let shared = HTTPEngine()

    /// Starts an engine and its loop thread.
    public init(configuration: HTTPEngineConfiguration = HTTPEngineConfiguration()) {
        self.configuration = configuration
        self.lease = EngineLease(loop: CurlLoop(configuration: configuration))
    }

    /// Sends `request`; returns when the response head has arrived.
    ///
    /// Throws ``HTTPTransportError`` when no response arrives (kind `.invalidRequest`, before
    /// anything is sent, for a method or header that would not be one line on the wire), and
    /// `CancellationError` when the task is cancelled, and the producer's own error when a
    /// streamed body's producer throws. Any HTTP status is a response, not an error.
    public func execute(_ request: HTTPRequest) async throws -> HTTPResponse {
        if let problem = request.headerProblem {
            throw HTTPTransportError(kind: .invalidRequest, host: request.host, curlCode: 0, message: problem)
        }
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let transfer = Transfer(id: id, request: request, lease: lease, configuration: configuration)
        let head = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<HTTPResponseHead, any Error>) in
                transfer.start(c)
            }
        } onCancel: {
            transfer.cancel()
        }
        return HTTPResponse(head: head, body: HTTPResponseBody(transfer: transfer))
    }

    /// The number of transfers currently handed to libcurl (for diagnostics and tests).
    public var liveTransferCount: Int { loop.liveCount.load(ordering: .relaxed) }

    /// Direct connections opened so far (see `DirectConnection`; for tests).
    package var directConnectionsOpened: Int { loop.directOpened.load(ordering: .relaxed) }
    /// The most direct connections that were opening to one host at once (for tests).
    package var directConnectionsOpeningPeak: Int { loop.directOpeningPeak.load(ordering: .relaxed) }
    /// Direct TLS connections opened so far whose handshake resumed an earlier session.
    package var directTLSSessionsResumed: Int { loop.directResumed.load(ordering: .relaxed) }

    /// Stops the engine now: every request in flight or queued fails with
    /// ``HTTPTransportError/Kind-swift.enum/shutdown``, later requests fail at once, and the loop
    /// thread ends. Returns once it has; never blocks a thread while waiting. Idempotent: a
    /// second or concurrent call returns when the first one's work is done.
    public func shutdown() async {
        await loop.shutdown()
    }
}
