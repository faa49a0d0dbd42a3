import CCryptoShim

/// The policy of an S3 browser-form upload (POST Object, signed with SigV4) and its signature.
///
/// A browser posts a `multipart/form-data` form to the bucket's URL: the fields this returns,
/// then the file. S3 accepts it when the policy's signature is good, it has not expired, and
/// every one of its conditions holds for the form (each form field but `file`, `policy` and
/// `x-amz-signature` must be named by a condition).
///
/// The policy is JSON written exactly as Python's `json.dumps` writes it (`", "` and `": "`
/// between items, non-ASCII as `\uXXXX`), so the same inputs at the same time give the same
/// fields, byte for byte, as botocore's `generate_presigned_post`.
public struct SigV4PostPolicy: Sendable {
    /// One condition of the policy.
    public enum Condition: Sendable, Hashable {
        /// The form field `field` must equal `value`: `{"field": "value"}`.
        case equals(field: String, value: String)
        /// The form field `field` must start with `prefix` (`""`: any value):
        /// `["starts-with", "$field", "prefix"]`.
        case startsWith(field: String, prefix: String)
        /// The file's size must lie in `min...max` bytes: `["content-length-range", min, max]`.
        case contentLengthRange(min: Int64, max: Int64)

        /// The condition as the policy's JSON holds it.
        public var json: String {
            switch self {
            case .equals(let field, let value): "{" + Self.quoted(field) + ": " + Self.quoted(value) + "}"
            case .startsWith(let field, let prefix): "[\"starts-with\", " + Self.quoted("$" + field) + ", " + Self.quoted(prefix) + "]"
            case .contentLengthRange(let min, let max): "[\"content-length-range\", \(min), \(max)]"
            }
        }

        /// `s` as a JSON string the way Python's `json.dumps` (ensure_ascii) writes it.
        static func quoted(_ s: String) -> String {
            var out = "\""
            for unit in s.utf16 {
                switch unit {
                case 0x22: out += "\\\""
                case 0x5C: out += "\\\\"
                case 0x0A: out += "\\n"
                case 0x0D: out += "\\r"
                case 0x09: out += "\\t"
                case 0x08: out += "\\b"
                case 0x0C: out += "\\f"
                case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(UInt8(unit)))
                default:
                    let hex = String(unit, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                }
            }
            return out + "\""
        }
    }

    /// The conditions, in order.
    public var conditions: [Condition]
    /// When the policy stops working, as `2026-12-07T12:00:00Z` says it.
    public var expiration: SigV4Timestamp

    /// A policy of `conditions`, expiring at `expiration`.
    public init(conditions: [Condition], expiration: SigV4Timestamp) {
        self.conditions = conditions
        self.expiration = expiration
    }

    /// `{"expiration": "...", "conditions": [...]}`.
    public var json: String {
        let d = Array(expiration.amzDate.utf8)
        func part(_ r: Range<Int>) -> String { String(decoding: d[r], as: UTF8.self) }
        let iso = part(0..<4) + "-" + part(4..<6) + "-" + part(6..<8) + "T" + part(9..<11) + ":" + part(11..<13) + ":" + part(13..<15) + "Z"
        return "{\"expiration\": \"" + iso + "\", \"conditions\": [" + conditions.map(\.json).joined(separator: ", ") + "]}"
    }
}

extension SigV4Signer {
    /// Signs a browser-form upload at `time`: appends to `policy` the conditions SigV4 requires
    /// (`x-amz-algorithm`, `x-amz-credential`, `x-amz-date`, and `x-amz-security-token` with a
    /// session token), and returns `fields` followed by those fields, `policy` (the JSON in
    /// base64) and `x-amz-signature` (HMAC-SHA256 of that base64 text with the day's signing
    /// key, in hex): the form's fields, in the order to send them, before the file.
    public func signPostPolicy(_ policy: SigV4PostPolicy, fields: [(String, String)], at time: SigV4Timestamp) -> [(String, String)] {
        let scope = cache.scope(for: time.dateStamp)
        var policy = policy
        var fields = fields
        let signing: [(String, String)] = [("x-amz-algorithm", "AWS4-HMAC-SHA256"), ("x-amz-credential", scope.credential),
                                           ("x-amz-date", time.amzDate)]
            + (credentials.sessionToken.map { [("x-amz-security-token", $0)] } ?? [])
        for (name, value) in signing {
            fields.append((name, value))
            policy.conditions.append(.equals(field: name, value: value))
        }
        let json = Array(policy.json.utf8)
        // libcrypto's base64 (EVP_EncodeBlock), as every other primitive here.
        let encoded = String(unsafeUninitializedCapacity: 4 * ((json.count + 2) / 3) + 1) { out in
            out.withMemoryRebound(to: CChar.self) { chars in
                json.withUnsafeBytes { Int(s3_base64($0.baseAddress, $0.count, chars.baseAddress)) }
            }
        }
        fields.append(("policy", encoded))
        fields.append(("x-amz-signature", Digest.hex(Digest.hmacSHA256(key: scope.key, string: encoded))))
        return fields
    }
}
