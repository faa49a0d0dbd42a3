import Foundation
import S3HTTP
import S3Signing
import Synchronization
import S3Locking

/// A low-level S3 client: one method per S3 operation, each building a request, signing it with
/// SigV4 and sending it through the shared libcurl engine. Responses are decoded; failures are
/// ``S3Error``s.
///
/// ```swift
/// let client = try S3Client(configuration: S3Configuration(
///     endpoint: "http://127.0.0.1:9000",
///     credentials: S3Credentials(accessKeyID: "key", secretAccessKey: "secret")))
/// try await client.createBucket("photos")
/// try await client.putObject(bucket: "photos", key: "a.txt", bytes: Array("hello".utf8))
/// ```
///
/// A client is cheap to share between tasks; create one per endpoint and credentials.
///
/// `dump()` and `Mirror` show its endpoint, region and counters, never credentials.
public final class S3Client: Sendable, CustomReflectable {
    /// The configuration it was made with.
    public let configuration: S3Configuration
    let engine: HTTPEngine
    private let ownsEngine: Bool
    /// The current credentials and their signers, refreshed ahead of expiry.
    let credentialCache: CredentialCache
    let addressing: S3Addressing
    let sentRequests = Atomic<Int>(0)
    let retries = Atomic<Int>(0)
    /// Set once the store has shown it does not report an object's parts in
    /// GetObjectAttributes: composite checks then ask part HEADs straight away.
    let lacksObjectParts = Atomic<Bool>(false)
    /// The store's clock offset, learnt from a refused request.
    let clock = ClockSkew()
    /// Regions learnt from redirects, per bucket.
    let bucketRegions = BucketRegions()
    /// The retry budget shared by every request of this client (see ``S3RetryQuota``).
    public let retryQuota: S3RetryQuota
    /// Metric handles by operation.
    let instrumentation: S3Instrumentation

    /// How many requests this client has sent, retries included (for diagnostics and tests).
    public var requestCount: Int { sentRequests.load(ordering: .relaxed) }
    /// How many of those were retries.
    public var retryCount: Int { retries.load(ordering: .relaxed) }
    /// The seconds this client adds to its clock to match the store's, after a request was
    /// refused for its time (`RequestTimeTooSkewed`); 0 until then.
    public var clockOffsetSeconds: Int { clock.seconds }
    /// The region a redirect said `bucket` is in, when one did (requests to it are signed for it).
    public func learntRegion(of bucket: String) -> String? { bucketRegions.region(of: bucket) }

    public var customMirror: Mirror {
        Mirror(self, children: ["endpoint": configuration.endpoint.description, "region": configuration.region,
                                "credentials": configuration.credentialProvider, "requestCount": requestCount, "retryCount": retryCount],
               displayStyle: .class)
    }

    /// A client using `engine` (by default a new engine with `configuration.http`).
    public init(configuration: S3Configuration, engine: HTTPEngine? = nil) {
        self.configuration = configuration
        self.engine = engine ?? HTTPEngine(configuration: configuration.http)
        self.ownsEngine = engine == nil
        self.credentialCache = CredentialCache(provider: configuration.credentialProvider, region: configuration.region,
                                               now: configuration.credentialClock)
        self.addressing = S3Addressing(endpoint: configuration.endpoint, style: configuration.addressingStyle)
        self.retryQuota = S3RetryQuota(capacity: configuration.retryQuotaCapacity)
        self.instrumentation = S3Instrumentation(factory: configuration.metricsFactory)
    }

    /// Stops the client's own HTTP engine now (requests in flight fail with
    /// ``S3Error/Code-swift.struct/transportFailure`` whose cause is a `.shutdown` transport
    /// error) and returns once its thread has ended, without blocking a thread. Idempotent. An
    /// engine passed in by the caller is left running. Only needed for a deterministic
    /// shutdown: the engine also stops by itself once the client and everything it returned
    /// (bodies, streams) are released, and a body keeps working after its client is gone.
    public func shutdown() async {
        if ownsEngine { await engine.shutdown() }
    }

    // MARK: - Presigning

    /// The credentials to sign with now (fetched or refreshed first when needed).
    func signingIdentity() async throws -> SigningIdentity {
        try await credentialCache.current(context: S3CredentialContext(engine: engine, logger: configuration.logger))
    }

    /// The credentials the client holds now, if it holds any (nothing is fetched): their
    /// source, access key ID and expiry. For diagnostics; never printed with the secret.
    public var currentCredentials: S3ResolvedCredentials? { credentialCache.held }

    /// A presigned URL for `method` on an object (or a bucket when `key` is nil), valid for
    /// `expiresIn` seconds (at most 7 days) from `date`. With temporary credentials the URL
    /// carries their session token and stops working when they expire, whatever `expiresIn`
    /// says; they are fetched first if the client holds none.
    public func presignedURL(method: String = "GET", bucket: String, key: String?, expiresIn: Int = 3600,
                             date: Date = Date()) async throws -> String {
        try Validation.bucketName(bucket)
        if let key { try Validation.key(key, bucket: bucket) }
        let learnt = bucketRegions.region(of: bucket)
        let region = learnt ?? configuration.region
        let base = addressing.target(bucket: bucket, key: key, query: [], region: learnt)
        let request = SigV4Request(method: method, path: base.canonicalPath, headers: [("host", base.host)], payloadHash: SigV4Payload.unsigned)
        let identity = try await signingIdentity()
        let query: [(String, String)]
        do {
            let time = SigV4Timestamp(secondsSince1970: Int(date.timeIntervalSince1970))
            switch configuration.signatureVersion {
            case .v4: query = try identity.signer(for: region).presignedQuery(for: request, expiresIn: expiresIn, at: time)
            case .v4a(let regionSet): query = try identity.asymmetricSigner(regionSet: regionSet).presignedQuery(for: request, expiresIn: expiresIn, at: time)
            }
        } catch let e as S3Error {
            throw e
        } catch {
            throw S3Error.invalidArgument("\(error)", bucket: bucket, key: key)
        }
        return addressing.target(bucket: bucket, key: key, query: query, region: learnt).url
    }
}
