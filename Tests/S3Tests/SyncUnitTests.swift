import Foundation
import Testing
@testable import S3

/// The pure parts of sync (issue 14): globs, filters, the two key orders, the directory walk's
/// order, the decision rule, the delete spool.
@Suite struct SyncUnitTests {
    @Test func globs() {
        let cases: [(String, String, Bool)] = [
            ("a.csv", "*.csv", true), ("dir/a.csv", "*.csv", true), ("a.csvx", "*.csv", false),
            ("logs/2024-01.csv", "logs/2024-*", true), ("logs/2025-01.csv", "logs/2024-*", false),
            ("a", "?", true), ("ab", "?", false), ("", "*", true), ("", "?", false),
            ("b1", "[abc]1", true), ("d1", "[abc]1", false), ("d1", "[!abc]1", true), ("m", "[a-z]", true), ("M", "[a-z]", false),
            ("a]", "[]]", false), ("]", "[]]", true), ("[x", "[x", true), ("a*b", "a\\*b", true), ("axb", "a\\*b", false),
            ("ünï/cödé.txt", "ü*/*.txt", true), ("日本/語.txt", "??/?.txt", true),
            ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "*a*a*a*a*a*a*a*a*a*a*a*a*c", false),
        ]
        for (text, pattern, expected) in cases {
            #expect(S3SyncFilter.matches(text, pattern: pattern) == expected, "\(text) ~ \(pattern)")
        }
    }

    @Test func filterRulesApplyInOrderLastMatchWins() {
        var f = S3SyncFilter()
        #expect(f.includes("anything"))
        f.exclude("*")
        f.include("*.jpg")
        f.exclude("tmp/*")
        #expect(f.includes("a.jpg") && f.includes("x/y.jpg"))
        #expect(!f.includes("a.png") && !f.includes("tmp/a.jpg"))
        // The AWS CLI's example: include before exclude does nothing.
        let g = S3SyncFilter(rules: [.include("*.txt"), .exclude("*")])
        #expect(!g.includes("a.txt"))
    }

    @Test func keyOrders() {
        let keys = ["a/b/c", "a/b-c", "a/deeper/y.txt", "a/x.txt", "a b", "a-b", "a.txt", "a0", "ab", "empty", "z", "ü/c.txt", "日本/語.txt"]
        // SeaweedFS's listing of these keys (seen on 4.48), and S3's (UTF-8 bytes).
        #expect(keys.sorted(by: S3KeyOrder.pathComponents.precedes) == keys)
        #expect(keys.sorted(by: S3KeyOrder.bytes.precedes)
                == ["a b", "a-b", "a.txt", "a/b-c", "a/b/c", "a/deeper/y.txt", "a/x.txt", "a0", "ab", "empty", "z", "ü/c.txt", "日本/語.txt"])
        #expect(S3KeyOrder.of(page: ["a/x", "a-b"]) == .pathComponents)
        #expect(S3KeyOrder.of(page: ["a-b", "a/x"]) == .bytes)
        #expect(S3KeyOrder.of(page: ["a", "b/c", "d"]) == nil)
        #expect(S3KeyOrder.of(server: "SeaweedFS 8000GB 4.48", store: .other) == .pathComponents)
        #expect(S3KeyOrder.of(server: "AmazonS3", store: .aws) == .bytes)
    }

    /// The walk yields files in exactly the order the store would list their keys, so a merge
    /// of the two never mistakes a present file for a missing one.
    @Test(arguments: [S3KeyOrder.bytes, .pathComponents]) func theDirectoryWalkFollowsTheOrder(order: S3KeyOrder) throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("walk-\(UUID())")
        defer { try? FileManager.default.removeItem(at: root) }
        let files = ["a b", "a-b", "a.txt", "a/b-c", "a/b/c", "a/deeper/y.txt", "a/x.txt", "a0", "ab", "empty", "z", "ü/c.txt",
                     "日本/語.txt", "x/.hidden", "x/y/z/deep.bin"]
        for f in files {
            let url = root.appendingPathComponent(f)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(f.utf8).write(to: url)
        }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("emptydir"), withIntermediateDirectories: true)
        symlink(root.appendingPathComponent("z").path, root.appendingPathComponent("zlink").path)
        symlink(root.appendingPathComponent("a").path, root.appendingPathComponent("alink").path)   // a folder: not followed
        var walker = try LocalTreeWalker(root: root, order: order)
        var seen: [SyncEntry] = []
        while let e = try walker.next() { seen.append(e) }
        let expected = (files + ["zlink"]).sorted(by: order.precedes)
        #expect(seen.map(\.path) == expected)
        #expect(seen.first { $0.path == "a/x.txt" }?.size == 7)
        #expect(seen.allSatisfy { $0.modified != nil })
    }

    @Test func theDecisionRule() {
        let root = URL(fileURLWithPath: "/tmp/x")
        let bucket = S3Bucket.unchecked(name: "b", client: S3Client(configuration: try! S3Configuration(endpoint: "http://127.0.0.1:9",
                                                                                                      credentials: testCredentials)))
        let t = Date(timeIntervalSince1970: 1_700_000_000)
        func entry(_ size: Int64, _ time: Date) -> SyncEntry { SyncEntry(path: "p", size: size, modified: time) }
        let up = S3SyncJob(from: .directory(root), to: .bucket(bucket, prefix: ""))
        #expect(up.decide(entry(1, t), entry(2, t)) == .copy(path: "p", size: 1, reason: .sizeDiffers))
        #expect(up.decide(entry(1, t.addingTimeInterval(1)), entry(1, t)) == .copy(path: "p", size: 1, reason: .newer))
        #expect(up.decide(entry(1, t.addingTimeInterval(0.9)), entry(1, t)) == nil, "whole seconds")
        #expect(up.decide(entry(1, t), entry(1, t.addingTimeInterval(100))) == nil, "the destination is newer")
        var options = S3SyncOptions()
        options.sizeOnly = true
        #expect(S3SyncJob(from: .directory(root), to: .bucket(bucket, prefix: ""), options: options)
            .decide(entry(1, t.addingTimeInterval(100)), entry(1, t)) == nil)
        let down = S3SyncJob(from: .bucket(bucket, prefix: ""), to: .directory(root))
        #expect(down.decide(entry(1, t.addingTimeInterval(100)), entry(1, t)) == nil, "downloads compare sizes only")
        options = S3SyncOptions()
        options.exactTimestamps = true
        let exact = S3SyncJob(from: .bucket(bucket, prefix: ""), to: .directory(root), options: options)
        #expect(exact.decide(entry(1, t), entry(1, t.addingTimeInterval(-5))) == .copy(path: "p", size: 1, reason: .newer))
        #expect(exact.decide(entry(1, t), entry(1, t)) == nil)
    }

    @Test func theDeleteSpoolGivesBackEveryPathInBatches() async throws {
        let spool = try DeleteSpool()
        let paths = (0..<25_000).map { "dir \($0 % 7)/ünï-\($0)" + String(repeating: "x", count: $0 % 50) }
        for p in paths { try spool.append(p) }
        var back: [String] = []
        var sizes: [Int] = []
        try await spool.batches(of: 1000) { batch in
            back += batch
            sizes.append(batch.count)
        }
        #expect(back == paths)
        #expect(sizes == Array(repeating: 1000, count: 25))
    }

    @Test func badSyncsAreRefusedBeforeSending() async throws {
        let client = S3Client(configuration: try S3Configuration(endpoint: "http://127.0.0.1:9", credentials: testCredentials))
        let bucket = S3Bucket.unchecked(name: "fine-bucket", client: client)
        let dir = FileManager.default.temporaryDirectory
        var zero = S3SyncOptions()
        zero.maxObjectsInFlight = 0
        let cases: [(String, () async throws -> Void)] = [
            ("two directories", { try await S3SyncJob(from: .directory(dir), to: .directory(dir)).run() }),
            ("a missing source directory", { try await S3SyncJob(from: .directory(dir.appendingPathComponent("nope-\(UUID())")),
                                                                 to: .bucket(bucket, prefix: "")).run() }),
            ("no objects in flight", { try await S3SyncJob(from: .directory(dir), to: .bucket(bucket, prefix: ""), options: zero).run() }),
            ("a bad bucket name", { try await S3SyncJob(from: .directory(dir), to: .bucket(S3Bucket.unchecked(name: "Bad_Name", client: client),
                                                                                            prefix: "")).run() }),
        ]
        await expectRefusedBeforeSending(client, cases)
    }
}
