import Foundation
import S3Signing
import Testing
@testable import S3

/// A client configured for SigV4a (issue 28 item 5) signs what it sends with the key derived
/// from its credentials: checked on the wire, at the HTTP fixture that answers with the request
/// headers it received, by verifying the signature over the string to sign rebuilt from them.
/// Neither test store takes SigV4a (moto checks no signature; SeaweedFS refuses it, tested).
@Suite struct SigV4aClientTests {
    func fixture() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["S3_TEST_HTTP_URL"], !url.isEmpty else {
            throw MissingServer(variable: "S3_TEST_HTTP_URL")
        }
        return url
    }

    @Test func requestsAndPresignedURLsAreSignedWithTheDerivedKey() async throws {
        var configuration = try S3Configuration(endpoint: try fixture(), credentials: testCredentials)
        configuration.signatureVersion = .v4a(regionSet: ["us-east-1", "eu-west-1"])
        let client = S3Client(configuration: configuration)
        // GET /headers/<key>: the fixture answers with the request's headers as JSON.
        let body = try await client.getObject(bucket: "headers", key: "report.csv").body.collect()
        let received = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: String])
        let headers = Dictionary(uniqueKeysWithValues: received.map { ($0.key.lowercased(), $0.value) })
        let authorization = try #require(headers["authorization"])
        #expect(authorization.hasPrefix("AWS4-ECDSA-P256-SHA256 Credential=testing/"))
        #expect(authorization.contains("/s3/aws4_request, SignedHeaders="))
        #expect(headers["x-amz-region-set"] == "us-east-1,eu-west-1")
        let signedNames = authorization.split(separator: " ")[2].dropFirst("SignedHeaders=".count).dropLast().split(separator: ";").map(String.init)
        #expect(signedNames.contains("x-amz-region-set") && signedNames.contains("host"))
        let signature = String(authorization[authorization.range(of: "Signature=")!.upperBound...])

        let signer = try SigV4aSigner(credentials: SigV4Credentials(accessKeyID: "testing", secretAccessKey: "testing-secret"),
                                      regionSet: ["us-east-1", "eu-west-1"])
        let amzDate = try #require(headers["x-amz-date"])
        let time = try #require(SigV4Timestamp(amzDate: amzDate))
        let request = SigV4Request(method: "GET", path: "/headers/report.csv", headers: signedNames.map { ($0, headers[$0] ?? "") },
                                   payloadHash: try #require(headers["x-amz-content-sha256"]))
        let stringToSign = Array(signer.stringToSign(for: request, at: time).utf8)
        #expect(SigV4aKey.verify(publicKey: signer.key.publicKey, message: stringToSign, signature: SigV4aVectorTestsBytes.hex(signature)))
        #expect(!SigV4aKey.verify(publicKey: signer.key.publicKey, message: stringToSign + [0x20], signature: SigV4aVectorTestsBytes.hex(signature)))

        // A presigned URL carries the algorithm, the region set and an ECDSA signature.
        let url = try await client.presignedURL(bucket: "headers", key: "report.csv", expiresIn: 600)
        let items = try #require(URLComponents(string: url)?.queryItems)
        #expect(items.first { $0.name == "X-Amz-Algorithm" }?.value == "AWS4-ECDSA-P256-SHA256")
        #expect(items.first { $0.name == "X-Amz-Region-Set" }?.value == "us-east-1,eu-west-1")
        #expect((items.first { $0.name == "X-Amz-Signature" }?.value?.hasPrefix("30")) == true, "a DER signature")
        await client.shutdown()

        // The tool, with --sigv4a.
        let r = try runS3Tool(["presign", "--json", "--sigv4a", "*", "s3://headers/report.csv"], endpoint: try fixture())
        #expect(r.status == 0, "\(r.error)")
        let line = String(decoding: r.output, as: UTF8.self)
        #expect(line.contains("X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256") && line.contains("X-Amz-Region-Set=%2A"), "\(line)")
        #expect(try runS3Tool(["presign", "--sigv4a", "us-east-1,,eu-west-1", "s3://headers/report.csv"], endpoint: try fixture()).status != 0)
    }

    @Test func aBadRegionSetIsRefusedBeforeAnythingIsSent() async throws {
        var configuration = try S3Configuration(endpoint: "http://127.0.0.1:9", credentials: testCredentials)
        configuration.signatureVersion = .v4a(regionSet: [])
        let client = S3Client(configuration: configuration)
        let e = await #expect(throws: S3Error.self) { _ = try await client.getObject(bucket: "some-bucket", key: "k") }
        #expect(e?.code == .invalidArgument)
        let p = await #expect(throws: S3Error.self) { _ = try await client.presignedURL(bucket: "some-bucket", key: "k") }
        #expect(p?.code == .invalidArgument)
        #expect(client.requestCount == 0)
        await client.shutdown()
    }

    @Test func seaweedFSRefusesSigV4a() async throws {
        try await TestServer.seaweedfs.run {
            var configuration = try S3Configuration(endpoint: try serverEndpoint(), credentials: testCredentials)
            configuration.signatureVersion = .v4a(regionSet: ["*"])
            let client = S3Client(configuration: configuration)
            let e = await #expect(throws: S3Error.self) { _ = try await client.listBuckets() }
            #expect(e?.httpStatus == 400 && e?.code.rawValue == "InvalidRequest", "\(String(describing: e))")
            await client.shutdown()
        }
    }
}

/// Hex decoding for the SigV4a checks.
enum SigV4aVectorTestsBytes {
    static func hex(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = text.startIndex
        while i < text.endIndex, let j = text.index(i, offsetBy: 2, limitedBy: text.endIndex) {
            out.append(UInt8(text[i..<j], radix: 16) ?? 0)
            i = j
        }
        return out
    }
}
