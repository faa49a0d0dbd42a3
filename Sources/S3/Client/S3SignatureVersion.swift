/// How requests are signed (``S3Configuration/signatureVersion``).
public enum S3SignatureVersion: Sendable, Hashable {
    /// AWS Signature Version 4 (`AWS4-HMAC-SHA256`), valid in the configured region: what every
    /// S3-compatible store takes. The default.
    case v4
    /// AWS Signature Version 4a (`AWS4-ECDSA-P256-SHA256`), one signature valid in a set of
    /// regions (`["*"]`: all), as S3 multi-region access points require. The key is derived
    /// from the credentials once per set of credentials. A region set that is empty or holds a
    /// name with a comma or white space is refused (`.invalidArgument`) before anything is sent.
    /// Browser-form POST policies are still signed with SigV4.
    case v4a(regionSet: [String])
}
