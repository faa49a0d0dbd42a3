import Foundation
import S3HTTP

/// Credentials from the container credentials endpoint: ECS tasks
/// (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`, served at `http://169.254.170.2`) and EKS Pod
/// Identity or other agents (`AWS_CONTAINER_CREDENTIALS_FULL_URI`, with an `Authorization`
/// token from `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` or `AWS_CONTAINER_AUTHORIZATION_TOKEN`).
///
/// A full URI over plain HTTP must name a loopback address, `169.254.170.2`,
/// `169.254.170.23` or `fd00:ec2::23` (the addresses the AWS SDKs allow); any host is allowed
/// over HTTPS. The token file is read again at each fetch (agents rotate it).
public struct S3ContainerCredentialProvider: S3CredentialProvider, CustomStringConvertible, CustomReflectable {
    /// The credentials URL.
    public let url: String
    /// A fixed authorization token (never printed).
    let authorizationToken: String?
    /// A file holding the authorization token, read at each fetch.
    public let authorizationTokenFile: String?
    /// A limit on each request.
    public var timeoutMilliseconds = 2_000

    /// The ECS host for relative URIs.
    public static let ecsHost = "http://169.254.170.2"

    /// The provider for `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (`/v2/credentials/...`).
    public init(relativeURI: String) throws(S3Error) {
        guard relativeURI.hasPrefix("/") else {
            throw .invalidArgument("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must start with \"/\"")
        }
        try self.init(url: Self.ecsHost + relativeURI, authorizationToken: nil, authorizationTokenFile: nil)
    }

    /// The provider for a full URI (`AWS_CONTAINER_CREDENTIALS_FULL_URI`) and its optional
    /// token. Throws `.invalidArgument` for a plain-HTTP URI whose host is not allowed.
    public init(fullURI: String, authorizationToken: String? = nil, authorizationTokenFile: String? = nil) throws(S3Error) {
        try self.init(url: fullURI, authorizationToken: authorizationToken, authorizationTokenFile: authorizationTokenFile)
    }

    private init(url: String, authorizationToken: String?, authorizationTokenFile: String?) throws(S3Error) {
        let endpoint: S3Endpoint
        do { endpoint = try S3Endpoint(Self.stripQuery(url)) } catch {
            throw .invalidArgument("the container credentials URI \(url) is not an http:// or https:// URL")
        }
        guard endpoint.scheme == "https" || Self.isAllowedHost(endpoint.host) else {
            throw .invalidArgument("the container credentials URI \(url) is not allowed: over plain HTTP its host must be a loopback "
                                   + "address, 169.254.170.2, 169.254.170.23 or fd00:ec2::23")
        }
        if let authorizationToken, !CredentialEndpoints.isSafeHeaderValue(authorizationToken) {
            throw .invalidArgument("AWS_CONTAINER_AUTHORIZATION_TOKEN holds a line break or control character")
        }
        self.url = url
        self.authorizationToken = authorizationToken
        self.authorizationTokenFile = authorizationTokenFile
    }

    private static func stripQuery(_ url: String) -> String {
        var u = Substring(url)
        if let i = u.firstIndex(where: { $0 == "?" || $0 == "#" }) { u = u[..<i] }
        return String(u)
    }

    /// Whether a plain-HTTP full URI may name `host`: loopback (`127.0.0.0/8`, `::1`,
    /// `localhost`), the ECS and EKS Pod Identity agent addresses.
    public static func isAllowedHost(_ host: String) -> Bool {
        var h = host.lowercased()
        if h.hasPrefix("[") && h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        if h == "localhost" || h == "169.254.170.2" || h == "169.254.170.23" { return true }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, h, &v6) == 1 {
            var loopback = in6_addr(), eks = in6_addr()
            _ = inet_pton(AF_INET6, "::1", &loopback)
            _ = inet_pton(AF_INET6, "fd00:ec2::23", &eks)
            return withUnsafeBytes(of: &v6) { a in
                withUnsafeBytes(of: &loopback) { a.elementsEqual($0) } || withUnsafeBytes(of: &eks) { a.elementsEqual($0) }
            }
        }
        var v4 = in_addr()
        // inet_pton takes only the dotted-quad form (no "127.1" or octal tricks).
        if inet_pton(AF_INET, h, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        return false
    }

    public func credentials(context: S3CredentialContext) async throws -> S3ResolvedCredentials {
        var headers = HTTPHeaders()
        headers.set("Accept", "application/json")
        if let token = try readToken() { headers.set("Authorization", token) }
        let request = HTTPRequest(method: "GET", url: url, headers: headers, timeoutMilliseconds: timeoutMilliseconds)
        var problem = ""
        for attempt in 1...2 {
            do {
                let answer = try await CredentialEndpoints.exchange(request, engine: context.engine)
                if answer.status == 200 {
                    return try CredentialEndpoints.parseJSONCredentials(answer.body, source: "container endpoint")
                }
                problem = "the container endpoint \(redactedURL) answered HTTP \(answer.status)"
                context.logger.debug("container credentials refused", metadata: ["http.status": "\(answer.status)", "attempt": "\(attempt)"])
                if answer.status < 500 && answer.status != 429 { break }
            } catch let error as HTTPTransportError {
                problem = "the container endpoint \(redactedURL) could not be reached: \(error.kind)"
                context.logger.debug("container credentials unreachable", metadata: ["error": "\(error.kind)", "attempt": "\(attempt)"])
            }
            if attempt == 1 { try await Task.sleep(for: .milliseconds(100)) }
        }
        throw S3Error.credentials(problem)
    }

    /// The token from the file (read now) or the fixed one.
    private func readToken() throws -> String? {
        if let file = authorizationTokenFile {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw S3Error.credentials("the container authorization token file \(file) cannot be read")
            }
            let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard CredentialEndpoints.isSafeHeaderValue(token) else {
                throw S3Error.credentials("the container authorization token file \(file) holds a line break or control character")
            }
            return token
        }
        return authorizationToken
    }

    /// The URL without its query (which could carry a secret).
    var redactedURL: String { Self.stripQuery(url) }

    /// `dump()` and `Mirror` show the URL without its query and no token.
    public var customMirror: Mirror {
        Mirror(self, children: ["url": redactedURL, "authorizationToken": authorizationToken == nil ? "nil" : "<redacted>",
                                "authorizationTokenFile": authorizationTokenFile as Any], displayStyle: .struct)
    }

    public var description: String {
        "S3ContainerCredentialProvider(url: \(redactedURL)\(authorizationToken != nil ? ", authorizationToken: <redacted>" : "")"
            + "\(authorizationTokenFile.map { ", authorizationTokenFile: \($0)" } ?? ""))"
    }
}
