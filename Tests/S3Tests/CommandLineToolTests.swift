import Foundation
import S3
import Testing

/// Runs the built `s3` executable against each test server, as a user would.
@Suite struct CommandLineToolTests {
    func s3(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        let r = try runS3Tool(arguments, endpoint: try serverEndpoint())
        return (r.status, String(decoding: r.output, as: UTF8.self), r.error)
    }

    @Test(arguments: TestServer.all) func everySubcommand(server: TestServer) throws {
        try server.runSync {
            try #require(FileManager.default.isExecutableFile(atPath: s3ToolPath), "build the s3 product first (scripts/test does)")
            let bucket = uniqueBucket("cli")
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID())")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let local = dir.appendingPathComponent("a b.txt")
            try Data("hello from the cli\n".utf8).write(to: local)

            #expect(try s3(["mb", "s3://\(bucket)", "--lifetime-days", "5"]).status == 0)
            let rules = try #require(try boto3(["lifecycle", bucket]) as? [[String: Any]])
            #expect(rules.first?["ID"] as? String == "expire")
            // A content type that would smuggle a header line is refused before anything is sent.
            let injected = try s3(["cp", local.path, "s3://\(bucket)/docs/", "--content-type", "text/plain\r\nx-amz-meta-injected: yes"])
            #expect(injected.status != 0 && injected.error.contains("line break"), "\(injected)")
            #expect(try s3(["cp", local.path, "s3://\(bucket)/docs/", "--content-type", "text/plain"]).status == 0)
            let seen = try #require(try boto3(["get", bucket, "docs/a b.txt"]) as? [String: Any])
            #expect(seen["content_type"] as? String == "text/plain")
            #expect(seen["size"] as? Int == 19)

            let ls = try s3(["ls", "s3://\(bucket)"])
            #expect(ls.status == 0)
            #expect(ls.output.contains("PRE  docs/"))
            let lsr = try s3(["ls", "--recursive", "s3://\(bucket)"])
            #expect(lsr.output.contains("19  docs/a b.txt"))
            #expect(try s3(["ls"]).output.split(separator: "\n").contains { $0 == bucket })

            let cat = try s3(["cat", "s3://\(bucket)/docs/a b.txt"])
            #expect(cat.output == "hello from the cli\n")
            #expect(try s3(["cp", "s3://\(bucket)/docs/a b.txt", dir.path]).status == 0)
            #expect(try String(contentsOf: local, encoding: .utf8) == "hello from the cli\n")

            let url = try s3(["url", "s3://\(bucket)/docs/a b.txt"])
            #expect(url.output == "\(try serverEndpoint())/\(bucket)/docs/a%20b.txt\n")
            let presigned = try s3(["url", "--presign", "60", "s3://\(bucket)/docs/a b.txt"]).output
            let (curlStatus, body) = try run("/usr/bin/curl", ["-s", "-f", presigned.trimmingCharacters(in: .whitespacesAndNewlines)])
            #expect(curlStatus == 0)
            #expect(String(decoding: body, as: UTF8.self) == "hello from the cli\n")

            #expect(try s3(["public", "s3://\(bucket)"]).status == 0)
            #expect((try boto3(["policy", bucket]) as? String)?.contains("s3:GetObject") == true)
            #expect(try s3(["lifetime", "s3://\(bucket)", "0"]).status == 0)
            #expect((try boto3(["lifecycle", bucket]) as? [Any])?.isEmpty == true)

            let missing = try s3(["cat", "s3://\(bucket)/nope"])
            #expect(missing.status == 3)
            #expect(missing.error.contains("NoSuchKey"))
            let notEmpty = try s3(["rb", "s3://\(bucket)"])
            #expect(notEmpty.status == 1)
            #expect(notEmpty.error.contains("BucketNotEmpty"))
            #expect(try s3(["rm", "s3://\(bucket)/docs/a b.txt"]).status == 0)
            #expect(try s3(["rb", "s3://\(bucket)"]).status == 0)
            #expect(try boto3(["bucket-exists", bucket]) as? Bool == false)

            // Recursive copies both ways, with a progress summary on standard error.
            let tree = dir.appendingPathComponent("tree")
            try FileManager.default.createDirectory(at: tree.appendingPathComponent("sub"), withIntermediateDirectories: true)
            try Data(patternBytes(6 << 20)).write(to: tree.appendingPathComponent("sub/big.bin"))
            try Data("small".utf8).write(to: tree.appendingPathComponent("small.txt"))
            let bucket2 = uniqueBucket("cli")
            #expect(try s3(["mb", "s3://\(bucket2)"]).status == 0)
            let up = try s3(["cp", "--recursive", "--part-size-mib", "5", tree.path, "s3://\(bucket2)/t"])
            #expect(up.status == 0)
            #expect(up.output.contains("upload: \(tree.path)/sub/big.bin to s3://\(bucket2)/t/sub/big.bin"), "\(up)")
            #expect(up.output.contains("2 copied"), "\(up)")
            #expect(up.error.contains("2 done"), "a progress summary: \(up.error)")
            let down = try s3(["cp", "-r", "s3://\(bucket2)/t/", dir.appendingPathComponent("back").path])
            #expect(down.status == 0)
            #expect(try Data(contentsOf: dir.appendingPathComponent("back/sub/big.bin")) == Data(patternBytes(6 << 20)))
            #expect(try String(contentsOf: dir.appendingPathComponent("back/small.txt"), encoding: .utf8) == "small")
            #expect(try s3(["rb", "--force", "s3://\(bucket2)"]).status == 0)

            let usage = try s3(["cp", "only-one-argument"])
            #expect(usage.status == 64, "usage errors exit with EX_USAGE")
            let invalid = try s3(["mb", "s3://Invalid_Name"])
            #expect(invalid.status == 64, "bad input is a usage error")
            #expect(invalid.error.contains("invalid bucket name"))
        }
    }
}
