import Foundation
import Testing
@testable import S3

/// Bucket policy, CORS and ownership controls (issue 28 item 4), against moto and SeaweedFS,
/// cross-checked with boto3 and with what the store then does: anonymous reads after a policy,
/// browser preflights after CORS rules.
@Suite struct BucketAccessTests {
    /// An unsigned request, as a browser or anyone on the network sends it: (status, headers).
    static func anonymous(_ method: String, _ url: String, headers: [String] = []) throws -> (Int, String) {
        let (_, out) = try run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-D", "-", "-X", method] + headers.flatMap { ["-H", $0] } + [url])
        let text = String(decoding: out, as: UTF8.self)
        let status = text.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return (status, text.lowercased())
    }

    @Test(arguments: TestServer.all) func corsRulesRoundTripAndDecidePreflights(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "cors") { bucket in
                #expect(try await client.corsRules(bucket: bucket.name) == [])
                try await bucket.putObject(key: "k", body: "hi")
                let rules = [
                    S3CORSRule(id: "uploads", allowedMethods: [.get, .put, .post], allowedOrigins: ["https://app.example.com"],
                               allowedHeaders: ["*"], exposeHeaders: ["ETag", "x-amz-version-id"], maxAgeSeconds: 300),
                    S3CORSRule(allowedMethods: [.head], allowedOrigins: ["https://*.example.org"], maxAgeSeconds: 60),
                ]
                try await client.setCORSRules(bucket: bucket.name, rules)
                #expect(try await client.corsRules(bucket: bucket.name) == rules)
                // boto3 reads what we wrote, and its shape decodes into ours (the AWS CLI's JSON).
                let seen = try #require(try boto3(["cors", bucket.name]) as? [[String: Any]])
                #expect(seen.count == 2)
                #expect(seen.first?["AllowedMethods"] as? [String] == ["GET", "PUT", "POST"])
                #expect(seen.first?["ExposeHeaders"] as? [String] == ["ETag", "x-amz-version-id"])
                let decoded = try JSONDecoder().decode([S3CORSRule].self, from: JSONSerialization.data(withJSONObject: seen))
                #expect(decoded == rules)

                // What the store does with them: a preflight from the allowed origin is answered
                // with its grant; one from elsewhere is refused (SeaweedFS). moto's server answers
                // every preflight with 403 and echoes any origin: it does not apply CORS rules.
                let url = bucket.url(forKey: "k")
                let allowed = try Self.anonymous("OPTIONS", url, headers: ["Origin: https://app.example.com", "Access-Control-Request-Method: PUT"])
                let refused = try Self.anonymous("OPTIONS", url, headers: ["Origin: https://evil.example.net", "Access-Control-Request-Method: PUT"])
                if server.appliesCORSRules {
                    #expect(allowed.0 == 200)
                    #expect(allowed.1.contains("access-control-allow-origin: https://app.example.com"))
                    #expect(allowed.1.contains("access-control-expose-headers: etag"))
                    #expect(allowed.1.contains("access-control-max-age: 300"))
                    #expect(refused.0 == 403)
                    #expect(!refused.1.contains("access-control-allow-origin"))
                }

                // A rule without MaxAgeSeconds: moto keeps it absent, as S3 does; SeaweedFS reports 0.
                let bare = S3CORSRule(allowedMethods: [.get], allowedOrigins: ["*"])
                try await client.setCORSRules(bucket: bucket.name, [bare])
                let read = try await client.corsRules(bucket: bucket.name)
                #expect(read.map(\.maxAgeSeconds) == [server.keepsCORSMaxAgeAbsent ? nil : 0])
                #expect(read.map(\.allowedOrigins) == [["*"]])

                try await client.setCORSRules(bucket: bucket.name, [])
                #expect(try await client.corsRules(bucket: bucket.name) == [])
                #expect((try boto3(["cors", bucket.name]) as? [Any])?.isEmpty == true)
                // SeaweedFS's gateway goes on answering preflights by the deleted rules (for at
                // least 20 s, measured: it caches them), though GetBucketCors says there are none.
            }
        }
    }

    @Test func badCORSRulesPoliciesAndRetentionsAreRefusedBeforeAnyRequest() async throws {
        let client = S3Client(configuration: try S3Configuration(endpoint: "http://127.0.0.1:9", credentials: testCredentials))
        let ok = S3CORSRule(allowedMethods: [.get], allowedOrigins: ["*"])
        let bad: [(String, [S3CORSRule])] = [
            ("no method", [S3CORSRule(allowedMethods: [], allowedOrigins: ["*"])]),
            ("no origin", [S3CORSRule(allowedMethods: [.get], allowedOrigins: [])]),
            ("two stars", [S3CORSRule(allowedMethods: [.get], allowedOrigins: ["https://*.*.example.com"])]),
            ("two stars in a header", [S3CORSRule(allowedMethods: [.get], allowedOrigins: ["*"], allowedHeaders: ["x-*-*"])]),
            ("newline", [S3CORSRule(allowedMethods: [.get], allowedOrigins: ["https://a.example\n.com"])]),
            ("negative age", [S3CORSRule(allowedMethods: [.get], allowedOrigins: ["*"], maxAgeSeconds: -1)]),
            ("long id", [S3CORSRule(id: String(repeating: "i", count: 256), allowedMethods: [.get], allowedOrigins: ["*"])]),
            ("101 rules", Array(repeating: ok, count: 101)),
        ]
        for (what, rules) in bad {
            let e = await #expect(throws: S3Error.self, "\(what)") { try await client.setCORSRules(bucket: "some-bucket", rules) }
            #expect(e?.code == .invalidArgument, "\(what)")
        }
        for policy in ["", "not json", "[]", #"{"Version":"2012-10-17"}"#, "{" + String(repeating: " ", count: 20 * 1024) + "}"] {
            let e = await #expect(throws: S3Error.self) { try await client.setBucketPolicy(bucket: "some-bucket", json: policy) }
            #expect(e?.code == .invalidArgument)
        }
        for period in [S3DefaultRetention.Period.days(0), .years(0), .years(101), .days(36_501)] {
            let e = await #expect(throws: S3Error.self) {
                try await client.setObjectLockConfiguration(bucket: "some-bucket", defaultRetention: S3DefaultRetention(mode: .governance, period: period))
            }
            #expect(e?.code == .invalidArgument)
        }
        #expect(client.requestCount == 0)
        await client.shutdown()
    }

    @Test func corsRulesDecodeTheAWSCLIsJSON() throws {
        let json = #"""
        {"CORSRules": [{"AllowedOrigins": ["https://a.example"], "AllowedMethods": ["GET", "HEAD"]},
                       {"ID": "up", "AllowedOrigins": ["*"], "AllowedMethods": ["PUT"], "AllowedHeaders": ["*"], "MaxAgeSeconds": 60}]}
        """#
        struct File: Decodable { var CORSRules: [S3CORSRule] }
        let rules = try JSONDecoder().decode(File.self, from: Data(json.utf8)).CORSRules
        #expect(rules == [S3CORSRule(allowedMethods: [.get, .head], allowedOrigins: ["https://a.example"]),
                          S3CORSRule(id: "up", allowedMethods: [.put], allowedOrigins: ["*"], allowedHeaders: ["*"], maxAgeSeconds: 60)])
        #expect(throws: DecodingError.self) { _ = try JSONDecoder().decode(File.self, from: Data(#"{"CORSRules":[{"AllowedOrigins":["*"],"AllowedMethods":["PATCH"]}]}"#.utf8)) }
        // Encoding leaves out what is empty, as the AWS CLI's files do.
        let text = String(decoding: try JSONEncoder().encode(rules[0]), as: UTF8.self)
        #expect(!text.contains("AllowedHeaders") && !text.contains("ID") && !text.contains("MaxAgeSeconds"))
    }

    @Test(arguments: TestServer.all) func ownershipControlsAreSetReadAndRemoved(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "owner") { bucket in
                for ownership in S3ObjectOwnership.allCases {
                    try await client.setObjectOwnership(bucket: bucket.name, ownership)
                    #expect(try await client.objectOwnership(bucket: bucket.name) == ownership)
                    #expect(try boto3(["ownership", bucket.name]) as? String == ownership.rawValue)
                }
                try await client.setObjectOwnership(bucket: bucket.name, nil)
                if server.deletesOwnershipControls {
                    #expect(try await client.objectOwnership(bucket: bucket.name) == nil)
                    #expect(try boto3(["ownership", bucket.name]) is NSNull)
                    try await client.setObjectOwnership(bucket: bucket.name, nil)  // none left: still fine
                } else {
                    // SeaweedFS answers DeleteBucketOwnershipControls with 204 and keeps a setting.
                    #expect(try await client.objectOwnership(bucket: bucket.name) != nil)
                }
            }
        }
    }

    @Test(arguments: TestServer.all) func policyOpensTheBucketToAnonymousReadsAndIsRemoved(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "policy") { bucket in
                try await bucket.putObject(key: "doc.txt", body: "public")
                let url = bucket.url(forKey: "doc.txt")
                #expect(try Self.anonymous("GET", url).0 == 403)
                #expect(try await client.bucketPolicy(bucket: bucket.name) == nil)
                try await client.deleteBucketPolicy(bucket: bucket.name)  // none: fine, as in S3

                // A grant someone else made stays when allowPublicAccess adds its own.
                let other = #"{"Version":"2012-10-17","Statement":[{"Sid":"TeamWrite","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:root"]},"Action":"s3:PutObject","Resource":"arn:aws:s3:::\#(bucket.name)/team/*"}]}"#
                _ = try boto3(["set-policy", bucket.name, other])
                try await bucket.allowPublicAccess()
                try await bucket.allowPublicAccess()  // twice: the same three statements
                let text = try #require(try await client.bucketPolicy(bucket: bucket.name))
                let policy = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
                let statements = try #require(policy["Statement"] as? [[String: Any]])
                #expect(Set(statements.compactMap { $0["Sid"] as? String }) == ["TeamWrite", "PublicReadGetObject", "PublicListBucket"])
                #expect(statements.count == 3)
                #expect(try Self.anonymous("GET", url).0 == 200)

                try await client.deleteBucketPolicy(bucket: bucket.name)
                #expect(try await client.bucketPolicy(bucket: bucket.name) == nil)
                #expect(try boto3(["policy", bucket.name]) is NSNull)
                #expect(try Self.anonymous("GET", url).0 == 403)
            }
        }
    }

    @Test func aPublicReadPolicyKeepsOtherStatementsAndRefusesWhatItCannotRead() throws {
        let single = #"{"Version":"2008-10-17","Statement":{"Sid":"Keep","Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::b/*"}}"#
        let merged = try #require(try JSONSerialization.jsonObject(with: Data(try S3Bucket.publicReadPolicy(bucket: "b", keeping: single).utf8)) as? [String: Any])
        #expect(merged["Version"] as? String == "2008-10-17")
        let statements = try #require(merged["Statement"] as? [[String: Any]])
        #expect(statements.map { $0["Sid"] as? String } == ["Keep", "PublicReadGetObject", "PublicListBucket"])
        #expect(statements[1]["Resource"] as? String == "arn:aws:s3:::b/*")
        #expect(throws: S3Error.self) { _ = try S3Bucket.publicReadPolicy(bucket: "b", keeping: "<xml/>") }
    }
}
