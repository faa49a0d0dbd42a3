import Foundation
import Testing
@testable import S3

/// Tags and stored properties (issue 13): object and bucket tags, tags and HTTP headers on put
/// and multipart upload, read back by us and by boto3, against moto and SeaweedFS.
@Suite struct TaggingTests {
    @Test(arguments: TestServer.all) func objectTagsOnPutUploadAndAfterwards(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "tags") { bucket in
                let tags = ["team": "finance", "retention": "30 days", "ünï": "cödé=+:/@"]
                try await bucket.putObject(key: "small", body: "x", properties: S3ObjectProperties(tags: tags))
                #expect(try await client.objectTags(bucket: bucket.name, key: "small") == tags)
                #expect(try boto3(["tags", bucket.name, "small"]) as? [String: String] == tags)
                // A multipart upload carries them on CreateMultipartUpload.
                let options = S3TransferOptions(partSize: 5 << 20, concurrency: 2)
                try await bucket.uploadObject(key: "big", bytes: patternBytes(11 << 20), properties: S3ObjectProperties(tags: ["kind": "video"]),
                                              options: options)
                #expect(try boto3(["tags", bucket.name, "big"]) as? [String: String] == ["kind": "video"])
                // Replaced, read through S3Object, removed.
                try await client.setObjectTags(bucket: bucket.name, key: "small", ["only": "one"])
                #expect(try await bucket.getObject(key: "small").tags() == ["only": "one"])
                try await client.deleteObjectTags(bucket: bucket.name, key: "small")
                #expect(try await client.objectTags(bucket: bucket.name, key: "small") == [:])
                #expect(try boto3(["tags", bucket.name, "small"]) as? [String: String] == [:])
            }
        }
    }

    /// The other way round: tags and headers boto3 writes, we read.
    @Test(arguments: TestServer.all) func weReadWhatBoto3Tagged(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "tags-x") { bucket in
                _ = try boto3(["put-props", bucket.name, "doc", #"{"tags": {"team": "ops", "ttl": "7 days"}, "cache_control": "no-cache"}"#],
                              stdin: Array("body".utf8))
                let object = try await bucket.getObject(key: "doc")
                #expect(try await object.tags() == ["team": "ops", "ttl": "7 days"])
                #expect(try await object.attributes().properties.cacheControl == "no-cache")
                _ = try boto3(["set-tags", bucket.name, "doc", #"{"ünï": "cödé=+:/@"}"#])
                #expect(try await client.objectTags(bucket: bucket.name, key: "doc") == ["ünï": "cödé=+:/@"])
                // A GET reports how many tags there are.
                let get = try await client.getObject(bucket: bucket.name, key: "doc")
                #expect(get.attributes.tagCount == 1)
                _ = try await get.body.collect()
            }
        }
    }

    @Test(arguments: TestServer.all) func bucketTags(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "btags") { bucket in
                #expect(try await client.bucketTags(bucket: bucket.name) == [:])
                // S3 takes 50 tags on a bucket; SeaweedFS refuses more than 10 (InvalidTag).
                let tags = (1...(server.kind == .seaweedfs ? 10 : 12)).reduce(into: [String: String]()) { $0["k\($1)"] = "v\($1)" }
                try await client.setBucketTags(bucket: bucket.name, tags)
                #expect(try await client.bucketTags(bucket: bucket.name) == tags)
                #expect(try boto3(["bucket-tags", bucket.name]) as? [String: String] == tags)
                try await client.deleteBucketTags(bucket: bucket.name)
                #expect(try await client.bucketTags(bucket: bucket.name) == [:])
            }
        }
    }

    @Test(arguments: TestServer.all) func storedHeadersComeBack(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "props") { bucket in
                let expires = Date(timeIntervalSince1970: 1_900_000_000)
                let properties = S3ObjectProperties(cacheControl: "max-age=3600", contentDisposition: "attachment; filename=\"r.pdf\"",
                                                    contentEncoding: "identity", contentLanguage: "en", expires: expires)
                try await bucket.putObject(key: "r.pdf", body: [1, 2, 3], contentType: "application/pdf", properties: properties)
                let back = try await bucket.getObject(key: "r.pdf").attributes().properties
                #expect(back.cacheControl == "max-age=3600")
                #expect(back.contentDisposition == "attachment; filename=\"r.pdf\"")
                #expect(back.contentEncoding == "identity")
                #expect(back.contentLanguage == "en")
                #expect(back.expires == expires)
                // A GET serves them too.
                let get = try await client.getObject(bucket: bucket.name, key: "r.pdf")
                #expect(get.attributes.properties.cacheControl == "max-age=3600")
                _ = try await get.body.collect()
            }
        }
    }

    @Test func badTagsAndHeadersAreRefusedBeforeSending() async throws {
        let client = S3Client(configuration: try S3Configuration(endpoint: "http://127.0.0.1:9", credentials: testCredentials))
        let eleven = (1...11).reduce(into: [String: String]()) { $0["k\($1)"] = "v" }
        let fiftyOne = (1...51).reduce(into: [String: String]()) { $0["k\($1)"] = "v" }
        let cases: [(String, () async throws -> Void)] = [
            ("11 tags on an object", { try await client.putObject(bucket: "fine-bucket", key: "k", bytes: [], properties: S3ObjectProperties(tags: eleven)) }),
            ("11 tags set later", { try await client.setObjectTags(bucket: "fine-bucket", key: "k", eleven) }),
            ("51 tags on a bucket", { try await client.setBucketTags(bucket: "fine-bucket", fiftyOne) }),
            ("an empty tag key", { try await client.setObjectTags(bucket: "fine-bucket", key: "k", ["": "v"]) }),
            ("a 129-character tag key", { try await client.setObjectTags(bucket: "fine-bucket", key: "k", [String(repeating: "k", count: 129): "v"]) }),
            ("a reserved aws: key", { try await client.setObjectTags(bucket: "fine-bucket", key: "k", ["aws:x": "v"]) }),
            ("an & in a tag value", { try await client.setObjectTags(bucket: "fine-bucket", key: "k", ["a": "b&c"]) }),
            ("a line break in Cache-Control", { try await client.putObject(bucket: "fine-bucket", key: "k", bytes: [],
                                                                          properties: S3ObjectProperties(cacheControl: "a\r\nb")) }),
            ("11 tags on an upload", { try await S3Bucket.unchecked(name: "fine-bucket", client: client)
                .uploadObject(key: "k", bytes: [1], properties: S3ObjectProperties(tags: eleven)) }),
        ]
        await expectRefusedBeforeSending(client, cases)
    }
}
