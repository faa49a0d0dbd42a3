import Foundation
import S3Signing
import Testing

/// SigV4a against botocore's CRT signers (awscrt), for S3 requests: botocore signs each request
/// (header or presigned); its ECDSA signature must verify with the public key we derive, over
/// the string to sign we build from the same request, which holds only if the key, the
/// canonical request and the string to sign are identical on both sides. The other way round,
/// awscrt verifies our signature with our public key (and refuses it over a changed string).
@Suite struct SigV4aBotocoreTests {
    struct Ours: Codable { var string_to_sign: String; var signature: String; var public_key: String }
    struct Case: Codable {
        var method: String
        var host: String
        var path: String
        var query: [[String]]
        var headers: [[String]]
        var body: String
        var amz_date: String
        var region_set: String
        var access_key: String
        var secret_key: String
        var token: String?
        var presign: Bool
        var expires: Int
        var ours: Ours?
    }
    struct Result: Codable { var headers: [[String]]?; var query: [[String]]?; var ours_valid: Bool; var tampered_valid: Bool }

    func makeCases() -> [Case] {
        let keys = ["a.txt", "dir/sub dir/file+name=1.bin", "ünïcødé/日本.txt", "x~y_z-.!*'()", "%41"]
        var cases: [Case] = []
        for i in 0..<24 {
            let presign = i % 3 == 2
            var headers: [[String]] = [["host", "127.0.0.1:9000"]]
            if !presign && i % 2 == 0 { headers.append(["content-type", "text/plain"]) }
            if !presign && i % 4 == 1 { headers.append(["x-amz-meta-note", "a  b"]) }
            var query: [[String]] = []
            if i % 5 == 1 { query.append(["versionId", "v\(i)/+="]) }
            if i % 5 == 3 { query.append(["tagging", ""]) }
            cases.append(Case(method: ["GET", "PUT", "HEAD", "DELETE"][i % 4], host: "127.0.0.1:9000",
                              path: "/bucket-\(i % 3)/" + S3URIEncoding.encodePath(keys[i % keys.count]), query: query, headers: headers,
                              body: presign || i % 4 != 1 ? "" : "body \(i)", amz_date: SigV4Timestamp(secondsSince1970: 1_700_000_000 + i * 86_399).amzDate,
                              region_set: ["*", "us-east-1", "us-east-1,eu-west-1"][i % 3], access_key: "AKIDEXAMPLE\(i % 4)",
                              secret_key: "secret/+key\(i)", token: i % 4 == 0 ? "session/token+\(i)=" : nil, presign: presign,
                              expires: 1 + (i * 977) % 604_800, ours: nil))
        }
        return cases
    }

    func signer(_ c: Case) throws -> SigV4aSigner {
        try SigV4aSigner(credentials: SigV4Credentials(accessKeyID: c.access_key, secretAccessKey: c.secret_key, sessionToken: c.token),
                         regionSet: c.region_set.split(separator: ",").map(String.init))
    }

    func request(_ c: Case) -> SigV4Request {
        SigV4Request(method: c.method, path: c.path, query: c.query.map { ($0[0], $0[1]) }, headers: c.headers.map { ($0[0], $0[1]) },
                     payloadHash: c.presign ? SigV4Payload.unsigned : Digest.hex(Digest.sha256(c.body)))
    }

    @Test func botocoreAndWeVerifyEachOthersSignatures() throws {
        var cases = makeCases()
        for i in cases.indices {
            let c = cases[i]
            let signer = try signer(c)
            let time = SigV4Timestamp(amzDate: c.amz_date)!
            var r = request(c)
            let stringToSign: String, signature: String
            if c.presign {
                let query = try signer.presignedQuery(for: r, expiresIn: c.expires, at: time)
                r.query = Array(query.dropLast())
                (stringToSign, signature) = (signer.stringToSign(for: r, at: time), query.last!.1)
            } else {
                signature = try signer.sign(&r, at: time)
                r.headers.removeAll { $0.0 == "authorization" }
                stringToSign = signer.stringToSign(for: r, at: time)
            }
            cases[i].ours = Ours(string_to_sign: stringToSign, signature: signature, public_key: Digest.hex(signer.key.publicKey))
        }
        let (status, data) = try runPythonFixture("botocore_sigv4a.py", input: try JSONEncoder().encode(cases))
        try #require(status == 0, "botocore_sigv4a.py failed (botocore with awscrt: scripts/test installs them)")
        let results = try JSONDecoder().decode([Result].self, from: data)
        try #require(results.count == cases.count)
        for (c, result) in zip(cases, results) {
            #expect(result.ours_valid, "awscrt refused our signature for \(c.method) \(c.path)")
            #expect(!result.tampered_valid)
            let signer = try signer(c)
            let time = SigV4Timestamp(amzDate: c.amz_date)!
            var r = request(c)
            let theirs: String
            if c.presign {
                let query = try #require(result.query).map { ($0[0], $0[1]) }
                #expect(query.first { $0.0 == "X-Amz-Region-Set" }?.1 == c.region_set)
                #expect(query.first { $0.0 == "X-Amz-Algorithm" }?.1 == "AWS4-ECDSA-P256-SHA256")
                theirs = try #require(query.first { $0.0 == "X-Amz-Signature" }?.1)
                r.query = query.filter { $0.0 != "X-Amz-Signature" }
            } else {
                // The headers botocore signed, with the values it sent; the payload hash it declared.
                let headers = try #require(result.headers).map { ($0[0], $0[1]) }
                let authorization = try #require(headers.first { $0.0.lowercased() == "authorization" }?.1)
                #expect(authorization.hasPrefix("AWS4-ECDSA-P256-SHA256 Credential=\(c.access_key)/\(time.dateStamp)/s3/aws4_request, SignedHeaders="))
                let signedNames = Set(authorization.split(separator: " ")[2].dropFirst("SignedHeaders=".count).dropLast().split(separator: ";").map(String.init))
                #expect(signedNames.contains("x-amz-region-set"))
                r.headers = headers.filter { signedNames.contains($0.0.lowercased()) }
                r.payloadHash = try #require(headers.first { $0.0.lowercased() == "x-amz-content-sha256" }?.1)
                theirs = String(authorization[authorization.range(of: "Signature=")!.upperBound...])
            }
            let stringToSign = Array(signer.stringToSign(for: r, at: time).utf8)
            #expect(SigV4aKey.verify(publicKey: signer.key.publicKey, message: stringToSign, signature: SigV4aVectorTests.bytes(hex: theirs)),
                    "botocore's signature of \(c.method) \(c.path) \(c.query) (presigned: \(c.presign)) does not verify with our key and string")
        }
    }
}
