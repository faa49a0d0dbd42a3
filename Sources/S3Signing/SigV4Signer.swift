import CCryptoShim

/// AWS Signature Version 4 (`AWS4-HMAC-SHA256`) with S3's rules.
///
/// A value type over credentials, region and service, with a signing-key cache shared by its
/// copies. Pure: it performs no I/O and reads no clock; the signing time is passed in. Safe to
/// share between tasks.
///
/// ```swift
/// let signer = SigV4Signer(credentials: creds, region: "us-east-1")
/// var request = SigV4Request(method: "GET", path: "/bucket/key",
///                            headers: [("host", "127.0.0.1:9000")], payloadHash: Digest.emptySHA256Hex)
/// signer.sign(&request, at: SigV4Timestamp(secondsSince1970: now))
/// // request.headers now carries x-amz-date, x-amz-content-sha256 and authorization
/// ```
public struct SigV4Signer: Sendable, CustomReflectable {
    /// The credentials that sign.
    public let credentials: SigV4Credentials
    /// The region of the credential scope, e.g. `us-east-1`.
    public let region: String
    /// The service of the credential scope: `s3`.
    public let service: String
    let cache: SigningKeyCache

    /// The longest a presigned URL may be valid: seven days.
    public static let maximumPresignExpiry = 604_800

    /// A signer for `service` in `region`.
    public init(credentials: SigV4Credentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
        self.cache = SigningKeyCache(credentials: credentials, region: region, service: service)
    }

    /// The signer as `dump()` and `Mirror` show it: credentials redacted, no signing keys.
    public var customMirror: Mirror {
        Mirror(self, children: ["credentials": credentials, "region": region, "service": service], displayStyle: .struct)
    }

    /// `date/region/service/aws4_request`.
    public func scope(_ time: SigV4Timestamp) -> String { cache.scope(for: time.dateStamp).scope }

    /// Derives `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
    public static func signingKey(secret: String, dateStamp: String, region: String, service: String) -> [UInt8] {
        let kDate = Digest.hmacSHA256(key: Array(("AWS4" + secret).utf8), string: dateStamp)
        let kRegion = Digest.hmacSHA256(key: kDate, string: region)
        let kService = Digest.hmacSHA256(key: kRegion, string: service)
        return Digest.hmacSHA256(key: kService, string: "aws4_request")
    }

    /// Adds `x-amz-date`, `x-amz-content-sha256` (for S3), `x-amz-security-token` (with a
    /// session token) when missing, then `authorization`. Returns the signature (64 hex
    /// digits), a view into the `authorization` value.
    @discardableResult
    public func sign(_ request: inout SigV4Request, at time: SigV4Timestamp) -> Substring {
        var hasDate = false, hasHash = false, hasToken = false
        for (name, _) in request.headers {
            if asciiEqualsLowercased(name, "x-amz-date") { hasDate = true }
            else if asciiEqualsLowercased(name, "x-amz-content-sha256") { hasHash = true }
            else if asciiEqualsLowercased(name, "x-amz-security-token") { hasToken = true }
        }
        request.headers.reserveCapacity(request.headers.count + 4)
        if !hasDate { request.headers.append(("x-amz-date", time.amzDate)) }
        if !hasHash && service == "s3" { request.headers.append(("x-amz-content-sha256", request.payloadHash)) }
        if !hasToken, let token = credentials.sessionToken { request.headers.append(("x-amz-security-token", token)) }

        let scope = cache.scope(for: time.dateStamp)
        let authorization = Self.withSignature(request.method, request.path, request.query, request.headers, request.payloadHash,
                                               amzDate: time.amzDate, scope: scope) { signed, signature in
            // "AWS4-HMAC-SHA256 Credential=" credential ", SignedHeaders=" list ", Signature=" hex
            String(unsafeUninitializedCapacity: 28 + scope.credential.utf8.count + 16 + signed.count + 12 + 64) { out in
                var w = ByteWriter(out)
                w.string("AWS4-HMAC-SHA256 Credential=")
                w.string(scope.credential)
                w.string(", SignedHeaders=")
                w.bytes(signed)
                w.string(", Signature=")
                w.bytes(signature)
                return w.count
            }
        }
        request.headers.append(("authorization", authorization))
        return authorization[authorization.utf8.index(authorization.utf8.endIndex, offsetBy: -64)...]
    }

    /// The signature (hex) of a request exactly as given: nothing is added to it.
    public func signature(for request: SigV4Request, at time: SigV4Timestamp) -> String {
        Self.withSignature(request.method, request.path, request.query, request.headers, request.payloadHash,
                           amzDate: time.amzDate, scope: cache.scope(for: time.dateStamp)) { _, signature in
            String(decoding: signature, as: UTF8.self)
        }
    }

    /// The canonical request SigV4 hashes, as text (for debugging and tests).
    public static func canonicalRequest(for request: SigV4Request) -> String { CanonicalRequest.text(request) }

    /// Builds the canonical request and the string to sign in stack scratch, signs, and hands
    /// `body` the signed-headers list and the hex signature (valid only inside `body`).
    static func withSignature<R>(_ method: String, _ path: String, _ query: [(String, String)], _ headers: [(String, String)],
                                 _ payloadHash: String, amzDate: String, scope: SigningScope,
                                 _ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) -> R) -> R {
        let capacity = CanonicalRequest.capacity(method: method, path: path, query: query, headers: headers, payloadHash: payloadHash)
            + 17 + amzDate.utf8.count + scope.scope.utf8.count + 2 + 64 + 64
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { buffer in
            var w = ByteWriter(buffer)
            let signed = CanonicalRequest.write(into: &w, method: method, path: path, query: query, headers: headers, payloadHash: payloadHash)
            var digest = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
            withUnsafeMutableBytes(of: &digest) { d in
                _ = s3_sha256(w.base, w.count, d.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
            let stsStart = w.count
            w.string("AWS4-HMAC-SHA256\n")
            w.string(amzDate); w.byte(10)
            w.string(scope.scope); w.byte(10)
            withUnsafeBytes(of: &digest) { w.hex($0) }
            var mac = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
            withUnsafeMutableBytes(of: &mac) { m in
                scope.prepared.mac(UnsafeRawBufferPointer(w.slice(stsStart..<w.count)), into: m.baseAddress!)
            }
            let sigStart = w.count
            withUnsafeBytes(of: &mac) { w.hex($0) }
            return body(w.slice(signed), w.slice(sigStart..<w.count))
        }
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
        let scope = cache.scope(for: time.dateStamp)
        var query = request.query
        query.reserveCapacity(query.count + 7)
        query.append(("X-Amz-Algorithm", "AWS4-HMAC-SHA256"))
        query.append(("X-Amz-Credential", scope.credential))
        query.append(("X-Amz-Date", time.amzDate))
        query.append(("X-Amz-Expires", String(seconds)))
        if let token = credentials.sessionToken { query.append(("X-Amz-Security-Token", token)) }
        query.append(("X-Amz-SignedHeaders", Self.signedHeaderList(request.headers)))
        let signature = Self.withSignature(request.method, request.path, query, request.headers, request.payloadHash,
                                           amzDate: time.amzDate, scope: scope) { _, sig in String(decoding: sig, as: UTF8.self) }
        query.append(("X-Amz-Signature", signature))
        return query
    }

    /// `host;x-amz-meta-a`: lower-cased, sorted, unique header names.
    static func signedHeaderList(_ headers: [(String, String)]) -> String {
        if headers.count == 1 {
            let name = headers[0].0
            return asciiEqualsLowercased(name, "host") ? "host" : String(decoding: name.utf8.map { ($0 >= 65 && $0 <= 90) ? $0 + 32 : $0 }, as: UTF8.self)
        }
        let names = Set(headers.map { String(decoding: $0.0.utf8.map { ($0 >= 65 && $0 <= 90) ? $0 + 32 : $0 }, as: UTF8.self) })
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.joined(separator: ";")
    }

    /// A signer for the chunks of an aws-chunked body whose headers were signed with
    /// `seedSignature` at `time`.
    public func chunkSigner(seedSignature: String, at time: SigV4Timestamp) -> AWSChunkSigner {
        let scope = cache.scope(for: time.dateStamp)
        return AWSChunkSigner(key: scope.key, amzDate: time.amzDate, scope: scope.scope, previousSignature: seedSignature)
    }
}

/// Whether `s` equals the lower-case ASCII `lower`, ignoring ASCII case, without allocating.
@inline(__always)
func asciiEqualsLowercased(_ s: String, _ lower: StaticString) -> Bool {
    let n = lower.utf8CodeUnitCount
    guard s.utf8.count == n else { return false }
    let l = lower.utf8Start
    var i = 0
    for b in s.utf8 {
        let c = (b >= 65 && b <= 90) ? b + 32 : b
        if c != l[i] { return false }
        i += 1
    }
    return true
}
