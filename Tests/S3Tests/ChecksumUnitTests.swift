import Foundation
import S3HTTP
import S3Signing
import Testing
@testable import S3

/// The pure parts of checksums: reading them from headers, combining part CRCs into the whole
/// object's, composite checksums, store profiles.
@Suite struct ChecksumUnitTests {
    @Test func readsChecksumsFromHeaders() {
        let full = S3Checksum.from(HTTPHeaders([("x-amz-checksum-crc32c", "yZRlqg=="), ("x-amz-checksum-type", "FULL_OBJECT"),
                                                ("ETag", "\"abc-3\"")]))
        #expect(full == S3Checksum(algorithm: .crc32c, value: "yZRlqg=="))
        // A `-N` suffix, or the type, says composite.
        #expect(S3Checksum.from(HTTPHeaders([("x-amz-checksum-crc32", "swfkpA==-3")]))?.kind == .composite(parts: 3))
        #expect(S3Checksum.from(HTTPHeaders([("x-amz-checksum-crc32", "swfkpA=="), ("x-amz-checksum-type", "COMPOSITE")]))?.kind
            == .composite(parts: 0))
        #expect(S3Checksum.from(HTTPHeaders([("x-amz-checksum-crc32", "swfkpA==-3")]))?.value == "swfkpA==")
        // No type and no suffix: full-object on a single-part object; unknown on a multipart one.
        #expect(S3Checksum.from(HTTPHeaders([("x-amz-checksum-sha256", "x"), ("ETag", "\"0123\"")]))?.kind == .fullObject)
        #expect(S3Checksum.from(HTTPHeaders([("x-amz-checksum-crc32", "lzjPFg=="), ("ETag", "\"c6e5-3\"")])) == nil)
        #expect(S3Checksum.from(HTTPHeaders([("x-amz-checksum-mode", "ENABLED")])) == nil)
        // Values decode only at the algorithm's length.
        #expect(S3Checksum(algorithm: .crc32c, value: "yZRlqg==").crcValue == 0xC994_65AA)
        #expect(S3Checksum(algorithm: .crc64nvme, value: "yZRlqg==").bytes == nil)
    }

    @Test func combinesPartCRCsIntoTheWholeObjects() {
        let data = (0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let sizes = [20_000, 20_000, 10_000]
        var start = 0
        var parts: [S3CompletedPart] = []
        for (i, size) in sizes.enumerated() {
            let crc = CRC(.crc64nvme, of: Array(data[start..<(start + size)]))
            parts.append(S3CompletedPart(partNumber: i + 1, eTag: "e", checksum: S3Checksum(algorithm: .crc64nvme, bytes: crc.bigEndianBytes),
                                         size: Int64(size)))
            start += size
        }
        let whole = S3Client.fullObjectChecksum(parts, algorithm: .crc64nvme)
        #expect(whole?.value == Data(CRC(.crc64nvme, of: data).bigEndianBytes).base64EncodedString())
        // A part without its size or of another algorithm: no whole-object value (the store computes it).
        var missing = parts
        missing[1].size = nil
        #expect(S3Client.fullObjectChecksum(missing, algorithm: .crc64nvme) == nil)
        #expect(S3Client.fullObjectChecksum(parts, algorithm: .crc32c) == nil)
    }

    @Test func compositeCheckerCutsAtThePartBoundaries() {
        let data = (0..<30_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let sizes: [Int64] = [12_000, 12_000, 6_000]
        // The composite CRC-32: the CRC of the parts' CRCs, big-endian, concatenated.
        var digests: [UInt8] = []
        var start = 0
        for size in sizes {
            digests += CRC(.crc32, of: Array(data[start..<(start + Int(size))])).bigEndianBytes
            start += Int(size)
        }
        let value = Data(CRC(.crc32, of: digests).bigEndianBytes).base64EncodedString()
        let expected = S3Checksum(algorithm: .crc32, value: value, kind: .composite(parts: 3))
        var checker = CompositeChecker(expected: expected, sizes: sizes)!
        // Fed in chunks that straddle the boundaries.
        for chunk in stride(from: 0, to: data.count, by: 7_001) {
            Array(data[chunk..<min(chunk + 7_001, data.count)]).withUnsafeBytes { checker.update($0) }
        }
        #expect(checker.finish()?.value == value)
        // Too few or too many bytes: nothing can be said (never a false mismatch).
        var short = CompositeChecker(expected: expected, sizes: sizes)!
        Array(data[..<29_999]).withUnsafeBytes { short.update($0) }
        #expect(short.finish() == nil)
        var long = CompositeChecker(expected: expected, sizes: sizes)!
        (data + [1]).withUnsafeBytes { long.update($0) }
        #expect(long.finish() == nil)
        // Sizes that do not match the part count: no checker.
        #expect(CompositeChecker(expected: expected, sizes: [30_000]) == nil)
        #expect(CompositeChecker(expected: S3Checksum(algorithm: .crc32, value: value), sizes: sizes) == nil)
    }

    @Test func storeProfilesSayWhatTheyChange() throws {
        #expect(S3StoreProfile.r2.defaultChecksumAlgorithm == .crc64nvme)
        #expect(S3StoreProfile.r2.acceptsFullObjectMultipart(.crc64nvme) && !S3StoreProfile.r2.acceptsFullObjectMultipart(.crc32c))
        #expect(!S3StoreProfile.minio.acceptsFullObjectMultipart(.crc32c))
        #expect(S3StoreProfile.seaweedfs.acceptsFullObjectMultipart(.crc32c) && !S3StoreProfile.seaweedfs.hasPublicAccessBlock)
        #expect(!S3StoreProfile.gcs.hasDeleteObjects && !S3StoreProfile.b2.acceptsChecksumHeaders)
        var configuration = try S3Configuration(endpoint: "https://s3.us-west-004.backblazeb2.com", credentials: SigV4Credentials(
            accessKeyID: "a", secretAccessKey: "s"))
        #expect(try configuration.uploadChecksum(bucket: "b", key: "k") == nil)
        #expect(!configuration.validatesReads)
        // Unsigned bodies need their checksum whatever the mode; a store that refuses the
        // headers cannot take them at all.
        configuration.payloadProtection = .checksumOnly
        configuration.checksums = .whenRequired
        #expect(throws: S3Error.self) { try configuration.uploadChecksum(bucket: "b", key: "k") }
        configuration.store = .other
        #expect(try configuration.uploadChecksum(bucket: "b", key: "k") == .crc32c)
    }
}
