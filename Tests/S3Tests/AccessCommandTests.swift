import Foundation
import Testing
@testable import S3

/// The tool's `policy`, `cors`, `ownership`, `lock`, `retention`, `legal-hold`, `mb --object-lock`
/// and `rm --version-id --bypass-governance`, run as a user runs them, with `--json` read back.
@Suite struct AccessCommandTests {
    func tool(_ arguments: [String]) throws -> (status: Int32, json: [String: Any], error: String) {
        let r = try runS3Tool(arguments, endpoint: try serverEndpoint())
        let line = String(decoding: r.output, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
        let json = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
        return (r.status, json, r.error)
    }

    @Test(arguments: TestServer.all) func policyCORSAndOwnershipFromTheTool(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("access-cli-\(UUID())")
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: work) }
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "access-cli") { bucket in
                let b = "s3://\(bucket.name)"
                #expect(try tool(["policy", "--json", b]).json["policy"] is NSNull)
                let policyFile = work.appendingPathComponent("policy.json")
                try Data(#"{"Version":"2012-10-17","Statement":[{"Sid":"R","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::\#(bucket.name)/*"}]}"#.utf8)
                    .write(to: policyFile)
                let set = try tool(["policy", "--json", b, "--set", policyFile.path])
                #expect(set.status == 0, "\(set.error)")
                let shown = try tool(["policy", "--json", b])
                let statements = (shown.json["policy"] as? [String: Any])?["Statement"] as? [[String: Any]]
                #expect(statements?.first?["Sid"] as? String == "R")
                #expect(try tool(["policy", "--json", b, "--delete"]).status == 0)
                #expect(try await client.bucketPolicy(bucket: bucket.name) == nil)

                // The AWS CLI's CORS file, as is.
                let corsFile = work.appendingPathComponent("cors.json")
                try Data(#"{"CORSRules":[{"AllowedOrigins":["https://app.example.com"],"AllowedMethods":["GET","PUT"],"ExposeHeaders":["ETag"],"MaxAgeSeconds":60}]}"#.utf8)
                    .write(to: corsFile)
                #expect(try tool(["cors", "--json", b, "--set", corsFile.path]).json["rules"] as? Int == 1)
                #expect(try await client.corsRules(bucket: bucket.name) ==
                        [S3CORSRule(allowedMethods: [.get, .put], allowedOrigins: ["https://app.example.com"], exposeHeaders: ["ETag"], maxAgeSeconds: 60)])
                let rules = try tool(["cors", "--json", b]).json["CORSRules"] as? [[String: Any]]
                #expect(rules?.first?["AllowedMethods"] as? [String] == ["GET", "PUT"])
                #expect(try tool(["cors", "--json", b, "--delete"]).status == 0)
                #expect(try await client.corsRules(bucket: bucket.name) == [])

                #expect(try tool(["ownership", "--json", b, "--set", "ObjectWriter"]).status == 0)
                #expect(try tool(["ownership", "--json", b]).json["ObjectOwnership"] as? String == "ObjectWriter")

                // Bad input: refused before anything is sent, with a message.
                try Data("not json".utf8).write(to: policyFile)
                for bad in [["policy", b, "--set", policyFile.path], ["policy", b, "--set", policyFile.path, "--delete"],
                            ["cors", b, "--set", policyFile.path], ["ownership", b, "--set", "Nobody"], ["policy", "\(b)/key"]] {
                    let r = try tool(bad)
                    #expect(r.status != 0 && !r.error.isEmpty, "\(bad) was accepted")
                }
            }
        }
    }

    @Test(arguments: TestServer.all) func objectLockFromTheTool(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            let name = uniqueBucket("lock-cli")
            let b = "s3://\(name)"
            #expect(try tool(["mb", "--json", "--object-lock", b]).status == 0)
            try await ObjectLockTests.withLockedBucket(client, existing: name) { _ in
                #expect(try tool(["lock", "--json", b]).json["ObjectLockEnabled"] as? String == "Enabled")
                let v = try #require(try await client.putObject(bucket: name, key: "ledger.csv", bytes: [1]).versionID)
                let set = try tool(["retention", "--json", "\(b)/ledger.csv", "--mode", "governance", "--until", "2030-01-01"])
                #expect(set.status == 0, "\(set.error)")
                let retention = set.json["Retention"] as? [String: Any]
                #expect(retention?["Mode"] as? String == "GOVERNANCE")
                #expect(retention?["RetainUntilDate"] as? String == "2030-01-01T00:00:00Z")
                #expect(try tool(["legal-hold", "--json", "\(b)/ledger.csv", "on"]).json["LegalHold"] as? String == "ON")
                #expect(try await client.objectLegalHold(bucket: name, key: "ledger.csv", versionID: v))
                #expect(try tool(["stat", "--json", "\(b)/ledger.csv"]).json["legalHold"] as? String == "ON")
                #expect(try tool(["rm", "--version-id", v, "--bypass-governance", "\(b)/ledger.csv"]).status != 0, "held")
                #expect(try tool(["legal-hold", "--json", "\(b)/ledger.csv", "off"]).json["LegalHold"] as? String == "OFF")
                #expect(try tool(["rm", "--version-id", v, "\(b)/ledger.csv"]).status != 0, "governed")
                #expect(try tool(["rm", "--json", "--version-id", v, "--bypass-governance", "\(b)/ledger.csv"]).status == 0)

                // Only with an empty bucket on moto ("Bucket needs to be empty"), as here.
                #expect(try tool(["lock", "--json", b, "--mode", "compliance", "--days", "3"]).json["DefaultRetention"] as? [String: Any]
                        as NSDictionary? == ["Mode": "COMPLIANCE", "Days": 3] as NSDictionary)
                #expect(try tool(["lock", "--json", b, "--no-default"]).json["DefaultRetention"] == nil)
                for bad in [["lock", b, "--mode", "governance"], ["lock", b, "--days", "3"], ["lock", b, "--no-default", "--days", "1"],
                            ["retention", "\(b)/k", "--mode", "governance"], ["retention", "\(b)/k", "--mode", "x", "--until", "2030-01-01"],
                            ["retention", "\(b)/k", "--mode", "governance", "--until", "soon"], ["legal-hold", "\(b)/k", "maybe"],
                            ["rm", "--bypass-governance", "\(b)/k"], ["rm", "-r", "--version-id", "x", "\(b)/"]] {
                    let r = try tool(bad)
                    #expect(r.status != 0 && !r.error.isEmpty, "\(bad) was accepted")
                }
            }
        }
    }
}
