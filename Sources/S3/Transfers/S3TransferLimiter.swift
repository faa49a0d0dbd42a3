import S3Locking

/// One concurrency limit (and so one memory budget: permits x part size) shared by many
/// transfers: every part or range takes a permit while it is in memory or in flight.
///
/// Pass the same limiter in ``S3TransferOptions/limiter`` to every transfer of a batch.
public final class S3TransferLimiter: Sendable {
    private struct State {
        var available: Int
        var waiters: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
        var nextID: UInt64 = 0
    }
    private let state: Locked<State>
    /// The number of permits.
    public let permits: Int

    /// A limiter with `permits` permits (at least 1).
    public init(permits: Int) {
        self.permits = max(permits, 1)
        state = Locked(State(available: max(permits, 1)))
    }

    /// Waits for a permit; throws `CancellationError` if the task is cancelled while waiting.
    func acquire() async throws {
        let id = state.withLock { s -> UInt64 in
            s.nextID += 1
            return s.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                enum Outcome { case granted, cancelled, queued }
                let outcome = state.withLock { s -> Outcome in
                    // A cancellation that came before this point found no waiter to resume; the
                    // task's flag is set before its handler runs, so it is seen here.
                    if Task.isCancelled { return .cancelled }
                    if s.available > 0 {
                        s.available -= 1
                        return .granted
                    }
                    s.waiters.append((id, c))
                    return .queued
                }
                switch outcome {
                case .granted: c.resume()
                case .cancelled: c.resume(throwing: CancellationError())
                case .queued: break
                }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<Void, any Error>? in
                guard let i = s.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return s.waiters.remove(at: i).continuation
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// Returns a permit.
    func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, any Error>? in
            if s.waiters.isEmpty {
                s.available += 1
                return nil
            }
            return s.waiters.removeFirst().continuation
        }
        next?.resume()
    }
}
