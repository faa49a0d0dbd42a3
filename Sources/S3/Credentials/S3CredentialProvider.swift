import Foundation
import Logging
import S3HTTP

/// Where a client gets the credentials that sign its requests.
///
/// The client asks its provider for credentials when it has none, and again ahead of the
/// expiry of the ones it holds (5 minutes before; see ``S3ResolvedCredentials/expiration``).
/// One fetch serves every request waiting at that moment, so a provider is never called
/// concurrently by one client. Built-in providers cover every source the AWS SDKs read
/// (``S3CredentialProviderChain/default(environment:profile:)``); write your own for a vault
/// or a secrets manager:
///
/// ```swift
/// struct VaultCredentials: S3CredentialProvider {
///     func credentials(context: S3CredentialContext) async throws -> S3ResolvedCredentials {
///         let lease = try await vault.lease("s3-writer")
///         return S3ResolvedCredentials(
///             S3Credentials(accessKeyID: lease.id, secretAccessKey: lease.secret, sessionToken: lease.token),
///             expiration: lease.expiry, source: "vault")
///     }
/// }
/// ```
///
/// A provider must never put a secret in an error it throws or in what it logs.
public protocol S3CredentialProvider: Sendable {
    /// Fetches credentials now. Throw when none can be had; the client then fails the
    /// request that needed them (or keeps using the credentials it holds while they are
    /// still valid).
    func credentials(context: S3CredentialContext) async throws -> S3ResolvedCredentials
}

/// Credentials with how long they are good for.
public struct S3ResolvedCredentials: Sendable, CustomStringConvertible {
    /// The access key pair and session token.
    public var credentials: S3Credentials
    /// When they stop working; `nil` for credentials that do not expire.
    public var expiration: Date?
    /// Where they came from (`environment`, `profile default`, `web identity`, `container`,
    /// `instance metadata`, ...), for logs and errors.
    public var source: String

    /// Credentials from `source`, valid until `expiration` (`nil`: no expiry).
    public init(_ credentials: S3Credentials, expiration: Date? = nil, source: String) {
        self.credentials = credentials
        self.expiration = expiration
        self.source = source
    }

    /// Names the source, the access key ID and the expiry; never the secret or the token.
    public var description: String {
        "S3ResolvedCredentials(source: \(source), \(credentials)\(expiration.map { ", expiration: \($0)" } ?? ""))"
    }
}

/// What a provider may use while fetching: the client's HTTP engine (for instance metadata,
/// container and STS endpoints) and its logger.
public struct S3CredentialContext: Sendable {
    /// The engine of the client that asks: requests sent through it share its loop thread
    /// and its TLS settings.
    public let engine: HTTPEngine
    /// The client's logger (credential sources log at debug level, never a secret).
    public let logger: Logger

    /// A context; providers receive one from the client.
    public init(engine: HTTPEngine, logger: Logger) {
        self.engine = engine
        self.logger = logger
    }
}

/// Credentials that never change: an access key pair (and optional session token) given
/// in code or read once from the environment.
public struct S3StaticCredentialProvider: S3CredentialProvider, CustomStringConvertible {
    /// The credentials it hands out.
    public let fixed: S3Credentials
    /// Where they came from, for logs and errors.
    public let source: String

    /// A provider that always answers `credentials`.
    public init(_ credentials: S3Credentials, source: String = "static") {
        self.fixed = credentials
        self.source = source
    }

    public func credentials(context: S3CredentialContext) async throws -> S3ResolvedCredentials {
        S3ResolvedCredentials(fixed, source: source)
    }

    public var description: String { "S3StaticCredentialProvider(\(source), \(fixed))" }
}

extension S3Error.Code {
    /// No credentials could be had from the configured sources (the message says which were
    /// tried and why each failed; it never holds a secret).
    public static let credentialsUnavailable: S3Error.Code = "ClientCredentialsUnavailable"
}

extension S3Error {
    static func credentials(_ message: String, underlying: (any Error)? = nil) -> S3Error {
        S3Error(code: .credentialsUnavailable, message: message, underlying: underlying)
    }
}
