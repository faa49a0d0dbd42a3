import Foundation
import S3HTTP
import S3Signing

/// Just enough of AWS STS for credentials: `AssumeRole` (signed with the source credentials)
/// and `AssumeRoleWithWebIdentity` (unsigned), as form POSTs answered with XML.
struct STSClient: Sendable {
    /// The endpoint, e.g. `https://sts.us-east-1.amazonaws.com`.
    let endpoint: S3Endpoint
    /// The signing region.
    let region: String

    /// Attempts per call: transport failures, 5xx, throttling and `IDPCommunicationError` are
    /// tried again.
    static let attempts = 3
    /// A limit on each exchange.
    static let timeoutMilliseconds = 10_000

    init(endpoint: String, region: String) throws(S3Error) {
        self.endpoint = try S3Endpoint(endpoint)
        self.region = region
    }

    /// `AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`, else the profile's `endpoint_url`, else
    /// the regional endpoint of `region`.
    static func endpoint(environment: AWSEnvironment, profile: [String: String], region: String) -> String {
        environment["AWS_ENDPOINT_URL_STS"] ?? environment["AWS_ENDPOINT_URL"] ?? profile["endpoint_url"]
            ?? "https://sts.\(region).amazonaws.com"
    }

    func assumeRole(roleARN: String, sessionName: String, externalID: String?, durationSeconds: Int?,
                    credentials: S3Credentials, source: String, context: S3CredentialContext) async throws -> S3ResolvedCredentials {
        var form = [("Action", "AssumeRole"), ("Version", "2011-06-15"), ("RoleArn", roleARN), ("RoleSessionName", sessionName)]
        if let externalID { form.append(("ExternalId", externalID)) }
        if let durationSeconds { form.append(("DurationSeconds", String(durationSeconds))) }
        return try await call("AssumeRole", form: form, signedWith: credentials, source: source, context: context)
    }

    func assumeRoleWithWebIdentity(roleARN: String, sessionName: String, token: String, source: String,
                                   context: S3CredentialContext) async throws -> S3ResolvedCredentials {
        let form = [("Action", "AssumeRoleWithWebIdentity"), ("Version", "2011-06-15"), ("RoleArn", roleARN),
                    ("RoleSessionName", sessionName), ("WebIdentityToken", token)]
        return try await call("AssumeRoleWithWebIdentity", form: form, signedWith: nil, source: source, context: context)
    }

    private func call(_ action: String, form: [(String, String)], signedWith credentials: S3Credentials?, source: String,
                      context: S3CredentialContext) async throws -> S3ResolvedCredentials {
        let body = Array(form.map { S3URIEncoding.encodeQueryComponent($0.0) + "=" + S3URIEncoding.encodeQueryComponent($0.1) }
            .joined(separator: "&").utf8)
        let path = endpoint.basePath + "/"
        let host = endpoint.authority(host: endpoint.host)
        var lastProblem = ""
        for attempt in 1...Self.attempts {
            var headers = HTTPHeaders()
            headers.set("Host", host)
            headers.set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
            if let credentials {
                var request = SigV4Request(method: "POST", path: path,
                                           headers: [("host", host), ("content-type", "application/x-www-form-urlencoded; charset=utf-8")],
                                           payloadHash: Digest.hex(Digest.sha256(body)))
                SigV4Signer(credentials: credentials, region: region, service: "sts")
                    .sign(&request, at: SigV4Timestamp(secondsSince1970: Int(Date().timeIntervalSince1970)))
                for (name, value) in request.headers where !headers.contains(name) { headers.add(name, value) }
            }
            let request = HTTPRequest(method: "POST", url: endpoint.scheme + "://" + host + path, headers: headers, body: .bytes(body),
                                      timeoutMilliseconds: Self.timeoutMilliseconds)
            let answer: CredentialEndpoints.Answer
            do {
                answer = try await CredentialEndpoints.exchange(request, engine: context.engine)
            } catch let error as HTTPTransportError {
                lastProblem = "STS \(action) at \(endpoint) could not be reached: \(error.kind)"
                context.logger.debug("STS request failed", metadata: ["sts.action": "\(action)", "attempt": "\(attempt)", "error": "\(error.kind)"])
                try await Self.pause(attempt)
                continue
            }
            if (200..<300).contains(answer.status) {
                return try parseCredentials(answer.body, action: action, source: source)
            }
            let (code, message) = Self.error(in: answer.body)
            lastProblem = "STS \(action) at \(endpoint) answered HTTP \(answer.status)" + (code.map { " \($0)" } ?? "")
                + (message.map { ": \($0)" } ?? "")
            context.logger.debug("STS request refused", metadata: ["sts.action": "\(action)", "attempt": "\(attempt)",
                                                                   "http.status": "\(answer.status)", "sts.error": "\(code ?? "-")"])
            let retryable = answer.status >= 500 || answer.status == 429 || code == "IDPCommunicationError" || code == "Throttling"
            guard retryable else { break }
            try await Self.pause(attempt)
        }
        throw S3Error.credentials(lastProblem)
    }

    private static func pause(_ attempt: Int) async throws {
        if attempt < attempts { try await Task.sleep(for: .milliseconds(100 << (attempt - 1))) }
    }

    /// `<XResponse><XResult><Credentials>…` → credentials.
    private func parseCredentials(_ body: [UInt8], action: String, source: String) throws(S3Error) -> S3ResolvedCredentials {
        guard let root = try? XMLParser.parse(body), let result = root.child(action + "Result"), let c = result.child("Credentials"),
              let id = c.value("AccessKeyId"), !id.isEmpty, let secret = c.value("SecretAccessKey"), !secret.isEmpty
        else { throw .credentials("STS \(action) at \(endpoint) answered no credentials") }
        let token = c.value("SessionToken")
        var expiration: Date?
        if let text = c.value("Expiration") {
            guard let d = CredentialEndpoints.parseExpiration(text) else {
                throw .credentials("STS \(action) at \(endpoint) answered an Expiration that is not an ISO 8601 time")
            }
            expiration = d
        }
        return S3ResolvedCredentials(S3Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: token), expiration: expiration,
                                     source: source)
    }

    /// The code and message of an STS error document (`<ErrorResponse><Error>…`).
    static func error(in body: [UInt8]) -> (code: String?, message: String?) {
        guard let root = try? XMLParser.parse(body) else { return (nil, nil) }
        let error = root.name == "Error" ? root : root.child("Error")
        return (error?.value("Code"), error?.value("Message"))
    }
}
