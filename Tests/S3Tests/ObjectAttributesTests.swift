import Foundation
import Testing
@testable import S3

/// GetObjectAttributes (issue 28 item 3): ETag, checksum, parts, storage class and size in one
/// request, and the composite-checksum check of downloads taking the parts' sizes from it
/// (one request) instead of a HEAD per part, falling back where a store does not report parts.
@Suite struct ObjectAttributesTests {
    @Test(arguments: TestServer.all) func attributesOfASingleAndAMultipartObject(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "attrs") { bucket in
                let small = patternBytes(1000, seed: 3)
                try await bucket.putObject(key: "small", body: small)
                let head = try await client.headObject(bucket: bucket.name, key: "small")
                let a = try await client.objectAttributes(bucket: bucket.name, key: "small")
                #expect(a.eTag == head.eTag)
                #expect(a.size == 1000)
                #expect(a.storageClass == "STANDARD")
                #expect(a.partsCount == nil && a.parts.isEmpty)
                #expect(abs((a.lastModified ?? .distantPast).timeIntervalSince(head.lastModified ?? .distantFuture)) < 1)
                if server.reportsChecksumInAttributes {
                    #expect(a.checksum == head.checksum, "\(String(describing: a.checksum))")
                } else {
                    #expect(a.checksum == nil)
                }

                // s3transfer's multipart upload: three parts (8, 8 and 1 MiB), a composite CRC-32.
                let large = patternBytes(17 << 20, seed: 9)
                let file = FileManager.default.temporaryDirectory.appendingPathComponent("attrs-\(UUID())")
                try Data(large).write(to: file)
                defer { try? FileManager.default.removeItem(at: file) }
                _ = try boto3(["upload-file", bucket.name, "large", file.path])
                let m = try await client.objectAttributes(bucket: bucket.name, key: "large")
                #expect(m.size == Int64(large.count))
                #expect(m.eTag?.hasSuffix("-3") == true)
                if server.reportsChecksumInAttributes {
                    #expect(m.checksum?.kind == .composite(parts: 3), "\(String(describing: m.checksum))")
                    #expect(m.checksum?.algorithm == .crc32)
                }
                if server.reportsObjectParts {
                    #expect(m.partsCount == 3)
                    #expect(m.parts.map(\.partNumber) == [1, 2, 3])
                    #expect(m.parts.map(\.size) == [8 << 20, 8 << 20, 1 << 20])
                    #expect(m.nextPartNumberMarker == nil)
                    // Page by page.
                    let first = try await client.objectAttributes(bucket: bucket.name, key: "large", maxParts: 2)
                    #expect(first.parts.map(\.partNumber) == [1, 2])
                    let marker = try #require(first.nextPartNumberMarker)
                    let rest = try await client.objectAttributes(bucket: bucket.name, key: "large", maxParts: 2, partNumberMarker: marker)
                    #expect(rest.parts.map(\.partNumber) == [3])
                    #expect(rest.nextPartNumberMarker == nil)
                }
                // The tool, with --json.
                let r = try runS3Tool(["attributes", "--json", "s3://\(bucket.name)/large"], endpoint: try serverEndpoint())
                #expect(r.status == 0, "\(r.error)")
                let json = try #require(try JSONSerialization.jsonObject(with: r.output) as? [String: Any])
                #expect(json["size"] as? Int == large.count)
                #expect((json["etag"] as? String)?.hasSuffix("-3") == true)
                if server.reportsObjectParts {
                    #expect((json["parts"] as? [[String: Any]])?.compactMap { $0["size"] as? Int } == [8 << 20, 8 << 20, 1 << 20])
                }
                let missing = await #expect(throws: S3Error.self) { _ = try await client.objectAttributes(bucket: bucket.name, key: "nope") }
                #expect(missing?.code == .noSuchKey)
                for bad in [0, 1001] {
                    let e = await #expect(throws: S3Error.self) { _ = try await client.objectAttributes(bucket: bucket.name, key: "large", maxParts: bad) }
                    #expect(e?.code == .invalidArgument)
                }
            }
        }
    }

    /// Where the store reports parts (SeaweedFS), the parts' sizes of a composite checksum come
    /// from one GetObjectAttributes instead of a HEAD per part; where it does not (moto: no
    /// ObjectParts; a store answering 501), from the HEADs, and the client stops asking.
    @Test(arguments: TestServer.all) func compositeChecksTakeThePartsFromOneRequest(server: TestServer) async throws {
        try await server.run {
            let setup = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: setup, namePrefix: "attrs-dl") { bucket in
                let large = patternBytes(17 << 20, seed: 11)
                let file = FileManager.default.temporaryDirectory.appendingPathComponent("attrs-dl-\(UUID())")
                try Data(large).write(to: file)
                defer { try? FileManager.default.removeItem(at: file) }
                _ = try boto3(["upload-file", bucket.name, "large", file.path])
                let sizes: [Int64] = [8 << 20, 8 << 20, 1 << 20]
                func requests() throws -> (attributes: Int, partHeads: Int) {
                    let log = try proxyLog(bucket: bucket.name)
                    return (log.filter { $0.hasPrefix("GET /\(bucket.name)/large?attributes") }.count,
                            log.filter { $0.hasPrefix("HEAD /\(bucket.name)/large?partNumber=") }.count)
                }

                let client = try makeProxiedClient()
                try setFaults(bucket: bucket.name, "[]")
                #expect(try await client.partSizes(bucket: bucket.name, key: "large", count: 3, total: Int64(large.count), eTag: nil) == sizes)
                if server.reportsObjectParts {
                    #expect(try requests() == (1, 0))
                    // A download to a file checks the composite checksum (SeaweedFS reports it on
                    // HEAD) with that one request, and catches a flipped byte.
                    let target = FileManager.default.temporaryDirectory.appendingPathComponent("attrs-dl-out-\(UUID())")
                    defer { try? FileManager.default.removeItem(at: target) }
                    let ranged = S3TransferOptions(partSize: 5 << 20, concurrency: 3)
                    try setFaults(bucket: bucket.name, "[]")
                    try await S3Bucket.unchecked(name: bucket.name, client: client).downloadObject(key: "large", to: target, options: ranged)
                    #expect([UInt8](try Data(contentsOf: target)) == large)
                    #expect(try requests() == (1, 0))
                    try setFaults(bucket: bucket.name, #"[{"method": "GET", "range": "bytes=", "action": "flip"}]"#)
                    do {
                        try await S3Bucket.unchecked(name: bucket.name, client: client).downloadObject(key: "large", to: target, options: ranged)
                        Issue.record("a flipped byte went unnoticed")
                    } catch let e as S3Error {
                        #expect(e.code == .integrityFailure, "\(e)")
                    }
                    // A store that answers GetObjectAttributes with 501: the part HEADs, then
                    // no more asking.
                    let other = try makeProxiedClient()
                    try setFaults(bucket: bucket.name, #"[{"method": "GET", "query": "attributes", "action": "status", "status": 501, "code": "NotImplemented"}]"#)
                    #expect(try await other.partSizes(bucket: bucket.name, key: "large", count: 3, total: Int64(large.count), eTag: nil) == sizes)
                    #expect(try requests() == (1, 3))
                    try setFaults(bucket: bucket.name, "[]")
                    #expect(try await other.partSizes(bucket: bucket.name, key: "large", count: 3, total: Int64(large.count), eTag: nil) == sizes)
                    #expect(try requests() == (0, 3))
                    await other.shutdown()
                } else {
                    // moto answers without ObjectParts: one request, then the HEADs; later, the HEADs only.
                    #expect(try requests() == (1, 3))
                    try setFaults(bucket: bucket.name, "[]")
                    #expect(try await client.partSizes(bucket: bucket.name, key: "large", count: 3, total: Int64(large.count), eTag: nil) == sizes)
                    #expect(try requests() == (0, 3))
                }
                // Sizes that do not add up to the object's: no check rather than a wrong one.
                #expect(try await client.partSizes(bucket: bucket.name, key: "large", count: 3, total: Int64(large.count) + 1, eTag: nil) == nil)
                await client.shutdown()
            }
        }
    }

    @Test func theAnswerIsDecodedAsS3WritesIt() throws {
        let body = #"""
        <?xml version="1.0" encoding="UTF-8"?>
        <GetObjectAttributesResponse xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
          <ETag>"0aef005c52ac42ae9b022a950899c5a0-2"</ETag>
          <Checksum><ChecksumCRC32C>trTQUA==</ChecksumCRC32C><ChecksumType>COMPOSITE</ChecksumType></Checksum>
          <ObjectParts><IsTruncated>true</IsTruncated><MaxParts>1</MaxParts><NextPartNumberMarker>1</NextPartNumberMarker>
            <PartNumberMarker>0</PartNumberMarker><PartsCount>2</PartsCount>
            <Part><ChecksumCRC32C>AAAAAQ==</ChecksumCRC32C><PartNumber>1</PartNumber><Size>5242880</Size></Part>
          </ObjectParts>
          <StorageClass>STANDARD_IA</StorageClass><ObjectSize>6291456</ObjectSize>
        </GetObjectAttributesResponse>
        """#
        let a = ResponseDecoders.objectAttributes(try XMLParser.parse(body))
        #expect(a == S3GetObjectAttributesResult(
            eTag: "0aef005c52ac42ae9b022a950899c5a0-2", checksum: S3Checksum(algorithm: .crc32c, value: "trTQUA==", kind: .composite(parts: 2)),
            partsCount: 2, parts: [.init(partNumber: 1, size: 5 << 20, checksum: S3Checksum(algorithm: .crc32c, value: "AAAAAQ=="))],
            nextPartNumberMarker: 1, storageClass: "STANDARD_IA", size: 6 << 20))
        // A multipart object's checksum that says neither its type nor -N is of unknown kind: none.
        let unknown = ResponseDecoders.objectAttributes(try XMLParser.parse(
            "<GetObjectAttributesResponse><Checksum><ChecksumCRC32>trTQUA==</ChecksumCRC32></Checksum><ObjectParts><PartsCount>2</PartsCount></ObjectParts></GetObjectAttributesResponse>"))
        #expect(unknown.checksum == nil)
        #expect(unknown.partsCount == 2)
    }
}
