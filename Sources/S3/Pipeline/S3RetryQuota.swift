import Foundation
import S3HTTP
import S3Locking

/// A client's retry budget, as in the AWS SDKs' standard mode: a bucket of 500 tokens; a retry
/// costs 5 (10 after a timeout); a request that succeeds at once refunds 1, one that succeeds
/// after retries refunds what its retries took. When the bucket is empty no request is retried
/// until successes refill it, so thousands of tasks do not hammer a store that is down.
public final class S3RetryQuota: Sendable {
    /// Tokens when full.
    public let capacity: Int
    private let tokens: Locked<Int>

    /// A full bucket of `capacity` tokens (the SDKs use 500).
    public init(capacity: Int = 500) {
        self.capacity = capacity
        tokens = Locked(capacity)
    }

    /// Tokens left.
    public var available: Int { tokens.withLock { $0 } }

    static func cost(of kind: S3RetryKind) -> Int { kind == .timeout ? 10 : 5 }

    /// Takes the cost of one retry; false (nothing taken) when the bucket holds too little.
    func acquire(_ cost: Int) -> Bool {
        tokens.withLock { t in
            guard t >= cost else { return false }
            t -= cost
            return true
        }
    }

    /// Gives back `amount` after a success (capped at the capacity).
    func refund(_ amount: Int) {
        tokens.withLock { t in t = min(capacity, t + amount) }
    }
}
