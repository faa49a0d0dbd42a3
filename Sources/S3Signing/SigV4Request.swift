/// What SigV4 signs about one HTTP request.
public struct SigV4Request: Sendable {
    /// The HTTP method, upper-case (`GET`, `PUT`, ...).
    public var method: String
    /// The canonical URI: the request path already URI-encoded once by S3's rules
    /// (see ``S3URIEncoding/encodePath(_:)``), starting with `/`.
    public var path: String
    /// Query parameters, not encoded; a parameter without value has an empty value.
    public var query: [(String, String)]
    /// Headers to sign and send; must include `host`.
    public var headers: [(String, String)]
    /// The payload hash: hex SHA-256 of the body, `UNSIGNED-PAYLOAD`, or a streaming constant.
    public var payloadHash: String

    /// A request to sign.
    public init(method: String, path: String, query: [(String, String)] = [], headers: [(String, String)], payloadHash: String) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.payloadHash = payloadHash
    }

    /// The value of the first header named `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name }?.1
    }
}

/// Special values of `x-amz-content-sha256`.
public enum SigV4Payload {
    /// The body is not hashed (allowed by S3 over HTTPS, and for presigned URLs).
    public static let unsigned = "UNSIGNED-PAYLOAD"
    /// aws-chunked body, each chunk signed.
    public static let streamingSigned = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    /// aws-chunked body, each chunk signed, with a signed trailer.
    public static let streamingSignedTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
    /// aws-chunked body, unsigned chunks, with a trailer.
    public static let streamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
}
