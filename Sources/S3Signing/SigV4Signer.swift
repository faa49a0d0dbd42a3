/// AWS Signature Version 4 (`AWS4-HMAC-SHA256`) with S3's rules.
///
/// A value type over credentials, region and service, with a shared signing-key cache. Pure:
/// it performs no I/O and reads no clock; the signing time is passed in. Safe to share between
/// tasks.
///
/// ```swift
/// let signer = SigV4Signer(credentials: creds, region: "us-east-1")
/// var request = SigV4Request(method: "GET", path: "/bucket/key",
///                            headers: [("host", "127.0.0.1:9000")], payloadHash: Digest.emptySHA256Hex)
/// signer.sign(&request, at: SigV4Timestamp(secondsSince1970: now))
/// // request.headers now carries x-amz-date, x-amz-content-sha256 and authorization
/// ```
public struct SigV4Signer: Sendable {
    /// The credentials that sign.
    public let credentials: SigV4Credentials
    /// The region of the credential scope, e.g. `us-east-1`.
    public let region: String
    /// The service of the credential scope: `s3`.
    public let service: String
    /// Derived keys, shared by copies of this signer.
    public let keyCache: SigningKeyCache

    /// The longest a presigned URL may be valid: seven days.
    public static let maximumPresignExpiry = 604_800

    /// A signer for `service` in `region`.
    public init(credentials: SigV4Credentials, region: String, service: String = "s3", keyCache: SigningKeyCache = SigningKeyCache()) {
        self.credentials = credentials
        self.region = region
        self.service = service
        self.keyCache = keyCache
    }

    /// `date/region/service/aws4_request`.
    public func scope(_ time: SigV4Timestamp) -> String {
        time.dateStamp + "/" + region + "/" + service + "/aws4_request"
    }

    func signingKey(_ time: SigV4Timestamp) -> [UInt8] {
        keyCache.key(secret: credentials.secretAccessKey, dateStamp: time.dateStamp, region: region, service: service)
    }

    /// Adds `x-amz-date`, `x-amz-content-sha256` (for S3), `x-amz-security-token` (with a
    /// session token) when missing, then `authorization`. Returns the signature (hex).
    @discardableResult
    public func sign(_ request: inout SigV4Request, at time: SigV4Timestamp) -> String {
        var hasDate = false, hasHash = false, hasToken = false
        for (name, _) in request.headers {
            switch name.lowercased() {
            case "x-amz-date": hasDate = true
            case "x-amz-content-sha256": hasHash = true
            case "x-amz-security-token": hasToken = true
            default: break
            }
        }
        if !hasDate { request.headers.append(("x-amz-date", time.amzDate)) }
        if !hasHash && service == "s3" { request.headers.append(("x-amz-content-sha256", request.payloadHash)) }
        if !hasToken, let token = credentials.sessionToken { request.headers.append(("x-amz-security-token", token)) }
        let canonical = CanonicalRequest(request)
        let signature = signature(canonicalRequest: canonical.bytes, time: time)
        var auth = "AWS4-HMAC-SHA256 Credential="
        auth.reserveCapacity(200)
        auth += credentials.accessKeyID
        auth += "/"
        auth += scope(time)
        auth += ", SignedHeaders="
        auth += canonical.signedHeaders
        auth += ", Signature="
        auth += signature
        request.headers.append(("authorization", auth))
        return signature
    }

    /// The signature (hex) of a request exactly as given: nothing is added to it.
    public func signature(for request: SigV4Request, at time: SigV4Timestamp) -> String {
        signature(canonicalRequest: CanonicalRequest(request).bytes, time: time)
    }

    /// The canonical request SigV4 hashes, as text (for debugging and tests).
    public static func canonicalRequest(for request: SigV4Request) -> String {
        String(decoding: CanonicalRequest(request).bytes, as: UTF8.self)
    }

    func signature(canonicalRequest: [UInt8], time: SigV4Timestamp) -> String {
        var sts = [UInt8]()
        sts.reserveCapacity(160)
        sts.append(contentsOf: "AWS4-HMAC-SHA256\n".utf8)
        sts.append(contentsOf: time.amzDate.utf8)
        sts.append(10)
        sts.append(contentsOf: scope(time).utf8)
        sts.append(10)
        Digest.appendHex(Digest.sha256(canonicalRequest), to: &sts)
        return Digest.hex(Digest.hmacSHA256(key: signingKey(time), data: sts))
    }

    /// Errors of presigning.
    public enum PresignError: Error, Equatable, CustomStringConvertible {
        /// The expiry is outside 1...604800 seconds.
        case invalidExpiry(Int)
        public var description: String {
            switch self {
            case .invalidExpiry(let s): return "presigned URL expiry must be between 1 and 604800 seconds (7 days), got \(s)"
            }
        }
    }

    /// The complete query of a presigned URL: the request's own parameters plus the
    /// `X-Amz-*` ones, ending with `X-Amz-Signature`. Values are not encoded; encode them
    /// with ``S3URIEncoding/encodeQueryComponent(_:)`` to build the URL.
    ///
    /// `request.headers` must hold `host` and any header the URL's user must send; the payload
    /// is `UNSIGNED-PAYLOAD` unless `request.payloadHash` says otherwise.
    public func presignedQuery(for request: SigV4Request, expiresIn seconds: Int, at time: SigV4Timestamp) throws(PresignError) -> [(String, String)] {
        guard seconds >= 1 && seconds <= Self.maximumPresignExpiry else { throw .invalidExpiry(seconds) }
        var r = request
        let signedHeaders = CanonicalRequest.sortedHeaders(r.headers).map(\.0).joined(separator: ";")
        r.query.append(("X-Amz-Algorithm", "AWS4-HMAC-SHA256"))
        r.query.append(("X-Amz-Credential", credentials.accessKeyID + "/" + scope(time)))
        r.query.append(("X-Amz-Date", time.amzDate))
        r.query.append(("X-Amz-Expires", String(seconds)))
        if let token = credentials.sessionToken { r.query.append(("X-Amz-Security-Token", token)) }
        r.query.append(("X-Amz-SignedHeaders", signedHeaders))
        let sig = signature(for: r, at: time)
        r.query.append(("X-Amz-Signature", sig))
        return r.query
    }

    /// A signer for the chunks of an aws-chunked body whose headers were signed with
    /// `seedSignature` at `time`.
    public func chunkSigner(seedSignature: String, at time: SigV4Timestamp) -> AWSChunkSigner {
        AWSChunkSigner(key: signingKey(time), amzDate: time.amzDate, scope: scope(time), previousSignature: seedSignature)
    }
}

/// The canonical request of SigV4, built as bytes in one buffer.
struct CanonicalRequest {
    var bytes: [UInt8]
    var signedHeaders: String

    /// Lower-cased names, trimmed values with inner runs of spaces collapsed, duplicates
    /// joined with `,`, sorted by name.
    static func sortedHeaders(_ headers: [(String, String)]) -> [(String, String)] {
        var list = headers.map { (lowercaseASCII($0.0), trimmedValue($0.1)) }
        list.sort { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        var merged: [(String, String)] = []
        merged.reserveCapacity(list.count)
        for (name, value) in list {
            if let last = merged.last, last.0 == name {
                merged[merged.count - 1].1 = last.1 + "," + value
            } else {
                merged.append((name, value))
            }
        }
        return merged
    }

    init(_ r: SigV4Request) {
        let headers = Self.sortedHeaders(r.headers)
        var b = [UInt8]()
        b.reserveCapacity(512)
        b.append(contentsOf: r.method.utf8); b.append(10)
        b.append(contentsOf: r.path.utf8); b.append(10)
        b.append(contentsOf: S3URIEncoding.canonicalQuery(r.query).utf8); b.append(10)
        var signed = ""
        for (i, (name, value)) in headers.enumerated() {
            b.append(contentsOf: name.utf8); b.append(UInt8(ascii: ":"))
            b.append(contentsOf: value.utf8); b.append(10)
            if i > 0 { signed += ";" }
            signed += name
        }
        b.append(10)
        b.append(contentsOf: signed.utf8); b.append(10)
        b.append(contentsOf: r.payloadHash.utf8)
        bytes = b
        signedHeaders = signed
    }

    @inline(__always)
    static func lowercaseASCII(_ s: String) -> String {
        if !s.utf8.contains(where: { $0 >= 65 && $0 <= 90 }) { return s }
        return String(decoding: s.utf8.map { ($0 >= 65 && $0 <= 90) ? $0 + 32 : $0 }, as: UTF8.self)
    }

    static func trimmedValue(_ s: String) -> String {
        let u = s.utf8
        // Fast path: no leading/trailing blanks and no double spaces.
        var prevSpace = false, clean = true
        for c in u {
            let isSpace = c == 32 || c == 9
            if isSpace && prevSpace { clean = false; break }
            prevSpace = isSpace
        }
        if clean, let f = u.first, f != 32, f != 9, let l = u.last, l != 32, l != 9 { return s }
        if u.isEmpty { return s }
        var out = [UInt8]()
        out.reserveCapacity(u.count)
        var pendingSpace = false
        for c in u {
            if c == 32 || c == 9 {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(32); pendingSpace = false }
                out.append(c)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
