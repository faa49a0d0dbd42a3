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
public final class HTTPEngine: Sendable {
    let loop: CurlLoop
    /// The engine's settings.
    public let configuration: HTTPEngineConfiguration
    private let nextID = Atomic<UInt64>(1)

    /// A process-wide engine with the default configuration.
    public static let shared = HTTPEngine()

    /// Starts an engine and its loop thread.
    public init(configuration: HTTPEngineConfiguration = HTTPEngineConfiguration()) {
        self.configuration = configuration
        self.loop = CurlLoop(configuration: configuration)
    }

    deinit { loop.shutdown(wait: false) }

    /// Sends `request`; returns when the response head has arrived.
    ///
    /// Throws ``HTTPTransportError`` when no response arrives (kind `.invalidRequest`, before
    /// anything is sent, for a method or header that would not be one line on the wire), and
    /// `CancellationError` when the task is cancelled. Any HTTP status is a response, not an error.
    public func execute(_ request: HTTPRequest) async throws -> HTTPResponse {
        if let problem = request.headerProblem {
            throw HTTPTransportError(kind: .invalidRequest, host: request.host, curlCode: 0, message: problem)
        }
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let transfer = Transfer(id: id, request: request, loop: loop, configuration: configuration)
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

    /// Fails every transfer in flight and stops the loop thread; returns when it has stopped.
    public func shutdown() {
        loop.shutdown(wait: true)
    }
}
