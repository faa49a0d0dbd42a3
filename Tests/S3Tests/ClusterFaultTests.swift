import Foundation
import MetricsTestKit
import S3
import S3TestSupport
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The SeaweedFS cluster scripts/test starts (scripts/cluster-lib.sh: a master, three volume
/// servers with replication 001, a filer, two S3 gateways, nginx balancing them), and the
/// script that strikes its parts (scripts/cluster-ctl).
struct Cluster: Sendable {
    let endpoint: String
    let directory: String
    let ctl: String
    /// How large the operations are: `ci` (scripts/test, a few seconds a case) or `full`
    /// (scripts/cluster-faults: 2 GiB objects, 2,000 files, 20,000 keys).
    let full: Bool

    static func current() throws -> Cluster {
        let environment = ProcessInfo.processInfo.environment
        guard let endpoint = environment["S3_TEST_CLUSTER_ENDPOINT"], !endpoint.isEmpty else {
            throw MissingServer(variable: "S3_TEST_CLUSTER_ENDPOINT")
        }
        guard let directory = environment["S3_TEST_CLUSTER_DIR"], !directory.isEmpty else {
            throw MissingServer(variable: "S3_TEST_CLUSTER_DIR")
        }
        let ctl = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/cluster-ctl").path
        return Cluster(endpoint: endpoint, directory: directory, ctl: ctl, full: environment["S3_TEST_CLUSTER_SCALE"] == "full")
    }

    /// Runs `cluster-ctl PART ACTION [ARGUMENT]`; false when the action is not available here
    /// (exit status 3), throws when it failed.
    @discardableResult
    func act(_ part: String, _ action: String, _ argument: String? = nil) async throws -> Bool {
        let (status, errors) = try await spawnAndWait(ctl, [directory, part, action] + (argument.map { [$0] } ?? []))
        if status == 3 { return false }
        guard status == 0 else { throw HelperFailed(description: "cluster-ctl \(part) \(action) exited \(status): \(errors)") }
        return true
    }

    /// A client as users configure one for a cluster behind a load balancer: the library's
    /// defaults (retries: 3 attempts, standard back-off), except a stall timeout of 5 s, so
    /// that a gateway that stops answering is left for another well before a person would
    /// call it a hang.
    func client(metrics: TestMetrics? = nil) throws -> S3Client {
        var configuration = try S3Configuration(endpoint: endpoint, credentials: testCredentials)
        configuration.http.stallTimeoutSeconds = 5
        configuration.metricsFactory = metrics
        return S3Client(configuration: configuration)
    }
}

/// A fault that strikes one part of the cluster in the middle of an operation.
enum ClusterFault: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// `kill -9` of a volume server; it stays down until the operation ends.
    case killVolumeServer = "kill -9 of a volume server"
    /// `kill -9` of one S3 gateway, started again at once (it is back within a second or two).
    case restartGateway = "restart of an S3 gateway"
    /// SIGSTOP of one S3 gateway for 10 s: its connections go silent, none is closed.
    case pauseGateway = "SIGSTOP of an S3 gateway for 10 s"
    /// The disk under one volume server's data is full (volume3's own tmpfs).
    case fullDisk = "a volume server's disk full"

    var testDescription: String { rawValue }

    /// Strikes; false when this machine cannot (no tmpfs of volume3's own).
    func strike(_ cluster: Cluster) async throws -> Bool {
        switch self {
        case .killVolumeServer: return try await cluster.act("volume2", "kill")
        case .restartGateway: return try await cluster.act("s3gw1", "restart")
        case .pauseGateway: return try await cluster.act("s3gw1", "pause", "10")
        case .fullDisk: return try await cluster.act("volume3", "fill")
        }
    }

    /// Undoes the fault and waits until the whole cluster answers again.
    func heal(_ cluster: Cluster) async throws {
        switch self {
        case .killVolumeServer: try await cluster.act("volume2", "start")
        case .restartGateway: try await cluster.act("s3gw1", "wait")
        case .pauseGateway:
            try await cluster.act("s3gw1", "cont")
            try await cluster.act("s3gw1", "wait")
        case .fullDisk: try await cluster.act("volume3", "unfill")
        }
        for part in ["volume1", "volume2", "volume3", "s3gw1", "s3gw2"] { try await cluster.act(part, "wait") }
        // The balancer's passive health checks keep a failed gateway out for 10 s: without this,
        // the next case would find all its requests sent to the other one.
        try await cluster.act("nginx", "reload")
    }
}

/// An operation a fault strikes in its middle.
enum ClusterOperation: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case multipartUpload = "multipart upload"
    case rangedDownload = "parallel ranged download to a file"
    case sync = "sync of a directory"
    case listing = "listing"

    var testDescription: String { rawValue }
}

/// What one (fault, operation) case did, for the README's table (scripts/cluster-faults
/// collects these lines).
struct ClusterFaultOutcome: Codable {
    var fault: String
    var operation: String
    var scale: String
    /// "completed" or the S3 error code it failed with.
    var outcome: String
    var retries: Int
    /// Seconds from the operation's start to the strike.
    var secondsBeforeFault: Double
    /// Seconds from the strike to the operation's end.
    var secondsAfterFault: Double
    var detail: String
}

/// Runs `operation` with a deadline: a hang fails the test instead of holding the suite.
func withDeadline<T: Sendable>(seconds: Int, _ what: String, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw HelperFailed(description: "\(what) did not end within \(seconds) s: a hang")
        }
        return value
    }
}

/// The promises of the client when a part of a distributed store fails during a transfer
/// (issue 27): each operation either completes with every byte identical to its source
/// (checked by SHA-256, or key by key for a listing) or fails with a typed ``S3Error``; and
/// whatever the outcome, no multipart upload is left behind, no partial file appears under
/// the target name, and no object is half-written (each one there is whole).
///
/// Scaled to a few seconds a case here; scripts/cluster-faults runs the same cases at full
/// size (S3_TEST_CLUSTER_SCALE=full).
@Suite(.serialized) struct ClusterFaultTests {
    /// Every fault with every operation; S3_TEST_CLUSTER_FAULTS (comma-separated case names,
    /// `killVolumeServer`, `pauseGateway`, ...) picks some.
    static let cases: [(ClusterFault, ClusterOperation)] = {
        let only = Set((ProcessInfo.processInfo.environment["S3_TEST_CLUSTER_FAULTS"] ?? "").split(separator: ",").map(String.init))
        // An enum case's description is its name (`killVolumeServer`), not its raw value.
        let faults = ClusterFault.allCases.filter { only.isEmpty || only.contains(String(describing: $0)) }
        return faults.flatMap { f in ClusterOperation.allCases.map { (f, $0) } }
    }()

    @Test(arguments: ClusterFaultTests.cases)
    func aFaultInTheMiddleLosesNothing(fault: ClusterFault, operation: ClusterOperation) async throws {
        let cluster = try Cluster.current()
        let metrics = TestMetrics()
        let client = try cluster.client(metrics: metrics)
        let checker = try cluster.client()
        try await fault.heal(cluster)  // a whole cluster to start from, whatever the last case left
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("cluster-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        try await S3Bucket.withTemporaryBucket(client: checker, namePrefix: "cluster") { bucket in
            let strike = Strike(fault: fault, cluster: cluster)
            let job = ClusterCase(cluster: cluster, bucket: bucket, clientBucket: S3Bucket.unchecked(name: bucket.name, client: client),
                                  work: work, strike: strike)
            let deadline = cluster.full ? 1_800 : 180
            let result: Result<String, any Error>
            do {
                result = .success(try await withDeadline(seconds: deadline, "\(operation) under \(fault)") {
                    try await job.perform(operation)
                })
            } catch let error as HelperFailed {
                throw error  // a hang or the harness itself
            } catch {
                result = .failure(error)
            }
            let ended = ContinuousClock.now
            let struck = try await strike.finish()
            try await fault.heal(cluster)
            guard let struck else {
                // Only the full disk can be missing: volume3 has no tmpfs of its own here.
                #expect(fault == .fullDisk, "the fault never struck: the operation ended before its middle")
                return
            }
            // The promises, checked with a separate client on the healed cluster.
            try await job.checkNothingHalfDone(operation, succeeded: (try? result.get()) != nil)
            let outcome: String
            switch result {
            case .success:
                outcome = "completed"
            case .failure(let error):
                let typed = error as? S3Error
                #expect(typed != nil, "\(operation) under \(fault) failed with an untyped error: \(error)")
                outcome = typed.map { $0.code.rawValue } ?? "untyped: \(error)"
            }
            let retries = metrics.counters.filter { $0.label == "s3_retries_total" }.reduce(0) { $0 + Int($1.totalValue) }
            func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
            let line = ClusterFaultOutcome(fault: fault.rawValue, operation: operation.rawValue, scale: cluster.full ? "full" : "ci",
                                           outcome: outcome, retries: retries,
                                           secondsBeforeFault: strike.start.map { seconds(struck - $0) } ?? 0,
                                           secondsAfterFault: seconds(ended - struck),
                                           detail: (try? result.get()) ?? "\(result)")
            let json = String(decoding: try JSONEncoder().encode(line), as: UTF8.self)
            print("cluster-fault: \(json)")
            if let report = ProcessInfo.processInfo.environment["S3_TEST_CLUSTER_REPORT"], !report.isEmpty,
               let handle = FileHandle(forWritingAtPath: report) {
                defer { try? handle.close() }
                try handle.seekToEnd()
                try handle.write(contentsOf: Data((json + "\n").utf8))
            }
        }
    }
}

/// The one strike of a case: started once from the operation's middle, in the background (a
/// gateway's restart takes a second or two, during which the operation goes on).
final class Strike: Sendable {
    let fault: ClusterFault
    let cluster: Cluster
    private let state = Mutex<(task: Task<Bool, any Error>?, at: ContinuousClock.Instant?, start: ContinuousClock.Instant?)>((nil, nil, nil))

    init(fault: ClusterFault, cluster: Cluster) {
        self.fault = fault
        self.cluster = cluster
    }

    /// The operation begins (after its setup): the time the fault's delay is counted from.
    func started() {
        state.withLock { $0.start = .now }
    }

    /// When the operation began.
    var start: ContinuousClock.Instant? { state.withLock { $0.start } }

    /// Strikes, the first time only.
    func now() {
        state.withLock { s in
            guard s.task == nil else { return }
            s.at = .now
            let fault = fault, cluster = cluster
            s.task = Task.detached { try await fault.strike(cluster) }
        }
    }

    /// Waits for the strike to be done; when it struck (nil: it never ran, or this machine
    /// cannot strike that way).
    func finish() async throws -> ContinuousClock.Instant? {
        let (task, at) = state.withLock { ($0.task, $0.at) }
        guard let task else { return nil }
        return try await task.value ? at : nil
    }
}

/// One operation of a case, its source data, and the checks of its aftermath.
final class ClusterCase: Sendable {
    let cluster: Cluster
    /// The bucket, through the checking client (not the one under test).
    let bucket: S3Bucket
    /// The same bucket through the client under test.
    let clientBucket: S3Bucket
    let work: URL
    let strike: Strike
    /// The errors of sync events that were not ``S3Error``s (each should be one).
    let untypedSyncErrors = Mutex<[String]>([])
    /// How many files the sync under the fault reported failed.
    let syncFailures = Mutex<Int>(0)
    /// Events of the sync so far (it strikes a tenth of the way).
    let syncEvents = Atomic<Int>(0)

    init(cluster: Cluster, bucket: S3Bucket, clientBucket: S3Bucket, work: URL, strike: Strike) {
        self.cluster = cluster
        self.bucket = bucket
        self.clientBucket = clientBucket
        self.work = work
        self.strike = strike
    }

    var objectSize: Int { cluster.full ? 2 << 30 : 96 << 20 }
    var fileCount: Int { cluster.full ? 2_000 : 200 }
    var fileSize: Int { 64 << 10 }
    var keyCount: Int { cluster.full ? 20_000 : 2_000 }
    var pageSize: Int { cluster.full ? 1_000 : 200 }
    /// The library's defaults at full size; here 8 MiB parts, 2 at a time, so that most of the
    /// 12 parts are still to come when the fault strikes (after the first part).
    var options: S3TransferOptions {
        cluster.full ? S3TransferOptions() : S3TransferOptions(partSize: 8 << 20, concurrency: 2)
    }

    var source: URL { work.appendingPathComponent("source.bin") }
    var target: URL { work.appendingPathComponent("download/object.bin") }
    var tree: URL { work.appendingPathComponent("tree") }

    /// Writes `count` random bytes (whole MiBs) to `url`, by `dd` from /dev/urandom: no two
    /// ranges alike, so a range stored or written at the wrong offset shows in the SHA-256.
    func writeSource(_ url: URL, count: Int) async throws {
        let (status, errors) = try await spawnAndWait("/usr/bin/dd", ["if=/dev/urandom", "of=\(url.path)", "bs=1048576", "count=\(count >> 20)", "status=none"])
        guard status == 0 else { throw HelperFailed(description: "dd exited \(status): \(errors)") }
    }

    /// Runs the operation, striking in its middle; a line about what it did.
    func perform(_ operation: ClusterOperation) async throws -> String {
        switch operation {
        case .multipartUpload:
            try await writeSource(source, count: objectSize)
            var options = self.options
            let first = Int64(options.partSize), strike = self.strike
            options.progress = { p in if p.bytesDone >= first { strike.now() } }
            strike.started()
            _ = try await clientBucket.uploadObject(key: "object.bin", file: source, options: options)
            return "uploaded \(objectSize) bytes"
        case .rangedDownload:
            try await writeSource(source, count: objectSize)
            _ = try await bucket.uploadObject(key: "object.bin", file: source)
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            var options = self.options
            let first = Int64(options.partSize), strike = self.strike
            options.progress = { p in if p.bytesDone >= first { strike.now() } }
            strike.started()
            try await clientBucket.downloadObject(key: "object.bin", to: target, options: options)
            return "downloaded \(objectSize) bytes"
        case .sync:
            try FileManager.default.createDirectory(at: tree, withIntermediateDirectories: true)
            for i in 0..<fileCount {
                try Data(patternBytes(fileSize, seed: UInt8(truncatingIfNeeded: i)))
                    .write(to: tree.appendingPathComponent(String(format: "f%05d", i)))
            }
            let tenth = fileCount / 10
            let job = S3SyncJob(from: .directory(tree), to: .bucket(clientBucket, prefix: "tree/"))
            strike.started()
            let summary = try await job.run { [self] event in
                if let error = event.error, !(error is S3Error) { untypedSyncErrors.withLock { $0.append("\(error)") } }
                if syncEvents.wrappingAdd(1, ordering: .relaxed).newValue >= tenth { strike.now() }
            }
            syncFailures.withLock { $0 = summary.failed }
            guard summary.failed > 0 else { return "synced \(summary.copied) files" }
            // Files that failed were each reported with their error, and the sync went on with the
            // rest; the check, once the cluster is whole, syncs again (what a user does next).
            return "synced \(summary.copied) files, \(summary.failed) failed (each with a typed error)"
        case .listing:
            try await seedKeys()
            strike.started()
            var seen: [String] = []
            for try await object in clientBucket.findObjects(prefix: "k/", maxKeys: pageSize) {
                seen.append(object.key)
                if seen.count == pageSize { strike.now() }
            }
            let expected = (0..<keyCount).map { String(format: "k/%06d", $0) }
            #expect(seen == expected, "the listing under the fault returned \(seen.count) keys, \(Set(seen).count) distinct, of \(keyCount)")
            return "listed \(seen.count) keys"
        }
    }

    /// The keys of the listing case, written by the checking client (64 at a time).
    func seedKeys() async throws {
        let bucket = self.bucket, count = keyCount
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<count {
                if i >= 64 { _ = try await group.next() }
                group.addTask { try await bucket.putObject(key: String(format: "k/%06d", i), body: [UInt8(i & 0xff)]) }
            }
            try await group.waitForAll()
        }
    }

    /// No multipart upload left, no partial file under the target name, no half-written object.
    func checkNothingHalfDone(_ operation: ClusterOperation, succeeded: Bool) async throws {
        let client = bucket.client
        // A sync's failed files were each reported with an error of their own: typed ones.
        let untyped = untypedSyncErrors.withLock { $0 }
        #expect(untyped.isEmpty, "the sync reported untyped errors: \(untyped)")
        let uploads = try await client.listMultipartUploads(bucket: bucket.name).uploads
        #expect(uploads.isEmpty, "\(uploads.count) multipart uploads left after the \(operation)")
        switch operation {
        case .multipartUpload:
            if let object = try? await bucket.getObject(key: "object.bin") {
                // Whatever is there is whole: the upload's bytes, all of them.
                #expect(try await object.size == Int64(objectSize))
                let back = work.appendingPathComponent("check.bin")
                try await bucket.downloadObject(key: "object.bin", to: back)
                #expect(try await sha256File(back) == sha256File(source), "the stored object differs from the file uploaded")
            } else {
                #expect(!succeeded, "the upload said it completed, but the object is not there")
            }
        case .rangedDownload:
            let exists = FileManager.default.fileExists(atPath: target.path)
            if succeeded {
                #expect(exists)
                #expect(try await sha256File(target) == sha256File(source), "the downloaded file differs from the object")
            } else {
                #expect(!exists, "a failed download left a file under the target name")
            }
            // Nor anything else beside it (a temporary file of the download).
            let left = try FileManager.default.contentsOfDirectory(atPath: target.deletingLastPathComponent().path)
            #expect(left.filter { $0 != target.lastPathComponent }.isEmpty, "left beside the target: \(left)")
        case .sync:
            let failed = syncFailures.withLock { $0 }
            if failed > 0 {
                // Sync again, the cluster whole: it copies exactly what failed, nothing else.
                let again = try await S3SyncJob(from: .directory(tree), to: .bucket(bucket, prefix: "tree/")).run()
                #expect(again.failed == 0 && again.copied == failed, "the second sync: \(again)")
            }
            var stored = 0
            for try await object in bucket.findObjects(prefix: "tree/") {
                stored += 1
                let name = String(object.key.dropFirst("tree/".count))
                let index = Int(name.dropFirst())!
                let bytes = try await object.body()
                #expect(bytes == patternBytes(fileSize, seed: UInt8(truncatingIfNeeded: index)), "\(object.key) is not its file")
            }
            if succeeded { #expect(stored == fileCount, "\(stored) of \(fileCount) files are stored") }
        case .listing:
            break  // read-only: nothing to leave behind
        }
    }
}

/// The SHA-256 of a file, by `sha256sum` (not our code).
func sha256File(_ url: URL) async throws -> String {
    let output = url.deletingLastPathComponent().appendingPathComponent(".sha256-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: output) }
    let (status, errors) = try await spawnAndWait("/bin/sh", ["-c", "sha256sum \"$0\" > \"$1\"", url.path, output.path])
    guard status == 0 else { throw HelperFailed(description: "sha256sum \(url.path) exited \(status): \(errors)") }
    return String(String(decoding: try Data(contentsOf: output), as: UTF8.self).prefix(64))
}

