import Foundation
import S3
import Testing

/// The `s3` tool as a daily driver (issue 14): sync, mv, rm -r, wildcards, du, stat, presign,
/// run, --json, exit codes, Ctrl-C, the progress bar; run as a user would against moto and
/// SeaweedFS (through the fault proxy where the requests sent are checked), checked with boto3.
@Suite struct CommandLineDailyDriverTests {
    struct Result {
        var status: Int32
        var output: String
        var error: String
        var lines: [String] { output.split(separator: "\n").map(String.init) }
    }

    func s3(_ arguments: [String], endpoint: String? = nil) throws -> Result {
        let r = try runS3Tool(arguments, endpoint: try endpoint ?? serverEndpoint())
        return Result(status: r.status, output: String(decoding: r.output, as: UTF8.self), error: r.error)
    }

    /// A temporary directory, removed afterwards.
    func withDirectory<T>(_ body: (URL) throws -> T) throws -> T {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cli14-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        return try body(dir)
    }

    func write(_ text: String, _ url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    /// The tree the sync tests use: unicode names, an empty file, nested folders, names that
    /// sort differently by path than by folder (`a-b` < `a/` < `a0` in UTF-8 byte order).
    func makeTree(_ root: URL) throws -> [String: String] {
        let files = ["a-b": "dash", "a/x.txt": "in a", "a/deeper/y.txt": "deep", "a0": "zero", "empty": "",
                     "ünï/cödé.txt": "unicode", "日本/語.txt": "cjk", "space name.txt": "spaced"]
        for (path, body) in files { try write(body, root.appendingPathComponent(path)) }
        return files
    }

    /// The keys boto3 lists, sorted (SeaweedFS lists folder by folder, S3 in byte order).
    func listed(_ bucket: String, _ prefix: String = "") throws -> [String] {
        (try #require(try boto3(["list", bucket, prefix, ""]) as? [String: Any])["keys"] as? [String] ?? []).sorted()
    }

    @Test(arguments: TestServer.all) func syncBothWaysSendsNothingTheSecondTime(server: TestServer) throws {
        try server.runSync {
            try withDirectory { dir in
                let bucket = uniqueBucket("sync")
                let proxy = try proxyEndpoint()
                #expect(try s3(["mb", "s3://\(bucket)"]).status == 0)
                defer { _ = try? s3(["rb", "--force", "s3://\(bucket)"]) }
                let src = dir.appendingPathComponent("src")
                let files = try makeTree(src)
                // Up: every file, under the prefix, read back by boto3.
                var r = try s3(["sync", src.path, "s3://\(bucket)/site"])
                #expect(r.status == 0, "\(r)")
                #expect(try listed(bucket) == files.keys.map { "site/" + $0 }.sorted())
                let seen = try #require(try boto3(["get", bucket, "site/ünï/cödé.txt"]) as? [String: Any])
                #expect(seen["sha256"] as? String == sha256Hex(Array("unicode".utf8)))
                // Again: nothing but listings reach the store.
                try setFaults(bucket: bucket, "[]")
                r = try s3(["sync", src.path, "s3://\(bucket)/site"], endpoint: proxy)
                #expect(r.status == 0 && r.output.contains("0 copied") && r.output.contains("\(files.count) unchanged"), "\(r)")
                var log = try proxyLog(bucket: bucket)
                #expect(!log.isEmpty && log.allSatisfy { $0.hasPrefix("GET /\(bucket)?") && $0.contains("list-type=2") }, "\(log)")
                // Down into a new directory: the same bytes, each file dated as its object.
                let back = dir.appendingPathComponent("back")
                r = try s3(["sync", "s3://\(bucket)/site/", back.path])
                #expect(r.status == 0, "\(r)")
                for (path, body) in files {
                    #expect(try String(contentsOf: back.appendingPathComponent(path), encoding: .utf8) == body, "\(path)")
                }
                let object = try #require(try s3(["stat", "--json", "s3://\(bucket)/site/a0"]).lines.first)
                let stamp = try #require(try JSONSerialization.jsonObject(with: Data(object.utf8)) as? [String: Any])["lastModified"] as? String
                let fileDate = try #require(try FileManager.default.attributesOfItem(atPath: back.appendingPathComponent("a0").path)[.modificationDate] as? Date)
                #expect(ISO8601DateFormatter().string(from: fileDate) == stamp)
                // Syncing either way again does nothing: no PUT, no object GET.
                try setFaults(bucket: bucket, "[]")
                r = try s3(["sync", back.path, "s3://\(bucket)/site"], endpoint: proxy)
                #expect(r.status == 0 && r.output.contains("0 copied"), "\(r)")
                r = try s3(["sync", "s3://\(bucket)/site", back.path], endpoint: proxy)
                #expect(r.status == 0 && r.output.contains("0 copied"), "\(r)")
                log = try proxyLog(bucket: bucket)
                #expect(log.allSatisfy { $0.contains("list-type=2") }, "\(log)")
                // A deleted file: --dry-run reports and keeps; --delete removes the object.
                try FileManager.default.removeItem(at: src.appendingPathComponent("a/x.txt"))
                r = try s3(["sync", "--delete", "--dry-run", src.path, "s3://\(bucket)/site"])
                #expect(r.output.contains("(dryrun) delete: s3://\(bucket)/site/a/x.txt"), "\(r)")
                #expect(try listed(bucket).contains("site/a/x.txt"))
                r = try s3(["sync", "--delete", src.path, "s3://\(bucket)/site"])
                #expect(r.status == 0 && r.output.contains("1 deleted"), "\(r)")
                #expect(try !listed(bucket).contains("site/a/x.txt"))
                // A newer file of the same size is copied, unless --size-only.
                let touched = src.appendingPathComponent("a0")
                try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(3600)], ofItemAtPath: touched.path)
                r = try s3(["sync", "--size-only", src.path, "s3://\(bucket)/site"])
                #expect(r.output.contains("0 copied"), "\(r)")
                r = try s3(["sync", "--json", src.path, "s3://\(bucket)/site"])
                let events = r.lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                #expect(events.count == r.lines.count, "every --json line is JSON: \(r.output)")
                #expect(events.contains { $0["op"] as? String == "upload" && $0["reason"] as? String == "newer"
                                           && ($0["destination"] as? String)?.hasSuffix("/site/a0") == true }, "\(events)")
                // --exact-timestamps: an older download is replaced too.
                try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_000_000_000)],
                                                      ofItemAtPath: back.appendingPathComponent("empty").path)
                #expect(try s3(["sync", "s3://\(bucket)/site", back.path]).output.contains("0 copied"))
                r = try s3(["sync", "--exact-timestamps", "s3://\(bucket)/site", back.path])
                #expect(r.output.contains("download: s3://\(bucket)/site/empty"), "\(r)")
            }
        }
    }

    @Test(arguments: TestServer.all) func syncFiltersAndBucketToBucket(server: TestServer) throws {
        try server.runSync {
            try withDirectory { dir in
                let bucket = uniqueBucket("syncf")
                #expect(try s3(["mb", "s3://\(bucket)"]).status == 0)
                defer { _ = try? s3(["rb", "--force", "s3://\(bucket)"]) }
                let src = dir.appendingPathComponent("src")
                _ = try makeTree(src)
                // Rules apply in order: exclude everything, take .txt again, but not under a/deeper/.
                var r = try s3(["sync", src.path, "s3://\(bucket)/f", "--exclude", "*", "--include", "*.txt", "--exclude", "a/deeper/*"])
                #expect(r.status == 0, "\(r)")
                #expect(try listed(bucket) == ["f/a/x.txt", "f/space name.txt", "f/ünï/cödé.txt", "f/日本/語.txt"].sorted())
                // --delete leaves excluded paths alone.
                r = try s3(["sync", "--delete", src.path, "s3://\(bucket)/f", "--exclude", "*"])
                #expect(r.output.contains("0 deleted"), "\(r)")
                // Bucket to bucket: server-side copies (no object GET passes through the tool).
                try setFaults(bucket: bucket, "[]")
                r = try s3(["sync", "s3://\(bucket)/f", "s3://\(bucket)/g"], endpoint: try proxyEndpoint())
                #expect(r.status == 0 && r.output.contains("4 copied"), "\(r)")
                let log = try proxyLog(bucket: bucket)
                #expect(!log.contains { $0.hasPrefix("GET /\(bucket)/") }, "\(log)")
                #expect(try listed(bucket, "g/") == ["g/a/x.txt", "g/space name.txt", "g/ünï/cödé.txt", "g/日本/語.txt"].sorted())
                #expect(try s3(["sync", "s3://\(bucket)/f", "s3://\(bucket)/g"]).output.contains("0 copied"))
                // Usage errors.
                #expect(try s3(["sync", src.path, dir.path]).status == 64)
                #expect(try s3(["sync", "s3://\(bucket)/*.txt", dir.path]).status == 64)
            }
        }
    }

    @Test(arguments: TestServer.all) func moveRemoveWildcardsSizesStatPresign(server: TestServer) throws {
        try server.runSync {
            try withDirectory { dir in
                let bucket = uniqueBucket("mv")
                #expect(try s3(["mb", "s3://\(bucket)"]).status == 0)
                defer { _ = try? s3(["rb", "--force", "s3://\(bucket)"]) }
                for name in ["logs/2024-01.csv", "logs/2024-02.csv", "logs/2025-01.csv", "logs/notes.txt", "logs/old/2024-09.csv"] {
                    try write(name, dir.appendingPathComponent("up/" + name))
                }
                #expect(try s3(["cp", "-r", "-q", dir.appendingPathComponent("up").path, "s3://\(bucket)/"]).status == 0)
                // Wildcards: * crosses folders, the rest of the key must match.
                let ls = try s3(["ls", "--json", "s3://\(bucket)/logs/2024-*"])
                #expect(ls.lines.count == 2, "\(ls)")
                let down = dir.appendingPathComponent("csv")
                var r = try s3(["cp", "s3://\(bucket)/logs/*.csv", down.path + "/"])
                #expect(r.status == 0, "\(r)")
                let got = try FileManager.default.subpathsOfDirectory(atPath: down.path).sorted()
                #expect(got == ["2024-01.csv", "2024-02.csv", "2025-01.csv", "old", "old/2024-09.csv"], "\(got)")
                // du: all, a wildcard, --human.
                r = try s3(["du", "--json", "s3://\(bucket)"])
                let all = try #require(try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any])
                #expect(all["objects"] as? Int == 5)
                #expect(all["bytes"] as? Int == ["logs/2024-01.csv", "logs/2024-02.csv", "logs/2025-01.csv", "logs/notes.txt",
                                                 "logs/old/2024-09.csv"].reduce(0) { $0 + $1.utf8.count })
                #expect(try s3(["du", "--json", "s3://\(bucket)/logs/*.txt"]).output.contains("\"objects\":1"))
                #expect(try s3(["du", "--human", "s3://\(bucket)"]).output.hasPrefix("82 B  5 object(s)"))
                // mv: a file up (gone locally), an object within S3 (gone at the source), a prefix down.
                let local = dir.appendingPathComponent("note.md")
                try write("# note", local)
                #expect(try s3(["mv", local.path, "s3://\(bucket)/docs/"]).status == 0)
                #expect(!FileManager.default.fileExists(atPath: local.path))
                #expect(try s3(["mv", "s3://\(bucket)/docs/note.md", "s3://\(bucket)/archive/note.md"]).status == 0)
                #expect(try listed(bucket, "docs/") == [])
                #expect(try listed(bucket, "archive/") == ["archive/note.md"])
                r = try s3(["mv", "-r", "s3://\(bucket)/archive/", dir.appendingPathComponent("arch").path])
                #expect(r.status == 0, "\(r)")
                #expect(try listed(bucket, "archive/") == [])
                #expect(try String(contentsOf: dir.appendingPathComponent("arch/note.md"), encoding: .utf8) == "# note")
                // stat / head: what S3 keeps.
                r = try s3(["stat", "--json", "s3://\(bucket)/logs/notes.txt"])
                let stat = try #require(try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any])
                #expect(stat["size"] as? Int == 14 && stat["contentType"] as? String == "text/plain" && stat["etag"] != nil, "\(stat)")
                #expect(try s3(["head", "s3://\(bucket)/logs/notes.txt"]).output.contains("size: 14"))
                // presign: GET works with curl; a PUT URL takes an upload.
                let get = try s3(["presign", "--expires", "60", "s3://\(bucket)/logs/notes.txt"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
                let (getStatus, body) = try run("/usr/bin/curl", ["-s", "-f", get])
                #expect(getStatus == 0 && String(decoding: body, as: UTF8.self) == "logs/notes.txt")
                let put = try s3(["presign", "--put", "s3://\(bucket)/incoming/u.txt"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
                let (putStatus, _) = try run("/usr/bin/curl", ["-s", "-f", "-X", "PUT", "-H", "Content-Type: text/plain", "--data-binary", "uploaded", put])
                #expect(putStatus == 0)
                let uploaded = try #require(try boto3(["get", bucket, "incoming/u.txt"]) as? [String: Any])
                #expect(uploaded["sha256"] as? String == sha256Hex(Array("uploaded".utf8)))
                // rm: a wildcard, --dry-run, then -r of a prefix.
                r = try s3(["rm", "s3://\(bucket)/logs/2024-*"])
                #expect(r.status == 0 && r.output.contains("deleted 2 object(s)"), "\(r)")
                #expect(try listed(bucket, "logs/") == ["logs/2025-01.csv", "logs/notes.txt", "logs/old/2024-09.csv"])
                r = try s3(["rm", "-r", "--dry-run", "s3://\(bucket)/logs/"])
                #expect(r.lines.count == 3, "\(r)")
                #expect(try listed(bucket, "logs/").count == 3)
                #expect(try s3(["rm", "-r", "s3://\(bucket)/logs/"]).status == 0)
                #expect(try listed(bucket, "logs/") == [])
            }
        }
    }

    @Test(arguments: TestServer.all) func runExecutesAFileOfCommands(server: TestServer) throws {
        try server.runSync {
            try withDirectory { dir in
                let bucket = uniqueBucket("run")
                for i in 0..<6 { try write("file \(i)", dir.appendingPathComponent("f\(i).txt")) }
                var script = "# made by the test\nmb s3://\(bucket)\n"
                try s3Write(script, dir, "setup.s3")
                #expect(try s3(["run", dir.appendingPathComponent("setup.s3").path]).status == 0)
                defer { _ = try? s3(["rb", "--force", "s3://\(bucket)"]) }
                script = "# uploads, one of them failing\n\n"
                for i in 0..<6 { script += "cp '\(dir.path)/f\(i).txt' \"s3://\(bucket)/in/f \(i).txt\"\n" }
                script += "cp \(dir.path)/missing.txt s3://\(bucket)/in/missing.txt\n"
                try s3Write(script, dir, "jobs.s3")
                let r = try s3(["run", "--jobs", "3", "--json", dir.appendingPathComponent("jobs.s3").path])
                #expect(r.status == 2, "one line failed: \(r)")
                let objects = r.lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                #expect(objects.count == r.lines.count, "\(r.output)")
                let summary = try #require(objects.last)
                #expect(summary["op"] as? String == "summary" && summary["commands"] as? Int == 7 && summary["failed"] as? Int == 1, "\(summary)")
                #expect(objects.filter { $0["op"] as? String == "upload" }.count == 6)
                #expect(try listed(bucket, "in/").count == 6)
                // From standard input, all succeeding: exit 0.
                let p = Process()
                p.executableURL = URL(fileURLWithPath: s3ToolPath)
                p.arguments = ["run", "-"]
                p.environment = ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing-secret",
                                 "AWS_ENDPOINT_URL": try serverEndpoint(), "HOME": "/nonexistent", "PATH": "/usr/bin:/bin"]
                let input = Pipe(), out = Pipe()
                p.standardInput = input
                p.standardOutput = out
                try p.run()
                input.fileHandleForWriting.write(Data("du s3://\(bucket)/in/\nrm -r s3://\(bucket)/in/\n".utf8))
                try input.fileHandleForWriting.close()
                let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                p.waitUntilExit()
                #expect(p.terminationStatus == 0, "\(text)")
                #expect(text.contains("6 object(s)") && text.contains("run: 2 command(s), 0 failed"), "\(text)")
                #expect(try listed(bucket, "in/") == [])
            }
        }
    }

    func s3Write(_ text: String, _ dir: URL, _ name: String) throws { try write(text, dir.appendingPathComponent(name)) }

    @Test func exitCodesAndCompletions() throws {
        try TestServer.moto.runSync {
            #expect(try s3(["cp", "only-one-argument"]).status == 64)
            #expect(try s3(["ls", "--no-such-option"]).status == 64)
            #expect(try s3(["mb", "s3://Bad_Name"]).status == 64)
            #expect(try s3(["stat", "s3://\(uniqueBucket("none"))/k"]).status == 3)
            #expect(try s3(["cp", "/nonexistent/file", "s3://b/k"]).status == 64)
            let json = try s3(["cat", "--json", "s3://\(uniqueBucket("none"))/k"])
            #expect(json.status == 3)
            let error = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
            #expect(error["code"] as? String == "NoSuchBucket", "\(error)")
            for shell in ["bash", "zsh", "fish"] {
                let r = try s3(["--generate-completion-script", shell])
                #expect(r.status == 0 && r.output.contains("sync") && r.output.contains("presign"), "\(shell)")
            }
        }
    }

    /// Ctrl-C during a multipart upload (parts slowed by the proxy): exit 130, the upload
    /// aborted, no object; during a ranged download: exit 130, no file and no temporary file.
    @Test(arguments: TestServer.all) func interruptingLeavesNothingBehind(server: TestServer) throws {
        try server.runSync {
            try withDirectory { dir in
                let bucket = uniqueBucket("sigint")
                #expect(try s3(["mb", "s3://\(bucket)"]).status == 0)
                defer { _ = try? s3(["rb", "--force", "s3://\(bucket)"]) }
                let big = dir.appendingPathComponent("big.bin")
                try Data(patternBytes(30 << 20)).write(to: big)
                try setFaults(bucket: bucket, #"[{"method":"PUT","query":"partNumber=","action":"delay","seconds":2}]"#)
                var (status, error) = try interrupt(["cp", "--part-size-mib", "5", "--concurrency", "2", big.path, "s3://\(bucket)/big.bin"],
                                                    bucket: bucket, when: { $0.contains { $0.hasPrefix("PUT") && $0.contains("partNumber=") } })
                #expect(status == 130, "\(error)")
                #expect(error.contains("interrupted"))
                #expect(try boto3(["uploads", bucket]) as? [String] == [], "the multipart upload was aborted")
                #expect(try listed(bucket) == [])
                // Download.
                try setFaults(bucket: bucket, "[]")
                #expect(try s3(["cp", "-q", big.path, "s3://\(bucket)/big.bin"]).status == 0)
                try setFaults(bucket: bucket, #"[{"method":"GET","range":"bytes=","action":"delay","seconds":2}]"#)
                let target = dir.appendingPathComponent("down")
                try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
                (status, error) = try interrupt(["cp", "--part-size-mib", "5", "s3://\(bucket)/big.bin", target.path + "/"],
                                                bucket: bucket, when: { $0.contains { $0.hasPrefix("GET /\(bucket)/big.bin") } })
                #expect(status == 130, "\(error)")
                #expect(try FileManager.default.contentsOfDirectory(atPath: target.path) == [], "no partial or temporary file")
                try setFaults(bucket: bucket, "[]")
            }
        }
    }

    /// Runs the tool through the proxy, sends SIGINT once `when` holds for the proxy's log, and
    /// returns the exit status and standard error.
    func interrupt(_ arguments: [String], bucket: String, when: ([String]) throws -> Bool) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: s3ToolPath)
        p.arguments = arguments
        p.environment = ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing-secret",
                         "AWS_ENDPOINT_URL": try proxyEndpoint(), "HOME": "/nonexistent", "PATH": "/usr/bin:/bin"]
        let err = Pipe()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        try p.run()
        let deadline = Date().addingTimeInterval(30)
        while try !when(proxyLog(bucket: bucket)) && Date() < deadline && p.isRunning { usleep(50_000) }
        p.interrupt()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, text)
    }

    /// The progress bar on a terminal (a pseudo-terminal made by script(1)): redrawn in place,
    /// with share, rate and time left; on a pipe a single plain line; with --quiet nothing.
    @Test func progressBarOnATerminal() throws {
        try TestServer.moto.runSync {
            try withDirectory { dir in
                let bucket = uniqueBucket("tty")
                #expect(try s3(["mb", "s3://\(bucket)"]).status == 0)
                defer { _ = try? s3(["rb", "--force", "s3://\(bucket)"]) }
                let big = dir.appendingPathComponent("big.bin")
                try Data(patternBytes(24 << 20)).write(to: big)
                let command = "'\(s3ToolPath)' cp --part-size-mib 5 --concurrency 1 '\(big.path)' s3://\(bucket)/big.bin"
                let (status, out) = try run("/usr/bin/env", ["AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing-secret",
                                                            "AWS_ENDPOINT_URL=\(try serverEndpoint())", "HOME=/nonexistent",
                                                            "/usr/bin/script", "-qfec", command, "/dev/null"])
                let text = String(decoding: out, as: UTF8.self)
                #expect(status == 0, "\(text)")
                let redraws = text.components(separatedBy: "\r").filter { $0.hasPrefix("[") }
                #expect(redraws.count >= 2, "the bar is redrawn in place: \(text.debugDescription)")
                #expect(redraws.contains { $0.contains("%") && $0.contains("/s") && $0.contains("ETA") }, "\(text.debugDescription)")
                #expect(text.contains("100%"))
                // Not a terminal: one line at the end; --quiet: nothing.
                let piped = try s3(["cp", "--part-size-mib", "5", big.path, "s3://\(bucket)/b2"])
                #expect(!piped.error.contains("\r") && piped.error.split(separator: "\n").count == 1 && piped.error.contains("100%"), "\(piped.error)")
                let quiet = try s3(["cp", "-q", big.path, "s3://\(bucket)/b3"])
                #expect(quiet.error.isEmpty && quiet.output.isEmpty, "\(quiet)")
            }
        }
    }
}
