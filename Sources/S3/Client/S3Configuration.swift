import Foundation
import Logging
import Metrics
import S3HTTP
import S3Signing

/// Credentials for S3 (an access key pair and an optional session token).
public typealias S3Credentials = SigV4Credentials

/// Where and how to reach an S3-compatible store.
public struct S3Configuration: Sendable {
    /// How bucket names appear in URLs.
    public enum AddressingStyle: Sendable {
        /// `http://host/bucket/key`: works with every store and with IP addresses.
        case path
        /// `http://bucket.host/key`: AWS's default; needs DNS for each bucket name.
        case virtualHost
        /// Virtual-host style on AWS endpoints (`*.amazonaws.com`) for bucket names that are
        /// valid host labels (no dots); path style everywhere else (custom endpoints, MinIO,
        /// moto, IP addresses).
        case automatic
    }

    /// The endpoint: scheme, host, optional port and optional path prefix.
    public let endpoint: S3Endpoint

    /// The signing region.
    public var region: String
    /// Where the credentials that sign each request come from: fixed keys
    /// (``S3StaticCredentialProvider``), the AWS SDKs' default chain, or a provider of your own.
    /// Expiring credentials are fetched when first needed and refreshed 5 minutes before
    /// they expire, one fetch at a time.
    public var credentialProvider: any S3CredentialProvider
    /// The fixed credentials, when ``credentialProvider`` is an ``S3StaticCredentialProvider``;
    /// `nil` for credentials fetched at run time.
    public var credentials: S3Credentials? { (credentialProvider as? S3StaticCredentialProvider)?.fixed }
    /// Where the client logs: requests, retries, credential refreshes and transfers, at
    /// `debug` and `trace` level only, with metadata (operation, bucket, key, attempt, status,
    /// request ID, duration) and never a secret or signature. By default a logger labelled
    /// `s3` from the process's logging backend (which prints nothing below `info` unless told).
    public var logger: Logger = Logger(label: "s3")
    /// Where the client's metrics go (`s3_requests_total`, `s3_request_errors_total`,
    /// `s3_request_duration_seconds`, `s3_retries_total`, `s3_bytes_sent_total`,
    /// `s3_bytes_received_total`, each with an `operation` dimension); `nil` (the default): the
    /// process's `MetricsSystem.factory` when the client is made, which records nothing unless
    /// a backend was bootstrapped.
    public var metricsFactory: (any MetricsFactory)?
    /// The clock credentials' expiry is compared with (tests move it).
    var credentialClock: @Sendable () -> Date = { Date() }
    /// Path-style or virtual-host-style addressing.
    public var addressingStyle: AddressingStyle
    /// Settings of the HTTP engine a client creates for itself.
    public var http: HTTPEngineConfiguration
    /// How upload bodies are protected against corruption in transit.
    public var payloadProtection: S3PayloadProtection = .signedSHA256
    /// Whether uploads carry a checksum the store verifies and reads check the bytes against
    /// the stored one (``S3ChecksumMode/whenSupported``, the default), or not.
    public var checksums: S3ChecksumMode = .whenSupported
    /// The CRC uploads carry; `nil` (the default) takes the store's
    /// (``S3StoreProfile``: CRC-32C, CRC-64/NVME on R2). SHA-1 and SHA-256 are refused for
    /// uploads (`.invalidArgument`): they cannot be combined across the parts of a multipart
    /// upload. Reads check whichever algorithm the store reports.
    public var checksumAlgorithm: S3ChecksumAlgorithm?
    /// The kind of store at the endpoint: detected from the host for AWS, R2, GCS and B2,
    /// `.other` otherwise. Decides checksum headers, full-object multipart checksums and
    /// which optional APIs are tried (``S3StoreProfile``).
    public var store: S3StoreProfile
    /// Allows ``S3PayloadProtection/checksumOnly`` (unsigned bodies) on a plain `http://` endpoint.
    /// Off by default: without TLS nothing stops someone on the path from replacing a body and
    /// its CRC, so such uploads are refused (`.invalidArgument`, nothing sent) unless this says
    /// the network is trusted.
    public var allowsUnsignedPayloadOverHTTP = false
    /// How failed requests are retried (the AWS SDKs' standard mode by default: 3 attempts).
    public var retry: S3RetryPolicy = S3RetryPolicy()
    /// Tokens of the client's retry quota (see ``S3RetryQuota``); 500 as in the AWS SDKs.
    public var retryQuotaCapacity: Int = 500
    /// How requests and presigned URLs are signed: SigV4 (the default) or SigV4a for a set of
    /// regions (``S3SignatureVersion/v4a(regionSet:)``, for multi-region access points).
    public var signatureVersion: S3SignatureVersion = .v4

    /// A configuration. Throws ``S3Error`` (`.invalidArgument`) for a malformed endpoint.
    /// `region` defaults to `us-east-1` (`auto` on Cloudflare R2); `store` to the one the
    /// endpoint's host tells (``S3StoreProfile/detect(host:)``).
    public init(endpoint: String, region: String? = nil, credentials: S3Credentials,
                addressingStyle: AddressingStyle = .automatic, http: HTTPEngineConfiguration = HTTPEngineConfiguration(),
                store: S3StoreProfile? = nil) throws {
        try self.init(endpoint: endpoint, region: region, credentialProvider: S3StaticCredentialProvider(credentials),
                      addressingStyle: addressingStyle, http: http, store: store)
    }

    /// A configuration whose credentials come from `credentialProvider` (for example
    /// ``S3CredentialProviderChain/default(environment:profile:)``, or
    /// ``S3InstanceMetadataCredentialProvider``). Throws ``S3Error`` (`.invalidArgument`) for a
    /// malformed endpoint.
    public init(endpoint: String, region: String? = nil, credentialProvider: any S3CredentialProvider,
                addressingStyle: AddressingStyle = .automatic, http: HTTPEngineConfiguration = HTTPEngineConfiguration(),
                store: S3StoreProfile? = nil) throws {
        self.endpoint = try S3Endpoint(endpoint)
        let store = store ?? S3StoreProfile.detect(host: self.endpoint.host)
        self.store = store
        self.region = region ?? (store == .r2 ? "auto" : "us-east-1")
        self.credentialProvider = credentialProvider
        self.addressingStyle = addressingStyle
        self.http = http
    }
}

/// How the bodies of uploads (object PUTs and multipart parts sent from memory or part
/// buffers) are protected in transit.
public enum S3PayloadProtection: Sendable, Hashable {
    /// The body's SHA-256 is part of the signature (`x-amz-content-sha256`): the store rejects
    /// a body that is not the one signed, whoever changed it. Costs a SHA-256 of every byte
    /// (1.74 GB/s on one core of the benchmark machine: over a third of an upload's CPU).
    case signedSHA256
    /// The body goes as `UNSIGNED-PAYLOAD`; its integrity rests on the checksum header
    /// (``S3Configuration/checksumAlgorithm``, CRC-32C by default), which is signed and which
    /// the store checks against the bytes it receives. Sent even when
    /// ``S3Configuration/checksums`` is `.whenRequired`, since nothing else protects the body.
    /// Catches corruption at a fraction of the cost (the CPU's CRC instructions), but a CRC is
    /// no defence against someone able to rewrite the body on the way: use it over TLS or on a
    /// network you trust. (The AWS SDKs send CRC checksums and unsigned payloads over TLS.)
    /// On an `http://` endpoint it needs ``S3Configuration/allowsUnsignedPayloadOverHTTP``.
    case checksumOnly
}

extension S3Configuration {
    /// The checksum uploads carry, or `nil` for none (checksums off, or a store that rejects
    /// the headers); refuses a SHA algorithm.
    func uploadChecksum(bucket: String?, key: String?) throws(S3Error) -> S3ChecksumAlgorithm? {
        let algorithm = checksumAlgorithm ?? store.defaultChecksumAlgorithm
        guard algorithm.crcKind != nil else {
            throw S3Error.invalidArgument("checksumAlgorithm \(algorithm.rawValue) cannot be used for uploads (not combinable across parts): "
                                          + "use CRC32, CRC32C or CRC64NVME", bucket: bucket, key: key)
        }
        if payloadProtection == .checksumOnly {
            guard store.acceptsChecksumHeaders else {
                throw S3Error.invalidArgument("payload protection .checksumOnly needs checksum headers, which \(store.rawValue) refuses: "
                                              + "use .signedSHA256", bucket: bucket, key: key)
            }
            return algorithm
        }
        guard checksums == .whenSupported, store.acceptsChecksumHeaders else { return nil }
        return algorithm
    }

    /// Whether reads ask for the stored checksum and check the bytes.
    var validatesReads: Bool { checksums == .whenSupported && store.acceptsChecksumHeaders }
}

/// A parsed endpoint URL.
public struct S3Endpoint: Sendable, CustomStringConvertible {
    /// `http` or `https`.
    public let scheme: String
    /// Host name or address (IPv6 in brackets).
    public let host: String
    /// Explicit port, if any.
    public let port: Int?
    /// A path prefix every request path starts with (no trailing `/`), often empty.
    public let basePath: String

    /// Parses `http(s)://host[:port][/prefix]`.
    public init(_ text: String) throws(S3Error) {
        guard let c = URLComponents(string: text), let scheme = c.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let rawHost = c.host, !rawHost.isEmpty
        else { throw .invalidArgument("endpoint \"\(text)\" is not an http:// or https:// URL with a host") }
        if c.query != nil || c.fragment != nil { throw .invalidArgument("endpoint \"\(text)\" must not have a query or fragment") }
        self.scheme = scheme
        self.host = rawHost.contains(":") && !rawHost.hasPrefix("[") ? "[" + rawHost + "]" : rawHost
        self.port = c.port
        var path = c.percentEncodedPath
        while path.hasSuffix("/") { path.removeLast() }
        self.basePath = path
    }

    /// `host[:port]` as sent in the `Host` header, for `host` (default ports omitted).
    func authority(host: String) -> String {
        guard let port else { return host }
        if (scheme == "http" && port == 80) || (scheme == "https" && port == 443) { return host }
        return host + ":" + String(port)
    }

    public var description: String { scheme + "://" + authority(host: host) + basePath }
}
