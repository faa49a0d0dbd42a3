import Foundation
import S3Signing
import Testing

/// SigV4a against AWS's published signing test suite (aws-c-auth, tests/aws-signing-test-suite/v4a):
/// the key derived from AKIDEXAMPLE, canonical requests and strings to sign for header and
/// query signing, and the suite's own ECDSA signatures verified with the derived public key.
@Suite struct SigV4aVectorTests {
    static let credentials = SigV4Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    static let time = SigV4Timestamp(amzDate: "20150830T123600Z")!
    static let emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    static func bytes(hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            out.append(UInt8(hex[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    func signer(_ credentials: SigV4Credentials = credentials) throws -> SigV4aSigner {
        try SigV4aSigner(credentials: credentials, regionSet: ["us-east-1"], service: "service")
    }

    @Test func theKeyIsDerivedAsAWSDerivesIt() throws {
        // public-key.json of the suite: X and Y of the key of AKIDEXAMPLE.
        let x = "b6618f6a65740a99e650b33b6b4b5bd0d43b176d721a3edfea7e7d2d56d936b1"
        let y = "865ed22a7eadc9c5cb9d2cbaca1b3699139fedc5043dc6661864218330c8e518"
        let key = try SigV4aKey(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
        #expect(Digest.hex(key.publicKey) == "04" + x + y)
        // Another secret, another key; the same one, the same key.
        #expect(try SigV4aKey(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "other").publicKey != key.publicKey)
        #expect(try SigV4aKey(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY").publicKey == key.publicKey)
        // dump() shows no secret.
        var shown = ""
        dump(try signer(), to: &shown)
        #expect(!shown.contains("wJalrXUtnFEMI"))
    }

    @Test func getVanillaInTheHeader() throws {
        var request = SigV4Request(method: "GET", path: "/", headers: [("Host", "example.amazonaws.com")], payloadHash: Self.emptyHash)
        let signer = try signer()
        let signature = try signer.sign(&request, at: Self.time)
        var unsigned = request
        unsigned.headers.removeAll { $0.0 == "authorization" }
        #expect(SigV4Signer.canonicalRequest(for: unsigned) == """
            GET
            /

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z
            x-amz-region-set:us-east-1

            host;x-amz-date;x-amz-region-set
            \(Self.emptyHash)
            """)
        let stringToSign = signer.stringToSign(for: unsigned, at: Self.time)
        #expect(stringToSign == """
            AWS4-ECDSA-P256-SHA256
            20150830T123600Z
            20150830/service/aws4_request
            cf59db423e841c8b7e3444158185aa261b724a5c27cbe762676f3eed19f4dc02
            """)
        let authorization = try #require(request.headers.first { $0.0 == "authorization" }?.1)
        #expect(authorization == "AWS4-ECDSA-P256-SHA256 Credential=AKIDEXAMPLE/20150830/service/aws4_request, "
                + "SignedHeaders=host;x-amz-date;x-amz-region-set, Signature=\(signature)")
        // Ours verifies with the derived key; so does the suite's (header-signature.txt), which
        // a wrong key, a wrong string or a changed byte would not.
        let message = Array(stringToSign.utf8)
        #expect(SigV4aKey.verify(publicKey: signer.key.publicKey, message: message, signature: Self.bytes(hex: signature)))
        let theirs = Self.bytes(hex: "3045022018b4e277d0281864beb51d3600e23f88510ea5031d68ddfbb68614b82a5eb7d2022100effb9c5f22ed9ef3ae0ab243d21f06bce82365bbb79529a07b6888c343ae5f8c")
        #expect(SigV4aKey.verify(publicKey: signer.key.publicKey, message: message, signature: theirs))
        #expect(!SigV4aKey.verify(publicKey: signer.key.publicKey, message: message + [10], signature: theirs))
        let other = try SigV4aKey(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "other")
        #expect(!SigV4aKey.verify(publicKey: other.publicKey, message: message, signature: theirs))
        // ECDSA draws a nonce: two signatures of the same request differ, both valid.
        let again = try signer.signature(for: unsigned, at: Self.time)
        #expect(again != signature)
        #expect(SigV4aKey.verify(publicKey: signer.key.publicKey, message: message, signature: Self.bytes(hex: again)))
    }

    @Test func getVanillaWithASessionTokenAndAQuery() throws {
        let token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"
        var credentials = Self.credentials
        credentials.sessionToken = token
        var request = SigV4Request(method: "GET", path: "/", headers: [("Host", "example.amazonaws.com")], payloadHash: Self.emptyHash)
        let signer = try signer(credentials)
        try signer.sign(&request, at: Self.time)
        request.headers.removeAll { $0.0 == "authorization" }
        #expect(signer.stringToSign(for: request, at: Self.time).hasSuffix("\n79893373104239a0547df489af395ec3c1b8873a8601f07f11ffd3f1ac557e7d"))

        var ordered = SigV4Request(method: "GET", path: "/", query: [("Param2", "value2"), ("Param1", "value1")],
                                   headers: [("Host", "example.amazonaws.com")], payloadHash: Self.emptyHash)
        try self.signer().sign(&ordered, at: Self.time)
        ordered.headers.removeAll { $0.0 == "authorization" }
        #expect(try self.signer().stringToSign(for: ordered, at: Self.time)
                    .hasSuffix("\ncc07b29e0d0f0b2d6aa296621a5608fd9c2271159b9b2f737f682704ebb96482"))
    }

    @Test func getVanillaPresigned() throws {
        let request = SigV4Request(method: "GET", path: "/", headers: [("Host", "example.amazonaws.com")], payloadHash: Self.emptyHash)
        let signer = try signer()
        let query = try signer.presignedQuery(for: request, expiresIn: 3600, at: Self.time)
        #expect(query.map(\.0) == ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-Region-Set",
                                   "X-Amz-SignedHeaders", "X-Amz-Signature"])
        var signed = request
        signed.query = Array(query.dropLast())
        #expect(SigV4Signer.canonicalRequest(for: signed) == """
            GET
            /
            X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-Region-Set=us-east-1&X-Amz-SignedHeaders=host
            host:example.amazonaws.com

            host
            \(Self.emptyHash)
            """)
        let stringToSign = signer.stringToSign(for: signed, at: Self.time)
        #expect(stringToSign.hasSuffix("\n890c4ed28c1a1ac10b5862719b537afbe392e987dc1aab1efa16fe7de41d3c81"))
        #expect(SigV4aKey.verify(publicKey: signer.key.publicKey, message: Array(stringToSign.utf8), signature: Self.bytes(hex: query.last!.1)))
        #expect(throws: (any Error).self) { _ = try signer.presignedQuery(for: request, expiresIn: 0, at: Self.time) }
    }

    @Test func aBadRegionSetIsRefused() {
        for set in [[], [""], ["us-east-1,us-west-2"], ["us east"]] {
            #expect(throws: SigV4aKey.Failure.invalidRegionSet(set)) { _ = try SigV4aSigner(credentials: Self.credentials, regionSet: set) }
        }
        #expect(throws: Never.self) { _ = try SigV4aSigner(credentials: Self.credentials, regionSet: ["us-east-1", "eu-west-1"]) }
    }
}
