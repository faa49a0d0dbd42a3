import Testing
@testable import S3Signing

/// The S3 examples of the AWS documentation (see GUIDE.md section 8), reproduced exactly.
@Suite struct SigV4VectorTests {
    let s3 = SigV4Signer(
        credentials: SigV4Credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1")
    let time = SigV4Timestamp(secondsSince1970: 1_369_353_600)
    let host = ("host", "examplebucket.s3.amazonaws.com")

    @Test func timestampFormats() {
        #expect(time.amzDate == "20130524T000000Z")
        #expect(time.dateStamp == "20130524")
        #expect(SigV4Timestamp(secondsSince1970: 1_440_938_160).amzDate == "20150830T123600Z")
        #expect(SigV4Timestamp(amzDate: "20150830T123600Z")?.dateStamp == "20150830")
        #expect(SigV4Timestamp(amzDate: "2015-08-30") == nil)
    }

    @Test func getObjectWithRange() {
        var r = SigV4Request(method: "GET", path: "/test.txt", headers: [host, ("Range", "bytes=0-9")], payloadHash: Digest.emptySHA256Hex)
        let sig = s3.sign(&r, at: time)
        #expect(sig == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(r.header("authorization") == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test func putObject() {
        let body = "Welcome to Amazon S3."
        let hash = Digest.hex(Digest.sha256(body))
        #expect(hash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        var r = SigV4Request(
            method: "PUT", path: S3URIEncoding.encodePath("/test$file.text"),
            headers: [host, ("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY")],
            payloadHash: hash)
        #expect(r.path == "/test%24file.text")
        #expect(s3.sign(&r, at: time) == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test func getBucketLifecycle() {
        var r = SigV4Request(method: "GET", path: "/", query: [("lifecycle", "")], headers: [host], payloadHash: Digest.emptySHA256Hex)
        #expect(s3.sign(&r, at: time) == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
    }

    @Test func listObjects() {
        var r = SigV4Request(method: "GET", path: "/", query: [("prefix", "J"), ("max-keys", "2")], headers: [host], payloadHash: Digest.emptySHA256Hex)
        #expect(s3.sign(&r, at: time) == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    @Test func presignedGet() throws {
        let r = SigV4Request(method: "GET", path: "/test.txt", headers: [host], payloadHash: SigV4Payload.unsigned)
        let q = try s3.presignedQuery(for: r, expiresIn: 86_400, at: time)
        #expect(q.last?.0 == "X-Amz-Signature")
        #expect(q.last?.1 == "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
        #expect(q.first { $0.0 == "X-Amz-Credential" }?.1 == "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request")
        #expect(throws: SigV4Signer.PresignError.invalidExpiry(604_801)) {
            try s3.presignedQuery(for: r, expiresIn: 604_801, at: time)
        }
        #expect(throws: SigV4Signer.PresignError.invalidExpiry(0)) { try s3.presignedQuery(for: r, expiresIn: 0, at: time) }
    }

    @Test func awsChunkedUpload() {
        var r = SigV4Request(
            method: "PUT", path: "/examplebucket/chunkObject.txt",
            headers: [("host", "s3.amazonaws.com"), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                      ("content-encoding", "aws-chunked"), ("x-amz-decoded-content-length", "66560"),
                      ("content-length", "66824")],
            payloadHash: SigV4Payload.streamingSigned)
        let seed = s3.sign(&r, at: time)
        #expect(seed == "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9")
        #expect(AWSChunkSigner.encodedLength(decodedLength: 66_560, chunkSize: 65_536) == 66_824)
        var chunks = s3.chunkSigner(seedSignature: String(seed), at: time)
        #expect(chunks.signChunk([UInt8](repeating: UInt8(ascii: "a"), count: 65_536)) == "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648")
        #expect(chunks.signChunk([UInt8](repeating: UInt8(ascii: "a"), count: 1_024)) == "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497")
        #expect(chunks.signChunk([UInt8]()) == "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9")
    }

    @Test func trailerSignatureChainsFromTheLastChunk() {
        var r = SigV4Request(method: "PUT", path: "/b/k", headers: [("host", "h"), ("x-amz-trailer", "x-amz-checksum-crc32c")],
                             payloadHash: SigV4Payload.streamingSignedTrailer)
        let seed = String(s3.sign(&r, at: time))
        var chunks = s3.chunkSigner(seedSignature: seed, at: time)
        let last = chunks.signChunk([UInt8]())
        let trailer = "x-amz-checksum-crc32c:sOO8/Q==\n"
        let got = chunks.signTrailer(trailer)
        // The same computation spelled out with the public primitives.
        let key = SigV4Signer.signingKey(secret: s3.credentials.secretAccessKey, dateStamp: "20130524", region: "us-east-1", service: "s3")
        let sts = "AWS4-HMAC-SHA256-TRAILER\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\(last)\n"
            + Digest.hex(Digest.sha256(trailer))
        #expect(got == Digest.hex(Digest.hmacSHA256(key: key, string: sts)))
        #expect(chunks.previousSignature == got)
        #expect(AWSChunkSigner.chunkHeader(size: 65_536, signature: got) == "10000;chunk-signature=\(got)\r\n")
    }

    @Test func genericGetVanilla() {
        let signer = SigV4Signer(
            credentials: SigV4Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            region: "us-east-1", service: "service")
        var r = SigV4Request(method: "GET", path: "/", headers: [("Host", "example.amazonaws.com")], payloadHash: Digest.emptySHA256Hex)
        let t = SigV4Timestamp(amzDate: "20150830T123600Z")!
        #expect(signer.sign(&r, at: t) == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        #expect(r.header("x-amz-content-sha256") == nil)
    }

    @Test func sessionTokenIsSignedAndRedacted() {
        let creds = SigV4Credentials(accessKeyID: "AKID", secretAccessKey: "SECRETSECRET", sessionToken: "TOKENTOKEN")
        let signer = SigV4Signer(credentials: creds, region: "eu-west-1")
        var r = SigV4Request(method: "GET", path: "/", headers: [("host", "h")], payloadHash: SigV4Payload.unsigned)
        signer.sign(&r, at: time)
        #expect(r.header("x-amz-security-token") == "TOKENTOKEN")
        #expect(r.header("authorization")!.contains("x-amz-security-token"))
        #expect(!creds.description.contains("SECRETSECRET"))
        #expect(!creds.description.contains("TOKENTOKEN"))
    }
}

@Suite struct EncodingTests {
    @Test func pathEncoding() {
        #expect(S3URIEncoding.encodePath("/a b/c+d=e~f_g.h-i") == "/a%20b/c%2Bd%3De~f_g.h-i")
        #expect(S3URIEncoding.encodePath("//x/../é") == "//x/../%C3%A9")
        #expect(S3URIEncoding.encodePath("%41") == "%2541")
        #expect(S3URIEncoding.encodePath("") == "")
        #expect(S3URIEncoding.encodeQueryComponent("") == "")
        #expect(S3URIEncoding.canonicalQuery([]) == "")
    }

    @Test func queryCanonicalization() {
        let q = S3URIEncoding.canonicalQuery([("b", "2"), ("a", "x&y=z"), ("a", "1"), ("k/ey", "")])
        #expect(q == "a=1&a=x%26y%3Dz&b=2&k%2Fey=")
    }

    @Test func canonicalHeadersAreTrimmedSortedAndMerged() {
        let r = SigV4Request(method: "GET", path: "/", query: [("b", "2"), ("a", "x y")],
                             headers: [("X-B", "1"), ("x-a", "  a   b\tc "), ("x-b", "3"), ("Host", "h")], payloadHash: "UNSIGNED-PAYLOAD")
        #expect(SigV4Signer.canonicalRequest(for: r) == "GET\n/\na=x%20y&b=2\nhost:h\nx-a:a b c\nx-b:1,3\n\nhost;x-a;x-b\nUNSIGNED-PAYLOAD")
    }

    @Test func crc32cVectorsAndBothImplementationsAgree() {
        // RFC 3720 (iSCSI) appendix B.4 vectors, and the common check value.
        #expect(Digest.crc32c(Array("123456789".utf8)) == 0xE306_9283)
        #expect(Digest.crc32c([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(Digest.crc32c([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(Digest.crc32c((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(Digest.crc32c((0..<32).reversed().map { UInt8($0) }) == 0x113F_DB5C)
        #expect(Digest.crc32c([]) == 0)
        // The hardware and table paths agree on every length and alignment, and continuing a
        // CRC over a split equals the CRC of the whole.
        var generator = SystemRandomNumberGenerator()
        let data = (0..<60000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        data.withUnsafeBytes { all in
            // Short inputs run one chain; from 3 x 8 KiB on, three interleaved chains.
            for (start, length) in [(0, 0), (1, 7), (3, 8), (5, 9), (7, 63), (0, 4096), (13, 4987),
                                    (0, 24575), (0, 24576), (3, 24577), (5, 49152 + 13), (7, 59993)] {
                let slice = UnsafeRawBufferPointer(rebasing: all[start..<(start + length)])
                #expect(Digest.crc32c(slice) == Digest.crc32cPortable(slice), "\(start) \(length)")
            }
            let whole = Digest.crc32c(all)
            let split = Digest.crc32c(UnsafeRawBufferPointer(rebasing: all[1234...]),
                                      continuing: Digest.crc32c(UnsafeRawBufferPointer(rebasing: all[..<1234])))
            #expect(split == whole)
        }
    }

    @Test func digests() {
        #expect(Digest.hex(Digest.sha256("")) == Digest.emptySHA256Hex)
        #expect(Digest.hex(Digest.md5(Array("abc".utf8))) == "900150983cd24fb0d6963f7d28e17f72")
        // RFC 4231 test case 2.
        #expect(Digest.hex(Digest.hmacSHA256(key: Array("Jefe".utf8), string: "what do ya want for nothing?"))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        // RFC 4231 test case 6: a key longer than the block size.
        let longKey = [UInt8](repeating: 0xaa, count: 131)
        #expect(Digest.hex(Digest.hmacSHA256(key: longKey, string: "Test Using Larger Than Block-Size Key - Hash Key First"))
                == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
        let d = IncrementalDigest(.sha256)
        d.update(Array("ab".utf8)); d.update(Array("c".utf8))
        #expect(Digest.hex(d.finalize()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        d.update(Array("abc".utf8))
        #expect(Digest.hex(d.finalize()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
