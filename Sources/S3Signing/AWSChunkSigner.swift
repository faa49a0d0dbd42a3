/// Signs the chunks of an `aws-chunked` body (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`), each
/// signature chained to the one before, starting from the seed signature of the headers.
///
/// Create one with ``SigV4Signer/chunkSigner(seedSignature:at:)``. A value type: sign chunks
/// in order on one copy.
public struct AWSChunkSigner: Sendable {
    let key: [UInt8]
    let amzDate: String
    let scope: String
    /// The last signature produced (the seed before any chunk).
    public private(set) var previousSignature: String

    init(key: [UInt8], amzDate: String, scope: String, previousSignature: String) {
        self.key = key
        self.amzDate = amzDate
        self.scope = scope
        self.previousSignature = previousSignature
    }

    /// The signature of the next chunk (the final chunk is empty).
    public mutating func signChunk(_ chunk: UnsafeRawBufferPointer) -> String {
        var sts = [UInt8]()
        sts.reserveCapacity(320)
        sts.append(contentsOf: "AWS4-HMAC-SHA256-PAYLOAD\n".utf8)
        sts.append(contentsOf: amzDate.utf8); sts.append(10)
        sts.append(contentsOf: scope.utf8); sts.append(10)
        sts.append(contentsOf: previousSignature.utf8); sts.append(10)
        sts.append(contentsOf: Digest.emptySHA256Hex.utf8); sts.append(10)
        Digest.appendHex(Digest.sha256(chunk), to: &sts)
        previousSignature = Digest.hex(Digest.hmacSHA256(key: key, data: sts))
        return previousSignature
    }

    /// The signature of the next chunk (the final chunk is empty).
    public mutating func signChunk(_ chunk: [UInt8]) -> String {
        chunk.withUnsafeBytes { signChunk($0) }
    }

    /// The signature of the trailer that follows the final chunk. `trailer` lists the
    /// trailing headers as `name:value`, each followed by `\n`.
    public mutating func signTrailer(_ trailer: String) -> String {
        var sts = [UInt8]()
        sts.append(contentsOf: "AWS4-HMAC-SHA256-TRAILER\n".utf8)
        sts.append(contentsOf: amzDate.utf8); sts.append(10)
        sts.append(contentsOf: scope.utf8); sts.append(10)
        sts.append(contentsOf: previousSignature.utf8); sts.append(10)
        Digest.appendHex(Digest.sha256(trailer), to: &sts)
        previousSignature = Digest.hex(Digest.hmacSHA256(key: key, data: sts))
        return previousSignature
    }

    /// The framing of one chunk: `hex(size);chunk-signature=SIG\r\n` (data and `\r\n` follow).
    public static func chunkHeader(size: Int, signature: String) -> String {
        String(size, radix: 16) + ";chunk-signature=" + signature + "\r\n"
    }

    /// The encoded length of an aws-chunked body of `decodedLength` bytes in `chunkSize` chunks
    /// (for `Content-Length`), final zero chunk included, no trailer.
    public static func encodedLength(decodedLength: Int, chunkSize: Int) -> Int {
        func frame(_ n: Int) -> Int { String(n, radix: 16).utf8.count + 17 + 64 + 2 + n + 2 }
        let full = decodedLength / chunkSize
        let rest = decodedLength % chunkSize
        return full * frame(chunkSize) + (rest > 0 ? frame(rest) : 0) + frame(0)
    }
}
