import S3Locking

/// A test that took too long (see ``within(_:_:_:)``).
public struct TimedOut: Error, CustomStringConvertible {
    public let what: String
    public var description: String { "timed out: \(what)" }
}

/// Holds a continuation until one of two racers takes it.
final class ContinuationSlot<T: Sendable>: Sendable {
    let continuation = Locked<CheckedContinuation<T, any Error>?>(nil)
    func take() -> CheckedContinuation<T, any Error>? { continuation.withLock { c in defer { c = nil }; return c } }
}

/// Runs `body`, failing with ``TimedOut`` if it takes longer than `seconds`. The body runs in a
/// task of its own, cancelled on time-out and then left behind: a hung body cannot hang the test
/// (a task group would wait for it).
public func within<T: Sendable>(_ seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let slot = ContinuationSlot<T>()
    return try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
        slot.continuation.withLock { $0 = c }
        let work = Task {
            let result: Result<T, any Error>
            do { result = .success(try await body()) } catch { result = .failure(error) }
            slot.take()?.resume(with: result)
        }
        Task {
            try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            guard let c = slot.take() else { return }
            work.cancel()
            c.resume(throwing: TimedOut(what: what))
        }
    }
}
