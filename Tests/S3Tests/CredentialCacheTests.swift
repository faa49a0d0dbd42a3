import Foundation
import Logging
import S3HTTP
import S3Locking
import Testing
@testable import S3

/// The refresh rules of ``CredentialCache``, with a provider written here and a clock the
/// tests move (no server: what is tested is the cache's own logic).
@Suite struct CredentialCacheTests {
    /// A clock the test sets.
    final class TestClock: Sendable {
        let time = Locked<Date>(Date(timeIntervalSince1970: 1_800_000_000))
        var now: Date { time.withLock { $0 } }
        func advance(_ seconds: TimeInterval) { time.withLock { $0 = $0.addingTimeInterval(seconds) } }
    }

    /// Answers credentials numbered by fetch, valid for `lifetime` seconds from the clock's
    /// now; fails while `failing` is set; waits `delay` before answering.
    final class CountingProvider: S3CredentialProvider {
        let clock: TestClock
        let lifetime: TimeInterval
        let fetches = Locked(0)
        let failing = Locked(false)
        let delay: Duration

        init(clock: TestClock, lifetime: TimeInterval = 3600, delay: Duration = .zero) {
            self.clock = clock
            self.lifetime = lifetime
            self.delay = delay
        }

        func credentials(context: S3CredentialContext) async throws -> S3ResolvedCredentials {
            let n = fetches.withLock { $0 += 1; return $0 }
            if delay > .zero { try await Task.sleep(for: delay) }
            if failing.withLock({ $0 }) { throw S3Error(code: .credentialsUnavailable, message: "the source is down (fetch \(n))") }
            return S3ResolvedCredentials(S3Credentials(accessKeyID: "KEY\(n)", secretAccessKey: "secret-\(n)", sessionToken: "token-\(n)"),
                                         expiration: clock.now.addingTimeInterval(lifetime), source: "test")
        }
    }

    let engine = HTTPEngine()
    var context: S3CredentialContext { S3CredentialContext(engine: engine, logger: Logger(label: "test")) }

    @Test func staticCredentialsAreNeverFetched() async throws {
        let cache = CredentialCache(provider: S3StaticCredentialProvider(S3Credentials(accessKeyID: "A", secretAccessKey: "S")), region: "us-east-1")
        #expect(cache.held?.credentials.accessKeyID == "A")
        for _ in 0..<3 { #expect(try await cache.current(context: context).resolved.credentials.accessKeyID == "A") }
        #expect(cache.fetchCount == 0)
    }

    @Test func refreshesFiveMinutesBeforeExpiry() async throws {
        let clock = TestClock()
        let provider = CountingProvider(clock: clock, lifetime: 3600)
        let cache = CredentialCache(provider: provider, region: "us-east-1", now: { clock.now })
        #expect(cache.held == nil)
        #expect(try await cache.current(context: context).resolved.credentials.accessKeyID == "KEY1")
        clock.advance(3600 - 301)  // 5 min 1 s before expiry: still fresh
        #expect(try await cache.current(context: context).resolved.credentials.accessKeyID == "KEY1")
        #expect(provider.fetches.withLock { $0 } == 1)
        clock.advance(2)  // 4 min 59 s before expiry: inside the refresh window
        #expect(try await cache.current(context: context).resolved.credentials.accessKeyID == "KEY2")
        #expect(provider.fetches.withLock { $0 } == 2)
        // The new ones are good for another hour.
        clock.advance(1800)
        #expect(try await cache.current(context: context).resolved.credentials.accessKeyID == "KEY2")
        #expect(provider.fetches.withLock { $0 } == 2)
    }

    @Test func aThousandWaitersOnExpiredCredentialsCauseOneFetch() async throws {
        let clock = TestClock()
        let provider = CountingProvider(clock: clock, lifetime: 3600, delay: .milliseconds(200))
        let cache = CredentialCache(provider: provider, region: "us-east-1", now: { clock.now })
        _ = try await cache.current(context: context)
        clock.advance(7200)  // expired
        let context = self.context
        let keys = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<1000 {
                group.addTask { try await cache.current(context: context).resolved.credentials.accessKeyID }
            }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(keys == ["KEY2"])
        #expect(provider.fetches.withLock { $0 } == 2)  // the first fill and one refresh
    }

    @Test func aFailedRefreshKeepsValidCredentialsAndFailsOnceTheyExpire() async throws {
        let clock = TestClock()
        let provider = CountingProvider(clock: clock, lifetime: 3600)
        let cache = CredentialCache(provider: provider, region: "us-east-1", now: { clock.now })
        _ = try await cache.current(context: context)
        provider.failing.withLock { $0 = true }
        clock.advance(3600 - 120)  // 2 minutes left: refresh due, and it fails
        #expect(try await cache.current(context: context).resolved.credentials.accessKeyID == "KEY1")
        #expect(provider.fetches.withLock { $0 } == 2)
        // Not asked again at once (the quiet interval): the held ones are used.
        #expect(try await cache.current(context: context).resolved.credentials.accessKeyID == "KEY1")
        #expect(provider.fetches.withLock { $0 } == 2)
        clock.advance(CredentialCache.quietInterval + 1)
        #expect(try await cache.current(context: context).resolved.credentials.accessKeyID == "KEY1")
        #expect(provider.fetches.withLock { $0 } == 3)
        // Expired and the source still down: the error, which names no secret.
        clock.advance(120)
        let error = await #expect(throws: S3Error.self) { try await cache.current(context: context) }
        #expect(error?.code == .credentialsUnavailable)
        #expect(error.map { "\($0)" }?.contains("secret-1") == false)
        // The source is back: the next request gets new credentials.
        provider.failing.withLock { $0 = false }
        #expect(try await cache.current(context: context).resolved.credentials.accessKeyID == "KEY5")
    }

    @Test func credentialsAnsweredInsideTheWindowAreNotFetchedOnEveryRequest() async throws {
        let clock = TestClock()
        let provider = CountingProvider(clock: clock, lifetime: 240)  // always within 5 minutes of expiry
        let cache = CredentialCache(provider: provider, region: "us-east-1", now: { clock.now })
        for _ in 0..<50 { _ = try await cache.current(context: context) }
        #expect(provider.fetches.withLock { $0 } == 1)
        clock.advance(CredentialCache.quietInterval + 1)
        _ = try await cache.current(context: context)
        #expect(provider.fetches.withLock { $0 } == 2)
    }

    @Test func invalidatingExpiringCredentialsFetchesNewOnes() async throws {
        let clock = TestClock()
        let provider = CountingProvider(clock: clock)
        let cache = CredentialCache(provider: provider, region: "us-east-1", now: { clock.now })
        let first = try await cache.current(context: context)
        #expect(cache.invalidate(first))
        #expect(try await cache.current(context: context).resolved.credentials.accessKeyID == "KEY2")
        // Static credentials are not dropped (fetching them again would answer the same).
        let fixed = CredentialCache(provider: S3StaticCredentialProvider(S3Credentials(accessKeyID: "A", secretAccessKey: "S")), region: "us-east-1")
        #expect(!fixed.invalidate(try await fixed.current(context: context)))
    }

    @Test func theSignerChangesWithTheCredentials() async throws {
        let clock = TestClock()
        let provider = CountingProvider(clock: clock)
        let cache = CredentialCache(provider: provider, region: "eu-west-1", now: { clock.now })
        let a = try await cache.current(context: context)
        #expect(a.signer.credentials.accessKeyID == "KEY1")
        #expect(a.signer(for: "ap-south-1").region == "ap-south-1")
        #expect(a.signer(for: "ap-south-1").credentials.sessionToken == "token-1")
        clock.advance(3600)
        let b = try await cache.current(context: context)
        #expect(b.signer.credentials.accessKeyID == "KEY2")
        #expect(b.signer(for: "ap-south-1").credentials.accessKeyID == "KEY2")
    }
}
