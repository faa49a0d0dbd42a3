import Foundation
import Logging
import S3
import Testing

// The README's credentials example ("Credentials where servers run"), verbatim.
func makeServerClient(environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> S3Client {
    let client = S3Client(configuration: try .fromEnvironment(environment))
    _ = try await client.listBuckets()                       // the first request fetches the credentials
    print(client.currentCredentials?.source ?? "-")          // e.g. "web identity"; never the secret
    return client
}

// The README's logging example ("Logs, metrics and traces"), verbatim.
func fetchReport(client: S3Client, logger: Logger) async throws -> [UInt8] {
    try await S3Client.withLogger(logger) {
        try await client.getObject(bucket: "invoices", key: "q1.csv").body.collect()
    }
}

// The README's example, verbatim inside a function, so it is compiled and run by the suite.
func readmeExample(endpoint: String) async throws -> String {
    let client = S3Client(configuration: try S3Configuration(
        endpoint: endpoint,                      // e.g. "http://127.0.0.1:9000"
        region: "us-east-1",
        credentials: S3Credentials(accessKeyID: "key", secretAccessKey: "secret")))

    try await client.createBucket("photos")
    try await client.putObject(bucket: "photos", key: "2024/cat.txt", bytes: Array("meow".utf8),
                               contentType: "text/plain", metadata: ["owner": "ada"])

    let page = try await client.listObjectsV2(bucket: "photos", prefix: "2024/")
    for object in page.objects { print(object.key, object.size) }

    let download = try await client.getObject(bucket: "photos", key: "2024/cat.txt")
    var text = ""
    for try await chunk in download.body {       // streamed, with back-pressure
        text += String(decoding: chunk, as: UTF8.self)
    }

    do {
        _ = try await client.headObject(bucket: "photos", key: "2024/dog.txt")
    } catch let error as S3Error where error.code == .noSuchKey {
        print("no dog yet:", error.message)
    }
    return text
}

// The README's example of conditional writes and copies ("Copy, conditions, ..."), verbatim.
func takeJob(_ job: String, worker: String, inbox: S3Bucket, done: S3Bucket) async throws -> Bool {
    do {
        try await inbox.putObject(key: "locks/" + job, body: worker, conditions: .createOnly)
    } catch let e as S3Error where e.code == .preconditionFailed {
        return false                                          // another worker has it
    }
    try await done.copyObject(from: "jobs/" + job, to: "jobs/" + job, sourceBucket: inbox.name)
    try await inbox.deleteObject(key: "jobs/" + job)
    return true
}

// The README's presigned POST example ("Browser uploads: presigned POST"), verbatim.
func readmePresignedPost(client: S3Client) async throws -> S3PresignedPost {
    let form = try await client.presignedPost(
        bucket: "uploads", key: .prefix("inbox/"),              // any key under inbox/: the file's name completes it
        conditions: [.contentLength(1...10 << 20), .contentType("text/plain"), .successActionStatus(201)],
        expiresIn: 600)
    // form.url is where the page posts a multipart/form-data form: form.fields in order, then the file as "file"
    let names = form.fields.map(\.name)    // Content-Type, success_action_status, key, x-amz-algorithm, ..., x-amz-signature
    #expect(names.last == "x-amz-signature")
    return form
}

// The README's "Access, CORS and retention" example, verbatim inside a function.
func readmeAccessAndRetention(client: S3Client) async throws {
    // Browsers on app.example.com may upload and read, and see the ETag of what they upload.
    try await client.setCORSRules(bucket: "uploads", [
        S3CORSRule(allowedMethods: [.get, .put, .post], allowedOrigins: ["https://app.example.com"],
                   allowedHeaders: ["*"], exposeHeaders: ["ETag"], maxAgeSeconds: 3000),
    ])
    try await client.setObjectOwnership(bucket: "uploads", .bucketOwnerEnforced)   // ACLs off: policies decide

    // Records nobody may delete for 30 days (governance mode: unless they ask to and are allowed).
    try await client.createBucket("records", objectLockEnabled: true)
    try await client.setObjectLockConfiguration(bucket: "records",
        defaultRetention: S3DefaultRetention(mode: .governance, period: .days(30)))
    try await client.putObject(bucket: "records", key: "2026/ledger.csv", bytes: Array("id,total\n".utf8),
                               properties: S3ObjectProperties(legalHold: true))
    let head = try await client.headObject(bucket: "records", key: "2026/ledger.csv")
    print(head.properties.retention?.retainUntil as Any, head.properties.legalHold as Any)   // in 30 days, true

    // Size, checksum and parts without the bytes (GetObjectAttributes).
    let attributes = try await client.objectAttributes(bucket: "records", key: "2026/ledger.csv")
    print(attributes.size as Any, attributes.checksum as Any)
}

@Suite struct ReadmeExampleTests {
    @Test(arguments: TestServer.all) func theAccessAndRetentionExampleRuns(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            // The example's fixed names: whatever an interrupted run left goes first.
            try? await ObjectLockTests.withLockedBucket(client, existing: "records") { _ in }
            try? await client.deleteBucket("uploads")
            try await client.createBucket("uploads")
            try await readmeAccessAndRetention(client: client)
            #expect(try await client.corsRules(bucket: "uploads").first?.exposeHeaders == ["ETag"])
            #expect(try await client.objectOwnership(bucket: "uploads") == .bucketOwnerEnforced)
            let head = try await client.headObject(bucket: "records", key: "2026/ledger.csv")
            #expect(head.properties.legalHold == true)
            // moto does not apply a bucket's default retention to a write that carries a legal hold.
            if server.implementsObjectLockFully {
                let until = try #require(head.properties.retention?.retainUntil)
                #expect(abs(until.timeIntervalSinceNow - 30 * 86_400) < 300)
            }
            #expect(try await client.objectAttributes(bucket: "records", key: "2026/ledger.csv").size == 9)
            // Clean up: the hold lifted, the governed version deleted with the bypass, the buckets removed.
            try await ObjectLockTests.withLockedBucket(client, existing: "records") { _ in }
            try await client.deleteBucket("uploads")
        }
    }

    @Test func thePresignedPostExampleSignsAForm() async throws {
        let client = S3Client(configuration: try S3Configuration(endpoint: "http://127.0.0.1:9", credentials: testCredentials))
        let form = try await readmePresignedPost(client: client)
        await client.shutdown()
        #expect(form.url == "http://127.0.0.1:9/uploads")
        #expect(form.fields.map(\.name) == ["Content-Type", "success_action_status", "key", "x-amz-algorithm", "x-amz-credential",
                                            "x-amz-date", "policy", "x-amz-signature"])
        #expect(form[field: "key"] == "inbox/${filename}")
    }

    @Test(arguments: TestServer.all) func theJobExampleGivesEachJobToOneWorker(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "inbox") { inbox in
                try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "done") { done in
                    try await inbox.putObject(key: "jobs/42", body: "payload")
                    let taken = try await withThrowingTaskGroup(of: Bool.self) { group in
                        for w in 0..<5 { group.addTask { try await takeJob("42", worker: "w\(w)", inbox: inbox, done: done) } }
                        return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
                    }
                    #expect(taken == 1)
                    #expect(String(decoding: try await done.getObject(key: "jobs/42").body(), as: UTF8.self) == "payload")
                    await #expect(throws: S3Error.self) { _ = try await inbox.getObject(key: "jobs/42") }
                }
            }
        }
    }

    @Test func theCredentialsExampleRunsWithWebIdentity() async throws {
        let fake = try FakeNamespace()
        try fake.set(#"{"web_token": "readme-jwt"}"#)
        let tokenFile = try tempTextFile("readme-jwt")
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }
        let client = try await makeServerClient(environment: [
            "HOME": "/nonexistent", "AWS_ENDPOINT_URL_S3": try CredentialServers.authEndpoint(),
            "AWS_ROLE_ARN": try CredentialServers.roleARN(), "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile,
            "AWS_ENDPOINT_URL_STS": fake.sts,
        ])
        #expect(client.currentCredentials?.source == "web identity")
        #expect(try fake.state().web_tokens == ["readme-jwt"])
    }

    @Test func theLoggingExampleLogsThroughThePerCallLogger() async throws {
        try await TestServer.moto.run {
            let client = try makeClient()
            try? await S3Bucket.unchecked(name: "invoices", client: client).deleteBucket(force: true)
            let bucket = try await S3Bucket(name: "invoices", client: client, autoCreate: true)
            try await bucket.putObject(key: "q1.csv", body: "eu,42\n")
            let logs = LogCapture()
            var logger = logs.logger
            logger[metadataKey: "request.id"] = "r-1"
            #expect(try await fetchReport(client: client, logger: logger) == Array("eu,42\n".utf8))
            #expect(logs.text.contains("s3.operation=GetObject"))
            #expect(logs.text.contains("request.id=r-1"))
            try await bucket.deleteBucket(force: true)
        }
    }

    @Test(arguments: TestServer.all) func theReadmeExampleRuns(server: TestServer) async throws {
        // The example makes a bucket of a fixed name: start without it, leave without it (the
        // suite runs twice against the same servers, the second time under ThreadSanitizer).
        let owner = S3Client(configuration: try S3Configuration(endpoint: try server.endpoint(),
                                                               credentials: S3Credentials(accessKeyID: "key", secretAccessKey: "secret")))
        try? await S3Bucket.unchecked(name: "photos", client: owner).deleteBucket(force: true)
        let result: Result<String, any Error>
        do { result = .success(try await readmeExample(endpoint: try server.endpoint())) } catch { result = .failure(error) }
        try? await S3Bucket.unchecked(name: "photos", client: owner).deleteBucket(force: true)
        #expect(try result.get() == "meow")
    }
}

// The README's S3Bucket example, verbatim inside a function.
func readmeBucketExample(client: S3Client) async throws -> [String] {
    let bucket = try await S3Bucket(name: "reports", client: client, autoCreate: true)

    try await bucket.putObject(key: "2024/q1.csv", body: "region,total\neu,42\n", metadata: ["team": "finance"])
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("big.bin")
    try Data(count: 20 << 20).write(to: file)
    try await bucket.uploadObject(key: "2024/big.bin", file: file)      // multipart above 8 MiB

    var keys: [String] = []
    for try await object in bucket.findObjects(prefix: "2024/") {   // lazy: one page at a time
        keys.append(object.key)
        print(object.key, try await object.size)
    }
    for try await entry in bucket.findEntries(delimiter: "/") {     // objects and "folders"
        if case .commonPrefix(let folder) = entry { print("folder:", folder) }
    }

    let report = try await bucket.getObject(key: "2024/q1.csv")
    print(try await report.metadata["team"] ?? "-")                 // "finance"
    let text = String(decoding: try await report.body(), as: UTF8.self)
    print(text)

    try await bucket.setLifetimeInDays(30)                          // objects expire after 30 days
    print(bucket.url(forKey: "2024/q1.csv"))

    try await bucket.deleteBucket(force: true)
    return keys
}

// Test suites get buckets that never outlive them.
func readmeTemporaryBucketExample(client: S3Client) async throws {
    try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "test") { bucket in
        try await bucket.putObject(key: "k", body: "v")
        #expect(try await bucket.getObject(key: "k").body() == Array("v".utf8))
    }   // deleted here, even if the body threw or was cancelled
}

extension ReadmeExampleTests {
    @Test(arguments: TestServer.all) func theBucketExampleRuns(server: TestServer) async throws {
        try await server.run {
            let keys = try await readmeBucketExample(client: try makeClient())
            #expect(keys == ["2024/big.bin", "2024/q1.csv"])
            try await readmeTemporaryBucketExample(client: try makeClient())
        }
    }
}

// The README's "Large and many objects" example, with its placeholders defined.
func readmeTransferExample(bucket: S3Bucket, videoURL: URL, targetURL: URL, localFolder: URL, restoreFolder: URL, siteFolder: URL,
                           someAsyncByteSequence: AsyncStream<[UInt8]>) async throws -> (Int, S3SyncSummary) {
    var consumed = 0
    func consume(_ chunk: S3Bytes) { consumed += chunk.count }

    let (events, report) = S3TransferProgress.makeStream()          // or any @Sendable callback
    let options = S3TransferOptions(partSize: 8 << 20, concurrency: 8, progress: report)
    Task { for await p in events { print(p.bytesDone, p.totalBytes ?? -1, p.bytesPerSecond) } }

    try await bucket.uploadObject(key: "video.mp4", file: videoURL, options: options)
    try await bucket.uploadObject(key: "log.gz", from: someAsyncByteSequence, options: options)   // length unknown
    try await bucket.downloadObject(key: "video.mp4", to: targetURL, options: options)
    for try await chunk in bucket.downloadStream(key: "video.mp4", options: options) { consume(chunk) }

    // Many objects under one concurrency limit (and so one memory budget):
    try await bucket.uploadDirectory(localFolder, prefix: "backup/", options: options)
    try await bucket.downloadPrefix("backup/", to: restoreFolder, options: options)

    // A one-way sync with aws s3 sync's rules (what `s3 sync` runs), memory flat however many files:
    var sync = S3SyncOptions()
    sync.deleteExtraneous = true
    sync.filter.exclude("*.tmp")
    let summary = try await S3SyncJob(from: .directory(siteFolder), to: .bucket(bucket, prefix: "www/"), options: sync).run { event in
        if let error = event.error { print(event.destination, error) }
    }
    print(summary.copied, summary.deleted, summary.unchanged, summary.failed)
    return (consumed, summary)
}

extension ReadmeExampleTests {
    @Test(arguments: TestServer.all) func theTransferExampleRuns(server: TestServer) async throws {
        try await server.run {
            try await S3Bucket.withTemporaryBucket(client: try makeClient(), namePrefix: "readme") { bucket in
                let dir = FileManager.default.temporaryDirectory.appendingPathComponent("readme-\(UUID())")
                try FileManager.default.createDirectory(at: dir.appendingPathComponent("folder"), withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: dir) }
                let video = dir.appendingPathComponent("video.mp4")
                try Data(patternBytes(9 << 20)).write(to: video)
                try Data("x".utf8).write(to: dir.appendingPathComponent("folder/x.txt"))
                let site = dir.appendingPathComponent("site")
                for name in ["index.html", "css/a.css", "draft.tmp"] {
                    try FileManager.default.createDirectory(at: site.appendingPathComponent(name).deletingLastPathComponent(),
                                                            withIntermediateDirectories: true)
                    try Data(name.utf8).write(to: site.appendingPathComponent(name))
                }
                try await bucket.putObject(key: "www/stale.html", body: "old")
                let (consumed, summary) = try await readmeTransferExample(
                    bucket: bucket, videoURL: video, targetURL: dir.appendingPathComponent("copy.mp4"),
                    localFolder: dir.appendingPathComponent("folder"), restoreFolder: dir.appendingPathComponent("restore"),
                    siteFolder: site, someAsyncByteSequence: AsyncStream { c in c.yield([1, 2, 3]); c.finish() })
                #expect(consumed == 9 << 20)
                #expect(summary.copied == 2 && summary.deleted == 1 && summary.failed == 0, "\(summary)")
                var www: [String] = []
                for try await o in bucket.findObjects(prefix: "www/") { www.append(o.key) }
                #expect(www.sorted() == ["www/css/a.css", "www/index.html"])
                #expect(try await bucket.getObject(key: "www/index.html").attributes().contentType == "text/html")
                #expect(try Data(contentsOf: dir.appendingPathComponent("copy.mp4")) == Data(patternBytes(9 << 20)))
                #expect(try String(contentsOf: dir.appendingPathComponent("restore/x.txt"), encoding: .utf8) == "x")
            }
        }
    }
}

// The README's "Integrity" example, verbatim inside a function.
func readmeIntegrityExample(endpoint: String, credentials: S3Credentials) async throws -> S3Checksum? {
    var configuration = try S3Configuration(endpoint: endpoint, credentials: credentials, store: .seaweedfs)
    configuration.checksumAlgorithm = .crc64nvme         // default: the store's (CRC-32C; CRC-64/NVME on R2)
    let client = S3Client(configuration: configuration)
    let bucket = try await S3Bucket(name: "ledgers", client: client, autoCreate: true)

    try await bucket.putObject(key: "2024.csv", body: "day,total\n1,42\n")   // carries its CRC-64/NVME
    let stored = try await bucket.getObject(key: "2024.csv").checksum        // what the store keeps
    print(stored.map { "\($0)" } ?? "no checksum kept")
    do {
        let bytes = try await bucket.getObject(key: "2024.csv").body()      // checked at the last byte
        print(bytes.count)
    } catch let error as S3Error where error.code == .integrityFailure {
        print("corrupted on the way:", error.message)                        // nothing was returned or cached
    }
    try await bucket.deleteBucket(force: true)
    return stored
}

extension ReadmeExampleTests {
    @Test(arguments: TestServer.all) func theIntegrityExampleRuns(server: TestServer) async throws {
        try await server.run {
            let stored = try await readmeIntegrityExample(endpoint: try server.endpoint(), credentials: testCredentials)
            #expect(stored?.algorithm == .crc64nvme && stored?.kind == .fullObject)
        }
    }
}
