import Foundation
import S3
import Testing

/// What we write, boto3 reads identically, and the other way round (same moto server).
@Suite struct Boto3InteropTests {

    @Test(arguments: TestServer.all) func ourObjectsReadIdenticallyThroughBoto3(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "interop") { bucket in
                let key = "dir/ünïcødé 日本 + spaces/file (1).txt"
                var rng = SystemRandomNumberGenerator()
                let body = (0..<300_000).map { _ in UInt8.random(in: 0...255, using: &rng) }
                try await bucket.putObject(key: key, body: body, metadata: ["Color": "blue", "x-trace": "abc 123"],
                                           contentType: "image/x-test")
                let seen = try #require(try boto3(["get", bucket.name, key]) as? [String: Any])
                #expect(seen["sha256"] as? String == sha256Hex(body))
                #expect(seen["size"] as? Int == body.count)
                #expect(seen["metadata"] as? [String: String] == ["color": "blue", "x-trace": "abc 123"])
                #expect(seen["content_type"] as? String == "image/x-test")
            }
        }
    }

    @Test(arguments: TestServer.all) func boto3ObjectsReadIdenticallyThroughUs(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "interop") { bucket in
                let key = "from-boto3/ключ/é.bin"
                let body = (0..<123_457).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 17) }
                _ = try boto3(["put", bucket.name, key, "application/x-boto", #"{"Origin":"boto3","n":"42"}"#], stdin: body)
                let object = try await bucket.getObject(key: key)
                #expect(try await object.size == Int64(body.count))
                #expect(try await object.metadata == ["origin": "boto3", "n": "42"])
                #expect(try await object.contentType == "application/x-boto")
                #expect(try await object.body() == body)
                var keys: [String] = []
                for try await o in bucket.listObjects() { keys.append(o.key) }
                #expect(keys == [key])
            }
        }
    }

    @Test(arguments: TestServer.all) func listingFiveThousandKeysMatchesBoto3sPaginator(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "list5k") { bucket in
                _ = try boto3(["put-many", bucket.name, "a/", "2500"])
                _ = try boto3(["put-many", bucket.name, "b/c/", "2000"])
                _ = try boto3(["put-many", bucket.name, "b/", "500"])
                var ours: [String] = []
                for try await o in bucket.listObjects() { ours.append(o.key) }
                let theirs = try #require(try boto3(["list", bucket.name, "", ""]) as? [String: Any])
                #expect(ours.count == 5000)
                #expect(ours == theirs["keys"] as? [String])

                var ourFound: [String] = []
                var ourPrefixes: [String] = []
                for try await entry in bucket.findEntries(prefix: "b/", delimiter: "/", maxKeys: 300) {
                    switch entry {
                    case .object(let o): ourFound.append(o.key)
                    case .commonPrefix(let p): ourPrefixes.append(p)
                    }
                }
                let theirFound = try #require(try boto3(["list", bucket.name, "b/", "/"]) as? [String: Any])
                #expect(ourFound == theirFound["keys"] as? [String])
                #expect(ourPrefixes == theirFound["prefixes"] as? [String])
                #expect(ourPrefixes == ["b/c/"])

                var viaFind: [String] = []
                for try await o in bucket.findObjects(prefix: "a/", maxKeys: 700) { viaFind.append(o.key) }
                #expect(viaFind == (theirs["keys"] as? [String])?.filter { $0.hasPrefix("a/") })

                let before = client.requestCount
                var taken = 0
                for try await _ in bucket.listObjects() {
                    taken += 1
                    if taken == 10 { break }
                }
                #expect(client.requestCount - before == 1, "a consumer that stops after 10 objects costs one ListObjectsV2")
            }
        }
    }
}
