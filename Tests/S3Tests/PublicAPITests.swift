import Foundation
import S3
import Testing

// What a user of the library can do with its public API alone (plain `import S3`, no
// @testable): make result values to fake the client in their own tests, read a canned body,
// write lifecycle rules of their own.

/// Code under test in a user's app: counts the CSV lines of an object.
protocol ObjectReader: Sendable {
    func getObject(bucket: String, key: String) async throws -> S3ObjectDownload
}
extension S3Client: ObjectReader {
    func getObject(bucket: String, key: String) async throws -> S3ObjectDownload {
        try await getObject(bucket: bucket, key: key, range: nil)
    }
}
func countLines(_ reader: some ObjectReader, bucket: String, key: String) async throws -> Int {
    var lines = 0
    for try await chunk in try await reader.getObject(bucket: bucket, key: key).body {
        lines += chunk.filter { $0 == UInt8(ascii: "\n") }.count
    }
    return lines
}

struct FakeReader: ObjectReader {
    func getObject(bucket: String, key: String) async throws -> S3ObjectDownload {
        S3ObjectDownload(attributes: S3ObjectHead(size: 9, eTag: "abc", metadata: ["team": "x"]),
                         body: S3ByteStream(chunks: [Array("a\nb".utf8), Array("\nc\nd\n".utf8)]))
    }
}

@Suite struct PublicAPITests {
    @Test func aFakeClientFromPublicInitialisers() async throws {
        #expect(try await countLines(FakeReader(), bucket: "b", key: "k") == 4)
        // Every result type can be made by hand.
        let summary = S3ObjectSummary(key: "k", size: 3, eTag: "e", lastModified: Date(timeIntervalSince1970: 0), storageClass: "STANDARD")
        let page = ListObjectsV2Page(objects: [summary], commonPrefixes: ["p/"], isTruncated: false, keyCount: 2)
        #expect(page.objects.first == summary)
        #expect(S3BucketSummary(name: "b").creationDate == nil)
        // The ranged stream's element, made and read with the public API alone.
        let bytes = S3Bytes(Array("a\nb\n".utf8))
        #expect(bytes.filter { $0 == UInt8(ascii: "\n") }.count == 2 && Data(bytes) == Data("a\nb\n".utf8) && bytes.array.count == 4)
        #expect(S3PutObjectResult(eTag: "e", versionID: nil).attempts == 1)
        #expect(S3DeleteFailure(key: "k", code: "AccessDenied", message: "no").versionID == nil)
        #expect(S3ObjectVersion(key: "k", versionID: "v1", isDeleteMarker: false).versionID == "v1")
        #expect(S3MultipartUploadSummary(key: "k", uploadID: "u").uploadID == "u")
        let part = S3CompletedPart(partNumber: 1, eTag: "e", size: 5)
        let resume = S3UploadResumeState(bucket: "b", key: "k", uploadID: "u", partSize: 5 << 20, completedParts: [part])
        #expect(resume.completedParts == [part])
        #expect(S3TransferProgress(bytesDone: 1, totalBytes: 2, partsDone: 0, bytesPerSecond: 1).totalBytes == 2)
        let error = S3Error(code: .noSuchKey, message: "gone", httpStatus: 404, bucket: "b", key: "k")
        #expect(error.code == .noSuchKey)
    }

    @Test func lifecycleRulesOfYourOwn() async throws {
        #expect(throws: S3Error.self) { try S3LifecycleRule(xmlString: "<Rule><ID>x</Rule>") }
        #expect(throws: S3Error.self) { try S3LifecycleRule(xmlString: "<NotARule/>") }
        let logs = try S3LifecycleRule(xmlString: """
            <Rule><ID>logs</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status>\
            <Expiration><Days>7</Days></Expiration></Rule>
            """)
        #expect(logs.id == "logs")
        #expect(logs.expirationDays == 7)
        #expect(logs.xmlString.contains("<Prefix>logs/</Prefix>"))
        try await TestServer.moto.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "rules") { bucket in
                try await client.setLifecycleRules(bucket: bucket.name, [logs, .expiration(id: "all", days: 30)])
                let back = try await client.lifecycleRules(bucket: bucket.name)
                #expect(back.map(\.id) == ["logs", "all"])
                #expect(back.first?.xmlString.contains("logs/") == true)
                // boto3 reads the same rule.
                let seen = try boto3(["lifecycle", bucket.name])
                #expect("\(seen)".contains("logs/"))
            }
        }
    }
}
