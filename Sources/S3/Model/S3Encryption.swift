import Foundation
import S3Signing

/// How the store encrypts an object at rest, set on a write with
/// ``S3ObjectProperties/encryption``.
public enum S3Encryption: Sendable, Hashable, CustomStringConvertible {
    /// SSE-S3: keys the store manages (`x-amz-server-side-encryption: AES256`).
    case s3
    /// SSE-KMS: a KMS key (`aws:kms`), by ID or alias (`nil`: the account's default key), an
    /// optional encryption context, and whether to use an S3 Bucket Key.
    case kms(keyID: String?, context: [String: String]? = nil, bucketKey: Bool? = nil)
    /// SSE-C: a key of yours, which the store uses and forgets: every read (GET, HEAD, each
    /// range) must send it again (``S3Client/withCustomerKey(_:operation:)``).
    case customerKey(S3CustomerKey)

    /// The request headers of a write.
    func headers() -> [(String, String)] {
        switch self {
        case .s3:
            return [("x-amz-server-side-encryption", "AES256")]
        case .kms(let keyID, let context, let bucketKey):
            var out = [("x-amz-server-side-encryption", "aws:kms")]
            if let keyID { out.append(("x-amz-server-side-encryption-aws-kms-key-id", keyID)) }
            if let context, let json = try? JSONSerialization.data(withJSONObject: context, options: [.sortedKeys]) {
                out.append(("x-amz-server-side-encryption-context", json.base64EncodedString()))
            }
            if let bucketKey { out.append(("x-amz-server-side-encryption-bucket-key-enabled", bucketKey ? "true" : "false")) }
            return out
        case .customerKey(let key):
            return key.headers()
        }
    }

    /// Names the kind; never a customer key.
    public var description: String {
        switch self {
        case .s3: return "SSE-S3"
        case .kms(let keyID, _, _): return "SSE-KMS(\(keyID ?? "default key"))"
        case .customerKey: return "SSE-C(<redacted>)"
        }
    }
}

/// A 256-bit key for SSE-C. It is sent, with its MD5, on every request that writes or reads
/// the object (and on each part and range of a transfer), and never printed, logged or
/// reflected.
public struct S3CustomerKey: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    let bytes: [UInt8]

    /// A key of exactly 32 bytes; anything else is `.invalidArgument`.
    public init(_ bytes: [UInt8]) throws {
        guard bytes.count == 32 else {
            throw S3Error.invalidArgument("an SSE-C key must be 32 bytes (AES-256), got \(bytes.count)")
        }
        self.bytes = bytes
    }

    /// `x-amz-server-side-encryption-customer-algorithm`, `-key` and `-key-MD5`, optionally
    /// with the `x-amz-copy-source-` prefix.
    func headers(copySource: Bool = false) -> [(String, String)] {
        let prefix = copySource ? "x-amz-copy-source-server-side-encryption-customer-" : "x-amz-server-side-encryption-customer-"
        return [(prefix + "algorithm", "AES256"), (prefix + "key", Data(bytes).base64EncodedString()),
                (prefix + "key-MD5", Data(Digest.md5(bytes)).base64EncodedString())]
    }

    public var description: String { "S3CustomerKey(<redacted>)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["bytes": "<redacted>"], displayStyle: .struct) }

    /// The key in effect for requests of this task (``S3Client/withCustomerKey(_:operation:)``).
    @TaskLocal static var current: S3CustomerKey?

    /// Runs `operation` (the requests of a multipart write: create, parts, complete) with the
    /// key its parts must carry for an object written with `encryption`: that customer key, none
    /// for another encryption (even inside a ``S3Client/withCustomerKey(_:operation:)`` scope),
    /// the scope's when `nil`.
    static func forWrites<T>(of encryption: S3Encryption?, _ operation: () async throws -> T) async rethrows -> T {
        switch encryption {
        case nil:
            return try await operation()
        case .customerKey(let key)?:
            return current == key ? try await operation() : try await $current.withValue(key, operation: operation)
        case _?:
            return current == nil ? try await operation() : try await $current.withValue(nil, operation: operation)
        }
    }
}

extension S3Client {
    /// Runs `operation` with `key` sent on every object read and write it (and its child tasks)
    /// makes: GETs, HEADs, PUTs, each range of a download and each part of an upload. What SSE-C
    /// needs to read an object written with ``S3Encryption/customerKey(_:)``.
    ///
    /// ```swift
    /// let key = try S3CustomerKey(myKeyBytes)
    /// try await bucket.putObject(key: "secret.bin", body: data, properties: S3ObjectProperties(encryption: .customerKey(key)))
    /// let bytes = try await S3Client.withCustomerKey(key) { try await bucket.getObject(key: "secret.bin").body() }
    /// ```
    public static func withCustomerKey<T>(_ key: S3CustomerKey, operation: () async throws -> T) async rethrows -> T {
        try await S3CustomerKey.$current.withValue(key, operation: operation)
    }
}
