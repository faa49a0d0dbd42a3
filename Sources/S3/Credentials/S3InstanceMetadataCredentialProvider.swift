import Foundation
import S3HTTP
import S3Locking

/// Credentials of the EC2 instance's IAM role, from the instance metadata service with
/// IMDSv2 sessions: `PUT /latest/api/token` (with a TTL) for a session token, then the role
/// name from `/latest/meta-data/iam/security-credentials/` and its credentials from
/// `/latest/meta-data/iam/security-credentials/ROLE`, each with the token.
///
/// The session token is kept until shortly before its TTL ends; an answer of 401 (the token
/// expired or the service restarted) fetches a new one and asks again. IMDSv1 (requests without
/// a token) is never used. Each request is limited to ``timeoutMilliseconds`` and tried
/// ``attempts`` times, so a machine that is not on EC2 fails in about two seconds.
public final class S3InstanceMetadataCredentialProvider: S3CredentialProvider, CustomStringConvertible, CustomReflectable {
    /// The default endpoint (`AWS_EC2_METADATA_SERVICE_ENDPOINT` overrides it).
    public static let defaultEndpoint = "http://169.254.169.254"
    /// The endpoint in IPv6 mode (`AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6`).
    public static let ipv6Endpoint = "http://[fd00:ec2::254]"

    /// The service's base URL (no trailing `/`).
    public let endpoint: String
    /// The session token's TTL asked for, in seconds (at most 21,600, the default).
    public let tokenTTLSeconds: Int
    /// A limit on each request.
    public let timeoutMilliseconds: Int
    /// How many times a request that got no answer is sent.
    public let attempts: Int

    private struct Session { var token: String; var renewAfter: Date }
    private let session = Locked<Session?>(nil)

    /// A provider for the service at `endpoint`.
    public init(endpoint: String = S3InstanceMetadataCredentialProvider.defaultEndpoint, tokenTTLSeconds: Int = 21_600,
                timeoutMilliseconds: Int = 1_000, attempts: Int = 2) throws(S3Error) {
        var e = endpoint
        while e.hasSuffix("/") { e.removeLast() }
        do { _ = try S3Endpoint(e) } catch { throw .invalidArgument("the instance metadata endpoint \(endpoint) is not an http:// or https:// URL") }
        guard (1...21_600).contains(tokenTTLSeconds) else {
            throw .invalidArgument("the instance metadata token TTL must be between 1 and 21600 seconds, got \(tokenTTLSeconds)")
        }
        self.endpoint = e
        self.tokenTTLSeconds = tokenTTLSeconds
        self.timeoutMilliseconds = max(1, timeoutMilliseconds)
        self.attempts = max(1, attempts)
    }

    public func credentials(context: S3CredentialContext) async throws -> S3ResolvedCredentials {
        let roles = try await get("/latest/meta-data/iam/security-credentials/", context: context)
        guard let role = roles.text.split(whereSeparator: \.isNewline).first.map({ $0.trimmingCharacters(in: .whitespaces) }),
              !role.isEmpty, !role.contains("/")
        else { throw S3Error.credentials("instance metadata at \(endpoint): the instance has no IAM role") }
        let answer = try await get("/latest/meta-data/iam/security-credentials/" + role, context: context)
        context.logger.debug("instance role credentials fetched", metadata: ["credentials.role": "\(role)"])
        return try CredentialEndpoints.parseJSONCredentials(answer.body, source: "instance metadata")
    }

    /// A GET with the session token; a 401 renews the token once.
    private func get(_ path: String, context: S3CredentialContext) async throws -> CredentialEndpoints.Answer {
        var renewed = false
        while true {
            let token = try await sessionToken(context: context, renew: renewed)
            var headers = HTTPHeaders()
            headers.set("x-aws-ec2-metadata-token", token)
            let answer = try await exchange(HTTPRequest(method: "GET", url: endpoint + path, headers: headers,
                                                        timeoutMilliseconds: timeoutMilliseconds), what: "GET " + path, context: context)
            if answer.status == 200 { return answer }
            if answer.status == 401 && !renewed {
                context.logger.debug("instance metadata refused the session token; fetching a new one")
                session.withLock { $0 = nil }
                renewed = true
                continue
            }
            if answer.status == 404 { throw S3Error.credentials("instance metadata at \(endpoint): \(path) not found (no IAM role?)") }
            throw S3Error.credentials("instance metadata at \(endpoint) answered HTTP \(answer.status) to GET \(path)")
        }
    }

    /// The IMDSv2 session token, fetched when there is none, it is about to end, or `renew`.
    private func sessionToken(context: S3CredentialContext, renew: Bool) async throws -> String {
        if !renew, let s = session.withLock({ $0 }), Date() < s.renewAfter { return s.token }
        var headers = HTTPHeaders()
        headers.set("x-aws-ec2-metadata-token-ttl-seconds", String(tokenTTLSeconds))
        let answer = try await exchange(HTTPRequest(method: "PUT", url: endpoint + "/latest/api/token", headers: headers,
                                                    timeoutMilliseconds: timeoutMilliseconds), what: "the session token", context: context)
        guard answer.status == 200 else {
            let hint = answer.status == 403 ? " (IMDS disabled on the instance?)" : ""
            throw S3Error.credentials("instance metadata at \(endpoint) answered HTTP \(answer.status) to the session token request\(hint)")
        }
        let token = answer.text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty, CredentialEndpoints.isSafeHeaderValue(token) else {
            throw S3Error.credentials("instance metadata at \(endpoint) answered an unusable session token")
        }
        // Renew a minute before the TTL ends (or halfway through a short one).
        let margin = min(60, tokenTTLSeconds / 2)
        session.withLock { $0 = Session(token: token, renewAfter: Date().addingTimeInterval(TimeInterval(tokenTTLSeconds - margin))) }
        return token
    }

    private func exchange(_ request: HTTPRequest, what: String, context: S3CredentialContext) async throws -> CredentialEndpoints.Answer {
        var lastKind = HTTPTransportError.Kind.other
        for attempt in 1...attempts {
            do {
                return try await CredentialEndpoints.exchange(request, engine: context.engine)
            } catch let error as HTTPTransportError {
                lastKind = error.kind
                context.logger.debug("instance metadata did not answer", metadata: ["request": "\(what)", "attempt": "\(attempt)",
                                                                                    "error": "\(error.kind)"])
            }
        }
        throw S3Error.credentials("instance metadata at \(endpoint) did not answer (\(lastKind)) to \(what)")
    }

    public var description: String { "S3InstanceMetadataCredentialProvider(endpoint: \(endpoint))" }

    /// `dump()` and `Mirror` show the endpoint and settings, never the session token.
    public var customMirror: Mirror {
        Mirror(self, children: ["endpoint": endpoint, "tokenTTLSeconds": tokenTTLSeconds, "timeoutMilliseconds": timeoutMilliseconds,
                                "attempts": attempts], displayStyle: .class)
    }
}
