import Foundation
import S3
import Testing

/// End-to-end against moto on 127.0.0.1 (started by scripts/test).
@Suite struct ClientIntegrationTests {
    @Test(arguments: TestServer.all) func bucketAndObjectLifecycle(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client) { temporary in
                let bucket = temporary.name
                try await client.headBucket(bucket)
                let body = Array("hello, S3".utf8)
                let put = try await client.putObject(bucket: bucket, key: "greeting.txt", bytes: body, contentType: "text/plain",
                                                     metadata: ["Author": "Ada", "purpose": "test"])
                #expect(put.eTag == "6d2d8e5b3b8b1d3c2c3cdb1a3b2d4c7a" || put.eTag?.count == 32)
                let head = try await client.headObject(bucket: bucket, key: "greeting.txt")
                #expect(head.size == Int64(body.count))
                #expect(head.eTag == put.eTag)
                #expect(head.contentType == "text/plain")
                #expect(head.metadata == ["author": "Ada", "purpose": "test"])
                #expect(head.lastModified != nil)
                #expect(abs(head.lastModified!.timeIntervalSinceNow) < 300)

                let got = try await client.getObject(bucket: bucket, key: "greeting.txt")
                #expect(try await got.body.collect() == body)
                #expect(got.attributes.metadata["author"] == "Ada")

                try await client.deleteObject(bucket: bucket, key: "greeting.txt")
                await #expect(throws: S3Error.self) { try await client.headObject(bucket: bucket, key: "greeting.txt") }
                try await client.deleteBucket(bucket)
                let afterDelete = await #expect(throws: S3Error.self) { try await client.headBucket(bucket) }
                #expect(afterDelete?.code == .noSuchBucket)
            }
        }
    }

    @Test(arguments: TestServer.all) func largeObjectStreamsAndRanges(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client) { temporary in
                let bucket = temporary.name
                var rng = SystemRandomNumberGenerator()
                let body = (0..<(6 << 20)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                try await client.putObject(bucket: bucket, key: "big.bin", bytes: body)
                let got = try await client.getObject(bucket: bucket, key: "big.bin")
                var received = [UInt8]()
                var chunks = 0
                for try await chunk in got.body {
                    received.append(contentsOf: chunk)
                    chunks += 1
                }
                #expect(sha256Hex(received) == sha256Hex(body))
                #expect(chunks > 1, "the body arrived as one piece: it was not streamed")
                let part = try await client.getObject(bucket: bucket, key: "big.bin", range: 1000...1999)
                #expect(try await part.body.collect() == Array(body[1000...1999]))
                #expect(part.attributes.size == Int64(body.count))
                #expect(part.contentRange == "bytes 1000-1999/\(body.count)")
            }
        }
    }

    @Test(arguments: TestServer.all, ["dir//a b+c=d~e.txt", "ünï/cødé/日本語.txt", "%41 & ? # = ;/x", "a/./b/../c", "'quotes\" and *stars*'"])
    func oddKeysRoundTrip(server: TestServer, key: String) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client) { temporary in
                let bucket = temporary.name
                let body = Array(key.utf8)
                if !server.keepsKeysVerbatim && key.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0 == "." || $0 == ".." }) {
                    // SeaweedFS stores keys as paths and refuses "." and ".." segments.
                    let e = await #expect(throws: S3Error.self) { try await client.putObject(bucket: bucket, key: key, bytes: body) }
                    #expect(e?.code.rawValue == "InvalidRequest")
                    return
                }
                try await client.putObject(bucket: bucket, key: key, bytes: body)
                #expect(try await client.getObject(bucket: bucket, key: key).body.collect() == body)
                let page = try await client.listObjectsV2(bucket: bucket)
                // SeaweedFS folds "//" in a key to "/" when listing (the object reads back under the key it was put with).
                #expect(page.objects.map(\.key) == [server.keepsKeysVerbatim ? key : key.replacingOccurrences(of: "//", with: "/")])
                try await client.deleteObject(bucket: bucket, key: key)
                #expect(try await client.listObjectsV2(bucket: bucket).objects.isEmpty)
            }
        }
    }

    @Test(arguments: TestServer.all) func listingPagesPrefixesAndDelimiters(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client) { temporary in
                let bucket = temporary.name
                let keys = ["a/1", "a/2", "a/b/3", "c", "d/4"]
                for k in keys { try await client.putObject(bucket: bucket, key: k, bytes: Array(k.utf8)) }
                let all = try await client.listObjectsV2(bucket: bucket)
                #expect(all.objects.map(\.key) == keys)
                #expect(all.objects.first?.size == 3)
                #expect(!all.isTruncated)
                let folders = try await client.listObjectsV2(bucket: bucket, delimiter: "/")
                #expect(folders.objects.map(\.key) == ["c"])
                #expect(folders.commonPrefixes == ["a/", "d/"])
                let inA = try await client.listObjectsV2(bucket: bucket, prefix: "a/", delimiter: "/")
                #expect(inA.objects.map(\.key) == ["a/1", "a/2"])
                #expect(inA.commonPrefixes == ["a/b/"])
                let first = try await client.listObjectsV2(bucket: bucket, maxKeys: 2)
                #expect(first.objects.map(\.key) == ["a/1", "a/2"])
                #expect(first.isTruncated)
                let second = try await client.listObjectsV2(bucket: bucket, maxKeys: 2, continuationToken: first.nextContinuationToken)
                #expect(second.objects.map(\.key) == ["a/b/3", "c"])
                let after = try await client.listObjectsV2(bucket: bucket, startAfter: "c")
                #expect(after.objects.map(\.key) == ["d/4"])
            }
        }
    }

    @Test(arguments: TestServer.all) func errorsAreMappedEverywhere(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            let missingBucket = uniqueBucket("missing")
            let e1 = await #expect(throws: S3Error.self) { try await client.getObject(bucket: missingBucket, key: "k") }
            #expect(e1?.code == .noSuchBucket)
            #expect(e1?.httpStatus == 404)
            #expect(e1?.bucket == missingBucket)
            let e2 = await #expect(throws: S3Error.self) { try await client.headObject(bucket: missingBucket, key: "k") }
            #expect(e2?.code == .noSuchBucket)
            let e3 = await #expect(throws: S3Error.self) { try await client.listObjectsV2(bucket: missingBucket) }
            #expect(e3?.code == .noSuchBucket)
            #expect(e3?.requestID != nil)

            try await S3Bucket.withTemporaryBucket(client: client) { temporary in
                let bucket = temporary.name
                let e4 = await #expect(throws: S3Error.self) { try await client.getObject(bucket: bucket, key: "nope") }
                #expect(e4?.code == .noSuchKey)
                #expect(e4?.key == "nope")
                let e5 = await #expect(throws: S3Error.self) { try await client.headObject(bucket: bucket, key: "nope") }
                #expect(e5?.code == .noSuchKey)
                #expect(e5?.httpStatus == 404)
                let e6 = await #expect(throws: S3Error.self) { try await client.headBucket(missingBucket) }
                #expect(e6?.code == .noSuchBucket)
                #expect(!(e6?.description.contains("testing-secret") ?? true))
            }
        }
    }

    @Test(arguments: TestServer.all) func badInputFailsBeforeAnyRequest(server: TestServer) async throws {
        try await server.run {
            // A client whose endpoint has no server: a transport error would mean a request went out.
            let client = S3Client(configuration: try S3Configuration(endpoint: "http://127.0.0.1:9", credentials: testCredentials))
            for name in ["ab", "UPPER", "has_underscore", "-leading", "192.168.1.1", "a..b", String(repeating: "x", count: 64)] {
                let e = await #expect(throws: S3Error.self) { try await client.createBucket(name) }
                #expect(e?.code == .invalidArgument, "\(name)")
            }
            let e1 = await #expect(throws: S3Error.self) { try await client.putObject(bucket: "fine-bucket", key: "", bytes: []) }
            #expect(e1?.code == .invalidArgument)
            let e2 = await #expect(throws: S3Error.self) {
                try await client.putObject(bucket: "fine-bucket", key: String(repeating: "k", count: 1025), bytes: [])
            }
            #expect(e2?.code == .invalidArgument)
            let e3 = await #expect(throws: S3Error.self) {
                try await client.putObject(bucket: "fine-bucket", key: "k", bytes: [], metadata: ["bad name": "v"])
            }
            #expect(e3?.code == .invalidArgument)
            let e4 = await #expect(throws: S3Error.self) {
                try await client.putObject(bucket: "fine-bucket", key: "k", bytes: [], metadata: ["n": "line\nbreak"])
            }
            #expect(e4?.code == .invalidArgument)
            let e5 = await #expect(throws: S3Error.self) { try await client.listObjectsV2(bucket: "fine-bucket", maxKeys: 0) }
            #expect(e5?.code == .invalidArgument)
            await #expect(throws: S3Error.self) { try await client.presignedURL(bucket: "fine-bucket", key: "k", expiresIn: 604_801) }
            // And the same client does reach the network for valid input, failing as transport.
            let e6 = await #expect(throws: S3Error.self) { try await client.headBucket("fine-bucket") }
            #expect(e6?.code == .transportFailure)
        }
    }

    @Test(arguments: TestServer.all) func virtualHostAddressing(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient(style: .virtualHost)
            let bucket = uniqueBucket("vh")
            try await client.createBucket(bucket)
            try await client.putObject(bucket: bucket, key: "v/key 1.txt", bytes: Array("virtual".utf8))
            let pathClient = try makeClient()
            #expect(try await pathClient.getObject(bucket: bucket, key: "v/key 1.txt").body.collect() == Array("virtual".utf8))
            #expect(try await client.listObjectsV2(bucket: bucket).objects.map(\.key) == ["v/key 1.txt"])
        }
    }

    @Test(arguments: TestServer.all) func presignedURLsWorkWithCurl(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client) { temporary in
                let bucket = temporary.name
                let key = "presigned/file name.txt"
                let putURL = try await client.presignedURL(method: "PUT", bucket: bucket, key: key, expiresIn: 600)
                #expect(putURL.contains("X-Amz-Signature="))
                let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("presign-\(UUID()).txt")
                try Data("uploaded by curl".utf8).write(to: tmp)
                defer { try? FileManager.default.removeItem(at: tmp) }
                let (putStatus, putOut) = try run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-T", tmp.path,
                                                                    "-H", "Content-Type: text/plain", putURL])
                #expect(putStatus == 0)
                #expect(String(decoding: putOut, as: UTF8.self) == "200")
                #expect(try await client.getObject(bucket: bucket, key: key).body.collect() == Array("uploaded by curl".utf8))

                let getURL = try await client.presignedURL(bucket: bucket, key: key, expiresIn: 600)
                let (getStatus, body) = try run("/usr/bin/curl", ["-s", "-f", getURL])
                #expect(getStatus == 0)
                #expect(String(decoding: body, as: UTF8.self) == "uploaded by curl")
            }
        }
    }

    @Test(arguments: TestServer.all) func putFromFileRegion(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client) { temporary in
                let bucket = temporary.name
                let bytes = (0..<(2 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
                let path = FileManager.default.temporaryDirectory.appendingPathComponent("put-\(UUID()).bin").path
                #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
                defer { try? FileManager.default.removeItem(atPath: path) }
                let fd = open(path, O_RDONLY)
                defer { close(fd) }
                try await client.putObject(bucket: bucket, key: "region", fileDescriptor: fd, offset: 4096, length: 1 << 20)
                #expect(try await client.getObject(bucket: bucket, key: "region").body.collect() == Array(bytes[4096..<(4096 + (1 << 20))]))
            }
        }
    }

    @Test(arguments: TestServer.all) func createBucketOutsideUSEast1(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient(region: "eu-west-1")
            try await S3Bucket.withTemporaryBucket(client: client) { temporary in
                let names = try await client.listBuckets().map(\.name)
                #expect(names.contains(temporary.name))
                let location = try boto3(["location", temporary.name]) as? String
                // SeaweedFS accepts the LocationConstraint but reports none.
                #expect(location == (server.reportsLocationConstraint ? "eu-west-1" : nil))
            }
        }
    }
}
