import Foundation
import Logging
import S3Signing
import S3Locking

/// Credentials ready to sign with: what a provider answered and a signer per region (each
/// with its own signing-key cache), made once per set of credentials.
final class SigningIdentity: Sendable {
    let resolved: S3ResolvedCredentials
    let region: String
    let signer: SigV4Signer
    private let otherRegions = Locked<[String: SigV4Signer]>([:])
    /// The SigV4a signer, made on first use (deriving its key costs a scalar multiplication).
    private let asymmetric = Locked<SigV4aSigner?>(nil)

    init(_ resolved: S3ResolvedCredentials, region: String) {
        self.resolved = resolved
        self.region = region
        self.signer = SigV4Signer(credentials: resolved.credentials, region: region, service: "s3")
    }

    /// The SigV4a signer for `regionSet` (one per identity: the configuration's set is fixed).
    func asymmetricSigner(regionSet: [String]) throws(S3Error) -> SigV4aSigner {
        let made: Result<SigV4aSigner, SigV4aKey.Failure> = asymmetric.withLock { held in
            if let held, held.regionSet == regionSet { return .success(held) }
            let made = Result { () throws(SigV4aKey.Failure) in try SigV4aSigner(credentials: resolved.credentials, regionSet: regionSet) }
            if case .success(let signer) = made { held = signer }
            return made
        }
        switch made {
        case .success(let signer): return signer
        case .failure(let e): throw S3Error.invalidArgument("SigV4a: \(e)")
        }
    }

    /// A signer for `region` (the configured one, or one a redirect named).
    func signer(for region: String) -> SigV4Signer {
        if region == self.region { return signer }
        return otherRegions.withLock { cache in
            if let s = cache[region] { return s }
            let s = SigV4Signer(credentials: resolved.credentials, region: region, service: "s3")
            cache[region] = s
            return s
        }
    }
}

/// A client's current credentials, refreshed ahead of their expiry.
///
/// - Credentials without an expiry (static keys) are resolved once, up front when the
///   provider is ``S3StaticCredentialProvider``: then asking costs one uncontended lock.
/// - Credentials with an expiry are refreshed once they are within ``refreshAhead`` of it.
///   One refresh is in flight at a time: every request that needs credentials meanwhile
///   waits for that one (single flight), and a request signs with whatever is current when it
///   is signed (so a retry after a refresh signs with the new credentials).
/// - A failed refresh while the held credentials are still valid keeps them and is not
///   tried again for ``quietInterval``; once they have expired the failure is thrown.
final class CredentialCache: Sendable {
    /// How long before expiry credentials are refreshed (the AWS SDKs' 5 minutes).
    static let refreshAhead: TimeInterval = 300
    /// How long after a refresh that failed (or answered credentials already inside the
    /// refresh window) no new refresh starts while valid credentials are held.
    static let quietInterval: TimeInterval = 10

    let provider: any S3CredentialProvider
    let region: String
    let now: @Sendable () -> Date

    private struct State {
        var current: SigningIdentity?
        var refresh: Task<SigningIdentity, any Error>?
        var quietUntil: Date?
        /// Completed fetches (for tests and diagnostics).
        var fetches = 0
    }
    private let state: Locked<State>

    init(provider: any S3CredentialProvider, region: String, now: @escaping @Sendable () -> Date = { Date() }) {
        self.provider = provider
        self.region = region
        self.now = now
        var initial = State()
        if let fixed = provider as? S3StaticCredentialProvider {
            initial.current = SigningIdentity(S3ResolvedCredentials(fixed.fixed, source: fixed.source), region: region)
        }
        state = Locked(initial)
    }

    /// How many times the provider answered (static credentials: 0).
    var fetchCount: Int { state.withLock { $0.fetches } }

    /// The credentials held now, if any (no fetch).
    var held: S3ResolvedCredentials? { state.withLock { $0.current?.resolved } }

    private static func isFresh(_ identity: SigningIdentity, at t: Date) -> Bool {
        guard let expiration = identity.resolved.expiration else { return true }
        return t < expiration.addingTimeInterval(-refreshAhead)
    }

    private static func isValid(_ identity: SigningIdentity, at t: Date) -> Bool {
        guard let expiration = identity.resolved.expiration else { return true }
        return t < expiration
    }

    /// The credentials to sign a request with now, fetching them first when needed.
    func current(context: @autoclosure () -> S3CredentialContext) async throws -> SigningIdentity {
        let t = now()
        enum Step { case ready(SigningIdentity), wait(Task<SigningIdentity, any Error>) }
        let step: Step = state.withLock { s in
            if let c = s.current {
                if Self.isFresh(c, at: t) { return .ready(c) }
                if let quiet = s.quietUntil, t < quiet, Self.isValid(c, at: t) { return .ready(c) }
            }
            if let task = s.refresh { return .wait(task) }
            let ctx = context()
            let task = Task { try await self.refresh(context: ctx) }
            s.refresh = task
            return .wait(task)
        }
        switch step {
        case .ready(let identity): return identity
        case .wait(let task): return try await task.value
        }
    }

    /// Forgets `identity` when the store said its token expired early, so that the next
    /// request fetches new credentials. Credentials without expiry are kept (fetching them
    /// again would answer the same).
    func invalidate(_ identity: SigningIdentity) -> Bool {
        guard identity.resolved.expiration != nil else { return false }
        return state.withLock { s in
            guard s.current === identity else { return true }  // already replaced
            s.current = nil
            s.quietUntil = nil
            return true
        }
    }

    private func refresh(context: S3CredentialContext) async throws -> SigningIdentity {
        let logger = context.logger
        do {
            let resolved = try await provider.credentials(context: context)
            guard !resolved.credentials.accessKeyID.isEmpty, !resolved.credentials.secretAccessKey.isEmpty else {
                throw S3Error.credentials("the credential source \(resolved.source) answered an empty access key ID or secret")
            }
            let identity = SigningIdentity(resolved, region: region)
            let t = now()
            state.withLock { s in
                s.current = identity
                s.refresh = nil
                s.fetches += 1
                s.quietUntil = Self.isFresh(identity, at: t) ? nil : t.addingTimeInterval(Self.quietInterval)
            }
            logger.debug("credentials refreshed", metadata: [
                "credentials.source": "\(resolved.source)",
                "credentials.expiration": "\(resolved.expiration.map { "\($0)" } ?? "never")",
            ])
            return identity
        } catch {
            let t = now()
            let kept: SigningIdentity? = state.withLock { s in
                s.refresh = nil
                guard let c = s.current, Self.isValid(c, at: t) else { return nil }
                s.quietUntil = t.addingTimeInterval(Self.quietInterval)
                return c
            }
            let reason = (error as? S3Error)?.message ?? String(describing: error)
            if let kept {
                logger.debug("credential refresh failed; the held credentials are still valid and stay in use", metadata: [
                    "credentials.source": "\(kept.resolved.source)", "error": "\(reason)",
                ])
                return kept
            }
            logger.debug("no credentials", metadata: ["error": "\(reason)"])
            if error is S3Error || error is CancellationError { throw error }
            throw S3Error.credentials("fetching credentials failed: \(reason)", underlying: error)
        }
    }
}
