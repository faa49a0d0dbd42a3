import Foundation
import S3
import Testing

/// Browser-form uploads (issue 28): the fields are botocore's for the same inputs and time, and
/// a form posted by `curl -F` uploads to both servers, within the policy's limits.
@Suite struct PresignedPostTests {
    /// One set of inputs, as ours and as botocore's `generate_presigned_post` take them.
    struct Case {
        var key: S3PostKey
        var conditions: [S3PostCondition]
        /// The same conditions as JSON values, for botocore.
        var theirConditions: [Any]
        var token: String?
        var expires = 3600
    }

    static func makeCases() -> [Case] { [
        Case(key: .exactly("reports/2026/q4.pdf"),
             conditions: [.contentLength(1...10_485_760), .contentType("application/pdf"), .metadata("Owner", "Zoë \"Q\" <4>\\"),
                          .successActionStatus(201)],
             theirConditions: [["content-length-range", 1, 10_485_760], ["Content-Type": "application/pdf"],
                               ["x-amz-meta-owner": "Zoë \"Q\" <4>\\"], ["success_action_status": "201"]]),
        Case(key: .prefix("uploads/üser 1/"),
             conditions: [.contentType(startingWith: "image/"), .successActionRedirect("http://127.0.0.1/done?x=1&y=é"),
                          .checksum(.sha256, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="), .field("acl", equals: "private")],
             theirConditions: [["starts-with", "$Content-Type", "image/"], ["success_action_redirect": "http://127.0.0.1/done?x=1&y=é"],
                               ["x-amz-checksum-sha256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="], ["acl": "private"]],
             token: "FwoGZXIvYXdzEJr//////////wEaDHtoken+with/slashes==", expires: 604_800),
        Case(key: .prefix(""), conditions: [], theirConditions: [], expires: 1),
    ] }

    @Test func fieldsAreBotocoresForTheSameInputsAndTime() async throws {
        let date = Date(timeIntervalSince1970: 1_796_638_500)  // 2026-12-07T10:15:00Z
        var requests: [[String: Any]] = []
        var ours: [S3PresignedPost] = []
        let cases = Self.makeCases()
        for c in cases {
            var configuration = try S3Configuration(endpoint: "http://127.0.0.1:9", region: "eu-west-2",
                                                    credentials: S3Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                                                               sessionToken: c.token))
            configuration.addressingStyle = .path
            let client = S3Client(configuration: configuration)
            let post = try await client.presignedPost(bucket: "form-bucket", key: c.key, conditions: c.conditions, expiresIn: c.expires, date: date)
            await client.shutdown()
            ours.append(post)
            let key = switch c.key { case .exactly(let k): k; case .prefix(let p): p + "${filename}" }
            // The fields the conditions fix, in our order: botocore takes them as Fields.
            let prefilled = post.fields.prefix { $0.name != "key" }.map { [$0.name, $0.value] }
            requests.append(["endpoint": "http://127.0.0.1:9", "region": "eu-west-2", "access_key": "AKIDEXAMPLE",
                             "secret_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "token": c.token ?? NSNull(),
                             "bucket": "form-bucket", "key": key, "fields": prefilled, "conditions": c.theirConditions,
                             "expires": c.expires, "amz_date": "20261207T101500Z"])
        }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/botocore_post.py").path
        let (status, out) = try run("/usr/bin/env", ["python3", script], stdin: try JSONSerialization.data(withJSONObject: requests))
        try #require(status == 0, "botocore_post.py failed (is botocore installed? scripts/test installs it)")
        let theirs = try #require(try JSONSerialization.jsonObject(with: out) as? [[String: Any]])
        try #require(theirs.count == ours.count)
        for (mine, reference) in zip(ours, theirs) {
            #expect(mine.url == reference["url"] as? String)
            let fields = (reference["fields"] as? [[String]] ?? []).map { S3PresignedPost.Field(name: $0[0], value: $0[1]) }
            #expect(mine.fields == fields)
        }
        // The cases are not trivially equal: a policy and a signature each, all different.
        #expect(Set(ours.compactMap { $0[field: "x-amz-signature"] }).count == cases.count)
        #expect(ours[1][field: "x-amz-security-token"] != nil && ours[0][field: "x-amz-security-token"] == nil)
    }

    @Test func badInputIsRefusedBeforeAnything() async throws {
        let client = S3Client(configuration: try S3Configuration(endpoint: "http://127.0.0.1:9", credentials: testCredentials))
        defer { Task { await client.shutdown() } }
        let bad: [(String, S3PostKey, [S3PostCondition], Int)] = [
            ("Bad_Bucket", .exactly("k"), [], 60),
            ("bucket", .exactly(""), [], 60),
            ("bucket", .exactly("k"), [], 0),
            ("bucket", .exactly("k"), [], 604_801),
            ("bucket", .exactly("k"), [.contentLength(-1...10)], 60),
            ("bucket", .exactly("k"), [.successActionStatus(302)], 60),
            ("bucket", .exactly("k"), [.field("key", equals: "other")], 60),
            ("bucket", .exactly("k"), [.field("X-Amz-Signature", startsWith: "")], 60),
            ("bucket", .exactly("k"), [.field("with space", equals: "v")], 60),
        ]
        for (bucket, key, conditions, expires) in bad {
            await #expect(throws: S3Error.self) { _ = try await client.presignedPost(bucket: bucket, key: key, conditions: conditions, expiresIn: expires) }
            do {
                _ = try await client.presignedPost(bucket: bucket, key: key, conditions: conditions, expiresIn: expires)
            } catch let e as S3Error {
                #expect(e.code == .invalidArgument, "\(e)")
            }
        }
    }

    /// Posts the form as a browser would, with curl: the fields in order, then the file.
    /// `replacing` overrides fields (a person editing the form). Returns the HTTP status.
    func post(_ form: S3PresignedPost, file: URL, name: String, replacing: [String: String] = [:]) throws -> (Int, String) {
        var arguments = ["-s", "-o", "-", "-w", "\n%{http_code}"]
        if form.url.hasPrefix("https:") { arguments += ["--cacert", try testCAPath()] }
        for f in form.fields { arguments += ["--form-string", "\(f.name)=\(replacing[f.name] ?? f.value)"] }
        arguments += ["-F", "file=@\(file.path);filename=\(name)", form.url]
        let (status, out) = try run("/usr/bin/curl", arguments)
        try #require(status == 0, "curl exited \(status)")
        let text = String(decoding: out, as: UTF8.self)
        let code = Int(text.split(separator: "\n").last ?? "") ?? 0
        return (code, text)
    }

    @Test(arguments: TestServer.all) func aFormPostedByCurlUploadsWithinThePolicy(server: TestServer) async throws {
        try await server.run {
            let client = try makeClient()
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("post-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: work) }
            let small = work.appendingPathComponent("small.txt"), large = work.appendingPathComponent("large.txt")
            let body = patternBytes(700, seed: 3)
            try Data(body).write(to: small)
            try Data(patternBytes(2_000, seed: 4)).write(to: large)
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "post") { bucket in
                let form = try await client.presignedPost(
                    bucket: bucket.name, key: .prefix("inbox/"),
                    conditions: [.contentLength(1...1_000), .contentType("text/plain"), .metadata("origin", "form"), .successActionStatus(201)])

                let (status, answer) = try post(form, file: small, name: "hello.txt")
                #expect(status == 201, "\(answer)")
                let object = try await bucket.getObject(key: "inbox/hello.txt")
                #expect(try await object.body() == body)
                #expect(try await object.contentType == "text/plain")
                #expect(try await object.metadata["origin"] == "form")

                // Larger than the policy allows; a key outside the prefix; a forged field.
                let (tooLarge, _) = try post(form, file: large, name: "big.txt")
                let (outside, _) = try post(form, file: small, name: "x.txt", replacing: ["key": "elsewhere/x.txt"])
                let (forged, _) = try post(form, file: small, name: "forged.txt", replacing: ["x-amz-meta-origin": "forged"])
                var keys: [String] = []
                for try await o in bucket.listObjects() { keys.append(o.key) }
                if server.checksPostPolicies {
                    #expect(tooLarge == 400)
                    #expect(outside == 403)
                    #expect(forged == 403)
                    #expect(keys == ["inbox/hello.txt"])
                } else {
                    // moto checks no POST policy (nor signature): it stores all three.
                    #expect(Set(keys) == ["inbox/hello.txt", "inbox/big.txt", "elsewhere/x.txt", "inbox/forged.txt"])
                }
            }
        }
    }

    @Test(arguments: TestServer.all) func theToolPrintsAFormThatUploads(server: TestServer) async throws {
        try await server.run {
            try #require(FileManager.default.isExecutableFile(atPath: s3ToolPath), "build the s3 product first (scripts/test does)")
            let client = try makeClient()
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("post-cli-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: work) }
            let file = work.appendingPathComponent("note.txt")
            try Data("from the tool's form".utf8).write(to: file)
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "post-cli") { bucket in
                let r = try runS3Tool(["presign", "--post", "--json", "--key-prefix", "--content-length-range", "1-1000",
                                       "--metadata", "origin=cli", "--expires", "120", "s3://\(bucket.name)/in/"], endpoint: try serverEndpoint())
                try #require(r.status == 0, "\(r.error)")
                let json = try #require(try JSONSerialization.jsonObject(with: r.output) as? [String: Any])
                let url = try #require(json["url"] as? String)
                let fields = try #require(json["fields"] as? [String: String])
                #expect(fields["key"] == "in/${filename}" && fields["x-amz-meta-origin"] == "cli" && json["method"] as? String == "POST")
                // The order of the fields does not matter to S3, only that the file comes last.
                let form = S3PresignedPost(url: url, fields: fields.sorted { $0.key < $1.key }.map { .init(name: $0.key, value: $0.value) },
                                           expires: Date())
                let (status, answer) = try post(form, file: file, name: "note.txt")
                #expect(status == 204, "\(answer)")
                #expect(try await bucket.getObject(key: "in/note.txt").body() == Array("from the tool's form".utf8))

                // Bad combinations are refused before anything is signed or sent.
                for bad in [["--post", "--put"], ["--key-prefix"], ["--post", "--content-length-range", "10-1"],
                            ["--post", "--metadata", "novalue"]] {
                    let refused = try runS3Tool(["presign"] + bad + ["s3://\(bucket.name)/in/x"], endpoint: try serverEndpoint())
                    #expect(refused.status != 0, "\(bad) was accepted")
                }
            }
        }
    }
}
