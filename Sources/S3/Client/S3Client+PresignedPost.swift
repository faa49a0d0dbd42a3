import Foundation
import S3Signing

/// Which keys a browser-form upload may write.
public enum S3PostKey: Sendable, Hashable {
    /// Exactly this key.
    case exactly(String)
    /// Any key starting with this prefix: the form's `key` field is `prefix${filename}`, which
    /// S3 completes with the name of the file the browser sends (the person may edit the
    /// field, but S3 refuses a key outside the prefix).
    case prefix(String)
}

/// One rule a browser-form upload must keep (S3's POST policy conditions). The rules that
/// fix a field's value also put that field into the form; a `startsWith` rule leaves the
/// value to the form (a field the page fills in).
public struct S3PostCondition: Sendable, Hashable {
    let condition: SigV4PostPolicy.Condition

    /// The form field the condition fixes, if it fixes one (an `equals` condition does).
    var field: (name: String, value: String)? {
        if case .equals(let name, let value) = condition { return (name, value) }
        return nil
    }

    /// The file's size in bytes must lie in `range` (S3 refuses others with `EntityTooLarge` or
    /// `EntityTooSmall`).
    public static func contentLength(_ range: ClosedRange<Int64>) -> S3PostCondition {
        S3PostCondition(condition: .contentLengthRange(min: range.lowerBound, max: range.upperBound))
    }

    /// The object's `Content-Type` is `type` (the form sends it).
    public static func contentType(_ type: String) -> S3PostCondition { field("Content-Type", equals: type) }

    /// The object's `Content-Type` starts with `prefix` (`image/`, say); the page sets the field.
    public static func contentType(startingWith prefix: String) -> S3PostCondition { field("Content-Type", startsWith: prefix) }

    /// User metadata `x-amz-meta-<name>` is `value` (the form sends it).
    public static func metadata(_ name: String, _ value: String) -> S3PostCondition {
        field("x-amz-meta-" + name.lowercased(), equals: value)
    }

    /// S3 answers a successful upload with this status (200 or 204 with no body, 201 with an
    /// XML document) instead of its default 204.
    public static func successActionStatus(_ status: Int) -> S3PostCondition {
        field("success_action_status", equals: String(status))
    }

    /// S3 answers a successful upload by redirecting the browser to `url` (with the bucket,
    /// key and ETag in its query).
    public static func successActionRedirect(_ url: String) -> S3PostCondition {
        field("success_action_redirect", equals: url)
    }

    /// The file must have this checksum (`value` in base64, as S3's `x-amz-checksum-*`
    /// headers carry it); S3 refuses a file whose bytes do not match.
    public static func checksum(_ algorithm: S3ChecksumAlgorithm, _ value: String) -> S3PostCondition {
        field(algorithm.headerName, equals: value)
    }

    /// Any form field `name` must be `value` (the form sends it): `acl`, `Cache-Control`,
    /// `Content-Disposition`, `x-amz-storage-class`, `x-amz-server-side-encryption`, ...
    public static func field(_ name: String, equals value: String) -> S3PostCondition {
        S3PostCondition(condition: .equals(field: name, value: value))
    }

    /// Form field `name` must start with `prefix` (`""`: any value); the page sets the field.
    public static func field(_ name: String, startsWith prefix: String) -> S3PostCondition {
        S3PostCondition(condition: .startsWith(field: name, prefix: prefix))
    }

    /// The field's name, for checks; nil for the size range.
    var fieldName: String? {
        switch condition {
        case .equals(let name, _), .startsWith(let name, _): name
        case .contentLengthRange: nil
        }
    }
}

/// What a browser needs to upload one file straight to a bucket: a `multipart/form-data` POST
/// to ``url`` with ``fields`` in this order and then the file as the last field, `file`.
///
/// ```html
/// <form action="{url}" method="post" enctype="multipart/form-data">
///   <input type="hidden" name="{name}" value="{value}">   <!-- one per field -->
///   <input type="file" name="file"> <input type="submit">
/// </form>
/// ```
public struct S3PresignedPost: Sendable, Hashable {
    /// A form field.
    public struct Field: Sendable, Hashable {
        /// The field's name, as the form sends it.
        public var name: String
        /// Its value.
        public var value: String
        /// A field `name` of `value`.
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }
    /// Where to post the form: the bucket's URL.
    public var url: String
    /// The form's fields, in order: those the conditions fix, `key`, the signing fields,
    /// `policy`, `x-amz-signature`.
    public var fields: [Field]
    /// When the policy stops working.
    public var expires: Date

    /// A form of these fields posting to `url` (one received from elsewhere, say).
    public init(url: String, fields: [Field], expires: Date) {
        self.url = url
        self.fields = fields
        self.expires = expires
    }

    /// The value of field `name`, if the form has it.
    public subscript(field name: String) -> String? { fields.first { $0.name == name }?.value }
}

extension S3Client {
    /// A signed policy for browser-form uploads (S3's POST Object): anyone holding the returned
    /// URL and fields can upload one file to `bucket` under `key` until `expiresIn` seconds
    /// after `date`, as long as every condition holds; nothing is sent now.
    ///
    /// ```swift
    /// let post = try await client.presignedPost(bucket: "uploads", key: .prefix("photos/"),
    ///                                           conditions: [.contentLength(1...10 << 20), .contentType(startingWith: "image/")])
    /// // post.url and post.fields go into the page's form; the browser adds Content-Type and the file.
    /// ```
    ///
    /// Bad input (a bucket name or key S3 refuses, an expiry outside 1...604,800 s, a negative
    /// size range, a success status other than 200, 201 or 204, a condition on a field the
    /// signature sets) throws ``S3Error/Code-swift.struct/invalidArgument`` at once.
    public func presignedPost(bucket: String, key: S3PostKey, conditions: [S3PostCondition] = [], expiresIn: Int = 3600,
                              date: Date = Date()) async throws -> S3PresignedPost {
        try Validation.bucketName(bucket)
        let keyField: String
        let keyCondition: SigV4PostPolicy.Condition
        switch key {
        case .exactly(let k):
            try Validation.key(k, bucket: bucket)
            (keyField, keyCondition) = (k, .equals(field: "key", value: k))
        case .prefix(let p):
            if !p.isEmpty { try Validation.key(p, bucket: bucket) }
            (keyField, keyCondition) = (p + "${filename}", .startsWith(field: "key", prefix: p))
        }
        guard (1...SigV4Signer.maximumPresignExpiry).contains(expiresIn) else {
            throw S3Error.invalidArgument("a presigned POST's expiry must be between 1 and 604800 seconds (7 days), got \(expiresIn)", bucket: bucket)
        }
        let reserved: Set<String> = ["key", "bucket", "policy", "file", "x-amz-signature", "x-amz-algorithm", "x-amz-credential",
                                     "x-amz-date", "x-amz-security-token"]
        for c in conditions {
            if case .contentLengthRange(let min, let max) = c.condition, min < 0 || max < min {
                throw S3Error.invalidArgument("a POST's content-length range \(min)...\(max) is not a range of sizes", bucket: bucket)
            }
            if let name = c.fieldName {
                if name.isEmpty || reserved.contains(name.lowercased()) {
                    throw S3Error.invalidArgument("a POST condition cannot be on the field \"\(name)\": the key argument or the signature sets it", bucket: bucket)
                }
                if name.utf8.contains(where: { $0 < 0x21 || $0 > 0x7E || $0 == UInt8(ascii: "\"") }) {
                    throw S3Error.invalidArgument("\"\(name)\" is not a form field name S3 accepts", bucket: bucket)
                }
            }
            if case .equals("success_action_status", let v) = c.condition, !["200", "201", "204"].contains(v) {
                throw S3Error.invalidArgument("success_action_status must be 200, 201 or 204, got \(v)", bucket: bucket)
            }
        }
        let seconds = Int(date.timeIntervalSince1970)
        let learnt = bucketRegions.region(of: bucket)
        let policy = SigV4PostPolicy(conditions: conditions.map(\.condition) + [.equals(field: "bucket", value: bucket), keyCondition],
                                     expiration: SigV4Timestamp(secondsSince1970: seconds + expiresIn))
        let identity = try await signingIdentity()
        let fields = identity.signer(for: learnt ?? configuration.region)
            .signPostPolicy(policy, fields: conditions.compactMap(\.field) + [("key", keyField)], at: SigV4Timestamp(secondsSince1970: seconds))
        return S3PresignedPost(url: addressing.target(bucket: bucket, key: nil, query: [], region: learnt).url,
                               fields: fields.map { S3PresignedPost.Field(name: $0.0, value: $0.1) },
                               expires: Date(timeIntervalSince1970: TimeInterval(seconds + expiresIn)))
    }
}
