import Foundation
@testable import S3
import Synchronization
import S3TestSupport
import Testing

/// The defects of the transfer layer found in issue 10, each reproduced against a real server.
@Suite struct LifetimeRegressionTests {
    @Test func aCancellationBeforeTheLimiterQueuesTheWaiterIsNotLost() async throws {
        let limiter = S3TransferLimiter(permits: 1)
        try await limiter.acquire()
        let waiter = Task<String, Never> {
            // Cancelled before acquire() stores its continuation: onCancel runs first.
            withUnsafeCurrentTask { $0?.cancel() }
            do {
                try await limiter.acquire()
                return "acquired"
            } catch is CancellationError {
                return "cancelled"
            } catch {
                return "\(error)"
            }
        }
        let outcome = try await within(5, "a cancelled acquire() kept waiting for a permit") { await waiter.value }
        #expect(outcome == "cancelled")
        limiter.release()
        // The permit is still there for the next one.
        try await within(5, "the permit was lost") { try await limiter.acquire() }
        limiter.release()
    }

    @Test(arguments: TestServer.all) func aRangeThatFailsEndsTheStreamForGood(server: TestServer) async throws {
        try await server.run {
            let direct = try makeClient()
            let proxied = try makeProxiedClient(retry: S3RetryPolicy(maxAttempts: 1))
            try await S3Bucket.withTemporaryBucket(client: direct, namePrefix: "gap") { b in
                let data = patternBytes(4 << 20)
                try await b.putObject(key: "k", body: data)
                try setFaults(bucket: b.name, #"[{"method":"GET","range":"bytes=2097152-","action":"status","status":403,"code":"AccessDenied"}]"#)
                defer { try? setFaults(bucket: b.name, "[]") }
                var options = S3TransferOptions()
                options.partSize = 1 << 20
                options.concurrency = 2
                let stream = S3Bucket.unchecked(name: b.name, client: proxied).downloadStream(key: "k", options: options)
                var iterator = stream.makeAsyncIterator()
                var received = 0
                var firstError: (any Error)?
                while firstError == nil {
                    do {
                        guard let chunk = try await iterator.next() else { break }
                        #expect(Array(data[received..<(received + chunk.count)]) == chunk.array)
                        received += chunk.count
                    } catch {
                        firstError = error
                    }
                }
                #expect((firstError as? S3Error)?.code == .accessDenied, "\(String(describing: firstError))")
                #expect(received == 2 << 20, "the bytes before the failed range, and none after")
                // Reading on must not skip the failed range and hand out the next one.
                var after: S3Bytes?
                let again = await #expect(throws: S3Error.self) { after = try await iterator.next() }
                #expect(after == nil)
                #expect(again?.code == .accessDenied)
            }
        }
    }

    @Test(arguments: TestServer.all) func aStreamThatFailsToStartDoesNotLookEmpty(server: TestServer) async throws {
        try await server.run {
            let direct = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: direct, namePrefix: "nostart") { b in
                var iterator = b.downloadStream(key: "missing").makeAsyncIterator()
                let first = await #expect(throws: S3Error.self) { _ = try await iterator.next() }
                #expect(first?.code == .noSuchKey)
                let second = await #expect(throws: S3Error.self) { _ = try await iterator.next() }
                #expect(second?.code == .noSuchKey, "a second next() repeats the failure instead of returning nil")
            }
        }
    }

    @Test(arguments: TestServer.all) func aFailedRenameClosesTheDescriptorOnce(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "close") { b in
                try await b.putObject(key: "k", body: patternBytes(4096))
                let dir = FileManager.default.temporaryDirectory.appendingPathComponent("close-\(UUID().uuidString)")
                let target = dir.appendingPathComponent("target")
                try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
                try "occupied".write(to: target.appendingPathComponent("inside"), atomically: false, encoding: .utf8)
                defer { try? FileManager.default.removeItem(at: dir) }
                // A thread that keeps opening descriptors: a second close() of a number already
                // given back closes one of these, which it then sees as EBADF.
                let stop = Atomic<Bool>(false)
                let stolen = Atomic<Int>(0)
                let spinner = Thread {
                    while !stop.load(ordering: .relaxed) {
                        var fds: [Int32] = []
                        for _ in 0..<8 { fds.append(open("/dev/null", O_RDONLY | O_CLOEXEC)) }
                        for fd in fds where fd >= 0 {
                            if fcntl(fd, F_GETFD) == -1 && errno == EBADF { stolen.add(1, ordering: .relaxed) }
                        }
                        for fd in fds where fd >= 0 {
                            if close(fd) != 0 && errno == EBADF { stolen.add(1, ordering: .relaxed) }
                        }
                    }
                }
                spinner.start()
                defer { stop.store(true, ordering: .relaxed) }
                for _ in 0..<150 {
                    let e = await #expect(throws: S3Error.self) { try await b.downloadObject(key: "k", to: target) }
                    #expect(e?.message.contains(target.path) == true)
                }
                stop.store(true, ordering: .relaxed)
                try await Task.sleep(for: .milliseconds(20))
                #expect(stolen.load(ordering: .relaxed) == 0, "a descriptor was closed twice")
                let left = try FileManager.default.contentsOfDirectory(atPath: dir.path)
                #expect(left == ["target"], "no partial file left: \(left)")
            }
        }
    }

    @Test(arguments: TestServer.all) func aFileAndAFolderOfOneNameAreRefusedBeforeWriting(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "clash") { b in
                try await b.putObject(key: "p/a", body: "file")
                try await b.putObject(key: "p/a/b", body: "inside")
                try await b.putObject(key: "p/c", body: "other")
                let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clash-\(UUID().uuidString)")
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: dir) }
                let e = await #expect(throws: S3Error.self) { try await b.downloadPrefix("p/", to: dir) }
                #expect(e?.code == .invalidArgument)
                #expect(e?.message.contains("p/a") == true && e?.message.contains("p/a/b") == true, "\(String(describing: e))")
                #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty, "nothing written")
            }
        }
    }

    @Test(arguments: TestServer.all) func anAbortThatFailsOnceIsRetried(server: TestServer) async throws {
        try await server.run {
            let direct = try makeClient()
            let proxied = try makeProxiedClient(retry: S3RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(10)))
            try await S3Bucket.withTemporaryBucket(client: direct, namePrefix: "abort") { b in
                try setFaults(bucket: b.name, #"""
                    [{"method":"PUT","query":"partNumber=2","action":"status","status":403,"code":"AccessDenied"},
                     {"method":"DELETE","query":"uploadId","action":"status","status":500,"code":"InternalError","times":1}]
                    """#)
                defer { try? setFaults(bucket: b.name, "[]") }
                var options = S3TransferOptions()
                options.partSize = 5 << 20
                options.multipartThreshold = 5 << 20
                options.concurrency = 1
                let e = await #expect(throws: S3Error.self) {
                    try await S3Bucket.unchecked(name: b.name, client: proxied).uploadObject(key: "k", bytes: patternBytes(11 << 20), options: options)
                }
                #expect(e?.code == .accessDenied, "\(String(describing: e))")
                let aborts = try proxyLog(bucket: b.name).filter { $0.hasPrefix("DELETE ") && $0.contains("uploadId") }
                #expect(aborts.count == 2, "the abort was retried after its 500: \(aborts)")
                #expect(try await direct.listMultipartUploads(bucket: b.name).uploads.isEmpty, "no upload left behind")
            }
        }
    }

    @Test(arguments: TestServer.all) func anAbortThatKeepsFailingIsReported(server: TestServer) async throws {
        try await server.run {
            let direct = try makeClient()
            let proxied = try makeProxiedClient(retry: S3RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(10)))
            try await S3Bucket.withTemporaryBucket(client: direct, namePrefix: "abortfail") { b in
                try setFaults(bucket: b.name, #"""
                    [{"method":"PUT","query":"partNumber=2","action":"status","status":403,"code":"AccessDenied"},
                     {"method":"DELETE","query":"uploadId","action":"status","status":403,"code":"AccessDenied"}]
                    """#)
                var options = S3TransferOptions()
                options.partSize = 5 << 20
                options.multipartThreshold = 5 << 20
                options.concurrency = 1
                let e = await #expect(throws: S3Error.self) {
                    try await S3Bucket.unchecked(name: b.name, client: proxied).uploadObject(key: "k", bytes: patternBytes(11 << 20), options: options)
                }
                try setFaults(bucket: b.name, "[]")
                let uploads = try await direct.listMultipartUploads(bucket: b.name).uploads
                #expect(uploads.count == 1)
                #expect(e?.code == .uploadIncomplete, "the upload is left on the store, and the error says so: \(String(describing: e))")
                #expect(e?.resumeState?.uploadID == uploads.first?.uploadID)
                #expect(e?.message.contains("could not be aborted") == true, "\(String(describing: e))")
                #expect((e?.underlying as? S3Error)?.code == .accessDenied, "the first failure is kept as the cause")
            }
        }
    }

    @Test func streamPartsGrowSoTenThousandHoldFiveTebibytes() {
        for base in [5 << 20, 8 << 20, 64 << 20] {
            var total: Int64 = 0
            var previous = 0
            for part in 1...10_000 {
                let size = Uploader.streamPartSize(part: part, base: base, maximumParts: 10_000)
                #expect(size >= previous && size <= Uploader.maximumPartSize)
                previous = size
                total += Int64(size)
            }
            #expect(total >= Uploader.maximumObjectSize, "base \(base): \(total) bytes in 10,000 parts")
            #expect(Uploader.streamPartSize(part: 1, base: base, maximumParts: 10_000) == base)
        }
        // Fixed 8 MiB parts (the old behaviour) stop at about 78 GiB.
        #expect(Int64(8 << 20) * 10_000 < Uploader.maximumObjectSize)
    }

    @Test(arguments: TestServer.all) func anUnknownLengthUploadBeyondThePartLimitGrowsItsParts(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "grow") { b in
                // A limit of 4 parts (10,000 in real use): 40 MiB in fixed 5 MiB parts would need 8.
                var options = S3TransferOptions()
                options.partSize = 5 << 20
                options.multipartThreshold = 5 << 20
                options.concurrency = 2
                options.maximumParts = 4
                let data = patternBytes(40 << 20, seed: 3)
                let chunks = AsyncStream<[UInt8]> { c in
                    var offset = 0
                    while offset < data.count {
                        c.yield(Array(data[offset..<min(offset + (1 << 20), data.count)]))
                        offset += 1 << 20
                    }
                    c.finish()
                }
                let result = try await b.uploadObject(key: "big", from: chunks, options: options)
                #expect(result.eTag?.hasSuffix("-4\"") == true || result.eTag?.hasSuffix("-4") == true, "4 parts: 5+10+20+5 MiB: \(result.eTag ?? "-")")
                let back = try await client.getObject(bucket: b.name, key: "big").body.collect()
                #expect(back.count == data.count)
                #expect(back == data)
            }
        }
    }
}
