/// The life of the event loop as a value: the inbox other threads post to, and the phase
/// (running → draining → stopped). Each event returns what the caller must do, so every rule
/// can be tested without curl or threads. The loop guards one instance with a mutex.
///
/// - Posting while running queues the message (the caller wakes the loop); once shutdown was
///   asked for, a message is refused and the caller fails its transfer at once (`.shutdown`).
/// - Shutdown is idempotent: the first request queues the stop, every request (first, repeated
///   or concurrent) gets its waiter resumed when the loop has stopped, or at once afterwards.
/// - A message queued in the same pass as the stop is not lost: ``drain()`` hands it back to be
///   failed, and so does everything posted up to the moment the phase became `stopped`.
struct LoopStateMachine<Message, Waiter> {
    enum Phase: Equatable {
        /// Accepting messages.
        case running
        /// Shutdown was asked for; the loop thread has not yet taken it.
        case stopping
        /// The loop thread took the stop and is failing what is left.
        case draining
        /// The loop has stopped; curl is cleaned up.
        case stopped
    }

    private(set) var phase: Phase = .running
    private var inbox: [Message] = []
    private var stopWaiters: [Waiter] = []

    /// What to do with a posted message.
    enum PostAction: Equatable {
        /// Queued: wake the loop.
        case wake
        /// Refused: the loop is stopping or stopped; fail the message's transfer now.
        case refuse
    }

    mutating func post(_ message: Message) -> PostAction {
        guard phase == .running else { return .refuse }
        inbox.append(message)
        return .wake
    }

    /// What to do when shutdown is asked for.
    enum ShutdownAction {
        /// First request: wake the loop, which will stop; the waiter (if any) is kept.
        case wakeAndWait
        /// Already on its way: the waiter is kept until the loop has stopped.
        case wait
        /// Already stopped: resume this waiter now.
        case resume(Waiter?)
    }

    mutating func requestShutdown(waiter: Waiter?) -> ShutdownAction {
        switch phase {
        case .running:
            phase = .stopping
            if let waiter { stopWaiters.append(waiter) }
            return .wakeAndWait
        case .stopping, .draining:
            if let waiter { stopWaiters.append(waiter) }
            return .wait
        case .stopped:
            return .resume(waiter)
        }
    }

    /// What the loop thread does after taking its inbox.
    enum Step {
        /// Handle these messages, then run a curl pass.
        case handle([Message])
        /// Stop: fail these messages (posted before the stop was seen) and every live transfer.
        case stop([Message])
    }

    /// Called by the loop thread at the top of each pass.
    mutating func takeInbox() -> Step {
        let messages = inbox
        inbox.removeAll(keepingCapacity: true)
        if phase == .stopping {
            phase = .draining
            return .stop(messages)
        }
        return .handle(messages)
    }

    /// Called by the loop thread once curl is cleaned up: the waiters to resume. Nothing can be
    /// posted any more.
    mutating func finish() -> (late: [Message], waiters: [Waiter]) {
        phase = .stopped
        let late = inbox
        inbox = []
        let waiters = stopWaiters
        stopWaiters = []
        return (late, waiters)
    }
}
