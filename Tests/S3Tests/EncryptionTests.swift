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

    /// boto3 reads the encryption and storage class we write, and we read what boto3 writes:
    /// SSE-S3 and storage class on both servers, SSE-KMS (key, context, bucket key) on moto.
    @Test(arguments: TestServer.all) func boto3AndWeReadEachOthersEncryption(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "sse-x") { bucket in
                try await bucket.putObject(key: "ours-s3", body: "a", properties: S3ObjectProperties(storageClass: "STANDARD_IA", encryption: .s3))
                var head = try #require(try boto3(["head", bucket.name, "ours-s3"]) as? [String: Any])
                #expect(head["encryption"] as? String == "AES256")
                #expect(head["storage_class"] as? String == "STANDARD_IA")
                _ = try boto3(["put-props", bucket.name, "theirs-s3", #"{"sse": "AES256", "storage_class": "STANDARD_IA"}"#], stdin: Array("b".utf8))
                var back = try await bucket.getObject(key: "theirs-s3").attributes().properties
                #expect(back.encryption == .s3)
                #expect(back.storageClass == "STANDARD_IA")
                guard server.kind == .moto else { return }   // SeaweedFS has no KMS configured
                let kms = S3Encryption.kms(keyID: "alias/reports", context: ["team": "finance"], bucketKey: true)
                try await bucket.putObject(key: "ours-kms", body: "c", properties: S3ObjectProperties(encryption: kms))
                head = try #require(try boto3(["head", bucket.name, "ours-kms"]) as? [String: Any])
                #expect(head["encryption"] as? String == "aws:kms")
                #expect((head["kms_key"] as? String)?.hasSuffix("alias/reports") == true, "\(head)")
                #expect(head["bucket_key"] as? Bool == true)
                _ = try boto3(["put-props", bucket.name, "theirs-kms",
                               #"{"sse": "aws:kms", "kms_key": "alias/theirs", "bucket_key": true, "kms_context": {"app": "x"}}"#],
                              stdin: Array("d".utf8))
                back = try await bucket.getObject(key: "theirs-kms").attributes().properties
                guard case .kms(let keyID, _, let bucketKey)? = back.encryption else {
                    Issue.record("boto3's SSE-KMS object reads as \(String(describing: back.encryption))"); return
                }
                #expect(keyID?.hasSuffix("alias/theirs") == true, "\(keyID ?? "-")")
                #expect(bucketKey == true)
            }
        }
    }

    /// SSE-C both ways on SeaweedFS, which enforces the key: boto3 opens what we wrote (one PUT
    /// and a multipart upload) with the key, we open what boto3 wrote with it.
    @Test func boto3AndWeReadEachOthersCustomerKeyObjects() async throws {
        try await TestServer.seaweedfs.run {
            let client = try makeClient()
            let key = try S3CustomerKey(Self.keyBytes)
            let hex = Self.keyBytes.map { String(format: "%02x", $0) }.joined()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "sse-c-x") { bucket in
                let small = Array("for your eyes only".utf8), big = patternBytes(11 << 20, seed: 9)
                let sse = S3ObjectProperties(encryption: .customerKey(key))
                try await bucket.putObject(key: "ours", body: small, properties: sse)
                try await bucket.uploadObject(key: "ours-big", bytes: big, properties: sse, options: S3TransferOptions(partSize: 5 << 20))
                for (k, body) in [("ours", small), ("ours-big", big)] {
                    let seen = try #require(try boto3(["get-ssec", bucket.name, k, hex]) as? [String: Any])
                    #expect(seen["sha256"] as? String == sha256Hex(body), "\(k)")
                    let head = try #require(try boto3(["head", bucket.name, k, hex]) as? [String: Any])
                    #expect(head["sse_c"] as? String == "AES256", "\(k)")
                    #expect(throws: HelperFailed.self, "\(k) opened by boto3 without the key") { try boto3(["get", bucket.name, k]) }
                }
                _ = try boto3(["put-props", bucket.name, "theirs", #"{"ssec_hex": "\#(hex)"}"#], stdin: small)
                await #expect(throws: S3Error.self) { _ = try await bucket.getObject(key: "theirs") }
                try await S3Client.withCustomerKey(key) {
                    let object = try await bucket.getObject(key: "theirs")
                    #expect(try await object.body() == small)
                    #expect(try await object.attributes().usesCustomerKey)
                }
            }
        }
    }

    /// Inside a withCustomerKey scope, a write that names another encryption carries only that
    /// one: the scope's key is not added to its PUT, CreateMultipartUpload or parts (it was, and
    /// S3 refuses a request naming two encryptions). Seen by the proxy in front of moto.
    @Test func aWriteNamingAnotherEncryptionLeavesTheScopesKeyOut() async throws {
        try await TestServer.moto.run {
            let direct = try makeClient(), proxied = try makeProxiedClient()
            let key = try S3CustomerKey(Self.keyBytes)
            try await S3Bucket.withTemporaryBucket(client: direct, namePrefix: "sse-scope") { d in
                let bucket = S3Bucket.unchecked(name: d.name, client: proxied)
                try setFaults(bucket: d.name, "[]")
                try await S3Client.withCustomerKey(key) {
                    try await bucket.putObject(key: "s3", body: "x", properties: S3ObjectProperties(encryption: .s3))
                    try await bucket.uploadObject(key: "s3-big", bytes: patternBytes(11 << 20), properties: S3ObjectProperties(encryption: .s3),
                                                  options: S3TransferOptions(partSize: 5 << 20))
                    try await bucket.putObject(key: "scoped", body: "y")
                }
                let log = try proxyLog(bucket: d.name)
                let writes = log.filter { ($0.hasPrefix("PUT") || $0.hasPrefix("POST")) && $0.contains("/s3") }
                #expect(writes.count == 6, "\(writes)")   // PUT; create, 3 parts, complete
                #expect(writes.allSatisfy { !$0.contains("sse-c-md5") }, "\(writes)")
                let scoped = "PUT /\(d.name)/scoped "
                let scopedWrites = log.filter { $0.hasPrefix(scoped) && $0.contains("sse-c-md5=") }
                #expect(scopedWrites.count == 1, "\(log)")
            }
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
