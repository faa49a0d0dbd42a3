import Foundation
import S3
import S3Signing
import Testing

/// Checksums by default, end to end: uploads carry a CRC the store verifies, and every read
/// path checks the bytes against the stored checksum. Corruption comes from the fault proxy,
/// which flips one byte of a body and keeps every header.
@Suite struct IntegrityTests {
    /// Runs the `s3` tool against the proxy in front of the current server.
    func s3(_ arguments: [String]) throws -> (status: Int32, output: Data, error: String) {
        try runS3Tool(arguments, endpoint: try proxyEndpoint())
    }

    func expectIntegrityFailure(_ what: String, _ body: () async throws -> Void) async {
        do {
            try await body()
            Issue.record("\(what): a flipped byte went unnoticed")
        } catch let e as S3Error {
            #expect(e.code == .integrityFailure, "\(what): \(e)")
        } catch {
            Issue.record("\(what): \(error)")
        }
    }

    /// Every read path of a single-part and of a multipart object, with default settings:
    /// one flipped byte in every GET body is an `.integrityFailure` (a non-zero exit for the
    /// tool), and a download to a file leaves nothing under the target's name (nor a
    /// temporary file). Through the same proxy without the fault, the bytes are identical.
    /// Over TLS too (`overTLS`): nginx terminating TLS in front of the proxy, every body read
    /// through curl's TLS path, a download to a file through its gathered writes.
    @Test(arguments: TestServer.all, [false, true]) func aFlippedByteIsCaughtOnEveryReadPath(server: TestServer, overTLS: Bool) async throws {
        try await server.run(overTLS: overTLS) {
            let client = try makeProxiedClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "flip") { bucket in
                let small = patternBytes(300_000, seed: 21)
                let large = patternBytes(12 << 20 + 777, seed: 22)
                try await bucket.putObject(key: "single", body: small)
                try await bucket.uploadObject(key: "multi", bytes: large, options: S3TransferOptions(partSize: 5 << 20, concurrency: 3))
                // The store holds a full-object checksum of each: ours, in one case combined from the parts'.
                for key in ["single", "multi"] {
                    let checksum = try #require(try await client.headObject(bucket: bucket.name, key: key).checksum, "\(key)")
                    #expect(checksum.kind == .fullObject && checksum.algorithm == .crc32c, "\(key): \(checksum)")
                    let expected = Data(CRC(.crc32c, of: key == "single" ? small : large).bigEndianBytes).base64EncodedString()
                    #expect(checksum.value == expected, "\(key)")
                    #expect(try await bucket.getObject(key: key).checksum == checksum, "\(key): S3Object.checksum")
                }
                let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flip-\(UUID())")
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: dir) }
                let ranged = S3TransferOptions(partSize: 5 << 20, concurrency: 3)
                try setFaults(bucket: bucket.name, #"[{"method": "GET", "action": "flip"}]"#)
                for key in ["single", "multi"] {
                    await expectIntegrityFailure("\(key): getObject body") {
                        _ = try await client.getObject(bucket: bucket.name, key: key).body.collect()
                    }
                    await expectIntegrityFailure("\(key): S3Object.body()") { _ = try await bucket.getObject(key: key).body() }
                    await expectIntegrityFailure("\(key): S3Object.bodyStream") {
                        for try await _ in try await bucket.getObject(key: key).bodyStream {}
                    }
                    await expectIntegrityFailure("\(key): downloadStream") {
                        for try await _ in bucket.downloadStream(key: key, options: ranged) {}
                    }
                    let target = dir.appendingPathComponent(key)
                    await expectIntegrityFailure("\(key): download to a file") {
                        try await bucket.downloadObject(key: key, to: target, options: ranged)
                    }
                    #expect(!FileManager.default.fileExists(atPath: target.path), "\(key): a file was left under the target name")
                    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty, "\(key): a temporary file was left")
                    // The tool: cat and cp exit non-zero and say why.
                    let cat = try s3(["cat", "s3://\(bucket.name)/\(key)"])
                    #expect(cat.status == 1 && cat.error.contains("checksum"), "\(key): s3 cat: \(cat.status) \(cat.error)")
                    let cp = try s3(["cp", "s3://\(bucket.name)/\(key)", target.path])
                    #expect(cp.status == 1 && cp.error.contains("checksum"), "\(key): s3 cp: \(cp.status) \(cp.error)")
                    #expect(!FileManager.default.fileExists(atPath: target.path))
                }
                // Without the fault, the same paths through the same proxy give the same bytes.
                try setFaults(bucket: bucket.name, "[]")
                for (key, body) in [("single", small), ("multi", large)] {
                    #expect(try await client.getObject(bucket: bucket.name, key: key).body.collect() == body)
                    var streamed = [UInt8]()
                    for try await chunk in bucket.downloadStream(key: key, options: ranged) { streamed += chunk }
                    #expect(streamed == body)
                    let target = dir.appendingPathComponent(key)
                    try await bucket.downloadObject(key: key, to: target, options: ranged)
                    #expect([UInt8](try Data(contentsOf: target)) == body)
                    let cat = try s3(["cat", "s3://\(bucket.name)/\(key)"])
                    #expect(cat.status == 0 && [UInt8](cat.output) == body)
                }
            }
        }
    }

    /// Every upload path sends a checksum: single PUTs from memory and from a file a CRC-32C
    /// header, multipart uploads (from memory, a stream of unknown length, a file) each part's
    /// CRC and, on completion, the whole object's (`x-amz-checksum-type: FULL_OBJECT`),
    /// computed from the parts' CRCs. (Resumed uploads: TransferTests.)
    @Test(arguments: TestServer.all) func everyUploadPathSendsAChecksum(server: TestServer) async throws {
        try await server.run {
            let client = try makeProxiedClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "upck") { bucket in
                let body = patternBytes(11 << 20 + 5, seed: 23)
                let file = FileManager.default.temporaryDirectory.appendingPathComponent("upck-\(UUID())")
                let bigFile = FileManager.default.temporaryDirectory.appendingPathComponent("upck-big-\(UUID())")
                try Data(body[..<100_000]).write(to: file)
                try Data(body).write(to: bigFile)
                defer {
                    try? FileManager.default.removeItem(at: file)
                    try? FileManager.default.removeItem(at: bigFile)
                }
                try setFaults(bucket: bucket.name, "[]")
                try await bucket.putObject(key: "memory", body: Array(body[..<1000]))
                try await bucket.putObject(key: "file", file: file)
                try await bucket.uploadObject(key: "parts", bytes: body, options: S3TransferOptions(partSize: 5 << 20, concurrency: 2))
                try await bucket.uploadObject(key: "fileparts", file: bigFile, options: S3TransferOptions(partSize: 5 << 20, concurrency: 2))
                let stream = AsyncStream<[UInt8]> { c in
                    for start in stride(from: 0, to: body.count, by: 1 << 20) { c.yield(Array(body[start..<min(start + (1 << 20), body.count)])) }
                    c.finish()
                }
                try await bucket.uploadObject(key: "stream", from: stream, options: S3TransferOptions(partSize: 5 << 20, concurrency: 2))
                let log = try proxyLog(bucket: bucket.name)
                func crc(_ bytes: ArraySlice<UInt8>) -> String { Data(CRC(.crc32c, of: Array(bytes)).bigEndianBytes).base64EncodedString() }
                func line(_ fragment: String) -> String? { log.first { $0.contains(fragment) } }
                #expect(line("PUT /\(bucket.name)/memory ")?.contains("crc32c=" + crc(body[..<1000])) == true, "\(log)")
                #expect(line("PUT /\(bucket.name)/file ")?.contains("crc32c=" + crc(body[..<100_000])) == true, "\(log)")
                for key in ["parts", "stream", "fileparts"] {
                    let parts = log.filter { $0.hasPrefix("PUT /\(bucket.name)/\(key)?partNumber=") }
                    #expect(parts.count == 3 && parts.allSatisfy { $0.contains("crc32c=") }, "\(key): \(parts)")
                    let complete = try #require(log.first { $0.hasPrefix("POST /\(bucket.name)/\(key)?uploadId=") }, "\(key)")
                    #expect(complete.contains("crc32c=" + crc(body[...])) && complete.contains("checksum-type=FULL_OBJECT"), "\(key): \(complete)")
                }
                // boto3 reads our checksums back (and validates them as it reads).
                for (key, bytes) in [("memory", body[..<1000]), ("file", body[..<100_000]), ("parts", body[...]), ("stream", body[...]),
                                     ("fileparts", body[...])] {
                    let seen = try #require(try boto3(["checksum", bucket.name, key]) as? [String: Any])
                    #expect(seen["crc32c"] as? String == crc(bytes), "\(key): \(seen)")
                    #expect(seen["validated"] as? Bool == true)
                }
            }
        }
    }

    /// SeaweedFS verifies the checksums: a body changed on the way (one byte flipped by the
    /// proxy, headers kept) is refused with BadDigest, for a single PUT from a file (sent
    /// unsigned: the CRC is its only protection, and it is on by default), for unsigned bodies
    /// (`.checksumOnly`) and for a multipart part; the failed multipart upload is aborted.
    /// (moto keeps checksums but verifies none, so this runs against SeaweedFS only.)
    @Test func seaweedFSRefusesACorruptedUpload() async throws {
        try await TestServer.seaweedfs.run {
            let client = try makeProxiedClient(retry: S3RetryPolicy(maxAttempts: 1))
            var unsignedConfiguration = try S3Configuration(endpoint: try proxyEndpoint(), credentials: testCredentials)
            unsignedConfiguration.payloadProtection = .checksumOnly
            unsignedConfiguration.allowsUnsignedPayloadOverHTTP = true
            unsignedConfiguration.retry = S3RetryPolicy(maxAttempts: 1)
            let unsigned = S3Client(configuration: unsignedConfiguration)
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "badup") { bucket in
                let body = patternBytes(11 << 20, seed: 24)
                let file = FileManager.default.temporaryDirectory.appendingPathComponent("badup-\(UUID())")
                try Data(body[..<200_000]).write(to: file)
                defer { try? FileManager.default.removeItem(at: file) }
                try setFaults(bucket: bucket.name, #"[{"method": "PUT", "action": "flip-upload"}]"#)
                func refused(_ what: String, _ upload: () async throws -> Void) async {
                    do {
                        try await upload()
                        Issue.record("\(what): a corrupted upload was stored")
                    } catch let e as S3Error {
                        #expect(e.code.rawValue == "BadDigest" || e.underlying.map { "\($0)".contains("BadDigest") } == true, "\(what): \(e)")
                    } catch {
                        Issue.record("\(what): \(error)")
                    }
                }
                await refused("file PUT (default settings)") { try await bucket.putObject(key: "file", file: file) }
                let unsignedBucket = try await S3Bucket(name: bucket.name, client: unsigned)
                await refused("unsigned PUT") { try await unsignedBucket.putObject(key: "memory", body: Array(body[..<1000])) }
                await refused("unsigned multipart") {
                    try await unsignedBucket.uploadObject(key: "parts", bytes: body, options: S3TransferOptions(partSize: 5 << 20, concurrency: 1))
                }
                // A signed body that changed is refused too (its SHA-256 no longer matches).
                do {
                    try await bucket.putObject(key: "signed", body: Array(body[..<1000]))
                    Issue.record("a corrupted signed upload was stored")
                } catch let e as S3Error {
                    #expect(e.httpStatus == 400, "\(e)")
                }
                try setFaults(bucket: bucket.name, "[]")
                var keys: [String] = []
                for try await object in bucket.listObjects() { keys.append(object.key) }
                #expect(keys.isEmpty, "\(keys)")
                #expect(try await client.listMultipartUploads(bucket: bucket.name).uploads.isEmpty)
            }
        }
    }

    /// We validate boto3's checksums: a single PUT with its CRC-32 / CRC-64/NVME, and
    /// upload_file's multipart upload (a composite CRC-32), read back through every path
    /// without a complaint (none wrongly refused); flipped bytes caught.
    @Test(arguments: TestServer.all) func boto3ChecksumsAreValidated(server: TestServer) async throws {
        try await server.run {
            let client = try makeProxiedClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "botock") { bucket in
                let body = patternBytes(200_000, seed: 25)
                let large = patternBytes(17 << 20, seed: 26)
                let file = FileManager.default.temporaryDirectory.appendingPathComponent("botock-\(UUID())")
                try Data(large).write(to: file)
                defer { try? FileManager.default.removeItem(at: file) }
                _ = try boto3(["put-checksum", bucket.name, "crc32", "CRC32"], stdin: body)
                _ = try boto3(["put-checksum", bucket.name, "crc64", "CRC64NVME"], stdin: body)
                _ = try boto3(["upload-file", bucket.name, "large", file.path])
                let target = FileManager.default.temporaryDirectory.appendingPathComponent("botock-out-\(UUID())")
                defer { try? FileManager.default.removeItem(at: target) }
                let ranged = S3TransferOptions(partSize: 5 << 20, concurrency: 3)
                for (key, bytes) in [("crc32", body), ("crc64", body), ("large", large)] {
                    let checksum = try await client.headObject(bucket: bucket.name, key: key).checksum
                    if key != "large" { #expect(checksum?.kind == .fullObject, "\(key): \(String(describing: checksum))") }
                    #expect(try await client.getObject(bucket: bucket.name, key: key).body.collect() == bytes, "\(key)")
                    try await bucket.downloadObject(key: key, to: target, options: ranged)
                    #expect([UInt8](try Data(contentsOf: target)) == bytes, "\(key)")
                    var streamed = [UInt8]()
                    for try await chunk in bucket.downloadStream(key: key, options: ranged) { streamed += chunk }
                    #expect(streamed == bytes, "\(key)")
                }
                try setFaults(bucket: bucket.name, #"[{"method": "GET", "action": "flip"}]"#)
                for key in ["crc32", "crc64"] {
                    await expectIntegrityFailure("boto3's \(key)") { _ = try await client.getObject(bucket: bucket.name, key: key).body.collect() }
                    await expectIntegrityFailure("boto3's \(key) to a file") { try await bucket.downloadObject(key: key, to: target, options: ranged) }
                }
                // s3transfer's multipart upload has a composite CRC-32 (a CRC of the parts' CRCs).
                // SeaweedFS reports it as such and tells each part's size (HEAD ?partNumber=N), so
                // a download to a file checks it; moto's HEAD omits the checksum type of a
                // multipart object, so there its kind is unknown and it is not checked.
                if server.kind == .seaweedfs {
                    let checksum = try #require(try await client.headObject(bucket: bucket.name, key: "large").checksum)
                    #expect(checksum.kind == .composite(parts: 3), "\(checksum)")
                    await expectIntegrityFailure("boto3's composite to a file") {
                        try await bucket.downloadObject(key: "large", to: target, options: ranged)
                    }
                    await expectIntegrityFailure("boto3's composite, one GET") {
                        _ = try await client.getObject(bucket: bucket.name, key: "large").body.collect()
                    }
                    await expectIntegrityFailure("boto3's composite, ordered stream") {
                        for try await _ in bucket.downloadStream(key: "large", options: ranged) {}
                    }
                }
                try setFaults(bucket: bucket.name, "[]")
            }
        }
    }

    /// A store of unknown kind that refuses a full-object checksum type on
    /// CreateMultipartUpload (501 NotImplemented from the proxy) gets a composite one instead,
    /// and the completion then names no type; a store without DeleteObjects (501) has its keys
    /// deleted one by one; a prefix download takes objects that fit one range in one GET
    /// (checked as it streams, no HEAD) and catches a flipped byte there too.
    @Test(arguments: TestServer.all) func optionalStepsFallBack(server: TestServer) async throws {
        try await server.run {
            let client = try makeProxiedClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "fallback") { bucket in
                let body = patternBytes(11 << 20, seed: 27)
                try setFaults(bucket: bucket.name, #"[{"method": "POST", "query": "uploads", "action": "status", "status": 501, "code": "NotImplemented", "times": 1}]"#)
                try await bucket.uploadObject(key: "composite", bytes: body, options: S3TransferOptions(partSize: 5 << 20, concurrency: 2))
                var log = try proxyLog(bucket: bucket.name)
                let creates = log.filter { $0.hasPrefix("POST /\(bucket.name)/composite?uploads") }
                #expect(creates.count == 2 && creates[0].contains("checksum-type=FULL_OBJECT") && !creates[1].contains("checksum-type"), "\(creates)")
                let complete = try #require(log.first { $0.hasPrefix("POST /\(bucket.name)/composite?uploadId=") })
                #expect(!complete.contains("checksum-type"), "\(complete)")
                #expect(try await client.getObject(bucket: bucket.name, key: "composite").body.collect() == body)
                if server.kind == .seaweedfs {
                    #expect(try await client.headObject(bucket: bucket.name, key: "composite").checksum?.kind == .composite(parts: 3))
                }
                // DeleteObjects answered NotImplemented: single deletes, same result.
                for i in 0..<5 { try await bucket.putObject(key: "many/\(i)", body: [UInt8(i)]) }
                try setFaults(bucket: bucket.name, #"[{"method": "POST", "query": "delete", "action": "status", "status": 501, "code": "NotImplemented"}]"#)
                let failures = try await client.deleteObjects(bucket: bucket.name, keys: (0..<5).map { ("many/\($0)", nil) })
                #expect(failures.isEmpty)
                log = try proxyLog(bucket: bucket.name)
                #expect(log.filter { $0.hasPrefix("DELETE /\(bucket.name)/many/") }.count == 5, "\(log)")
                var left: [String] = []
                for try await object in bucket.listObjects() where object.key.hasPrefix("many/") { left.append(object.key) }
                #expect(left.isEmpty)
                // A prefix download: one plain GET per small object, checked as it streams.
                for i in 0..<3 { try await bucket.putObject(key: "dir/\(i)", body: patternBytes(10_000 + i, seed: UInt8(i))) }
                let dir = FileManager.default.temporaryDirectory.appendingPathComponent("prefix-\(UUID())")
                defer { try? FileManager.default.removeItem(at: dir) }
                try setFaults(bucket: bucket.name, "[]")
                _ = try await bucket.downloadPrefix("dir/", to: dir)
                log = try proxyLog(bucket: bucket.name)
                #expect(!log.contains { $0.hasPrefix("HEAD /\(bucket.name)/dir/") }, "\(log)")
                #expect(log.filter { $0.hasPrefix("GET /\(bucket.name)/dir/") }.allSatisfy { !$0.contains("bytes=") }, "\(log)")
                #expect([UInt8](try Data(contentsOf: dir.appendingPathComponent("2"))) == patternBytes(10_002, seed: 2))
                try setFaults(bucket: bucket.name, #"[{"method": "GET", "path": "/dir/", "action": "flip"}]"#)
                let again = dir.appendingPathComponent("again")
                await expectIntegrityFailure("a prefix download") { _ = try await bucket.downloadPrefix("dir/", to: again) }
                #expect(!FileManager.default.fileExists(atPath: again.appendingPathComponent("0").path))
                try setFaults(bucket: bucket.name, "[]")
            }
        }
    }

    /// A store profile without DeleteObjects (GCS) never sends it.
    @Test func aStoreWithoutDeleteObjectsIsNotAsked() async throws {
        try await TestServer.moto.run {
            var configuration = try S3Configuration(endpoint: try proxyEndpoint(), credentials: testCredentials)
            configuration.store = .gcs
            let client = S3Client(configuration: configuration)
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "gcs") { bucket in
                try setFaults(bucket: bucket.name, "[]")
                for i in 0..<3 { try await bucket.putObject(key: "k\(i)", body: [1]) }
                #expect(try await bucket.clearObjects() == 3)
                let log = try proxyLog(bucket: bucket.name)
                #expect(!log.contains { $0.contains("?delete") }, "\(log)")
                // No checksum headers either (GCS's XML API does not take them).
                #expect(log.allSatisfy { !$0.contains("crc32c=") }, "\(log)")
            }
        }
    }

    /// The tool's options: `--checksum-algorithm crc64nvme` stores a CRC-64/NVME (single and
    /// multipart), which boto3 reads back; unknown stores and SHA algorithms are refused
    /// before any request (exit 64).
    @Test(arguments: TestServer.all) func theToolsChecksumOptions(server: TestServer) async throws {
        try await server.run {
            let client = try makeProxiedClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "cliopt") { bucket in
                let body = patternBytes(9 << 20, seed: 28)
                let file = FileManager.default.temporaryDirectory.appendingPathComponent("cliopt-\(UUID())")
                let smallFile = FileManager.default.temporaryDirectory.appendingPathComponent("cliopt-small-\(UUID())")
                try Data(body).write(to: file)
                try Data(body[..<100_000]).write(to: smallFile)
                defer {
                    try? FileManager.default.removeItem(at: file)
                    try? FileManager.default.removeItem(at: smallFile)
                }
                try setFaults(bucket: bucket.name, "[]")
                let big = try s3(["cp", "--checksum-algorithm", "crc64nvme", file.path, "s3://\(bucket.name)/big"])
                #expect(big.status == 0, "\(big.error)")
                let small = try s3(["cp", "--checksum-algorithm", "CRC64NVME", "--store", "seaweedfs", smallFile.path, "s3://\(bucket.name)/small"])
                #expect(small.status == 0, "\(small.error)")
                for (key, bytes) in [("big", body[...]), ("small", body[..<100_000])] {
                    let expected = Data(CRC(.crc64nvme, of: Array(bytes)).bigEndianBytes).base64EncodedString()
                    let seen = try #require(try boto3(["checksum", bucket.name, key]) as? [String: Any])
                    #expect(seen["crc64nvme"] as? String == expected, "\(key): \(seen)")
                }
                let before = try proxyLog(bucket: bucket.name).count
                let sha = try s3(["cp", "--checksum-algorithm", "sha256", file.path, "s3://\(bucket.name)/never"])
                #expect(sha.status == 64 && sha.error.contains("crc32, crc32c or crc64nvme"), "\(sha.status) \(sha.error)")
                let store = try s3(["ls", "--store", "dropbox", "s3://\(bucket.name)"])
                #expect(store.status == 64 && store.error.contains("unknown store"), "\(store.status) \(store.error)")
                #expect(try proxyLog(bucket: bucket.name).count == before)
            }
        }
    }

    /// With checksums off (`.whenRequired`) nothing is sent or asked for.
    @Test func checksumsCanBeTurnedOff() async throws {
        try await TestServer.moto.run {
            var configuration = try S3Configuration(endpoint: try proxyEndpoint(), credentials: testCredentials)
            configuration.checksums = .whenRequired
            let client = S3Client(configuration: configuration)
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "nock") { bucket in
                try setFaults(bucket: bucket.name, "[]")
                try await bucket.putObject(key: "k", body: [1, 2, 3])
                #expect(try await client.headObject(bucket: bucket.name, key: "k").checksum == nil)
                #expect(try proxyLog(bucket: bucket.name).allSatisfy { !$0.contains("crc32c=") })
            }
        }
    }

    /// Store profiles: detection from the host, and what each changes.
    @Test func storeProfiles() async throws {
        func store(_ endpoint: String) throws -> S3StoreProfile {
            try S3Configuration(endpoint: endpoint, credentials: testCredentials).store
        }
        #expect(try store("https://s3.eu-west-1.amazonaws.com") == .aws)
        #expect(try store("https://acct.r2.cloudflarestorage.com") == .r2)
        #expect(try S3Configuration(endpoint: "https://acct.r2.cloudflarestorage.com", credentials: testCredentials).region == "auto")
        #expect(try store("https://storage.googleapis.com") == .gcs)
        #expect(try store("https://s3.us-west-004.backblazeb2.com") == .b2)
        #expect(try store("http://127.0.0.1:9000") == .other)
        #expect(try S3Configuration(endpoint: "http://127.0.0.1:9000", credentials: testCredentials).region == "us-east-1")
        // A SHA algorithm cannot be combined across parts: refused before anything is sent.
        var configuration = try S3Configuration(endpoint: "http://127.0.0.1:9", credentials: testCredentials)
        configuration.checksumAlgorithm = .sha256
        let client = S3Client(configuration: configuration)
        let shaRefused = await #expect(throws: S3Error.self) { try await client.putObject(bucket: "never-sent", key: "k", bytes: [1]) }
        #expect(shaRefused?.code == .invalidArgument)
    }
}

