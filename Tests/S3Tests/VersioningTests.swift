import Foundation
import Testing
@testable import S3

/// Versions (issue 13): versioning on and off, reading and deleting a given version, the lazy
/// listing of versions and delete markers, against moto and SeaweedFS, cross-checked with boto3.
@Suite struct VersioningTests {
    @Test(arguments: TestServer.all) func versionsAreKeptListedReadAndDeleted(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "versions") { bucket in
                #expect(try await client.bucketVersioning(bucket: bucket.name) == .unversioned)
                try await bucket.setVersioning(enabled: true)
                #expect(try await client.bucketVersioning(bucket: bucket.name) == .enabled)
                let v1 = try #require(try await bucket.putObject(key: "doc", body: "one").versionID)
                let v2 = try #require(try await bucket.putObject(key: "doc", body: "two").versionID)
                #expect(v1 != v2)
                try await bucket.putObject(key: "other", body: "x")
                // The current version, and the first one by its ID (also through boto3).
                #expect(try await bucket.getObject(key: "doc").versionID == v2)
                let first = try await bucket.getObject(key: "doc", versionID: v1)
                #expect(String(decoding: try await first.body(), as: UTF8.self) == "one")
                #expect(try await first.versionID == v1)
                #expect(first.pinnedVersionID == v1)
                var streamed: [UInt8] = []
                for try await chunk in first.bodyStream { streamed += chunk }
                #expect(streamed == Array("one".utf8))
                let seen = try #require(try boto3(["get-version", bucket.name, "doc", v1]) as? [String: Any])
                #expect(seen["sha256"] as? String == sha256Hex(Array("one".utf8)))
                // A version boto3 writes, we read by its ID.
                let v3 = try #require(try boto3(["put-versioned", bucket.name, "doc"], stdin: Array("three".utf8)) as? String)
                #expect(try await client.getObject(bucket: bucket.name, key: "doc", versionID: v3).body.collect() == Array("three".utf8))
                // Deleting adds a marker; the versions stay readable.
                try await bucket.deleteObject(key: "doc")
                await #expect(throws: S3Error.self) { _ = try await bucket.getObject(key: "doc") }
                var listed: [S3ObjectVersion] = []
                for try await v in bucket.versions(prefix: "doc") { listed.append(v) }
                #expect(listed.map(\.key) == ["doc", "doc", "doc", "doc"], "\(listed)")
                #expect(listed.filter(\.isDeleteMarker).count == 1)
                #expect(listed.first { $0.isLatest }?.isDeleteMarker == true)
                #expect(Set(listed.filter { !$0.isDeleteMarker }.map(\.versionID)) == [v1, v2, v3])
                #expect(listed.first { $0.versionID == v2 }?.size == 3)
                // Deleting a version removes it for good (boto3 sees it gone).
                try await bucket.deleteObject(key: "doc", versionID: v1)
                let remaining = try #require(try boto3(["versions", bucket.name]) as? [[String: Any]])
                #expect(!remaining.contains { $0["version"] as? String == v1 })
                #expect(remaining.contains { $0["version"] as? String == v2 })
                // Suspending keeps what is there.
                try await bucket.setVersioning(enabled: false)
                #expect(try await client.bucketVersioning(bucket: bucket.name) == .suspended)
                #expect(try await client.getObject(bucket: bucket.name, key: "doc", versionID: v2).body.collect() == Array("two".utf8))
                // moto 5 fails DeleteObjects of a delete marker in a suspended bucket (500,
                // 'FakeDeleteMarker' object has no attribute 'dispose'): versioning goes back on
                // before the temporary bucket is force-deleted.
                try await bucket.setVersioning(enabled: true)
            }
        }
    }

    @Test(arguments: TestServer.all) func aVersionIDOnAnUnversionedBucketGetsTheStoresError(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "unversioned") { bucket in
                try await bucket.putObject(key: "k", body: "v")
                var e: S3Error?
                do {
                    _ = try await client.getObject(bucket: bucket.name, key: "k", versionID: "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY").body.collect()
                } catch let error as S3Error { e = error }
                if server.refusesVersionIDsOnUnversionedBuckets {
                    // The store answered (a mapped S3 error, not one of ours); which one is the store's.
                    #expect(e?.httpStatus == 400 || e?.httpStatus == 404, "\(String(describing: e))")
                    #expect(e?.code != .invalidArgument && e?.code != .transportFailure)
                } else {
                    #expect(e == nil, "SeaweedFS refused the version ID: it checks it now")
                }
                #expect(try await bucket.versions().reduce(0) { n, _ in n + 1 } == 1, "one null version")
            }
        }
    }

    @Test func badVersionIDsAreRefusedBeforeSending() async throws {
        let client = S3Client(configuration: try S3Configuration(endpoint: "http://127.0.0.1:9", credentials: testCredentials))
        for call in [{ _ = try await client.getObject(bucket: "fine-bucket", key: "k", versionID: "") },
                     { _ = try await client.headObject(bucket: "fine-bucket", key: "k", versionID: String(repeating: "v", count: 1025)) },
                     { try await client.deleteObject(bucket: "fine-bucket", key: "k", versionID: "") }] as [() async throws -> Void] {
            let e = await #expect(throws: S3Error.self) { try await call() }
            #expect(e?.code == .invalidArgument)
        }
        #expect(client.requestCount == 0)
    }
}
