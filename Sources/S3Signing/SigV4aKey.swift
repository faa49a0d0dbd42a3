import CCryptoShim

/// The ECDSA P-256 key pair of SigV4a, derived from an access key pair as AWS specifies: a
/// counter-mode KDF (NIST SP 800-108) with HMAC-SHA256 keyed by `"AWS4A" + secret`, over the
/// label `AWS4-ECDSA-P256-SHA256` and the context access key ID + counter byte, yields 256-bit
/// candidates; the first not above the curve order minus 2, plus 1, is the private key.
///
/// The same credentials always give the same key (so a server that knows the secret can check
/// a signature with the public key), while each signature differs (ECDSA draws a nonce).
/// Immutable and safe to share; signing allocates one digest context per call.
public final class SigV4aKey: Sendable, CustomReflectable {
    /// The libcrypto key; only read after init (signing is thread-safe on a read-only key).
    private let key: PointerBox
    /// The public key, uncompressed: 0x04, then X and Y (32 bytes each, big-endian).
    public let publicKey: [UInt8]

    private struct PointerBox: @unchecked Sendable { let pointer: OpaquePointer }

    /// Errors of deriving or using a key.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// No candidate of the 254 counters was small enough (practically impossible), or
        /// libcrypto failed.
        case derivationFailed
        /// libcrypto could not sign.
        case signingFailed
        /// A region set that is empty, or holds an empty name or one with a comma or white space.
        case invalidRegionSet([String])
        public var description: String {
            switch self {
            case .derivationFailed: "deriving the SigV4a key failed"
            case .signingFailed: "ECDSA signing failed"
            case .invalidRegionSet(let set): "a SigV4a region set is one or more region names (or *), got \(set)"
            }
        }
    }

    /// Derives the key of `accessKeyID` and `secretAccessKey`.
    public init(accessKeyID: String, secretAccessKey: String) throws(Failure) {
        let hmacKey = Array(("AWS4A" + secretAccessKey).utf8)
        // Fixed input of one KDF iteration: i (1, 4 bytes big-endian) || label || 0x00 ||
        // access key ID || counter byte || L (256, 4 bytes big-endian).
        var input: [UInt8] = [0, 0, 0, 1] + Array("AWS4-ECDSA-P256-SHA256".utf8) + [0] + Array(accessKeyID.utf8)
        let counterIndex = input.count
        input += [1, 0, 0, 1, 0]
        for counter in UInt8(1)...254 {
            input[counterIndex] = counter
            let candidate = Digest.hmacSHA256(key: hmacKey, data: input)
            var rejected: Int32 = 0
            if let made = candidate.withUnsafeBufferPointer({ s3_p256_key_from_candidate($0.baseAddress, &rejected) }) {
                var q = [UInt8](repeating: 0, count: 65)
                _ = s3_p256_key_public(made, &q)
                self.key = PointerBox(pointer: made)
                self.publicKey = q
                return
            }
            guard rejected == 1 else { throw .derivationFailed }
        }
        throw .derivationFailed
    }

    deinit { s3_p256_key_free(key.pointer) }

    /// The key as `dump()` and `Mirror` show it: the public key only.
    public var customMirror: Mirror { Mirror(self, children: ["publicKey": Digest.hex(publicKey)], displayStyle: .class) }

    /// An ECDSA signature (DER) over the SHA-256 of `message`.
    public func sign(_ message: UnsafeRawBufferPointer) throws(Failure) -> [UInt8] {
        var der = [UInt8](repeating: 0, count: 72)
        var length = 0
        let ok = der.withUnsafeMutableBufferPointer { s3_p256_key_sign(key.pointer, message.baseAddress, message.count, $0.baseAddress, &length) }
        guard ok == 1 else { throw .signingFailed }
        return Array(der[..<length])
    }

    /// Whether `signature` (DER) is an ECDSA signature over the SHA-256 of `message` by the
    /// key whose uncompressed public key is `publicKey`.
    public static func verify(publicKey: [UInt8], message: [UInt8], signature: [UInt8]) -> Bool {
        guard publicKey.count == 65 else { return false }
        return s3_p256_verify(publicKey, message, message.count, signature, signature.count) == 1
    }
}
