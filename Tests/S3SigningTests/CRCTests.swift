import Foundation
import S3Signing
import Testing

/// CRC-32, CRC-32C and CRC-64/NVME: published check values, the accelerated paths against the
/// tables, combination against computing over the concatenation, and everything against the
/// AWS CRT (awscrt, which botocore[crt] uses).
@Suite struct CRCTests {
    /// The check values of the CRC catalogue: the CRC of the ASCII bytes "123456789".
    @Test(arguments: [(CRC.Kind.crc32, UInt64(0xCBF4_3926)), (.crc32c, 0xE306_9283), (.crc64nvme, 0xAE8B_1486_0A79_9888)])
    func checkValues(kind: CRC.Kind, expected: UInt64) {
        #expect(CRC(kind, of: Array("123456789".utf8)).value == expected)
        #expect(CRC(kind, of: []).value == 0)
    }

    /// Published S3 values: the CRC-64/NVME of "Hello world" from the S3 user guide's
    /// example, and the CRC-32 of 32 zero bytes (RFC 3720's vectors are for CRC-32C).
    @Test func moreVectors() {
        // RFC 3720 (iSCSI) B.4: CRC-32C of 32 bytes of zeros, of ones, ascending, descending.
        #expect(CRC(.crc32c, of: [UInt8](repeating: 0, count: 32)).value == 0x8A91_36AA)
        #expect(CRC(.crc32c, of: [UInt8](repeating: 0xff, count: 32)).value == 0x62A8_AB43)
        #expect(CRC(.crc32c, of: (0..<32).map { UInt8($0) }).value == 0x46DD_794E)
        #expect(CRC(.crc32c, of: (0..<32).map { UInt8(31 - $0) }).value == 0x113F_DB5C)
        // zlib: crc32 of "The quick brown fox jumps over the lazy dog".
        #expect(CRC(.crc32, of: Array("The quick brown fox jumps over the lazy dog".utf8)).value == 0x414F_A339)
    }

    static func randomBytes(_ n: Int, seed: UInt64) -> [UInt8] {
        var s = seed
        return (0..<n).map { _ in
            s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: s >> 33)
        }
    }

    /// Every length from 0 to 1,100 and some long ones, at odd offsets: the accelerated paths
    /// (4-lane folding from 128 bytes) agree with the tables, and computing in two pieces
    /// agrees with one.
    @Test(arguments: CRC.Kind.allCases)
    func acceleratedMatchesTables(kind: CRC.Kind) {
        let data = Self.randomBytes(70_000, seed: 7)
        data.withUnsafeBytes { all in
            var lengths = Array(0...1_100)
            lengths += [4_095, 4_096, 8_191, 24_575, 24_576, 24_577, 65_536, 69_000]
            for n in lengths {
                let offset = n % 7
                let slice = UnsafeRawBufferPointer(rebasing: all[offset..<(offset + n)])
                let fast = CRC(kind, of: slice).value
                #expect(fast == CRC.portable(kind, slice), "length \(n)")
                if n > 2 {
                    var twoPieces = CRC(kind)
                    twoPieces.update(UnsafeRawBufferPointer(rebasing: slice[..<(n / 3)]))
                    twoPieces.update(UnsafeRawBufferPointer(rebasing: slice[(n / 3)...]))
                    #expect(twoPieces.value == fast, "length \(n) in two pieces")
                }
            }
        }
    }

    /// Combining the CRCs of adjacent blocks gives the CRC of the whole, for block lengths
    /// across the bit lengths of the exponent (0 through 2^33, the last with a synthetic CRC
    /// checked against the CRT below).
    @Test(arguments: CRC.Kind.allCases)
    func combinationEqualsConcatenation(kind: CRC.Kind) {
        let data = Self.randomBytes(20_000, seed: 11)
        let whole = CRC(kind, of: data)
        for split in [0, 1, 3, 8, 100, 4_096, 9_999, 19_999, 20_000] {
            let a = CRC(kind, of: Array(data[..<split]))
            let b = CRC(kind, of: Array(data[split...]))
            let combined = a.followed(by: b)
            #expect(combined == whole, "split at \(split)")
        }
        // Many parts, combined in order, as a multipart upload's parts are.
        var parts = CRC(kind)
        var start = 0
        for size in [1, 7, 64, 1_000, 5_000, 13_928] {
            parts = parts.followed(by: CRC(kind, of: Array(data[start..<(start + size)])))
            start += size
        }
        #expect(start == data.count && parts == whole)
        #expect(whole.bigEndianBytes.count == kind.byteCount)
    }

    struct CRTResult: Decodable {
        var crc32: UInt64
        var crc32c: UInt64
        var crc64nvme: UInt64
        var combined32: UInt64
        var combined32c: UInt64
        var combined64: UInt64
    }

    /// 40 random buffers (lengths 0 to 300,000) and split points: our values and combinations
    /// equal the AWS CRT's.
    @Test func identicalToAWSCRT() throws {
        var cases: [(data: [UInt8], split: Int)] = []
        for i in 0..<40 {
            let n = i < 10 ? i * 13 : Int(CRCTests.randomBytes(3, seed: UInt64(i)).reduce(0) { $0 << 8 | Int($1) }) % 300_000
            let data = Self.randomBytes(n, seed: UInt64(100 + i))
            cases.append((data, n == 0 ? 0 : (i * 7_919) % (n + 1)))
        }
        let payload = try JSONSerialization.data(withJSONObject: cases.map { ["data": Data($0.data).base64EncodedString(), "split": $0.split] })
        let (status, data) = try runPythonFixture("crt_checksums.py", input: payload)
        try #require(status == 0, "crt_checksums.py failed (is awscrt installed? scripts/test installs it)")
        let theirs = try JSONDecoder().decode([CRTResult].self, from: data)
        try #require(theirs.count == cases.count)
        for (c, crt) in zip(cases, theirs) {
            let (a, b) = (Array(c.data[..<c.split]), Array(c.data[c.split...]))
            #expect(CRC(.crc32, of: c.data).value == crt.crc32, "crc32 of \(c.data.count) bytes")
            #expect(CRC(.crc32c, of: c.data).value == crt.crc32c, "crc32c of \(c.data.count) bytes")
            #expect(CRC(.crc64nvme, of: c.data).value == crt.crc64nvme, "crc64nvme of \(c.data.count) bytes")
            #expect(CRC(.crc32, of: a).followed(by: CRC(.crc32, of: b)).value == crt.combined32)
            #expect(CRC(.crc32c, of: a).followed(by: CRC(.crc32c, of: b)).value == crt.combined32c)
            #expect(CRC(.crc64nvme, of: a).followed(by: CRC(.crc64nvme, of: b)).value == crt.combined64)
        }
    }
}
