import Foundation
import S3Locking

/// Counts bytes and parts and reports progress, throttled.
final class ProgressMeter: Sendable {
    private struct State {
        var bytes: Int64 = 0
        var parts = 0
        var lastReport: ContinuousClock.Instant?
    }
    private let state = Locked(State())
    private let total: Int64?
    private let callback: (@Sendable (S3TransferProgress) -> Void)?
    private let parent: ProgressMeter?
    private let start = ContinuousClock.now

    init(total: Int64?, callback: (@Sendable (S3TransferProgress) -> Void)?, parent: ProgressMeter? = nil) {
        self.total = total
        self.callback = callback
        self.parent = parent
    }

    /// Whether anybody sees the progress (this meter's callback, or a parent's).
    var isObserved: Bool { callback != nil || parent?.isObserved == true }

    func add(bytes: Int, partDone: Bool = false) {
        if bytes > 0 { parent?.add(bytes: bytes) }
        guard let callback else { return }
        let now = ContinuousClock.now
        let event: S3TransferProgress? = state.withLock { s in
            s.bytes += Int64(bytes)
            if partDone { s.parts += 1 }
            if let last = s.lastReport, now - last < .milliseconds(50) { return nil }
            s.lastReport = now
            return snapshot(s, now)
        }
        if let event { callback(event) }
    }

    func finish() {
        guard let callback else { return }
        callback(state.withLock { snapshot($0, .now) })
    }

    private func snapshot(_ s: State, _ now: ContinuousClock.Instant) -> S3TransferProgress {
        let elapsed = now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return S3TransferProgress(bytesDone: s.bytes, totalBytes: total, partsDone: s.parts,
                                  bytesPerSecond: seconds > 0 ? Double(s.bytes) / seconds : 0)
    }
}
