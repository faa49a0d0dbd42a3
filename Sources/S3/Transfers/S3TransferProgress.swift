import Foundation

/// Progress of one transfer.
public struct S3TransferProgress: Sendable {
    /// Bytes moved so far.
    public var bytesDone: Int64
    /// Total bytes, when known.
    public var totalBytes: Int64?
    /// Parts (or ranges) finished.
    public var partsDone: Int
    /// Average rate since the start, bytes per second.
    public var bytesPerSecond: Double

    /// A progress value (the transfers make them; tests and custom reporters may too).
    public init(bytesDone: Int64, totalBytes: Int64?, partsDone: Int, bytesPerSecond: Double) {
        self.bytesDone = bytesDone
        self.totalBytes = totalBytes
        self.partsDone = partsDone
        self.bytesPerSecond = bytesPerSecond
    }

    /// An `AsyncStream` of progress events and the callback that feeds it, for
    /// ``S3TransferOptions/progress``.
    public static func makeStream() -> (stream: AsyncStream<S3TransferProgress>, callback: @Sendable (S3TransferProgress) -> Void) {
        let (stream, continuation) = AsyncStream<S3TransferProgress>.makeStream(bufferingPolicy: .bufferingNewest(64))
        return (stream, { continuation.yield($0) })
    }
}
