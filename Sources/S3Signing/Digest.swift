import CCryptoShim

/// SHA-256, HMAC-SHA256 and MD5 over OpenSSL's libcrypto, CRC-32C, and lower-case hex encoding.
///
/// Pure functions; safe to call from any thread.
public enum Digest {
    /// The SHA-256 of `bytes` (32 bytes).
    public static func sha256(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 32) { out, count in
            precondition(s3_sha256(bytes.baseAddress, bytes.count, out.baseAddress) == 1, "libcrypto SHA-256 failed")
            count = 32
        }
    }

    /// The SHA-256 of `bytes` (32 bytes).
    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { sha256($0) }
    }

    /// The SHA-256 of the UTF-8 bytes of `string`.
    public static func sha256(_ string: String) -> [UInt8] {
        var s = string
        return s.withUTF8 { sha256(UnsafeRawBufferPointer($0)) }
    }

    /// HMAC-SHA256 of `data` under `key` (32 bytes).
    public static func hmacSHA256(key: UnsafeRawBufferPointer, data: UnsafeRawBufferPointer) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 32) { out, count in
            precondition(
                s3_hmac_sha256(key.baseAddress, key.count, data.baseAddress, data.count, out.baseAddress) == 1,
                "libcrypto HMAC-SHA256 failed")
            count = 32
        }
    }

    /// HMAC-SHA256 of `data` under `key` (32 bytes).
    public static func hmacSHA256(key: [UInt8], data: [UInt8]) -> [UInt8] {
        key.withUnsafeBytes { k in data.withUnsafeBytes { d in hmacSHA256(key: k, data: d) } }
    }

    /// HMAC-SHA256 of the UTF-8 bytes of `string` under `key`.
    public static func hmacSHA256(key: [UInt8], string: String) -> [UInt8] {
        var s = string
        return key.withUnsafeBytes { k in s.withUTF8 { hmacSHA256(key: k, data: UnsafeRawBufferPointer($0)) } }
    }

    /// The MD5 of `bytes` (16 bytes), as S3's `Content-MD5` wants it (before base64).
    public static func md5(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { md5($0) }
    }

    /// The MD5 of `bytes` (16 bytes).
    public static func md5(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 16) { out, count in
            precondition(s3_md5(bytes.baseAddress, bytes.count, out.baseAddress) == 1, "libcrypto MD5 failed")
            count = 16
        }
    }

    /// CRC-32C (Castagnoli) of `bytes`, continuing from `crc` (0 to start): what S3's
    /// `x-amz-checksum-crc32c` carries (big-endian, base64). Hardware-assisted where the CPU
    /// has the instruction.
    public static func crc32c(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        s3_crc32c(crc, bytes.baseAddress, bytes.count)
    }

    /// CRC-32C of `bytes`.
    public static func crc32c(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { crc32c($0) }
    }

    /// The table-driven CRC-32C, for tests that compare it with the hardware path.
    public static func crc32cPortable(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        s3_crc32c_portable(crc, bytes.baseAddress, bytes.count)
    }

    /// Whether ``crc32c(_:continuing:)`` uses the CPU's crc32 instruction.
    public static var crc32cIsHardwareAccelerated: Bool { s3_crc32c_hardware() == 1 }

    /// Lower-case hexadecimal of `bytes`.
    public static func hex<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            var n = 0
            for b in bytes {
                out[n] = hexDigits[Int(b >> 4)]
                out[n + 1] = hexDigits[Int(b & 0x0f)]
                n += 2
            }
            return n
        }
    }

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    @inline(__always)
    static func appendHex<Bytes: Sequence>(_ bytes: Bytes, to out: inout [UInt8]) where Bytes.Element == UInt8 {
        for b in bytes {
            out.append(hexDigits[Int(b >> 4)])
            out.append(hexDigits[Int(b & 0x0f)])
        }
    }

    /// The SHA-256 of an empty payload, in hex.
    public static let emptySHA256Hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
}

/// An incremental SHA-256, SHA-1 or MD5, for hashing a body as it streams.
///
/// Not thread-safe: use one instance from one task at a time.
public final class IncrementalDigest {
    /// Which hash function.
    public enum Algorithm: Int32, Sendable {
        /// SHA-256 (32-byte digest).
        case sha256 = 0
        /// MD5 (16-byte digest).
        case md5 = 1
        /// SHA-1 (20-byte digest), for S3's `x-amz-checksum-sha1`.
        case sha1 = 2

        /// The digest's length in bytes.
        public var length: Int {
            switch self {
            case .sha256: 32
            case .md5: 16
            case .sha1: 20
            }
        }
    }

    private let handle: OpaquePointer
    /// The algorithm this digest computes.
    public let algorithm: Algorithm

    /// A fresh digest state.
    public init(_ algorithm: Algorithm) {
        guard let h = s3_digest_new(algorithm.rawValue) else { fatalError("libcrypto could not create a digest") }
        self.handle = h
        self.algorithm = algorithm
    }

    deinit { s3_digest_free(handle) }

    /// Feeds bytes.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(s3_digest_update(handle, bytes.baseAddress, bytes.count) == 1, "libcrypto digest update failed")
    }

    /// Feeds bytes.
    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Returns the digest and resets the state, so the instance can hash again.
    public func finalize() -> [UInt8] {
        let n = algorithm.length
        return [UInt8](unsafeUninitializedCapacity: n) { out, count in
            precondition(s3_digest_final(handle, out.baseAddress) == 1, "libcrypto digest final failed")
            count = n
        }
    }
}
