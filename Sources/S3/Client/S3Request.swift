import S3HTTP
import S3Signing

/// One S3 operation as data, before addressing and signing.
struct S3Request: Sendable {
    var method: String
    var bucket: String?
    var key: String?
    var query: [(String, String)] = []
    var headers: HTTPHeaders = HTTPHeaders()
    var body: HTTPRequestBody = .none
    /// Hex SHA-256 of the body, or ``SigV4Payload/unsigned``.
    var payloadHash: String = Digest.emptySHA256Hex
    /// Where a 2xx response body is written directly (see `HTTPRequest.responseBuffer`).
    var responseBuffer: PartBuffer?
    /// The buffer's `count` when the request was made: each attempt starts writing there.
    var responseBufferStart = 0
    /// Where a 2xx response body is written in a file (see `HTTPRequest.responseFile`); each
    /// attempt writes from its offset again.
    var responseFile: ResponseFileRange?
    /// The operation may fail after a 200 status, with an `<Error>` document as the body
    /// (CompleteMultipartUpload, CopyObject).
    var errorMayComeWith200 = false
    /// The operation's own check of a 2xx head (e.g. a ranged GET's `Content-Range`).
    var check: S3ResponseCheck?

    init(_ method: String, bucket: String? = nil, key: String? = nil, query: [(String, String)] = []) {
        self.method = method
        self.bucket = bucket
        self.key = key
        self.query = query
    }

    /// Sets an in-memory body, its hash and its content type.
    mutating func setBody(_ bytes: [UInt8], contentType: String) {
        body = .bytes(bytes)
        payloadHash = Digest.hex(Digest.sha256(bytes))
        headers.set("Content-Type", contentType)
    }
}

/// Turns an ``S3Request`` into a URL, a `Host` and a canonical path for an endpoint.
struct S3Addressing: Sendable {
    let endpoint: S3Endpoint
    let style: S3Configuration.AddressingStyle

    struct Target {
        var host: String
        var canonicalPath: String
        var url: String
    }

    /// `s3.amazonaws.com`, `s3.REGION.amazonaws.com` or `s3-REGION.amazonaws.com` (not the
    /// FIPS, dual-stack or access-point forms, which are left as configured).
    static func isAWSHost(_ host: String) -> Bool {
        guard host.hasSuffix(".amazonaws.com") else { return false }
        let labels = host.split(separator: ".")
        return (labels.count == 3 && labels[0] == "s3") || (labels.count == 4 && labels[0] == "s3")
            || (labels.count == 3 && labels[0].hasPrefix("s3-"))
    }

    /// Whether `bucket` goes in the host name.
    func usesVirtualHost(_ bucket: String) -> Bool {
        switch style {
        case .path: return false
        case .virtualHost: return true
        case .automatic: return endpoint.host.hasSuffix(".amazonaws.com") && !bucket.contains(".")
        }
    }

    /// The URL of a request; on AWS's own endpoints the host names `region`.
    func target(bucket: String?, key: String?, query: [(String, String)], region: String? = nil) -> Target {
        var hostName = endpoint.host
        if let region, Self.isAWSHost(hostName), !hostName.hasPrefix("s3.\(region).") {
            hostName = "s3.\(region).amazonaws.com"
        }
        var path = endpoint.basePath
        if let bucket {
            if usesVirtualHost(bucket) {
                hostName = bucket + "." + hostName
            } else {
                path += "/" + bucket
            }
        }
        path += "/"
        if let key { path += S3URIEncoding.encodePath(key) }
        if let bucket, key == nil, !usesVirtualHost(bucket), !path.isEmpty {
            // `/bucket` rather than `/bucket/` for bucket-level requests.
            path.removeLast()
        }
        let authority = endpoint.authority(host: hostName)
        var url = endpoint.scheme + "://" + authority + path
        if !query.isEmpty {
            url += "?"
            for (i, (name, value)) in query.enumerated() {
                if i > 0 { url += "&" }
                url += S3URIEncoding.encodeQueryComponent(name)
                if !value.isEmpty { url += "=" + S3URIEncoding.encodeQueryComponent(value) }
            }
        }
        return Target(host: authority, canonicalPath: path, url: url)
    }
}
