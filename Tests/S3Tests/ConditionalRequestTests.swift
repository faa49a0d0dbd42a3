import Foundation
import S3Locking
import Testing
@testable import S3

/// Conditional requests (issue 13): create-only writes, optimistic concurrency on put and
/// delete, revalidating reads, against moto and SeaweedFS, cross-checked with boto3.
@Suite struct ConditionalRequestTests {
    @Test(arguments: TestServer.all) func ofTwentyConcurrentCreateOnlyWritersExactlyOneWins(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "create-only") { bucket in
                let outcomes = try await withThrowingTaskGroup(of: (Int, S3Error.Code?).self) { group in
                    for writer in 0..<20 {
                        group.addTask {
                            do {
                                try await bucket.putObject(key: "lock", body: "writer \(writer)", conditions: .createOnly)
                                return (writer, nil)
                            } catch let e as S3Error {
                                return (writer, e.code)
                            }
                        }
                    }
                    return try await group.reduce(into: [(Int, S3Error.Code?)]()) { $0.append($1) }
                }
                let winners = outcomes.filter { $0.1 == nil }.map(\.0)
                if server.createOnlyIsAtomic {
                    #expect(winners.count == 1, "\(outcomes)")
                } else {
                    // moto lacks an atomic create-only write (see `createOnlyIsAtomic`): a race can
                    // let more than one through. At least one wins; every other is refused.
                    #expect(!winners.isEmpty, "\(outcomes)")
                }
                #expect(outcomes.filter { $0.1 != nil }.allSatisfy { $0.1 == .preconditionFailed }, "\(outcomes)")
                // The object holds a winner's body (the only winner's, where the write is atomic), as boto3 reads it.
                let seen = try #require(try boto3(["get", bucket.name, "lock"]) as? [String: Any])
                #expect(winners.contains { seen["sha256"] as? String == sha256Hex(Array("writer \($0)".utf8)) }, "\(winners)")
                // A later create-only write fails too; a plain write still replaces it.
                let e = await #expect(throws: S3Error.self) { try await bucket.putObject(key: "lock", body: "late", conditions: .createOnly) }
                #expect(e?.code == .preconditionFailed)
                #expect(e?.httpStatus == 412)
            }
        }
    }

    /// boto3's conditions against our writes and ours against boto3's.
    @Test(arguments: TestServer.all) func conditionsHoldBetweenBoto3AndUs(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "cond-x") { bucket in
                // Create-only: whoever comes second, boto3 or we, is refused.
                let ours = try await bucket.putObject(key: "ours", body: "ours", conditions: .createOnly)
                var theirs = try #require(try boto3(["put-cond", bucket.name, "ours", "none-match", "*"], stdin: Array("x".utf8)) as? [String: String])
                #expect(theirs["error"] == "PreconditionFailed", "\(theirs)")
                theirs = try #require(try boto3(["put-cond", bucket.name, "theirs", "none-match", "*"], stdin: Array("theirs".utf8)) as? [String: String])
                let theirTag = try #require(theirs["etag"], "\(theirs)")
                let e = await #expect(throws: S3Error.self) { try await bucket.putObject(key: "theirs", body: "late", conditions: .createOnly) }
                #expect(e?.code == .preconditionFailed)
                // Optimistic concurrency on the other's ETag.
                let ourTag = try #require(ours.eTag)
                theirs = try #require(try boto3(["put-cond", bucket.name, "ours", "match", ourTag], stdin: Array("v2".utf8)) as? [String: String])
                #expect(theirs["etag"] != nil, "\(theirs)")
                try await bucket.putObject(key: "theirs", body: "mine now", conditions: .ifMatch(theirTag))
                theirs = try #require(try boto3(["put-cond", bucket.name, "theirs", "match", theirTag], stdin: Array("stale".utf8)) as? [String: String])
                #expect(theirs["error"] == "PreconditionFailed", "\(theirs)")
                // Revalidating an object boto3 wrote, with the ETag boto3 was given.
                let fresh = try #require(try boto3(["put-cond", bucket.name, "cached", "none-match", "*"], stdin: Array("c".utf8)) as? [String: String])
                let freshTag = try #require(fresh["etag"])
                let result = try await client.headObject(bucket: bucket.name, key: "cached", conditions: .ifNoneMatch(freshTag))
                guard case .notModified = result else { Issue.record("expected notModified, got \(result)"); return }
            }
        }
    }

    @Test(arguments: TestServer.all) func putAndDeleteIfMatchAreOptimisticConcurrency(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "if-match") { bucket in
                let first = try await bucket.putObject(key: "doc", body: "v1")
                let firstTag = try #require(first.eTag)
                let second = try await bucket.putObject(key: "doc", body: "v2", conditions: .ifMatch(firstTag))
                // The first ETag is stale now: neither a write nor a delete conditioned on it happens.
                let stalePut = await #expect(throws: S3Error.self) { try await bucket.putObject(key: "doc", body: "v3", conditions: .ifMatch(firstTag)) }
                #expect(stalePut?.code == .preconditionFailed)
                let staleDelete = await #expect(throws: S3Error.self) { try await bucket.deleteObject(key: "doc", conditions: .ifMatch(firstTag)) }
                #expect(staleDelete?.code == .preconditionFailed)
                #expect(String(decoding: try await bucket.getObject(key: "doc").body(), as: UTF8.self) == "v2")
                // With the current ETag (quoted or not), the delete happens.
                try await bucket.deleteObject(key: "doc", conditions: .ifMatch("\"" + (second.eTag ?? "") + "\""))
                let listed = try #require(try boto3(["list", bucket.name, "", ""]) as? [String: Any])
                #expect(listed["keys"] as? [String] == [])
            }
        }
    }

    @Test(arguments: TestServer.all) func conditionalReadsAnswerNotModifiedAsAValue(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "if-none-match") { bucket in
                let put = try await bucket.putObject(key: "page.html", body: "<p>hi</p>")
                let tag = try #require(put.eTag)
                // The cached copy is current: 304, no body, no error.
                let get = try await client.getObject(bucket: bucket.name, key: "page.html", range: nil, conditions: .ifNoneMatch(tag))
                guard case .notModified = get else { Issue.record("expected notModified, got \(get)"); return }
                let head = try await client.headObject(bucket: bucket.name, key: "page.html", conditions: .ifNoneMatch(tag))
                #expect(head.value == nil)
                let later = try await client.headObject(bucket: bucket.name, key: "page.html",
                                                        conditions: S3Conditions(ifModifiedSince: Date().addingTimeInterval(3600)))
                #expect(later.value == nil, "not modified since a time after its write")
                // A stale cached ETag, or a time before the write: the object.
                let changed = try await client.getObject(bucket: bucket.name, key: "page.html", range: nil, conditions: .ifNoneMatch("0123abcd"))
                #expect(try await changed.value?.body.collect() == Array("<p>hi</p>".utf8))
                let since = try await client.headObject(bucket: bucket.name, key: "page.html",
                                                        conditions: S3Conditions(ifModifiedSince: Date(timeIntervalSince1970: 1_000_000_000)))
                #expect(since.value?.eTag == tag)
                // If-Match that does not hold is an error, as for writes.
                let e = await #expect(throws: S3Error.self) {
                    _ = try await client.getObject(bucket: bucket.name, key: "page.html", range: nil, conditions: .ifMatch("0123abcd"))
                }
                #expect(e?.code == .preconditionFailed)
            }
        }
    }

    @Test func conditionsS3DoesNotTakeAreRefusedBeforeSending() async throws {
        // Nothing listens on port 9: reaching the network would be a transport failure instead.
        let client = S3Client(configuration: try S3Configuration(endpoint: "http://127.0.0.1:9", credentials: testCredentials))
        let cases: [(String, () async throws -> Void)] = [
            ("PUT If-None-Match with an ETag", { try await client.putObject(bucket: "b-ok", key: "k", bytes: [], conditions: .ifNoneMatch("abc")) }),
            ("PUT If-Modified-Since", { try await client.putObject(bucket: "b-ok", key: "k", bytes: [], conditions: S3Conditions(ifModifiedSince: Date())) }),
            ("DELETE If-None-Match", { try await client.deleteObject(bucket: "b-ok", key: "k", conditions: .createOnly) }),
            ("an ETag with a line break", { try await client.putObject(bucket: "b-ok", key: "k", bytes: [], conditions: .ifMatch("a\r\nX: y")) }),
            ("an empty ETag", { _ = try await client.headObject(bucket: "b-ok", key: "k", conditions: .ifMatch("")) }),
            ("If-Modified-Since past the year 9999", {
                _ = try await client.headObject(bucket: "b-ok", key: "k", conditions: S3Conditions(ifModifiedSince: Date(timeIntervalSince1970: 1e300)))
            }),
        ]
        await expectRefusedBeforeSending(client, cases)
    }

    /// A time no HTTP date can state is refused before sending, not sent clamped or trapped on.
    @Test func datesNoHeaderCanStateAreRefusedBeforeSending() {
        for date in [Date(timeIntervalSince1970: 1e300), Date(timeIntervalSince1970: -1e20), Date(timeIntervalSince1970: .nan)] {
            #expect(throws: S3Error.self) { try S3Conditions(ifModifiedSince: date).headers(for: "GET", bucket: "b", key: "k") }
            #expect(throws: S3Error.self) { try S3Conditions(ifUnmodifiedSince: date).headers(for: "HEAD", bucket: "b", key: "k") }
            #expect(throws: S3Error.self) { try S3ObjectProperties(expires: date).headers(bucket: "b", key: "k") }
        }
        #expect((try? S3ObjectProperties(expires: .distantFuture).headers(bucket: "b", key: "k"))?.first?.1 == "Mon, 01 Jan 4001 00:00:00 GMT")
    }

    @Test func httpDatesAreIMFFixdate() {
        #expect(S3Dates.httpDate(Date(timeIntervalSince1970: 784_111_777)) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(S3Dates.httpDate(Date(timeIntervalSince1970: 0)) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(S3Dates.httpDate(Date(timeIntervalSince1970: 951_782_400)) == "Tue, 29 Feb 2000 00:00:00 GMT")
        for t in stride(from: 0, to: 4_000_000_000, by: 7_777_777) {
            let d = Date(timeIntervalSince1970: Double(t))
            #expect(S3Dates.parseHTTPDate(S3Dates.httpDate(d)) == d)
        }
    }
}
