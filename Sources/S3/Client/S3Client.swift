import Foundation
import S3HTTP
import S3Signing
import Synchronization

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
public final class S3Client: Sendable {
    /// The configuration it was made with.
    public let configuration: S3Configuration
    let engine: HTTPEngine
    private let ownsEngine: Bool
    let signer: SigV4Signer
    let addressing: S3Addressing
    private let sentRequests = Atomic<Int>(0)

    /// How many requests this client has sent (for diagnostics and tests).
    public var requestCount: Int { sentRequests.load(ordering: .relaxed) }

    /// A client using `engine` (by default a new engine with `configuration.http`).
    public init(configuration: S3Configuration, engine: HTTPEngine? = nil) {
        self.configuration = configuration
        self.engine = engine ?? HTTPEngine(configuration: configuration.http)
        self.ownsEngine = engine == nil
        self.signer = SigV4Signer(credentials: configuration.credentials, region: configuration.region, service: "s3")
        self.addressing = S3Addressing(endpoint: configuration.endpoint, style: configuration.addressingStyle)
    }

    /// Stops the client's own HTTP engine (failing requests in flight) and waits for its
    /// thread to end; an engine passed in by the caller is left running. Only needed for a
    /// deterministic shutdown: dropping the last reference to the client stops its engine too.
    public func shutdown() {
        if ownsEngine { engine.shutdown() }
    }

    // MARK: - Sending

    /// Signs and sends `request`. Returns the response of a 2xx status; any other status is
    /// read and thrown as an ``S3Error``.
    func send(_ request: S3Request) async throws -> HTTPResponse {
        let target = addressing.target(bucket: request.bucket, key: request.key, query: request.query)
        var headers = request.headers
        headers.set("Host", target.host)
        var toSign = SigV4Request(method: request.method, path: target.canonicalPath, query: request.query,
                                  headers: signedHeaders(headers), payloadHash: request.payloadHash)
        signer.sign(&toSign, at: SigV4Timestamp(secondsSince1970: Int(Date().timeIntervalSince1970)))
        for (name, value) in toSign.headers where !headers.contains(name) { headers.add(name, value) }
        let http = HTTPRequest(method: request.method, url: target.url, headers: headers, body: request.body,
                               responseBuffer: request.responseBuffer)
        sentRequests.add(1, ordering: .relaxed)
        let response: HTTPResponse
        do {
            response = try await engine.execute(http)
        } catch {
            throw Self.wrap(error, bucket: request.bucket, key: request.key)
        }
        if (200..<300).contains(response.status) { return response }
        throw await errorFrom(response, request: request)
    }

    /// Sends and reads the whole (small) response body.
    func sendAndCollect(_ request: S3Request, limit: Int = 64 << 20) async throws -> (HTTPResponseHead, [UInt8]) {
        let response = try await send(request)
        do {
            return (response.head, try await response.body.collect(upTo: limit))
        } catch {
            throw Self.wrap(error, bucket: request.bucket, key: request.key)
        }
    }

    /// Headers that take part in the signature: `host`, `content-type`, `content-md5`,
    /// `range`, conditionals and every `x-amz-*`.
    private func signedHeaders(_ headers: HTTPHeaders) -> [(String, String)] {
        headers.fields.compactMap { field in
            let n = field.name.lowercased()
            let signed = n == "host" || n == "content-type" || n == "content-md5" || n == "range" || n.hasPrefix("x-amz-")
                || n.hasPrefix("if-")
            return signed ? (n, field.value) : nil
        }
    }

    /// Wraps a transport or other error into an ``S3Error``; `CancellationError` and
    /// `S3Error` pass through.
    static func wrap(_ error: any Error, bucket: String?, key: String?) -> any Error {
        if error is CancellationError || error is S3Error { return error }
        if let t = error as? HTTPTransportError {
            return S3Error(code: .transportFailure, message: t.description, bucket: bucket, key: key, underlying: t)
        }
        return S3Error(code: .invalidResponse, message: String(describing: error), bucket: bucket, key: key, underlying: error)
    }

    /// Reads an error response (bounded) and maps it.
    private func errorFrom(_ response: HTTPResponse, request: S3Request) async -> S3Error {
        let body = (try? await response.body.collect(upTo: 1 << 20)) ?? []
        return Self.mapError(status: response.status, headers: response.headers, body: body, method: request.method,
                             bucket: request.bucket, key: request.key)
    }

    /// Maps an HTTP error response to an ``S3Error``. Bodies of HEAD responses are empty, so the
    /// code then comes from the status and what was asked for.
    static func mapError(status: Int, headers: HTTPHeaders, body: [UInt8], method: String, bucket: String?, key: String?) -> S3Error {
        var code: S3Error.Code
        var message: String
        var requestID = headers["x-amz-request-id"]
        var hostID = headers["x-amz-id-2"]
        var errBucket = bucket, errKey = key
        if !body.isEmpty, let xml = try? XMLParser.parse(body), xml.name == "Error" {
            code = S3Error.Code(rawValue: xml.value("Code") ?? "HTTP\(status)")
            message = xml.value("Message") ?? "HTTP status \(status)"
            requestID = xml.value("RequestId") ?? requestID
            hostID = xml.value("HostId") ?? hostID
            errBucket = xml.value("BucketName") ?? errBucket
            errKey = xml.value("Key") ?? errKey
        } else {
            switch status {
            case 404 where key != nil: code = .noSuchKey; message = "The specified key does not exist."
            case 404 where bucket != nil: code = .noSuchBucket; message = "The specified bucket does not exist."
            case 403: code = .accessDenied; message = "Access Denied"
            case 412: code = .preconditionFailed; message = "At least one of the preconditions you specified did not hold."
            case 416: code = .invalidRange; message = "The requested range is not satisfiable."
            case 503: code = .slowDown; message = "Service unavailable; slow down."
            default:
                code = S3Error.Code(rawValue: "HTTP\(status)")
                message = "HTTP status \(status)" + (body.isEmpty ? "" : ": " + String(decoding: body.prefix(200), as: UTF8.self))
            }
        }
        return S3Error(code: code, message: message, httpStatus: status, requestID: requestID, hostID: hostID,
                       bucket: errBucket, key: errKey)
    }

    // MARK: - Presigning

    /// A presigned URL for `method` on an object (or a bucket when `key` is nil), valid for
    /// `expiresIn` seconds (at most 7 days) from `date`.
    public func presignedURL(method: String = "GET", bucket: String, key: String?, expiresIn: Int = 3600, date: Date = Date()) throws -> String {
        try Validation.bucketName(bucket)
        if let key { try Validation.key(key, bucket: bucket) }
        let base = addressing.target(bucket: bucket, key: key, query: [])
        let request = SigV4Request(method: method, path: base.canonicalPath, headers: [("host", base.host)], payloadHash: SigV4Payload.unsigned)
        let query: [(String, String)]
        do {
            query = try signer.presignedQuery(for: request, expiresIn: expiresIn, at: SigV4Timestamp(secondsSince1970: Int(date.timeIntervalSince1970)))
        } catch {
            throw S3Error.invalidArgument(error.description, bucket: bucket, key: key)
        }
        return addressing.target(bucket: bucket, key: key, query: query).url
    }
}
