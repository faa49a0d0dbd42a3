import S3
import ServiceLifecycle

/// An ``S3/S3Client`` as a swift-service-lifecycle `Service`: add it to your `ServiceGroup`
/// and the client shuts down when the group shuts down gracefully (or the run is cancelled):
/// requests still in flight fail with a `.shutdown` transport error, and the client's loop
/// thread ends before `run()` returns.
///
/// ```swift
/// let client = S3Client(configuration: configuration)
/// let group = ServiceGroup(configuration: .init(services: [S3ClientService(client), httpServer], logger: logger))
/// try await group.run()
/// ```
///
/// Put it before the services that use the client: a `ServiceGroup` shuts services down in
/// reverse order, so those finish their work first.
public struct S3ClientService: Service {
    /// The client this service stops.
    public let client: S3Client

    /// A service that stops `client` on graceful shutdown.
    public init(_ client: S3Client) {
        self.client = client
    }

    /// Waits for graceful shutdown or cancellation, then shuts the client down.
    public func run() async throws {
        // Throws CancellationError when the group cancels instead: stop all the same.
        try? await gracefulShutdown()
        await client.shutdown()
    }
}
