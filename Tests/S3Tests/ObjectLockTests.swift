import Foundation
import S3HTTP
import S3Signing
import Testing
@testable import S3

/// S3 Object Lock (issue 28 item 2): retention in governance and compliance mode, legal holds,
/// a bucket's default retention and the governance bypass, against moto and SeaweedFS
/// (SeaweedFS applies them as S3 does; what moto lacks is ``TestServer/implementsObjectLockFully``).
@Suite struct ObjectLockTests {
    /// Creates a bucket with Object Lock (or takes the `existing` one), runs `body`, then removes
    /// every version (lifting holds, bypassing governance, waiting out compliance dates up to a
    /// minute) and the bucket.
    static func withLockedBucket(_ client: S3Client, existing: String? = nil, _ body: (String) async throws -> Void) async throws {
        let name = existing ?? uniqueBucket("lock")
        if existing == nil { try await client.createBucket(name, objectLockEnabled: true) }
        let result: Result<Void, any Error>
        do { result = .success(try await body(name)) } catch { result = .failure(error) }
        let deadline = Date().addingTimeInterval(60)
        while true {
            let versions = try await client.listObjectVersions(bucket: name).versions
            if versions.isEmpty { break }
            for v in versions {
                if !v.isDeleteMarker, try await client.headObject(bucket: name, key: v.key, versionID: v.versionID).properties.legalHold == true {
                    try await client.setObjectLegalHold(bucket: name, key: v.key, versionID: v.versionID, false)
                }
                try? await client.deleteObject(bucket: name, key: v.key, versionID: v.versionID, bypassGovernanceRetention: true)
            }
            guard Date() < deadline else { break }
            try await Task.sleep(for: .seconds(1))
        }
        try await client.deleteBucket(name)
        try result.get()
    }

    static func isAccessDenied(_ error: S3Error?) -> Bool { error?.code.rawValue == "AccessDenied" && error?.httpStatus == 403 }

    @Test(arguments: TestServer.all) func aLockedVersionIsKeptAndTheBypassWorksForGovernanceOnly(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await Self.withLockedBucket(client) { bucket in
                #expect(try await client.objectLockConfiguration(bucket: bucket) == S3ObjectLockConfiguration(enabled: true))
                #expect((try boto3(["lock", bucket]) as? [String: Any])?["ObjectLockEnabled"] as? String == "Enabled")
                #expect(try await client.bucketVersioning(bucket: bucket) == .enabled, "Object Lock turns versioning on")

                // Governance: kept against a plain delete, removed with the bypass.
                let day = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 86_400).rounded(.down))
                let governed = S3ObjectRetention(mode: .governance, retainUntil: day)
                let g = try #require(try await client.putObject(bucket: bucket, key: "governed", bytes: Array("g".utf8),
                                                                 properties: S3ObjectProperties(retention: governed)).versionID)
                #expect(try await client.headObject(bucket: bucket, key: "governed").properties.retention == governed)
                let seen = try #require(try boto3(["retention", bucket, "governed", g]) as? [String: Any])
                #expect(seen["mode"] as? String == "GOVERNANCE")
                #expect(seen["until"] as? Double == day.timeIntervalSince1970)
                if server.implementsObjectLockFully {
                    #expect(try await client.objectRetention(bucket: bucket, key: "governed", versionID: g) == governed)
                }
                let refused = await #expect(throws: S3Error.self) { try await client.deleteObject(bucket: bucket, key: "governed", versionID: g) }
                #expect(Self.isAccessDenied(refused))
                #expect(try await client.headObject(bucket: bucket, key: "governed", versionID: g).versionID == g)
                // DeleteObjects reports it per key, and takes the bypass too.
                let failures = try await client.deleteObjects(bucket: bucket, keys: [("governed", g)])
                #expect(failures.map(\.code) == ["AccessDenied"])
                #expect(try await client.deleteObjects(bucket: bucket, keys: [("governed", g)], bypassGovernanceRetention: true) == [])
                let left = try #require(try boto3(["versions", bucket]) as? [[String: Any]])
                #expect(!left.contains { $0["version"] as? String == g })

                // A retention set on a version written without one; extended without the bypass,
                // shortened only with it.
                let later = try #require(try await client.putObject(bucket: bucket, key: "later", bytes: [1]).versionID)
                #expect(try await client.headObject(bucket: bucket, key: "later").properties.retention == nil)
                try await client.setObjectRetention(bucket: bucket, key: "later", versionID: later, governed)
                #expect(try await client.headObject(bucket: bucket, key: "later").properties.retention == governed)
                if server.implementsObjectLockFully {
                    let longer = S3ObjectRetention(mode: .governance, retainUntil: day.addingTimeInterval(86_400))
                    try await client.setObjectRetention(bucket: bucket, key: "later", versionID: later, longer)
                    let shorter = await #expect(throws: S3Error.self) {
                        try await client.setObjectRetention(bucket: bucket, key: "later", versionID: later, governed)
                    }
                    #expect(Self.isAccessDenied(shorter))
                    try await client.setObjectRetention(bucket: bucket, key: "later", versionID: later, governed, bypassGovernanceRetention: true)
                    #expect(try await client.objectRetention(bucket: bucket, key: "later", versionID: later) == governed)
                }

                // Compliance: the bypass does not help; the version goes once its date has passed.
                let soon = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 4).rounded(.up))
                let complied = S3ObjectRetention(mode: .compliance, retainUntil: soon)
                let c = try #require(try await client.putObject(bucket: bucket, key: "complied", bytes: [2],
                                                                 properties: S3ObjectProperties(retention: complied)).versionID)
                #expect(try await client.headObject(bucket: bucket, key: "complied").properties.retention == complied)
                if server.implementsObjectLockFully {
                    let bypassed = await #expect(throws: S3Error.self) {
                        try await client.deleteObject(bucket: bucket, key: "complied", versionID: c, bypassGovernanceRetention: true)
                    }
                    #expect(Self.isAccessDenied(bypassed))
                    let shortened = await #expect(throws: S3Error.self) {
                        try await client.setObjectRetention(bucket: bucket, key: "complied", versionID: c,
                                                            S3ObjectRetention(mode: .compliance, retainUntil: soon.addingTimeInterval(-2)),
                                                            bypassGovernanceRetention: true)
                    }
                    #expect(Self.isAccessDenied(shortened))
                    try await Task.sleep(for: .seconds(max(0, soon.timeIntervalSinceNow) + 1.5))
                    try await client.deleteObject(bucket: bucket, key: "complied", versionID: c)
                    let gone = try #require(try boto3(["versions", bucket]) as? [[String: Any]])
                    #expect(!gone.contains { $0["version"] as? String == c })
                }
            }
        }
    }

    @Test(arguments: TestServer.all) func aLegalHoldKeepsAVersionUntilItIsLifted(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await Self.withLockedBucket(client) { bucket in
                let h = try #require(try await client.putObject(bucket: bucket, key: "held", bytes: [3],
                                                                 properties: S3ObjectProperties(legalHold: true)).versionID)
                #expect(try await client.objectLegalHold(bucket: bucket, key: "held", versionID: h))
                #expect(try await client.headObject(bucket: bucket, key: "held").properties.legalHold == true)
                #expect(try boto3(["legal-hold", bucket, "held", h]) as? String == "ON")
                let refused = await #expect(throws: S3Error.self) {
                    try await client.deleteObject(bucket: bucket, key: "held", versionID: h, bypassGovernanceRetention: true)
                }
                #expect(Self.isAccessDenied(refused), "a legal hold is not bypassed")
                try await client.setObjectLegalHold(bucket: bucket, key: "held", versionID: h, false)
                #expect(try await !client.objectLegalHold(bucket: bucket, key: "held", versionID: h))
                try await client.deleteObject(bucket: bucket, key: "held", versionID: h)

                // A version never held: false, whatever the store answers (S3: no error;
                // SeaweedFS: NoSuchObjectLegalHold; moto: an empty LegalHold).
                let plain = try #require(try await client.putObject(bucket: bucket, key: "plain", bytes: [4]).versionID)
                #expect(try await !client.objectLegalHold(bucket: bucket, key: "plain", versionID: plain))
                if server.implementsObjectLockFully {
                    #expect(try await client.objectRetention(bucket: bucket, key: "plain", versionID: plain) == nil)
                }
                // A hold put on later, through the bucket API's delete as well.
                try await client.setObjectLegalHold(bucket: bucket, key: "plain", versionID: plain, true)
                let b = S3Bucket.unchecked(name: bucket, client: client)
                await #expect(throws: S3Error.self) { try await b.deleteObject(key: "plain", versionID: plain, bypassGovernanceRetention: true) }
                try await client.setObjectLegalHold(bucket: bucket, key: "plain", versionID: plain, false)
                try await b.deleteObject(key: "plain", versionID: plain)
            }
        }
    }

    @Test(arguments: TestServer.all) func aDefaultRetentionLocksEveryNewVersionMultipartToo(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await Self.withLockedBucket(client) { bucket in
                let rule = S3DefaultRetention(mode: .governance, period: .days(1))
                try await client.setObjectLockConfiguration(bucket: bucket, defaultRetention: rule)
                #expect(try await client.objectLockConfiguration(bucket: bucket) == S3ObjectLockConfiguration(enabled: true, defaultRetention: rule))
                let seen = try #require(try boto3(["lock", bucket]) as? [String: Any])
                let retention = (seen["Rule"] as? [String: Any])?["DefaultRetention"] as? [String: Any]
                #expect(retention?["Mode"] as? String == "GOVERNANCE")
                #expect(retention?["Days"] as? Int == 1)

                let written = Date()
                let v = try #require(try await client.putObject(bucket: bucket, key: "d", bytes: [5]).versionID)
                let got = try #require(try await client.headObject(bucket: bucket, key: "d").properties.retention)
                #expect(got.mode == .governance)
                #expect(abs(got.retainUntil.timeIntervalSince(written) - 86_400) < 120)
                await #expect(throws: S3Error.self) { try await client.deleteObject(bucket: bucket, key: "d", versionID: v) }
                try await client.deleteObject(bucket: bucket, key: "d", versionID: v, bypassGovernanceRetention: true)

                // A multipart upload carries its own retention on CreateMultipartUpload (the
                // parts carry CRC32C, which S3 requires on a locked write).
                let until = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 7_200).rounded(.down))
                let own = S3ObjectRetention(mode: .governance, retainUntil: until)
                var options = S3TransferOptions()
                options.partSize = 5 << 20
                options.multipartThreshold = 5 << 20
                let body = patternBytes(6 << 20)
                let m = try #require(try await S3Bucket.unchecked(name: bucket, client: client)
                    .uploadObject(key: "multi", bytes: body, properties: S3ObjectProperties(retention: own, legalHold: true), options: options).versionID)
                let head = try await client.headObject(bucket: bucket, key: "multi")
                #expect(head.eTag?.hasSuffix("-2") == true, "a multipart upload")
                if server.implementsObjectLockFully {
                    #expect(head.properties.retention == own)
                    #expect(head.properties.legalHold == true)
                }
                try await client.setObjectLegalHold(bucket: bucket, key: "multi", versionID: m, false)
                try await client.deleteObject(bucket: bucket, key: "multi", versionID: m, bypassGovernanceRetention: true)

                // No default any more (moto takes this only on a bucket without versions).
                try await client.setObjectLockConfiguration(bucket: bucket, defaultRetention: nil)
                #expect(try await client.objectLockConfiguration(bucket: bucket) == S3ObjectLockConfiguration(enabled: true))
            }
            // A bucket created without Object Lock reports none.
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "nolock") { bucket in
                let configuration = try await client.objectLockConfiguration(bucket: bucket.name)
                #expect(configuration == S3ObjectLockConfiguration(enabled: false))
            }
        }
    }

    @Test func lockHeadersAndDatesAreWrittenAsS3TakesThem() throws {
        #expect(S3Dates.iso8601Seconds(Date(timeIntervalSince1970: 1_800_000_000.9)) == "2027-01-15T08:00:00Z")
        #expect(S3Dates.iso8601Seconds(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00Z")
        let properties = S3ObjectProperties(retention: S3ObjectRetention(mode: .compliance, retainUntil: Date(timeIntervalSince1970: 1_800_000_000)),
                                            legalHold: false)
        let headers = try properties.headers(bucket: "b", key: "k")
        #expect(headers.contains { $0 == ("x-amz-object-lock-mode", "COMPLIANCE") })
        #expect(headers.contains { $0 == ("x-amz-object-lock-retain-until-date", "2027-01-15T08:00:00Z") })
        #expect(headers.contains { $0 == ("x-amz-object-lock-legal-hold", "OFF") })
        // A HEAD's lock headers read back into the same properties.
        var answer: HTTPHeaders = ["content-length": "1", "x-amz-object-lock-mode": "COMPLIANCE",
                                   "x-amz-object-lock-retain-until-date": "2027-01-15T08:00:00.000Z", "x-amz-object-lock-legal-hold": "OFF"]
        let read = S3Client.attributes(from: answer).properties
        #expect(read.retention == properties.retention)
        #expect(read.legalHold == false)
        answer = ["content-length": "1"]
        #expect(S3Client.attributes(from: answer).properties.retention == nil)
    }

    @Test func aLockedWriteWithChecksumsOffCarriesContentMD5() async throws {
        var configuration = try S3Configuration(endpoint: "http://127.0.0.1:9", credentials: testCredentials)
        configuration.checksums = .whenRequired
        let client = S3Client(configuration: configuration)
        let body: [UInt8] = Array("locked".utf8)
        var locked = try client.objectRequest("PUT", bucket: "some-bucket", key: "k", properties: S3ObjectProperties(legalHold: true))
        try body.withUnsafeBytes { try client.protectPayload(&locked, $0) }
        #expect(locked.headers["Content-MD5"] == Data(Digest.md5(body)).base64EncodedString())
        var plain = try client.objectRequest("PUT", bucket: "some-bucket", key: "k")
        try body.withUnsafeBytes { try client.protectPayload(&plain, $0) }
        #expect(plain.headers["Content-MD5"] == nil)
        await client.shutdown()
    }
}
