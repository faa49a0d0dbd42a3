import Synchronization

/// Caches derived SigV4 signing keys per (date, region, service).
///
/// Deriving a key costs four HMACs; a signer reuses the key for every request of the day.
/// Entries of other days are dropped when a new day's key is derived, so the cache stays tiny.
public final class SigningKeyCache: Sendable {
    private struct Entry { var scope: String; var key: [UInt8] }
    private let entries = Mutex<[Entry]>([])

    /// An empty cache.
    public init() {}

    /// The signing key for `secret` and the scope `date/region/service`, derived once.
    public func key(secret: String, dateStamp: String, region: String, service: String) -> [UInt8] {
        let scope = dateStamp + "/" + region + "/" + service
        if let hit = entries.withLock({ $0.first(where: { $0.scope == scope })?.key }) { return hit }
        let key = Self.derive(secret: secret, dateStamp: dateStamp, region: region, service: service)
        entries.withLock { list in
            list.removeAll { !$0.scope.hasPrefix(dateStamp) }
            if !list.contains(where: { $0.scope == scope }) { list.append(Entry(scope: scope, key: key)) }
        }
        return key
    }

    /// Derives `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
    public static func derive(secret: String, dateStamp: String, region: String, service: String) -> [UInt8] {
        let kDate = Digest.hmacSHA256(key: Array(("AWS4" + secret).utf8), string: dateStamp)
        let kRegion = Digest.hmacSHA256(key: kDate, string: region)
        let kService = Digest.hmacSHA256(key: kRegion, string: service)
        return Digest.hmacSHA256(key: kService, string: "aws4_request")
    }
}
