// The README's demonstration: real work against the S3 endpoint given on the command line
// (scripts/demo starts a local moto server and passes its URL).
import Foundation
import S3
import S3Signing

func say(_ s: String) { print(s) }

func hex(_ bytes: [UInt8]) -> String { Digest.hex(Digest.sha256(bytes)) }

@main
struct Demo {
    static func main() async {
        let args = CommandLine.arguments
        guard args.count >= 2 else {
            FileHandle.standardError.write(Data("usage: s3-demo ENDPOINT_URL   (e.g. http://127.0.0.1:9000)\n".utf8))
            exit(2)
        }
        do {
            try await run(endpoint: args[1])
            say("demo finished: every check passed")
        } catch {
            FileHandle.standardError.write(Data("demo failed: \(error)\n".utf8))
            exit(1)
        }
    }

    static func run(endpoint: String) async throws {
        let client = S3Client(configuration: try S3Configuration(
            endpoint: endpoint, region: "us-east-1",
            credentials: S3Credentials(accessKeyID: "demo", secretAccessKey: "demo-secret")))
        let bucket = "demo-\(Int(Date().timeIntervalSince1970))"
        say("endpoint \(client.configuration.endpoint)")
        say("create bucket \(bucket)")
        try await client.createBucket(bucket)

        var rng = SystemRandomNumberGenerator()
        var objects: [(String, [UInt8])] = [
            ("hello.txt", Array("Hello from Swift, libcurl and SigV4!\n".utf8)),
            ("notes/odd name + ünïcode.txt", Array("keys are URI-encoded once, by S3's rules\n".utf8)),
            ("notes/empty", []),
        ]
        objects.append(("data/random-8MiB.bin", (0..<(8 << 20)).map { _ in UInt8.random(in: 0...255, using: &rng) }))

        let clock = ContinuousClock()
        for (key, body) in objects {
            let t0 = clock.now
            let put = try await client.putObject(bucket: bucket, key: key, bytes: body, metadata: ["origin": "s3-demo"])
            say("put  \(key) (\(body.count) bytes, ETag \(put.eTag ?? "-")) in \(clock.now - t0)")
        }

        // Integrity by default: each upload carried its CRC-32C, which the store keeps; every
        // GET below checks the bytes against it as they arrive.
        let stored = try await client.headObject(bucket: bucket, key: "data/random-8MiB.bin").checksum
        let computed = CRC(.crc32c, of: objects[3].1)
        guard let stored, stored.value == Data(computed.bigEndianBytes).base64EncodedString() else {
            throw DemoFailure("the store does not hold the CRC-32C that was sent (\(String(describing: stored)))")
        }
        say("stored checksum of data/random-8MiB.bin: \(stored) (sent with the upload, checked on every read)")

        say("list \(bucket) with delimiter \"/\":")
        let top = try await client.listObjectsV2(bucket: bucket, delimiter: "/")
        for o in top.objects { say("  object  \(o.key)  \(o.size) bytes") }
        for p in top.commonPrefixes { say("  prefix  \(p)") }
        var listed: [String] = []
        var token: String?
        repeat {
            let page = try await client.listObjectsV2(bucket: bucket, maxKeys: 2, continuationToken: token)
            listed += page.objects.map(\.key)
            token = page.isTruncated ? page.nextContinuationToken : nil
        } while token != nil
        say("paged listing (2 keys a page) found \(listed.count) keys")
        guard Set(listed) == Set(objects.map(\.0)) else { throw DemoFailure("listing does not match what was uploaded") }

        for (key, body) in objects {
            let t0 = clock.now
            let download = try await client.getObject(bucket: bucket, key: key)
            var received = [UInt8]()
            var chunks = 0
            for try await chunk in download.body {
                received += chunk
                chunks += 1
            }
            guard hex(received) == hex(body) else { throw DemoFailure("\(key): downloaded bytes differ") }
            guard download.attributes.metadata["origin"] == "s3-demo" else { throw DemoFailure("\(key): metadata lost") }
            say("get  \(key): \(received.count) bytes in \(chunks) chunk(s), CRC-32C checked, SHA-256 verified, in \(clock.now - t0)")
        }

        let ranged = try await client.getObject(bucket: bucket, key: "data/random-8MiB.bin", range: 1_000_000...1_000_015)
        let slice = try await ranged.body.collect()
        guard slice == Array(objects[3].1[1_000_000...1_000_015]) else { throw DemoFailure("ranged GET differs") }
        say("ranged GET \(ranged.contentRange ?? "") verified")

        let url = try await client.presignedURL(bucket: bucket, key: "hello.txt", expiresIn: 300)
        say("presigned URL (5 minutes): \(url.prefix(90))...")

        do {
            _ = try await client.headObject(bucket: bucket, key: "no/such/key")
            throw DemoFailure("a missing key was found")
        } catch let e as S3Error where e.code == .noSuchKey {
            say("missing key maps to \(e.code) (HTTP \(e.httpStatus ?? 0))")
        }

        for (key, _) in objects { try await client.deleteObject(bucket: bucket, key: key) }
        try await client.deleteBucket(bucket)
        say("deleted \(objects.count) objects and the bucket")
    }
}

struct DemoFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
