import S3Signing

enum S3TestDigest {
    static func sha256Hex(_ bytes: [UInt8]) -> String { Digest.hex(Digest.sha256(bytes)) }
}
