import Foundation
import S3HTTP
import Testing
@testable import S3

/// Server-side encryption (issue 13): SSE-S3 on both servers, SSE-KMS on moto (SeaweedFS has
/// no KMS configured: InternalError), SSE-C on SeaweedFS, which enforces it (moto accepts the
/// headers and ignores them), on every path that reads or writes bytes.
@Suite struct EncryptionTests {
    static let keyBytes: [UInt8] = (0..<32).map { UInt8($0 &* 7 &+ 3) }

    @Test(arguments: TestServer.all) func sseS3IsAskedForAndReported(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "sse-s3") { bucket in
                try await bucket.putObject(key: "a", body: "secret report", properties: S3ObjectProperties(encryption: .s3))
                #expect(try await bucket.getObject(key: "a").attributes().properties.encryption == .s3)
                let seen = try #require(try boto3(["get", bucket.name, "a"]) as? [String: Any])
                #expect(seen["sha256"] as? String == sha256Hex(Array("secret report".utf8)))
            }
        }
    }

    @Test func sseKMSOnMoto() async throws {
        try await TestServer.moto.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "sse-kms") { bucket in
                let kms = S3Encryption.kms(keyID: "alias/reports", context: ["team": "finance"], bucketKey: true)
                try await bucket.uploadObject(key: "big", bytes: patternBytes(11 << 20), properties: S3ObjectProperties(encryption: kms),
                                              options: S3TransferOptions(partSize: 5 << 20))
                try await bucket.putObject(key: "small", body: "x", properties: S3ObjectProperties(encryption: kms))
                for key in ["big", "small"] {
                    guard case .kms(let keyID, _, _)? = try await bucket.getObject(key: key).attributes().properties.encryption else {
                        Issue.record("\(key) is not reported as SSE-KMS"); continue
                    }
                    #expect(keyID?.hasSuffix("alias/reports") == true, "\(keyID ?? "-")")
                }
            }
        }
    }

    @Test func sseCOnEveryPathOfSeaweedFS() async throws {
        try await TestServer.seaweedfs.run {
            let client = try makeClient()
            let key = try S3CustomerKey(Self.keyBytes)
            let logs = LogCapture()
            var configuration = client.configuration
            configuration.logger = logs.logger
            let logged = S3Client(configuration: configuration)
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "sse-c") { b in
                let bucket = S3Bucket.unchecked(name: b.name, client: logged)
                let body = patternBytes(11 << 20, seed: 5)
                let options = S3TransferOptions(partSize: 5 << 20, concurrency: 2)
                let sse = S3ObjectProperties(encryption: .customerKey(key))
                try await bucket.uploadObject(key: "big", bytes: body, properties: sse, options: options)   // multipart: every part
                try await bucket.putObject(key: "small", body: "hello", properties: sse)
                // Without the key the store refuses to read either.
                for k in ["big", "small"] {
                    await #expect(throws: S3Error.self) { _ = try await bucket.getObject(key: k) }
                }
                // A wrong key: refused too.
                let wrong = try S3CustomerKey(Array(Self.keyBytes.reversed()))
                await #expect(throws: S3Error.self) { try await S3Client.withCustomerKey(wrong) { _ = try await bucket.getObject(key: "small") } }
                // With the key, every read path: HEAD, GET, S3Object.body(), a ranged download to a
                // file (a HEAD and one GET per 5 MiB range), the ordered parallel stream.
                try await S3Client.withCustomerKey(key) {
                    let object = try await bucket.getObject(key: "small")
                    #expect(try await object.body() == Array("hello".utf8))
                    #expect(try await object.attributes().usesCustomerKey)
                    let file = FileManager.default.temporaryDirectory.appendingPathComponent("ssec-\(UUID())")
                    defer { try? FileManager.default.removeItem(at: file) }
                    try await bucket.downloadObject(key: "big", to: file, options: options)
                    #expect(try Data(contentsOf: file) == Data(body))
                    var streamed: [UInt8] = []
                    for try await chunk in bucket.downloadStream(key: "big", options: options) { streamed += chunk }
                    #expect(streamed == body)
                }
            }
            // The key never appears in logs (trace level) or in a rendered request.
            let encoded = Data(Self.keyBytes).base64EncodedString()
            #expect(logs.text.contains("UploadPart"))
            #expect(!logs.text.contains(encoded))
            var headers = HTTPHeaders()
            for (name, value) in key.headers() { headers.add(name, value) }
            var dumped = ""
            dump(HTTPRequest(method: "GET", url: "http://h/b/k", headers: headers), to: &dumped)
            #expect(!dumped.contains(encoded) && !"\(key)".contains(encoded) && !"\(S3Encryption.customerKey(key))".contains(encoded))
        }
    }

    @Test func badKeysAreRefusedBeforeSending() async throws {
        #expect(throws: S3Error.self) { try S3CustomerKey(Array(repeating: 1, count: 31)) }
        #expect(throws: S3Error.self) { try S3CustomerKey(Array(repeating: 1, count: 33)) }
        let client = S3Client(configuration: try S3Configuration(endpoint: "http://127.0.0.1:9", credentials: testCredentials))
        let e = await #expect(throws: S3Error.self) {
            try await client.putObject(bucket: "fine-bucket", key: "k", bytes: [], properties: S3ObjectProperties(encryption: .kms(keyID: "a\nb")))
        }
        #expect(e?.code == .invalidArgument)
        #expect(client.requestCount == 0)
    }
}
