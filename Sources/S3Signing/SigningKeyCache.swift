import CCryptoShim
import S3Locking

/// A signing key with its HMAC pads absorbed once (see `s3_hmac_key_new`).
final class PreparedHMACKey: Sendable {
    nonisolated(unsafe) let handle: OpaquePointer

    init(_ key: [UInt8]) {
        guard let h = key.withUnsafeBufferPointer({ s3_hmac_key_new($0.baseAddress, $0.count) }) else {
            fatalError("could not prepare an HMAC key")
        }
        handle = h
    }

    deinit { s3_hmac_key_free(handle) }

    /// HMAC-SHA256 of `data` into `out` (32 bytes).
    @inline(__always)
    func mac(_ data: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer) {
        precondition(s3_hmac_key_mac(handle, data.baseAddress, data.count, out.assumingMemoryBound(to: UInt8.self)) == 1, "HMAC failed")
    }
}

/// What a signer derives once per day: the signing key and the scope strings.
struct SigningScope: Sendable {
    let dateStamp: String
    /// `kSigning`.
    let key: [UInt8]
    /// `kSigning`, ready for fast MACs.
    let prepared: PreparedHMACKey
    /// `20130524/us-east-1/s3/aws4_request`.
    let scope: String
    /// `AKID/20130524/us-east-1/s3/aws4_request`.
    let credential: String
}

/// Caches the derived SigV4 signing key (and scope strings) of one signer per date.
///
/// Deriving a key costs four HMACs; a signer reuses it for every request of the day. Keys of
/// two dates are kept (requests around midnight), nothing more.
final class SigningKeyCache: Sendable, CustomReflectable {
    /// Derived signing keys are secrets: reflection shows none.
    var customMirror: Mirror { Mirror(self, children: [:]) }

    private let credentials: SigV4Credentials
    private let region: String
    private let service: String
    private let entries = Locked<(SigningScope?, SigningScope?)>((nil, nil))

    init(credentials: SigV4Credentials, region: String, service: String) {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    func scope(for dateStamp: String) -> SigningScope {
        if let hit = entries.withLock({ e -> SigningScope? in
            if let a = e.0, a.dateStamp == dateStamp { return a }
            if let b = e.1, b.dateStamp == dateStamp { return b }
            return nil
        }) { return hit }
        let scope = dateStamp + "/" + region + "/" + service + "/aws4_request"
        let key = SigV4Signer.signingKey(secret: credentials.secretAccessKey, dateStamp: dateStamp, region: region, service: service)
        let fresh = SigningScope(
            dateStamp: dateStamp,
            key: key,
            prepared: PreparedHMACKey(key),
            scope: scope,
            credential: credentials.accessKeyID + "/" + scope)
        entries.withLock { e in e = (fresh, e.0) }
        return fresh
    }
}
