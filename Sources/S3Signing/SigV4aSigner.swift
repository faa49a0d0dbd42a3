/// AWS Signature Version 4a (`AWS4-ECDSA-P256-SHA256`): SigV4's canonical request, signed with
/// an ECDSA P-256 key derived from the credentials (``SigV4aKey``) instead of an HMAC chain, so
/// that one signature is valid in a set of regions (`x-amz-region-set`, e.g. `*`): what S3
/// multi-region access points require.
///
/// The credential scope has no region (`date/service/aws4_request`); the region set travels as
/// a signed header (or query parameter, presigned). Pure, like ``SigV4Signer``: no I/O, the
/// time passed in. Deriving the key costs an HMAC and a scalar multiplication, once per signer.
///
/// ```swift
/// let signer = try SigV4aSigner(credentials: creds, regionSet: ["*"])
/// var request = SigV4Request(method: "GET", path: "/key", headers: [("host", "mfzwi23gnjvgw.mrap.accesspoint.s3-global.amazonaws.com")],
///                            payloadHash: Digest.emptySHA256Hex)
/// try signer.sign(&request, at: SigV4Timestamp(secondsSince1970: now))
/// ```
public struct SigV4aSigner: Sendable, CustomReflectable {
    /// The algorithm's name, in `Authorization` and `X-Amz-Algorithm`.
    public static let algorithm = "AWS4-ECDSA-P256-SHA256"
    /// The credentials that sign.
    public let credentials: SigV4Credentials
    /// The regions the signature is valid in (`*`: all).
    public let regionSet: [String]
    /// The service of the credential scope: `s3`.
    public let service: String
    /// The key derived from ``credentials``.
    public let key: SigV4aKey

    /// A signer for `service` in `regionSet`; derives the key. A region set that is empty or
    /// holds a name with a comma or white space is refused (``SigV4aKey/Failure/invalidRegionSet(_:)``).
    public init(credentials: SigV4Credentials, regionSet: [String] = ["*"], service: String = "s3") throws(SigV4aKey.Failure) {
        guard !regionSet.isEmpty, regionSet.allSatisfy({ !$0.isEmpty && !$0.contains { $0 == "," || $0.isWhitespace } }) else {
            throw .invalidRegionSet(regionSet)
        }
        self.credentials = credentials
        self.regionSet = regionSet
        self.service = service
        self.key = try SigV4aKey(accessKeyID: credentials.accessKeyID, secretAccessKey: credentials.secretAccessKey)
    }

    /// The signer as `dump()` and `Mirror` show it: credentials redacted, the public key only.
    public var customMirror: Mirror {
        Mirror(self, children: ["credentials": credentials, "regionSet": regionSet, "service": service, "key": key], displayStyle: .struct)
    }

    /// The value of `x-amz-region-set`: the regions joined with commas.
    public var regionSetValue: String { regionSet.joined(separator: ",") }

    /// `date/service/aws4_request`.
    public func scope(_ time: SigV4Timestamp) -> String { "\(time.dateStamp)/\(service)/aws4_request" }

    /// Adds `x-amz-date`, `x-amz-region-set`, `x-amz-content-sha256` (for S3) and
    /// `x-amz-security-token` (with a session token) when missing, then `authorization`.
    /// Returns the signature (hex of the DER ECDSA signature).
    @discardableResult
    public func sign(_ request: inout SigV4Request, at time: SigV4Timestamp) throws(SigV4aKey.Failure) -> String {
        func has(_ name: StaticString) -> Bool { request.headers.contains { asciiEqualsLowercased($0.0, name) } }
        if !has("x-amz-date") { request.headers.append(("x-amz-date", time.amzDate)) }
        if !has("x-amz-region-set") { request.headers.append(("x-amz-region-set", regionSetValue)) }
        if !has("x-amz-content-sha256") && service == "s3" { request.headers.append(("x-amz-content-sha256", request.payloadHash)) }
        if !has("x-amz-security-token"), let token = credentials.sessionToken { request.headers.append(("x-amz-security-token", token)) }
        let signature = try self.signature(for: request, at: time)
        request.headers.append(("authorization", "\(Self.algorithm) Credential=\(credentials.accessKeyID)/\(scope(time)), "
                                    + "SignedHeaders=\(SigV4Signer.signedHeaderList(request.headers)), Signature=\(signature)"))
        return signature
    }

    /// The signature (hex DER) of a request exactly as given: nothing is added to it.
    public func signature(for request: SigV4Request, at time: SigV4Timestamp) throws(SigV4aKey.Failure) -> String {
        let text = stringToSign(for: request, at: time)
        let bytes = Array(text.utf8)
        let der: Result<[UInt8], SigV4aKey.Failure> = bytes.withUnsafeBytes { b in Result { () throws(SigV4aKey.Failure) in try key.sign(b) } }
        return Digest.hex(try der.get())
    }

    /// The string to sign: algorithm, time, scope and the hex SHA-256 of the canonical request
    /// (the same canonical request as SigV4's), one per line.
    public func stringToSign(for request: SigV4Request, at time: SigV4Timestamp) -> String {
        let canonical = Array(CanonicalRequest.text(request).utf8)
        return "\(Self.algorithm)\n\(time.amzDate)\n\(scope(time))\n\(Digest.hex(Digest.sha256(canonical)))"
    }

    /// The complete query of a presigned URL: the request's own parameters plus the `X-Amz-*`
    /// ones (with `X-Amz-Region-Set`), ending with `X-Amz-Signature`. Values are not encoded.
    /// `request.headers` must hold `host`; the payload is as `request.payloadHash` says.
    public func presignedQuery(for request: SigV4Request, expiresIn seconds: Int, at time: SigV4Timestamp) throws -> [(String, String)] {
        guard seconds >= 1 && seconds <= SigV4Signer.maximumPresignExpiry else { throw SigV4Signer.PresignError.invalidExpiry(seconds) }
        var query = request.query
        query.append(("X-Amz-Algorithm", Self.algorithm))
        query.append(("X-Amz-Credential", "\(credentials.accessKeyID)/\(scope(time))"))
        query.append(("X-Amz-Date", time.amzDate))
        query.append(("X-Amz-Expires", String(seconds)))
        query.append(("X-Amz-Region-Set", regionSetValue))
        if let token = credentials.sessionToken { query.append(("X-Amz-Security-Token", token)) }
        query.append(("X-Amz-SignedHeaders", SigV4Signer.signedHeaderList(request.headers)))
        var signed = request
        signed.query = query
        query.append(("X-Amz-Signature", try signature(for: signed, at: time)))
        return query
    }
}
