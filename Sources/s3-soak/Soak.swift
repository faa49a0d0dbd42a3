// The soak of issue 27 (scripts/soak starts the cluster and runs this): 256 tasks doing mixed
// operations against a SeaweedFS cluster for MINUTES while a fault strikes every 30 s, with the
// process's RSS, descriptors and threads sampled every second. It writes, into OUT:
//   samples.csv   one line a second (scripts/soak-report turns it into the plot and the slope)
//   faults.json   each fault: what, which part, struck and healed (s since the start)
//   requests.log  every attempt of every request and every operation of a task (SoakRequestLog)
//   result.json   per operation: count, outcomes by error code, latency p50/p99; mismatches,
//                 broken promises, orphaned uploads, and the descriptors and threads before the
//                 client existed and after it was shut down
// Its exit status is 0 when the run could be made (the verdict is scripts/soak-report's), 1 when
// the harness itself failed.
import Foundation
import S3
import S3Signing
import S3Locking
import S3TestSupport
import Synchronization

struct Arguments {
    var endpoint = ""
    var clusterDirectory = ""
    var ctl = ""
    var out = ""
    var minutes = 10.0
    var tasks = 256
    var faultEverySeconds = 30
    /// How often the workload is brought to rest for a quiet sample (``QuietPoints``).
    var quietEverySeconds = 300

    static func parse(_ argv: [String]) throws -> Arguments {
        var a = Arguments()
        var i = 1
        func value() throws -> String {
            i += 1
            guard i < argv.count else { throw SoakFailure("\(argv[i - 1]) needs a value") }
            return argv[i]
        }
        while i < argv.count {
            switch argv[i] {
            case "--endpoint": a.endpoint = try value()
            case "--cluster-dir": a.clusterDirectory = try value()
            case "--ctl": a.ctl = try value()
            case "--out": a.out = try value()
            case "--minutes": a.minutes = Double(try value()) ?? -1
            case "--tasks": a.tasks = Int(try value()) ?? -1
            case "--fault-every": a.faultEverySeconds = Int(try value()) ?? -1
            case "--quiet-every": a.quietEverySeconds = Int(try value()) ?? -1
            default: throw SoakFailure("unknown argument \(argv[i])")
            }
            i += 1
        }
        guard !a.endpoint.isEmpty, !a.clusterDirectory.isEmpty, !a.ctl.isEmpty, !a.out.isEmpty else {
            throw SoakFailure("usage: s3-soak --endpoint URL --cluster-dir DIR --ctl scripts/cluster-ctl --out DIR [--minutes M] [--tasks N] [--fault-every S] [--quiet-every S]")
        }
        guard a.minutes > 0, a.tasks > 0, a.faultEverySeconds >= 12, a.quietEverySeconds >= 60 else {
            throw SoakFailure("--minutes and --tasks must be positive, --fault-every at least 12 (a fault holds 10 s), --quiet-every at least 60")
        }
        return a
    }
}

/// One operation's figures in result.json.
struct OperationFigures: Codable {
    var name: String
    var count: Int
    var ok: Int
    var cancelled: Int
    var untyped: Int
    var typed: [String: Int]
    var p50Milliseconds: Double
    var p99Milliseconds: Double
}

struct SoakResult: Codable {
    var minutes: Double
    var tasks: Int
    var faultEverySeconds: Int
    var workloadSeconds: Double
    var bytesMoved: Int
    var operations: [OperationFigures]
    var mismatches: [String]
    var violations: [String]
    /// See ``SoakRecorder/State/lateWrites``: not the client's doing, reported apart.
    var lateWrites: [String]
    var lateWriteEvents: Int
    var lateWriteKeys: Int
    var untypedExamples: [String]
    var orphanedUploads: [String]
    /// Multipart uploads left at the end that the store started after the client's upload of
    /// that key had ended (a create abandoned on a stopped gateway and retried elsewhere, applied
    /// when the gateway ran again; shown by the test aStoppedGatewayStartsAnAbandonedUploadLater):
    /// not the client's doing, reported apart with their times.
    var lateUploads: [String]
    /// For each key of a mismatch or broken promise (and the first few late writes): its lines
    /// in the request log (each attempt and operation) and in the balancer's access log (which
    /// gateway served each request, with its status), in time order.
    var traces: [String: [String]]
    /// The samples taken with the workload at rest (``QuietPoints``), the last one after it
    /// ended (the client still alive).
    var quietPoints: [QuietSample]
    var objectsChecked: Int
    /// Why the bucket could not be removed at the end, if it could not.
    var cleanupError: String?
    /// Before any client existed (the cooperative pool warmed).
    var before: ProcessStats
    /// With the workload done, the faults healed and the client still alive (its idle
    /// connections open).
    var idle: ProcessStats
    /// After every client was shut down.
    var after: ProcessStats
}

@main
struct Soak {
    static func main() async {
        do {
            try await run(Arguments.parse(CommandLine.arguments))
        } catch {
            FileHandle.standardError.write(Data("s3-soak: \(error)\n".utf8))
            exit(1)
        }
    }

    static func say(_ s: String) { FileHandle.standardError.write(Data("s3-soak: \(s)\n".utf8)) }

    /// As a server process would configure one for a cluster behind a balancer: the defaults
    /// (3 attempts, standard back-off), with a stall timeout of 5 s (`stall`). The checker
    /// keeps the default 30 s: a DeleteObjects of 1,000 keys on a busy cluster can take longer
    /// than 5 s before its first byte.
    static func client(_ endpoint: String, stall: Int? = 5, log: SoakRequestLog) throws -> S3Client {
        var configuration = try S3Configuration(
            endpoint: endpoint, region: "us-east-1",
            credentials: S3Credentials(accessKeyID: "testing", secretAccessKey: "testing-secret"))
        if let stall { configuration.http.stallTimeoutSeconds = stall }
        configuration.logger = log.logger()
        return S3Client(configuration: configuration)
    }

    static func run(_ a: Arguments) async throws {
        let out = URL(fileURLWithPath: a.out)
        let scratch = out.appendingPathComponent("scratch")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let payloads = try Payloads.make(in: scratch)
        let control = ClusterControl(ctl: a.ctl, directory: a.clusterDirectory)

        // The baseline: the cooperative pool up (both its threads), no client yet.
        await withTaskGroup(of: Void.self) { g in for _ in 0..<64 { g.addTask { try? await Task.sleep(for: .milliseconds(20)) } } }
        try await Task.sleep(for: .milliseconds(200))
        let before = ProcessStats.named()
        say("before: \(before)")

        let requestLog = try SoakRequestLog(out.appendingPathComponent("requests.log"))
        let client = try client(a.endpoint, log: requestLog)
        let bucket = "soak-\(Int(Date().timeIntervalSince1970))"
        try await client.createBucket(bucket)
        let recorder = SoakRecorder(requests: requestLog)
        let endsLog = out.appendingPathComponent("uploads-ended.tsv")
        guard FileManager.default.createFile(atPath: endsLog.path, contents: nil) else { throw SoakFailure("could not create \(endsLog.path)") }
        let endsHandle = try FileHandle(forWritingTo: endsLog)
        recorder.uploadsEnded.withLock { $0 = endsHandle }
        var options = S3TransferOptions()
        // One budget for every large transfer: at most 24 parts of 8 MiB in memory at once.
        options.limiter = S3TransferLimiter(permits: 24)
        let gate = Gate(4)

        let start = ContinuousClock.now
        let deadline = start.advanced(by: .milliseconds(Int(a.minutes * 60_000)))
        let stopSampling = StopFlag(), stopFaults = StopFlag()
        let samples = out.appendingPathComponent("samples.csv")
        let sampler = Task { try await sample(every: .seconds(1), into: samples, recorder: recorder, start: start, until: stopSampling) }
        let faults = Task {
            await control.strikeInTurn(every: .seconds(a.faultEverySeconds), hold: .seconds(10), start: start, until: stopFaults) { say($0) }
        }
        let rest = QuietPoints()
        let quietSampler = Task { () -> [QuietSample] in
            // None in the last 90 s: tasks past the deadline do not come to rest; the idle
            // sample after the run is the last point.
            var points: [QuietSample] = []
            var next = start.advanced(by: .seconds(a.quietEverySeconds))
            while next < deadline.advanced(by: .seconds(-90)) {
                try? await Task.sleep(until: next, clock: .continuous)
                let asked = ContinuousClock.now
                let all = await rest.quiet(tasks: a.tasks, within: .seconds(120))
                let point = QuietSample.take(since: start, waitedSince: asked, allAtRest: all)
                rest.resume()
                say("at rest\(all ? "" : " (not every task)") at \(Int(point.t)) s after \(String(format: "%.1f", point.waitedSeconds)) s: RSS \(point.rssKiB / 1024) MiB, "
                    + "heap in use \((point.heapInUseKiB ?? 0) / 1024) MiB, free \((point.heapFreeKiB ?? 0) / 1024) MiB, part buffers \(point.partBuffers)")
                points.append(point)
                next = next.advanced(by: .seconds(a.quietEverySeconds))
            }
            return points
        }
        say("\(a.tasks) tasks for \(a.minutes) min against \(a.endpoint), bucket \(bucket), a fault every \(a.faultEverySeconds) s")
        let keys = await withTaskGroup(of: (Int, TaskKeys).self) { group in
            for i in 0..<a.tasks {
                let task = SoakTask(index: i, client: client, bucket: bucket, payloads: payloads, recorder: recorder,
                                    largeGate: gate, options: options, scratch: scratch, start: start, rest: rest)
                group.addTask { (i, await task.run(until: deadline)) }
            }
            var all: [(Int, TaskKeys)] = []
            for await k in group { all.append(k) }
            return all.sorted { $0.0 < $1.0 }.map(\.1)
        }
        let workload = ContinuousClock.now - start
        // For a heap profiler: everything still allocated now is reported as leaked at exit.
        if ProcessInfo.processInfo.environment["S3_SOAK_EXIT_AFTER_WORKLOAD"] != nil { exit(0) }
        say("workload done after \(workload); healing the cluster")
        stopFaults.raise()
        let events = await faults.value
        try await control.healAll()
        try await Task.sleep(for: .seconds(2))
        let idle = ProcessStats.named()
        say("idle, client alive: \(idle)")
        let quiet = await quietSampler.value + [QuietSample.take(since: start, waitedSince: .now, allAtRest: true)]
        stopSampling.raise()
        try await sampler.value
        await client.shutdown()

        // The promises, checked by a client of its own on the healed cluster.
        let checker = try Self.client(a.endpoint, stall: nil, log: requestLog)
        let (checked, left) = try await finalCheck(checker, bucket: bucket, keys: keys, recorder: recorder,
                                                   requestLog: out.appendingPathComponent("requests.log"))
        recorder.uploadsEnded.withLock { try? $0?.close(); $0 = nil }
        let (orphans, late) = classify(left, ended: Self.uploadEnds(out.appendingPathComponent("uploads-ended.tsv")))
        say("checked \(checked) objects; \(left.count) multipart uploads left: \(orphans.count) orphaned, \(late.count) started by the store late")
        var cleanupError: String?
        do { try await cleanUp(checker, bucket: bucket, orphans: left) } catch {
            cleanupError = "\(error)"
            say("could not remove bucket \(bucket): \(error)")
        }
        await checker.shutdown()
        requestLog.close()
        // Idle workers of the cooperative pool (Dispatch's) retire after a few seconds.
        try await Task.sleep(for: .seconds(6))
        let after = ProcessStats.named()
        say("after: \(after)")

        let state = recorder.state.withLock { $0 }
        let traces = Self.traces(of: state.traced, bucket: bucket, out: out, clusterDirectory: URL(fileURLWithPath: a.clusterDirectory))
        let figures = state.tallies.keys.sorted().map { name -> OperationFigures in
            let t = state.tallies[name]!
            return OperationFigures(name: name, count: t.latency.total, ok: t.ok, cancelled: t.cancelled, untyped: t.untyped,
                                    typed: t.typed, p50Milliseconds: t.latency.quantile(0.5) * 1000,
                                    p99Milliseconds: t.latency.quantile(0.99) * 1000)
        }
        let seconds = Double(workload.components.seconds) + Double(workload.components.attoseconds) * 1e-18
        let result = SoakResult(minutes: a.minutes, tasks: a.tasks, faultEverySeconds: a.faultEverySeconds, workloadSeconds: seconds,
                                bytesMoved: recorder.bytesMoved.load(ordering: .relaxed), operations: figures,
                                mismatches: state.mismatches, violations: state.violations, lateWrites: state.lateWrites,
                                lateWriteEvents: state.lateWriteEvents, lateWriteKeys: state.lateWriteKeys.count, untypedExamples: state.untypedExamples,
                                orphanedUploads: orphans.map { "\($0.key) \($0.uploadID), started \($0.initiated.map { "\($0)" } ?? "at an unknown time")" },
                                lateUploads: late, traces: traces, quietPoints: quiet, objectsChecked: checked, cleanupError: cleanupError,
                                before: before, idle: idle, after: after)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(result).write(to: out.appendingPathComponent("result.json"))
        try encoder.encode(events).write(to: out.appendingPathComponent("faults.json"))
    }

    /// Every object the tasks know must hold its bytes; every object in doubt must be absent or
    /// whole; nothing else may be in the bucket; no multipart upload may be left. An object
    /// holding (or lacking) what a failed or abandoned request meant to store, when that is not
    /// what the key's last successful request left, is a late write of the store: counted apart
    /// (for a key the tasks no longer track, its failed and retried writes are read from the
    /// request log).
    static func finalCheck(_ client: S3Client, bucket: String, keys: [TaskKeys], recorder: SoakRecorder, requestLog: URL) async throws
        -> (checked: Int, orphans: [S3MultipartUploadSummary]) {
        /// What the key may hold by the tasks' account, and what late writes could have left.
        struct Expectation: Sendable {
            var allowed: [Expected?]
            var late: [Expected?]
        }
        var expected: [String: Expectation] = [:]
        var lateOnly: [String: [Expected?]] = [:]
        var stories: [String: String] = [:]
        for k in keys {
            for (key, h) in k.history { stories[key] = " [" + h.joined(separator: "; ") + "]" }
            for (key, e) in k.known { expected[key] = Expectation(allowed: [e], late: k.late[key] ?? []) }
            for (key, candidates) in k.uncertain { expected[key] = Expectation(allowed: candidates, late: k.late[key] ?? []) }
            for (key, late) in k.late { lateOnly[key] = late }
        }
        let told = stories
        var listed: [String] = []
        var token: String?
        repeat {
            let page = try await client.listObjectsV2(bucket: bucket, continuationToken: token)
            listed += page.objects.map(\.key)
            token = page.isTruncated ? page.nextContinuationToken : nil
        } while token != nil
        var forgotten: Set<String> = []
        for key in listed where expected[key] == nil {
            if let late = lateOnly[key], late.contains(where: { $0 != nil }) {
                // Deleted, then a late write: its bytes must be one of those writes, whole.
                expected[key] = Expectation(allowed: [nil], late: late)
            } else {
                forgotten.insert(key)
            }
        }
        // Keys whose late entries the tasks no longer keep (their memory is bounded): the writes
        // that may land late are read back from the request log, by the same rule.
        let logged = SoakRequestLog.lines(of: forgotten, in: requestLog, limit: 10_000, keyOf: SoakRequestLog.key(ofRequestLine:))
        for key in forgotten {
            let late = SoakRequestLog.lateWrites(in: logged[key] ?? [])
            if late.isEmpty {
                recorder.violation(key, "final listing: \(key) is in the bucket, but its delete succeeded, and no write to it failed or was retried"
                    + (told[key] ?? ""))
            } else {
                expected[key] = Expectation(allowed: [nil], late: late)
            }
        }
        let listedSet = Set(listed)
        let checked = Locked(0)
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for (key, e) in expected {
                if running == 32 { await group.next(); running -= 1 }
                running += 1
                group.addTask {
                    let present = listedSet.contains(key)
                    if !present {
                        if e.allowed.contains(nil) { return }
                        if e.late.contains(nil) {
                            return recorder.lateWrite(key, "final check: \(key) is missing: a failed delete of it was applied late" + (told[key] ?? ""))
                        }
                        return recorder.violation(key, "final check: \(key) is missing" + (told[key] ?? ""))
                    }
                    do {
                        let download = try await client.getObject(bucket: bucket, key: key)
                        let digest = IncrementalDigest(.sha256)
                        var count = 0
                        for try await chunk in download.body {
                            digest.update(chunk)
                            count += chunk.count
                        }
                        let got = Expected(size: count, sha256: digest.finalize())
                        checked.withLock { $0 += 1 }
                        if e.allowed.contains(got) { return }
                        if e.late.contains(got) {
                            return recorder.lateWrite(key, "final check: \(key) holds the \(count) bytes of a write that failed or was abandoned" + (told[key] ?? ""))
                        }
                        if e.allowed.count == 1, let only = e.allowed[0] {
                            recorder.mismatch(key, "final check of \(key): \(count) bytes, expected \(only.size), a digest of no write made to it" + (told[key] ?? ""))
                        } else {
                            recorder.violation(key, "final check: \(key) holds \(count) bytes matching none of the writes made to it (half-written?)"
                                + (told[key] ?? ""))
                        }
                    } catch {
                        recorder.violation(key, "final check: GET \(key) failed on the healed cluster: \(error)")
                    }
                }
            }
        }
        var orphans: [S3MultipartUploadSummary] = []
        var keyMarker: String?, idMarker: String?
        repeat {
            let page = try await client.listMultipartUploads(bucket: bucket, keyMarker: keyMarker, uploadIDMarker: idMarker)
            orphans += page.uploads
            (keyMarker, idMarker) = (page.nextKeyMarker, page.nextUploadIDMarker)
        } while keyMarker != nil
        return (checked.withLock { $0 }, orphans)
    }

    /// The lines of `keys` in requests.log and in the cluster's access log, merged in time order
    /// (both begin with wall-clock seconds).
    static func traces(of keys: Set<String>, bucket: String, out: URL, clusterDirectory: URL) -> [String: [String]] {
        let client = SoakRequestLog.lines(of: keys, in: out.appendingPathComponent("requests.log"),
                                          keyOf: SoakRequestLog.key(ofRequestLine:))
        let balancer = SoakRequestLog.lines(of: keys, in: clusterDirectory.appendingPathComponent("access.log")) {
            SoakRequestLog.key(ofAccessLine: $0, bucket: bucket)
        }
        var traces: [String: [String]] = [:]
        for key in keys {
            let lines = (client[key] ?? []).map { $0.replacingOccurrences(of: "\t\(key)\t", with: " client ") }
                + (balancer[key] ?? []).map { $0.replacingOccurrences(of: " ", with: " balancer ", options: [], range: $0.range(of: " ")) }
            func time(_ line: String) -> Double {
                Double(line.split(separator: " ").first { Double($0) != nil } ?? "") ?? 0
            }
            traces[key] = lines.sorted { time($0) < time($1) }
        }
        return traces
    }

    /// When each key's upload ended (the last, if a key had more than one), from the log.
    static func uploadEnds(_ file: URL) -> [String: Double] {
        guard let text = try? String(contentsOf: file, encoding: .utf8) else { return [:] }
        var ends: [String: Double] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: "\t")
            if fields.count == 2, let t = Double(fields[1]) { ends[String(fields[0]), default: 0] = max(ends[String(fields[0])] ?? 0, t) }
        }
        return ends
    }

    /// Uploads left: orphans, and those the store started after the client's upload of the key
    /// had ended (a second or more after: the store's clock and ours are the same machine's).
    static func classify(_ left: [S3MultipartUploadSummary], ended: [String: Double]) -> (orphans: [S3MultipartUploadSummary], late: [String]) {
        var orphans: [S3MultipartUploadSummary] = [], late: [String] = []
        for upload in left {
            if let started = upload.initiated?.timeIntervalSince1970, let end = ended[upload.key], started > end + 1 {
                late.append("\(upload.key) \(upload.uploadID): started \(String(format: "%.1f", started - end)) s after the client's upload of the key ended")
            } else {
                orphans.append(upload)
            }
        }
        return (orphans, late)
    }

    static func cleanUp(_ client: S3Client, bucket: String, orphans: [S3MultipartUploadSummary]) async throws {
        for o in orphans { try? await client.abortMultipartUpload(bucket: bucket, key: o.key, uploadID: o.uploadID) }
        try await S3Bucket.unchecked(name: bucket, client: client).deleteBucket(force: true)
    }
}
