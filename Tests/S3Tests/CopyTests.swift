import Foundation
import S3Locking
import Testing
@testable import S3

/// Server-side copy (issue 13): CopyObject and the parallel multipart copy, against moto and
/// SeaweedFS (through the fault proxy where a failure is injected), checked with boto3.
@Suite struct CopyTests {
    @Test(arguments: TestServer.all) func copiesKeepOrReplaceMetadataAcrossBuckets(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "copy-src") { source in
                try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "copy-dst") { target in
                    let body = patternBytes(100_000)
                    try await source.putObject(key: "in/a b.bin", body: body, metadata: ["owner": "ana"], contentType: "image/png")
                    // Same bucket, metadata kept.
                    let same = try await source.copyObject(from: "in/a b.bin", to: "copy.bin")
                    #expect(same.eTag != nil)
                    var seen = try #require(try boto3(["get", source.name, "copy.bin"]) as? [String: Any])
                    #expect(seen["sha256"] as? String == sha256Hex(body))
                    #expect((seen["metadata"] as? [String: String])?["owner"] == "ana")
                    #expect(seen["content_type"] as? String == "image/png")
                    // Another bucket, metadata replaced.
                    try await target.copyObject(from: "in/a b.bin", to: "out.bin", sourceBucket: source.name,
                                                metadata: .replace(metadata: ["owner": "bo"], contentType: "text/plain"))
                    seen = try #require(try boto3(["get", target.name, "out.bin"]) as? [String: Any])
                    #expect(seen["sha256"] as? String == sha256Hex(body))
                    #expect(seen["metadata"] as? [String: String] == ["owner": "bo"])
                    #expect(seen["content_type"] as? String == "text/plain")
                    // A source whose ETag is not the one named: nothing is written. S3Bucket's copy
                    // checks it against a HEAD first, on every store.
                    let stale = "0123456789abcdef0123456789abcdef"
                    let e = await #expect(throws: S3Error.self) {
                        try await target.copyObject(from: "in/a b.bin", to: "stale.bin", sourceBucket: source.name, sourceIfMatch: stale)
                    }
                    #expect(e?.code == .preconditionFailed)
                    var listed = try #require(try boto3(["list", target.name, "", ""]) as? [String: Any])
                    #expect(listed["keys"] as? [String] == ["out.bin"])
                    // The client's CopyObject sends x-amz-copy-source-if-match; SeaweedFS refuses the
                    // copy, moto ignores the header (it lacks copy-source conditions) and copies.
                    var low: S3Error?
                    do {
                        try await client.copyObject(sourceBucket: source.name, sourceKey: "in/a b.bin", bucket: target.name, key: "stale.bin",
                                                    sourceIfMatch: stale)
                    } catch let error as S3Error { low = error }
                    listed = try #require(try boto3(["list", target.name, "", ""]) as? [String: Any])
                    if server.checksCopySourceConditions {
                        #expect(low?.code == .preconditionFailed)
                        #expect(listed["keys"] as? [String] == ["out.bin"])
                    } else {
                        #expect(low == nil, "moto refused a copy with a stale source ETag: it checks the condition now")
                        #expect(listed["keys"] as? [String] == ["out.bin", "stale.bin"])
                    }
                }
            }
        }
    }

    @Test(arguments: TestServer.all) func aLargeCopyGoesInParallelParts(server: TestServer) async throws {
        try await server.run {
            let direct = try makeClient()
            let proxied = try makeProxiedClient()
            try await S3Bucket.withTemporaryBucket(client: direct, namePrefix: "copy-parts") { b in
                let body = patternBytes(12 << 20, seed: 3)
                try await b.putObject(key: "big", body: body, metadata: ["kind": "video"], contentType: "video/mp4")
                try setFaults(bucket: b.name, "[]")
                let progress = Locked<[S3TransferProgress]>([])
                // The 5 GiB path, scaled down: threshold and parts of 5 MiB (S3's smallest part).
                var options = S3TransferOptions(concurrency: 2, progress: { p in progress.withLock { $0.append(p) } })
                options.copyThreshold = 5 << 20
                options.copyPartSize = 5 << 20
                try await S3Bucket.unchecked(name: b.name, client: proxied).copyObject(from: "big", to: "big-copy", options: options)
                let seen = try #require(try boto3(["get", b.name, "big-copy"]) as? [String: Any])
                #expect(seen["sha256"] as? String == sha256Hex(body))
                #expect((seen["metadata"] as? [String: String])?["kind"] == "video")
                #expect(seen["content_type"] as? String == "video/mp4")
                let parts = try proxyLog(bucket: b.name).filter { $0.hasPrefix("PUT") && $0.contains("partNumber=") }
                #expect(parts.count == 3, "\(parts)")
                #expect(progress.withLock { $0.last?.bytesDone } == Int64(body.count))
                #expect(try boto3(["uploads", b.name]) as? [String] == [])
            }
        }
    }

    @Test(arguments: TestServer.all) func aFailedPartAbortsTheMultipartCopy(server: TestServer) async throws {
        try await server.run {
            let direct = try makeClient()
            let proxied = try makeProxiedClient(retry: S3RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(5)))
            try await S3Bucket.withTemporaryBucket(client: direct, namePrefix: "copy-abort") { b in
                try await b.putObject(key: "big", body: patternBytes(11 << 20))
                try setFaults(bucket: b.name, #"[{"method":"PUT","query":"partNumber=2&","action":"status","status":500,"code":"InternalError"}]"#)
                defer { try? setFaults(bucket: b.name, "[]") }
                var options = S3TransferOptions(concurrency: 1)
                options.copyThreshold = 5 << 20
                options.copyPartSize = 5 << 20
                let e = await #expect(throws: S3Error.self) {
                    try await S3Bucket.unchecked(name: b.name, client: proxied).copyObject(from: "big", to: "copy", options: options)
                }
                #expect(e?.code == .internalError)
                #expect(e?.attempts == 2)
                #expect(try boto3(["uploads", b.name]) as? [String] == [], "the multipart upload was aborted")
                let listed = try #require(try boto3(["list", b.name, "", ""]) as? [String: Any])
                #expect(listed["keys"] as? [String] == ["big"], "no copy appeared")
            }
        }
    }

    @Test(arguments: TestServer.all) func aCopyAnsweredWithAnErrorIn200IsRetried(server: TestServer) async throws {
        try await server.run {
            let direct = try makeClient()
            let proxied = try makeProxiedClient(retry: S3RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(5)))
            try await S3Bucket.withTemporaryBucket(client: direct, namePrefix: "copy-200") { b in
                try await b.putObject(key: "src", body: "payload")
                try setFaults(bucket: b.name, #"[{"method":"PUT","path":"/dst","action":"status200","code":"InternalError","times":1}]"#)
                defer { try? setFaults(bucket: b.name, "[]") }
                let result = try await proxied.copyObject(sourceBucket: b.name, sourceKey: "src", bucket: b.name, key: "dst")
                #expect(result.attempts == 2)
                #expect(String(decoding: try await b.getObject(key: "dst").body(), as: UTF8.self) == "payload")
            }
        }
    }

    @Test func badCopiesAreRefusedBeforeSending() async throws {
        let client = S3Client(configuration: try S3Configuration(endpoint: "http://127.0.0.1:9", credentials: testCredentials))
        let bucket = S3Bucket.unchecked(name: "fine-bucket", client: client)
        var tinyParts = S3TransferOptions()
        tinyParts.copyPartSize = 1 << 20
        let cases: [(String, () async throws -> Void)] = [
            ("a bad source bucket", { try await bucket.copyObject(from: "k", to: "k2", sourceBucket: "Bad_Bucket") }),
            ("an empty source key", { try await bucket.copyObject(from: "", to: "k2") }),
            ("parts under 5 MiB", { try await bucket.copyObject(from: "k", to: "k2", options: tinyParts) }),
            ("part number 0", { _ = try await client.uploadPartCopy(sourceBucket: "fine-bucket", sourceKey: "k", range: 0...9,
                                                                    bucket: "fine-bucket", key: "k2", uploadID: "u", partNumber: 0) }),
            ("a source ETag with a line break", { try await client.copyObject(sourceBucket: "fine-bucket", sourceKey: "k", bucket: "fine-bucket",
                                                                              key: "k2", sourceIfMatch: "a\nb") }),
        ]
        await expectRefusedBeforeSending(client, cases)
    }
}
