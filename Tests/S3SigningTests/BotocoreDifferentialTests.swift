import Foundation
import S3Signing
import Testing

/// Signs a few hundred generated requests with our signer and with botocore (installed with
/// moto) and requires identical results. Keys and query values are deliberately awkward.
@Suite struct BotocoreDifferentialTests {
    struct Case: Codable {
        var method: String
        var host: String
        var bucket: String
        var key: String
        var query: [[String]]
        var headers: [[String]]
        var body: String
        var amz_date: String
        var region: String
        var access_key: String
        var secret_key: String
        var token: String?
        var presign: Bool
        var expires: Int
    }

    /// A small deterministic generator (SplitMix64), so failures reproduce.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let pieces = ["a", "Z", "0", " ", "+", "=", "~", "%", "&", "/", "//", "é", "日本", "😀", "-", "_", ".", "..", "*",
                         "(", ")", "!", "$", "'", ",", ";", ":", "@", "[", "]", "?", "#", "%20", "\u{7f}"]

    func randomString(_ rng: inout SplitMix, _ maxPieces: Int) -> String {
        (0..<Int.random(in: 1...maxPieces, using: &rng)).map { _ in Self.pieces.randomElement(using: &rng)! }.joined()
    }

    func makeCases() -> [Case] {
        var rng = SplitMix(state: 20_261_125)
        var cases: [Case] = []
        for i in 0..<300 {
            let presign = i % 3 == 2
            var query: [[String]] = []
            var used = Set<String>()
            for _ in 0..<Int.random(in: 0...3, using: &rng) {
                let name = randomString(&rng, 3)
                if presign && used.contains(name) { continue }
                used.insert(name)
                query.append([name, Bool.random(using: &rng) ? "" : randomString(&rng, 4)])
            }
            var headers: [[String]] = [["host", "127.0.0.1:9000"]]
            if !presign {
                if Bool.random(using: &rng) { headers.append(["content-type", "text/plain"]) }
                if Bool.random(using: &rng) { headers.append(["x-amz-meta-note", "  spaced   out  value "]) }
                if Bool.random(using: &rng) { headers.append(["range", "bytes=\(i)-\(i + 100)"]) }
                if Bool.random(using: &rng) { headers.append(["x-amz-storage-class", "STANDARD_IA"]) }
            }
            cases.append(Case(
                method: ["GET", "PUT", "HEAD", "DELETE", "POST"].randomElement(using: &rng)!,
                host: "127.0.0.1:9000", bucket: "bucket-\(i % 7)", key: randomString(&rng, 6), query: query, headers: headers,
                body: presign ? "" : randomString(&rng, 5),
                amz_date: SigV4Timestamp(secondsSince1970: 1_700_000_000 + i * 86_399).amzDate,
                region: ["us-east-1", "eu-west-1", "ap-southeast-2"][i % 3],
                access_key: "AKIDEXAMPLE\(i % 5)", secret_key: "secret/+key\(i)", token: i % 4 == 0 ? "session/token+\(i)=" : nil,
                presign: presign, expires: 1 + (i * 977) % 604_800))
        }
        return cases
    }

    func ours(_ c: Case) throws -> String {
        let signer = SigV4Signer(credentials: SigV4Credentials(accessKeyID: c.access_key, secretAccessKey: c.secret_key, sessionToken: c.token),
                                 region: c.region)
        let time = SigV4Timestamp(amzDate: c.amz_date)!
        let path = "/" + c.bucket + "/" + S3URIEncoding.encodePath(c.key)
        var request = SigV4Request(method: c.method, path: path, query: c.query.map { ($0[0], $0[1]) },
                                   headers: c.headers.map { ($0[0], $0[1]) },
                                   payloadHash: c.presign ? SigV4Payload.unsigned : Digest.hex(Digest.sha256(c.body)))
        if c.presign {
            return try signer.presignedQuery(for: request, expiresIn: c.expires, at: time).last!.1
        }
        signer.sign(&request, at: time)
        return request.header("authorization")!
    }

    @Test func identicalToBotocore() throws {
        let cases = makeCases()
        let (status, data) = try runPythonFixture("botocore_sign.py", input: try JSONEncoder().encode(cases))
        try #require(status == 0, "botocore_sign.py failed (is botocore installed? scripts/test installs it)")
        let theirs = try JSONDecoder().decode([String].self, from: data)
        try #require(theirs.count == cases.count)
        var mismatches = 0
        for (c, reference) in zip(cases, theirs) {
            let mine = try ours(c)
            if mine != reference {
                mismatches += 1
                if mismatches <= 5 { Issue.record("mismatch for key \(c.key.debugDescription) query \(c.query): ours \(mine) botocore \(reference)") }
            }
        }
        #expect(mismatches == 0, "\(mismatches) of \(cases.count) signatures differ from botocore")
        #expect(cases.filter(\.presign).count >= 90)
    }
}
