import Foundation
import S3HTTP

/// The small HTTP and JSON exchanges of the credential sources (instance metadata, container
/// endpoint, STS, `credential_process`), which never go through the S3 pipeline.
enum CredentialEndpoints {
    /// A response read whole (credential answers are a few KiB; 1 MiB is the limit).
    struct Answer: Sendable {
        let status: Int
        let body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// Sends `request` and reads the whole answer. Transport failures are thrown as they come.
    static func exchange(_ request: HTTPRequest, engine: HTTPEngine) async throws -> Answer {
        let response = try await engine.execute(request)
        let body = try await response.body.collect(upTo: 1 << 20)
        return Answer(status: response.status, body: body)
    }

    /// What a source says went wrong with `answer`, without echoing the body (which might hold
    /// a credential) beyond a short, secret-free excerpt.
    static func describe(_ answer: Answer) -> String {
        "HTTP \(answer.status)"
    }

    /// Parses the JSON credentials document of the container endpoint, instance metadata and
    /// `credential_process`: `AccessKeyId`, `SecretAccessKey`, `Token` or `SessionToken`,
    /// `Expiration` (ISO 8601). Errors name the missing field, never a value.
    static func parseJSONCredentials(_ body: [UInt8], source: String) throws(S3Error) -> S3ResolvedCredentials {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)), let json = object as? [String: Any] else {
            throw .credentials("\(source) answered something that is not a JSON object")
        }
        if let code = json["Code"] as? String, code != "Success" {
            throw .credentials("\(source) answered Code \"\(code)\"")
        }
        guard let id = json["AccessKeyId"] as? String, !id.isEmpty else { throw .credentials("\(source) answered no AccessKeyId") }
        guard let secret = json["SecretAccessKey"] as? String, !secret.isEmpty else {
            throw .credentials("\(source) answered no SecretAccessKey")
        }
        let token = (json["Token"] as? String) ?? (json["SessionToken"] as? String)
        var expiration: Date?
        if let text = json["Expiration"] as? String {
            guard let date = parseExpiration(text) else { throw .credentials("\(source) answered an Expiration that is not an ISO 8601 time") }
            expiration = date
        }
        return S3ResolvedCredentials(S3Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: token?.isEmpty == true ? nil : token),
                                     expiration: expiration, source: source)
    }

    /// `2026-12-02T01:13:31Z`, with or without fractional seconds, `Z` or a numeric offset.
    static func parseExpiration(_ text: String) -> Date? {
        if let d = S3Dates.parseISO8601(text) { return d }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = formatter.date(from: text) { return d }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }

    /// Whether a header value can be sent as it is (no CR, LF or other control character).
    static func isSafeHeaderValue(_ value: String) -> Bool {
        !value.utf8.contains { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }
    }
}
