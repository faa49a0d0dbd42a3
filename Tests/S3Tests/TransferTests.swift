import Foundation
import S3
import S3Signing
import S3Locking
import Testing

/// Parallel transfers against moto, with faults injected by the reverse proxy in front of it.
@Suite struct TransferTests {

    func tempFile(_ bytes: [UInt8]) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("transfer-\(UUID()).bin")
        try Data(bytes).write(to: url)
        return url
    }

    @Test(arguments: TestServer.all) func parallelUploadsFromFileBytesAndStreamDownloadInParallel(server: TestServer) async throws {
        try await server.run {
            let direct = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: direct, namePrefix: "par") { bucket in
                let body = patternBytes(23 << 20)
                let file = try tempFile(body)
                defer { try? FileManager.default.removeItem(at: file) }
                let options = S3TransferOptions(partSize: 5 << 20, concurrency: 4)
                let events = EventLog()
                var withProgress = options
                withProgress.progress = { p in events.add(p) }
                try await bucket.uploadObject(key: "file", file: file, options: withProgress)
                try await bucket.uploadObject(key: "stream", from: AsyncStream { c in
                    var i = 0
                    while i < body.count { c.yield(Array(body[i..<min(i + 777_777, body.count)])); i += 777_777 }
                    c.finish()
                }, options: options)
                try await bucket.uploadObject(key: "bytes", bytes: body, options: options)
                for key in ["file", "stream", "bytes"] {
                    let seen = try #require(try boto3(["get", bucket.name, key]) as? [String: Any])
                    #expect(seen["sha256"] as? String == sha256Hex(body), "\(key)")
                    #expect(try await bucket.getObject(key: key).eTag.hasSuffix("-5"), "23 MiB in 5 MiB parts: 5 parts")
                }
                let last = try #require(events.all.last)
                #expect(last.bytesDone == Int64(body.count))
                #expect(last.totalBytes == Int64(body.count))
                #expect(last.partsDone == 5)

                let target = FileManager.default.temporaryDirectory.appendingPathComponent("down-\(UUID()).bin")
                defer { try? FileManager.default.removeItem(at: target) }
                try await bucket.downloadObject(key: "file", to: target, options: S3TransferOptions(partSize: 4 << 20, concurrency: 4))
                #expect(sha256Hex([UInt8](try Data(contentsOf: target))) == sha256Hex(body))
            }
        }
    }

    @Test(arguments: TestServer.all) func contentMD5IsOptInAndSyncToDiskKeepsTheBytes(server: TestServer) async throws {
        try await server.run {
            let proxied = try makeProxiedClient()
            try await S3Bucket.withTemporaryBucket(client: proxied, namePrefix: "md5") { bucket in
                let body = patternBytes(11 << 20, seed: 9)
                var options = S3TransferOptions(partSize: 5 << 20, concurrency: 2)
                try await bucket.uploadObject(key: "plain", bytes: body, options: options)
                options.contentMD5 = true
                // moto answers the md5-of-md5s ETag, which the upload checks against its own MD5s.
                try await bucket.uploadObject(key: "checked", bytes: body, options: options)
                let parts = try proxyLog(bucket: bucket.name).filter { $0.hasPrefix("PUT") && $0.contains("partNumber=") }
                let plain = parts.filter { $0.contains("/plain?") }, checked = parts.filter { $0.contains("/checked?") }
                #expect(plain.count == 3 && plain.allSatisfy { !$0.contains(" content-md5") }, "\(plain)")
                #expect(checked.count == 3 && checked.allSatisfy { $0.contains(" content-md5") }, "\(checked)")

                let target = FileManager.default.temporaryDirectory.appendingPathComponent("synced-\(UUID()).bin")
                defer { try? FileManager.default.removeItem(at: target) }
                var synced = S3TransferOptions(partSize: 4 << 20, concurrency: 2)
                synced.syncToDisk = true
                try await bucket.downloadObject(key: "checked", to: target, options: synced)
                #expect(sha256Hex([UInt8](try Data(contentsOf: target))) == sha256Hex(body))
            }
        }
    }

    @Test(arguments: TestServer.all) func crc32cProtectionSendsEachPartsChecksumUnsigned(server: TestServer) async throws {
        try await server.run {
            var configuration = try S3Configuration(endpoint: try proxyEndpoint(), credentials: testCredentials)
            configuration.payloadProtection = .checksumOnly
            // Unsigned bodies over plain http are refused until the configuration says the
            // network is trusted; nothing is sent.
            let refused = await #expect(throws: S3Error.self) {
                try await S3Client(configuration: configuration).putObject(bucket: "never-sent", key: "k", bytes: [1])
            }
            #expect(refused?.code == .invalidArgument)
            #expect(refused?.message.contains("allowsUnsignedPayloadOverHTTP") == true)
            #expect(try proxyLog(bucket: "never-sent").isEmpty)
            configuration.allowsUnsignedPayloadOverHTTP = true
            let client = S3Client(configuration: configuration)
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "crc") { bucket in
                let body = patternBytes(11 << 20, seed: 12)
                try await bucket.uploadObject(key: "big", bytes: body, options: S3TransferOptions(partSize: 5 << 20, concurrency: 2))
                let small = Array(body[..<1000])
                try await bucket.putObject(key: "small", body: small)
                let log = try proxyLog(bucket: bucket.name).filter { $0.hasPrefix("PUT") }
                func sent(_ fragment: String) -> String? {
                    log.first { $0.contains(fragment) }?.split(separator: " ").first(where: { $0.hasPrefix("crc32c=") }).map { String($0.dropFirst(7)) }
                }
                // Each part carries the CRC-32C of exactly its bytes (big-endian, base64).
                let parts = [body[..<(5 << 20)], body[(5 << 20)..<(10 << 20)], body[(10 << 20)...]]
                for (i, part) in parts.enumerated() {
                    let crc = part.withUnsafeBytes { Digest.crc32c($0) }
                    let expected = Data([UInt8(crc >> 24), UInt8((crc >> 16) & 0xff), UInt8((crc >> 8) & 0xff), UInt8(crc & 0xff)]).base64EncodedString()
                    #expect(sent("partNumber=\(i + 1)&") == expected, "part \(i + 1): \(log)")
                }
                #expect(sent("/small") != nil)
                for key in ["big", "small"] {
                    let seen = try #require(try boto3(["get", bucket.name, key]) as? [String: Any])
                    #expect(seen["sha256"] as? String == sha256Hex(key == "big" ? body : small), "\(key)")
                }
            }
        }
    }

    @Test(arguments: TestServer.all) func downloadsToAnOrderedStreamFromParallelRanges(server: TestServer) async throws {
        try await server.run {
            let direct = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: direct, namePrefix: "stream") { bucket in
                let body = patternBytes(13 << 20 + 4321, seed: 6)
                try await bucket.uploadObject(key: "k", bytes: body, options: S3TransferOptions(partSize: 5 << 20))
                let options = S3TransferOptions(partSize: 2 << 20, concurrency: 3)
                var received = [UInt8]()
                var sizes: [Int] = []
                for try await chunk in bucket.downloadStream(key: "k", options: options) {
                    received += chunk
                    sizes.append(chunk.count)
                }
                // 2 MiB ranges, each handed out whole as one element (a view of its buffer): 6 full ones, then the rest.
                #expect(sizes == Array(repeating: 2 << 20, count: 6) + [(1 << 20) + 4321], "\(sizes)")
                #expect(sha256Hex(received) == sha256Hex(body))
                let collected = Collected()
                try await bucket.downloadObject(key: "k", options: options) { await collected.add($0) }
                #expect(await collected.bytes == body)
                let object = try await bucket.getObject(key: "k")
                var viaObject = [UInt8]()
                for try await chunk in object.rangedBodyStream(options: options) { viaObject += chunk }
                #expect(viaObject == body)
                // A consumer that stops early does not hang or leak: the ranges in flight are cancelled.
                for try await _ in bucket.downloadStream(key: "k", options: options) { break }
                // An empty object is an empty stream.
                try await bucket.putObject(key: "empty", body: [UInt8]())
                var emptyCount = 0
                for try await chunk in bucket.downloadStream(key: "empty") { emptyCount += chunk.count }
                #expect(emptyCount == 0)
            }
        }
    }

    @Test(arguments: TestServer.all) func aThrottledPartIsRetriedAndTheUploadCompletes(server: TestServer) async throws {
        try await server.run {
            let direct = try makeClient()
            let proxied = try makeProxiedClient()
            try await S3Bucket.withTemporaryBucket(client: direct, namePrefix: "retry") { b in
                let body = patternBytes(12 << 20, seed: 3)
                let file = try tempFile(body)
                defer { try? FileManager.default.removeItem(at: file) }
                try setFaults(bucket: b.name, #"[{"method":"PUT","query":"partNumber=2&","action":"status","status":503,"code":"SlowDown","times":2}]"#)
                defer { try? setFaults(bucket: b.name, "[]") }
                let bucket = S3Bucket.unchecked(name: b.name, client: proxied)
                try await bucket.uploadObject(key: "k", file: file, options: S3TransferOptions(partSize: 5 << 20, concurrency: 3))
                let parts = try proxyLog(bucket: b.name).filter { $0.contains("partNumber=2&") }
                #expect(parts.count == 3, "part 2 was sent three times: \(parts)")
                let seen = try #require(try boto3(["get", b.name, "k"]) as? [String: Any])
                #expect(seen["sha256"] as? String == sha256Hex(body))
            }
        }
    }

    @Test(arguments: TestServer.all) func aCancelledUploadLeavesNoMultipartUploadBehind(server: TestServer) async throws {
        try await server.run {
            let direct = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: direct, namePrefix: "cancel") { bucket in
                let started = Flag()
                let task = Task {
                    try await bucket.uploadObject(key: "k", from: AsyncThrowingStream<[UInt8], any Error> { c in
                        Task {
                            for _ in 0..<100 {
                                c.yield(patternBytes(1 << 20))
                                try? await Task.sleep(for: .milliseconds(30))
                            }
                            c.finish()
                        }
                    }, options: S3TransferOptions(partSize: 5 << 20, concurrency: 2, progress: { p in if p.partsDone >= 1 { started.set() } }))
                }
                while !started.isSet { try await Task.sleep(for: .milliseconds(10)) }
                let elapsed = await cancelAndWait(task)
                // The upload returns only after its AbortMultipartUpload was answered, so the bound is
                // 200 ms plus what one request costs moto right now (it is shared with the suites
                // running in parallel).
                let clock = ContinuousClock()
                let t1 = clock.now
                try await bucket.client.headBucket(bucket.name)
                let roundTrip = clock.now - t1
                #expect(elapsed < .milliseconds(200) + roundTrip * 2, "cancellation took \(elapsed) (one request: \(roundTrip))")
                let uploads = try boto3(["uploads", bucket.name]) as? [String]
                #expect(uploads == [], "the multipart upload was aborted")
            }
        }
    }

    /// An upload cancelled while its CreateMultipartUpload is on the way leaves no upload
    /// behind. The proxy holds the create 1 s, then forwards it whether anyone still waits or
    /// not, so the store makes the upload: the client must wait for the create's answer and
    /// abort what it made. (The soak of issue 27 found such orphans: cancelled uploads whose
    /// create had reached a gateway.)
    @Test(arguments: TestServer.all) func anUploadCancelledDuringItsCreateLeavesNoUploadBehind(server: TestServer) async throws {
        try await server.run {
            let direct = try makeClient()
            let proxied = try makeProxiedClient()
            try await S3Bucket.withTemporaryBucket(client: direct, namePrefix: "cancelcreate") { b in
                let file = try tempFile(patternBytes(11 << 20, seed: 21))
                defer { try? FileManager.default.removeItem(at: file) }
                try setFaults(bucket: b.name, #"[{"method":"POST","query":"uploads","action":"delay","seconds":1,"times":1}]"#)
                defer { try? setFaults(bucket: b.name, "[]") }
                let bucket = S3Bucket.unchecked(name: b.name, client: proxied)
                let task = Task { try await bucket.uploadObject(key: "k", file: file, options: S3TransferOptions(partSize: 5 << 20, concurrency: 2)) }
                try await Task.sleep(for: .milliseconds(300))
                task.cancel()
                let result = await task.result
                #expect(throws: CancellationError.self) { try result.get() }
                // Past the moment the proxy forwards the create (1 s after it came).
                try await Task.sleep(for: .milliseconds(1_500))
                let uploads = try boto3(["uploads", b.name]) as? [String]
                #expect(uploads == [], "the upload the cancelled create made was aborted")
                #expect(try proxyLog(bucket: b.name).filter { $0.hasPrefix("POST ") }.count == 1)
            }
        }
    }

    /// A CreateMultipartUpload the store acted on, whose answer was lost on the way back (the
    /// proxy forwards it, then drops the connection), is sent again, and the upload its first
    /// attempt made is aborted: the completed upload leaves none behind. The soak of issue 27
    /// found such orphans after a gateway restart.
    @Test(arguments: TestServer.all) func anUploadWhoseCreateAnswerWasLostLeavesNoUploadBehind(server: TestServer) async throws {
        try await server.run {
            let direct = try makeClient()
            let proxied = try makeProxiedClient(retry: S3RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(5)))
            try await S3Bucket.withTemporaryBucket(client: direct, namePrefix: "lostcreate") { b in
                let body = patternBytes(11 << 20, seed: 22)
                let file = try tempFile(body)
                defer { try? FileManager.default.removeItem(at: file) }
                try setFaults(bucket: b.name, #"[{"method":"POST","query":"uploads","action":"lose-answer","times":1}]"#)
                defer { try? setFaults(bucket: b.name, "[]") }
                // Another key's unfinished upload, which the sweep must leave alone.
                let other = try await direct.createMultipartUpload(bucket: b.name, key: "k2")
                let bucket = S3Bucket.unchecked(name: b.name, client: proxied)
                try await bucket.uploadObject(key: "k", file: file, options: S3TransferOptions(partSize: 5 << 20, concurrency: 2))
                let creates = try proxyLog(bucket: b.name).filter { $0.hasPrefix("POST ") && $0.contains("uploads") }
                #expect(creates.count == 2, "the create was sent again after its answer was lost: \(creates)")
                let seen = try #require(try boto3(["get", b.name, "k"]) as? [String: Any])
                #expect(seen["sha256"] as? String == sha256Hex(body))
                let left = try await direct.listMultipartUploads(bucket: b.name).uploads
                if server.reportsUploadStartTimes {
                    #expect(left.map(\.key) == ["k2"], "only the other key's upload is left: \(left)")
                } else {
                    // moto says every upload began in 2010: nothing tells the lost attempt's
                    // upload from another writer's, so it is left (and the other key's too).
                    #expect(Set(left.map(\.key)) == ["k", "k2"], "\(left)")
                }
                #expect(left.contains { $0.uploadID == other })
                for u in left { try await direct.abortMultipartUpload(bucket: b.name, key: u.key, uploadID: u.uploadID) }
            }
        }
    }

    @Test(arguments: TestServer.all) func aKeptUploadResumesSkippingPartsOnTheServer(server: TestServer) async throws {
        try await server.run {
            let direct = try makeClient()
            let proxied = try makeProxiedClient()
            try await S3Bucket.withTemporaryBucket(client: direct, namePrefix: "resume") { b in
                let body = patternBytes(16 << 20, seed: 9)
                let file = try tempFile(body)
                defer { try? FileManager.default.removeItem(at: file) }
                try setFaults(bucket: b.name, #"[{"method":"PUT","query":"partNumber=3&","action":"status","status":500,"code":"InternalError"}]"#)
                let bucket = S3Bucket.unchecked(name: b.name, client: proxied)
                let options = S3TransferOptions(partSize: 5 << 20, concurrency: 1, retry: S3RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(10)),
                                                keepPartialUploadOnFailure: true)
                let e = await #expect(throws: S3Error.self) { try await bucket.uploadObject(key: "k", file: file, options: options) }
                #expect(e?.code == .uploadIncomplete)
                let state = try #require(e?.resumeState)
                #expect(state.completedParts.map(\.partNumber) == [1, 2])
                #expect(try boto3(["uploads", b.name]) as? [String] == ["k"], "the upload was kept")

                try setFaults(bucket: b.name, "[]")
                try await bucket.resumeUpload(state, file: file, options: S3TransferOptions(concurrency: 2))
                let sent = try proxyLog(bucket: b.name).filter { $0.hasPrefix("PUT") && $0.contains("partNumber=") }
                #expect(sent.count == 2 && sent.allSatisfy { $0.contains("partNumber=3&") || $0.contains("partNumber=4&") },
                        "only parts 3 and 4 were sent again: \(sent)")
                let seen = try #require(try boto3(["get", b.name, "k"]) as? [String: Any])
                #expect(seen["sha256"] as? String == sha256Hex(body))
                #expect(try boto3(["uploads", b.name]) as? [String] == [])
                // The completion carried the whole file's CRC-32C, the skipped parts' CRCs taken
                // from the file as it was read again.
                let complete = try #require(try proxyLog(bucket: b.name).first { $0.hasPrefix("POST") && $0.contains("uploadId=") })
                #expect(complete.contains("crc32c=" + Data(CRC(.crc32c, of: body).bigEndianBytes).base64EncodedString()), "\(complete)")
            }
        }
    }

    /// Over TLS too: there the body goes into the file through curl's write callback, gathered
    /// into writes of 256 KiB; the bytes taken before the break are written, so the retry
    /// resumes after them and the file is whole.
    @Test(arguments: TestServer.all, [false, true]) func aBrokenRangeResumesFromTheByteWhereItBroke(server: TestServer, overTLS: Bool) async throws {
        try await server.run(overTLS: overTLS) {
            let direct = try makeClient()
            let proxied = try makeProxiedClient()
            try await S3Bucket.withTemporaryBucket(client: direct, namePrefix: "broken") { b in
                let body = patternBytes(6 << 20, seed: 5)
                try await b.putObject(key: "k", body: body)
                try setFaults(bucket: b.name, #"[{"method":"GET","range":"bytes=2097152-","action":"truncate","bytes":100000,"times":1}]"#)
                defer { try? setFaults(bucket: b.name, "[]") }
                let target = FileManager.default.temporaryDirectory.appendingPathComponent("broken-\(UUID()).bin")
                defer { try? FileManager.default.removeItem(at: target) }
                let bucket = S3Bucket.unchecked(name: b.name, client: proxied)
                try await bucket.downloadObject(key: "k", to: target, options: S3TransferOptions(partSize: 2 << 20, concurrency: 2))
                #expect(sha256Hex([UInt8](try Data(contentsOf: target))) == sha256Hex(body))
                let ranges = try proxyLog(bucket: b.name).filter { $0.hasPrefix("GET") }.map { $0.split(separator: " ").first { $0.hasPrefix("bytes=") }.map(String.init) ?? "" }
                #expect(ranges.contains("bytes=2197152-4194303"), "the retry started where the body broke: \(ranges)")
            }
        }
    }

    @Test(arguments: TestServer.all) func progressMovesWhileARangeIsStillGoingIntoTheFile(server: TestServer) async throws {
        try await server.run {
            let direct = try makeClient()
            let proxied = try makeProxiedClient()
            try await S3Bucket.withTemporaryBucket(client: direct, namePrefix: "trickle") { b in
                let body = patternBytes(4 << 20, seed: 9)
                try await b.putObject(key: "k", body: body)
                // The second range sends 1 MiB, then nothing for 1.5 s, then the rest: written
                // straight into the file, it wakes nobody until it ends.
                try setFaults(bucket: b.name, #"[{"method":"GET","range":"bytes=2097152-","action":"trickle","bytes":1048576,"seconds":1.5,"times":1}]"#)
                defer { try? setFaults(bucket: b.name, "[]") }
                let target = FileManager.default.temporaryDirectory.appendingPathComponent("trickle-\(UUID()).bin")
                defer { try? FileManager.default.removeItem(at: target) }
                let seen = Locked<[Int64]>([])
                let bucket = S3Bucket.unchecked(name: b.name, client: proxied)
                try await bucket.downloadObject(key: "k", to: target, options: S3TransferOptions(partSize: 2 << 20, concurrency: 1, progress: { p in
                    seen.withLock { $0.append(p.bytesDone) }
                }))
                #expect(sha256Hex([UInt8](try Data(contentsOf: target))) == sha256Hex(body))
                let values = seen.withLock { $0 }
                #expect(values.contains { $0 > 2 << 20 && $0 < 4 << 20 },
                        "progress showed the second range's first MiB before the range ended: \(values)")
                #expect(values.last == 4 << 20)
            }
        }
    }

    @Test(arguments: TestServer.all) func aCancelledDownloadStopsAndLeavesNoFile(server: TestServer) async throws {
        try await server.run {
            let direct = try makeClient()
            let proxied = try makeProxiedClient()
            try await S3Bucket.withTemporaryBucket(client: direct, namePrefix: "dcancel") { b in
                try await b.putObject(key: "k", body: patternBytes(24 << 20, seed: 8))
                let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dcancel-\(UUID())")
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: dir) }
                let started = Flag()
                // Through the proxy, which is slow enough that the download is still running.
                let bucket = S3Bucket.unchecked(name: b.name, client: proxied)
                let task = Task {
                    try await bucket.downloadObject(key: "k", to: dir.appendingPathComponent("k.bin"),
                                                    options: S3TransferOptions(partSize: 1 << 20, concurrency: 2, progress: { _ in started.set() }))
                }
                while !started.isSet { try await Task.sleep(for: .milliseconds(5)) }
                let elapsed = await cancelAndWait(task)
                #expect(elapsed < .milliseconds(200), "cancellation took \(elapsed)")
                #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty, "the temporary file was removed")
            }
        }
    }

    @Test(arguments: TestServer.all) func anObjectReplacedMidDownloadFailsAndLeavesNoFile(server: TestServer) async throws {
        try await server.run {
            let direct = try makeClient()
            let proxied = try makeProxiedClient()
            try await S3Bucket.withTemporaryBucket(client: direct, namePrefix: "changed") { b in
                try await b.putObject(key: "k", body: patternBytes(6 << 20, seed: 1))
                let dir = FileManager.default.temporaryDirectory.appendingPathComponent("changed-\(UUID())")
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: dir) }
                // The second range reaches moto 3 s late; the object is replaced as soon as the
                // first range starts flowing, so that range asks If-Match of a replaced object.
                try setFaults(bucket: b.name, #"[{"method":"GET","range":"bytes=1048576-","action":"delay","seconds":3,"times":1}]"#)
                defer { try? setFaults(bucket: b.name, "[]") }
                let replaced = Flag()
                let client = direct
                let name = b.name
                let replacement = patternBytes(6 << 20, seed: 2)
                let options = S3TransferOptions(partSize: 1 << 20, concurrency: 1, progress: { _ in
                    guard replaced.setIfFirst() else { return }
                    Task { _ = try? await client.putObject(bucket: name, key: "k", bytes: replacement) }
                })
                let bucket = S3Bucket.unchecked(name: b.name, client: proxied)
                let e = await #expect(throws: S3Error.self) { try await bucket.downloadObject(key: "k", to: dir.appendingPathComponent("k.bin"), options: options) }
                #expect(e?.code == .objectChanged)
                #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty, "no file, partial or final, is left")
            }
        }
    }
}

/// Cancels `task`, expects it to end with `CancellationError`, and returns how long that took.
func cancelAndWait<T: Sendable>(_ task: Task<T, any Error>) async -> Duration {
    let clock = ContinuousClock()
    let t0 = clock.now
    task.cancel()
    let result = await task.result
    let elapsed = clock.now - t0
    #expect(throws: CancellationError.self) { try result.get() }
    return elapsed
}

final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [S3TransferProgress] = []
    func add(_ e: S3TransferProgress) { lock.lock(); events.append(e); lock.unlock() }
    var all: [S3TransferProgress] { lock.lock(); defer { lock.unlock() }; return events }
}

final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    private var first = true
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func setIfFirst() -> Bool { lock.lock(); defer { lock.unlock() }; let f = first; first = false; return f }
}

@Suite struct BatchTransferTests {

    @Test(arguments: TestServer.all) func directoriesGoUpAndComeBackWithOneSharedLimit(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "dirs") { bucket in
                let root = FileManager.default.temporaryDirectory.appendingPathComponent("tree-\(UUID())")
                defer { try? FileManager.default.removeItem(at: root) }
                var expected: [String: [UInt8]] = [:]
                for (i, path) in ["a.txt", "sub/b.bin", "sub/deeper/c.bin", "big.bin", "sp ace/ü.txt"].enumerated() {
                    let bytes = path == "big.bin" ? patternBytes(11 << 20, seed: 4) : patternBytes(1000 * (i + 1), seed: UInt8(i))
                    let url = root.appendingPathComponent(path)
                    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                    try Data(bytes).write(to: url)
                    expected[path] = bytes
                }
                let (stream, callback) = S3TransferProgress.makeStream()
                let limiter = S3TransferLimiter(permits: 3)
                let options = S3TransferOptions(partSize: 5 << 20, concurrency: 3, progress: callback)
                var withLimiter = options
                withLimiter.limiter = limiter
                let keys = try await bucket.uploadDirectory(root, prefix: "backup/", options: withLimiter, maxObjectsInFlight: 4)
                #expect(Set(keys) == Set(expected.keys.map { "backup/" + $0 }))
                for (path, bytes) in expected {
                    let seen = try #require(try boto3(["get", bucket.name, "backup/" + path]) as? [String: Any])
                    #expect(seen["sha256"] as? String == sha256Hex(bytes), "\(path)")
                }
                var last: S3TransferProgress?
                for await event in stream {
                    last = event
                    if event.partsDone == expected.count && event.bytesDone == Int64(expected.values.reduce(0) { $0 + $1.count }) { break }
                }
                #expect(last?.partsDone == expected.count, "batch progress counts files")
                #expect(last?.totalBytes == Int64(expected.values.reduce(0) { $0 + $1.count }))

                let back = FileManager.default.temporaryDirectory.appendingPathComponent("back-\(UUID())")
                defer { try? FileManager.default.removeItem(at: back) }
                let files = try await bucket.downloadPrefix("backup/", to: back, options: S3TransferOptions(partSize: 4 << 20, concurrency: 3))
                #expect(files.count == expected.count)
                for (path, bytes) in expected {
                    #expect(try Data(contentsOf: back.appendingPathComponent(path)) == Data(bytes), "\(path)")
                }
            }
        }
    }

    @Test(arguments: TestServer.all) func keysThatWouldEscapeTheDirectoryAreRefused(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "escape") { bucket in
                guard server.keepsKeysVerbatim else {
                    // SeaweedFS keeps objects in a file tree and refuses such a key itself: nothing to download.
                    let e = await #expect(throws: S3Error.self) { try await bucket.putObject(key: "p/../../evil.txt", body: "x") }
                    #expect(e?.code.rawValue == "InvalidRequest")
                    return
                }
                try await bucket.putObject(key: "p/../../evil.txt", body: "x")
                let target = FileManager.default.temporaryDirectory.appendingPathComponent("escape-\(UUID())")
                defer { try? FileManager.default.removeItem(at: target) }
                let e = await #expect(throws: S3Error.self) { try await bucket.downloadPrefix("p/", to: target) }
                #expect(e?.code == .invalidArgument)
                #expect(!FileManager.default.fileExists(atPath: target.deletingLastPathComponent().appendingPathComponent("evil.txt").path))
            }
        }
    }
}
