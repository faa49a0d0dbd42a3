import Foundation
import S3Signing

/// What an object is stored with besides its bytes, content type and user metadata: tags,
/// storage class and the standard HTTP headers S3 keeps and serves back. Sent with a PUT, and
/// with the CreateMultipartUpload of an upload.
///
/// ```swift
/// var properties = S3ObjectProperties(tags: ["team": "finance", "retention": "30d"])
/// properties.cacheControl = "max-age=3600"
/// properties.storageClass = "STANDARD_IA"
/// try await bucket.putObject(key: "report.pdf", body: pdf, contentType: "application/pdf", properties: properties)
/// ```
///
/// Checked before anything is sent: at most 10 tags, keys of 1 to 128 and values of up to 256
/// characters; header values on one line.
public struct S3ObjectProperties: Sendable, Hashable {
    /// Object tags (`x-amz-tagging`), e.g. for lifecycle rules that filter on them.
    public var tags: [String: String]
    /// The storage class (`STANDARD`, `STANDARD_IA`, `INTELLIGENT_TIERING`, `GLACIER_IR`, ...);
    /// `nil`: the bucket's default.
    public var storageClass: String?
    /// `Cache-Control`, served with the object.
    public var cacheControl: String?
    /// `Content-Disposition` (e.g. `attachment; filename="a.pdf"`).
    public var contentDisposition: String?
    /// `Content-Encoding` (e.g. `gzip`: the bytes are stored as given and served with it).
    public var contentEncoding: String?
    /// `Content-Language`.
    public var contentLanguage: String?
    /// `Expires`: when caches should consider the object stale (not a deletion time).
    public var expires: Date?
    /// Server-side encryption (SSE-S3, SSE-KMS or SSE-C); `nil`: the bucket's default. Read back
    /// from a HEAD or GET as far as the store reports it (never an SSE-C key).
    public var encryption: S3Encryption?
    /// The Object Lock retention the new version gets (`x-amz-object-lock-mode` and
    /// `-retain-until-date`); `nil`: the bucket's default retention, if any. Only on a bucket
    /// with Object Lock. Read back from a HEAD or GET when the caller may see it.
    public var retention: S3ObjectRetention?
    /// Whether the new version is under a legal hold (`x-amz-object-lock-legal-hold`); `nil`:
    /// not said. Only on a bucket with Object Lock.
    public var legalHold: Bool?

    /// Properties; `nil` ones are not sent.
    public init(tags: [String: String] = [:], storageClass: String? = nil, cacheControl: String? = nil, contentDisposition: String? = nil,
                contentEncoding: String? = nil, contentLanguage: String? = nil, expires: Date? = nil, encryption: S3Encryption? = nil,
                retention: S3ObjectRetention? = nil, legalHold: Bool? = nil) {
        self.tags = tags
        self.storageClass = storageClass
        self.cacheControl = cacheControl
        self.contentDisposition = contentDisposition
        self.contentEncoding = contentEncoding
        self.contentLanguage = contentLanguage
        self.expires = expires
        self.encryption = encryption
        self.retention = retention
        self.legalHold = legalHold
    }

    /// Whether nothing is set.
    var isEmpty: Bool { self == S3ObjectProperties() }

    /// The request headers, after checking them.
    func headers(bucket: String, key: String) throws(S3Error) -> [(String, String)] {
        var out: [(String, String)] = []
        if !tags.isEmpty {
            try Validation.tags(tags, limit: 10, bucket: bucket, key: key)
            out.append(("x-amz-tagging", Self.tagQuery(tags)))
        }
        let expiresValue = try expires.map { (d) throws(S3Error) in try S3Dates.httpDate(d, header: "Expires", bucket: bucket, key: key) }
        let fields: [(String, String?)] = [("x-amz-storage-class", storageClass), ("Cache-Control", cacheControl),
                                           ("Content-Disposition", contentDisposition), ("Content-Encoding", contentEncoding),
                                           ("Content-Language", contentLanguage), ("Expires", expiresValue)]
        if let encryption {
            if case .kms(let keyID?, _, _) = encryption, keyID.isEmpty || !CredentialEndpoints.isSafeHeaderValue(keyID) {
                throw S3Error.invalidArgument("the KMS key ID must be a non-empty value on one line", bucket: bucket, key: key)
            }
            out += encryption.headers()
        }
        if let retention {
            out.append(("x-amz-object-lock-mode", retention.mode.rawValue))
            out.append(("x-amz-object-lock-retain-until-date", retention.retainUntilText))
        }
        if let legalHold { out.append(("x-amz-object-lock-legal-hold", legalHold ? "ON" : "OFF")) }
        for case let (name, value?) in fields {
            guard !value.isEmpty, !value.utf8.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) else {
                throw S3Error.invalidArgument("\(name) must be a non-empty value on one line", bucket: bucket, key: key)
            }
            out.append((name, value))
        }
        return out
    }

    /// `k1=v1&k2=v2`, each part encoded as in a query string, in key order.
    static func tagQuery(_ tags: [String: String]) -> String {
        tags.sorted { $0.key < $1.key }
            .map { S3URIEncoding.encodeQueryComponent($0.key) + "=" + S3URIEncoding.encodeQueryComponent($0.value) }
            .joined(separator: "&")
    }
}

extension Validation {
    /// S3's tag rules: at most `limit` tags (10 on an object, 50 on a bucket), keys of 1-128
    /// and values of 0-256 Unicode characters, made of letters, digits, spaces and `+ - = . _ : / @`
    /// only, no `aws:` prefix.
    static func tags(_ tags: [String: String], limit: Int, bucket: String, key: String?) throws(S3Error) {
        guard tags.count <= limit else {
            throw S3Error.invalidArgument("\(tags.count) tags; S3 allows at most \(limit)", bucket: bucket, key: key)
        }
        for (name, value) in tags {
            guard (1...128).contains(name.unicodeScalars.count) else {
                throw S3Error.invalidArgument("tag key \(String(reflecting: name)) must be 1 to 128 characters", bucket: bucket, key: key)
            }
            guard value.unicodeScalars.count <= 256 else {
                throw S3Error.invalidArgument("the value of tag \(name) is over 256 characters", bucket: bucket, key: key)
            }
            guard !name.lowercased().hasPrefix("aws:") else {
                throw S3Error.invalidArgument("tag keys starting with aws: are reserved", bucket: bucket, key: key)
            }
            for s in name.unicodeScalars + value.unicodeScalars
            where !(s.properties.isAlphabetic || s.properties.numericType != nil || s == " " || "+-=._:/@".unicodeScalars.contains(s)) {
                throw S3Error.invalidArgument("tag \(String(reflecting: name)) holds \(String(reflecting: String(s))): tags take letters, digits, "
                                              + "spaces and + - = . _ : / @ only", bucket: bucket, key: key)
            }
        }
    }
}
