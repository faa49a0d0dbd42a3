import Foundation
import S3
import S3Locking
import S3HTTP
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What one operation of the soak ended with.
enum SoakOutcome: Sendable {
    /// It did what it was asked.
    case ok
    /// It failed with an ``S3Error``: its code.
    case typed(String)
    /// It was cancelled on purpose (the multipart upload the soak cancels) and said so.
    case cancelled
    /// It failed with anything else: a defect.
    case untyped(String)

    init(_ error: any Error) {
        switch error {
        case let e as S3Error: self = .typed(e.code.rawValue)
        case is CancellationError: self = .cancelled
        default: self = .untyped("\(type(of: error)): \(error)")
        }
    }
}

/// Latencies in buckets 10% wide, from 0.1 ms to about 5 hours: constant memory however long
/// the soak runs (a list of every latency would itself be a slope in the RSS).
struct LatencyHistogram: Sendable {
    private static let base = 1e-4
    private static let ratio = 1.1
    private var counts = [Int](repeating: 0, count: 190)
    private(set) var total = 0

    mutating func add(_ seconds: Double) {
        let index = seconds <= Self.base ? 0 : Int(log(seconds / Self.base) / log(Self.ratio)) + 1
        counts[min(index, counts.count - 1)] += 1
        total += 1
    }

    /// The upper edge of the bucket holding the `q` quantile (0...1), in seconds.
    func quantile(_ q: Double) -> Double {
        guard total > 0 else { return 0 }
        let rank = max(1, Int((q * Double(total)).rounded(.up)))
        var seen = 0
        for (i, n) in counts.enumerated() {
            seen += n
            if seen >= rank { return Self.base * pow(Self.ratio, Double(i)) }
        }
        return Self.base * pow(Self.ratio, Double(counts.count - 1))
    }
}

/// Everything the soak counts, shared by its 256 tasks, its fault loop and its sampler.
final class SoakRecorder: Sendable {
    struct Tally: Sendable {
        var latency = LatencyHistogram()
        var ok = 0
        var typed: [String: Int] = [:]
        var cancelled = 0
        var untyped = 0
    }
    struct State: Sendable {
        var tallies: [String: Tally] = [:]
        /// Bytes whose digest differed from what was written (each an entry): must stay empty.
        var mismatches: [String] = []
        /// Broken promises other than bytes: a listing without a key that was written, a
        /// create-only write that replaced an object, an object half-written.
        var violations: [String] = []
        /// The first untyped errors, for the report.
        var untypedExamples: [String] = []
        /// Objects found holding (or lacking) what a request that failed or was abandoned
        /// meant to store, after a later request to the key had succeeded: the store applied
        /// it late (a SeaweedFS behaviour, shown by the test
        /// aStoppedGatewayAppliesAnAbandonedWriteAfterALaterOne). The first 200, each with its
        /// key's history.
        var lateWrites: [String] = []
        /// How many times a late write was found, and on how many keys.
        var lateWriteEvents = 0
        var lateWriteKeys: Set<String> = []
        /// The keys whose requests the report shows, read back from the request log: every key
        /// of a mismatch or broken promise, and the first few of late writes (at most 200).
        var traced: Set<String> = []
    }

    /// Every request, on disk (``SoakRequestLog``).
    let requests: SoakRequestLog

    init(requests: SoakRequestLog) {
        self.requests = requests
    }

    /// When each task's multipart upload of a key ended (wall clock), one line per upload, on
    /// disk (kept in memory it would grow for as long as the soak runs): an upload left at the
    /// end that the store started after that (``SoakResult/lateUploads``) is told apart from
    /// an orphan the client left.
    let uploadsEnded = Locked<FileHandle?>(nil)

    func uploadEnded(_ key: String) {
        let line = Data("\(key)\t\(Date().timeIntervalSince1970)\n".utf8)
        uploadsEnded.withLock { $0?.write(line) }
    }

    let operationsInFlight = Atomic<Int>(0)
    let transfersInFlight = Atomic<Int>(0)
    let bytesMoved = Atomic<Int>(0)
    let state = Locked(State())

    /// Runs `body` as operation `name`, timing it and recording how it ended. Returns its
    /// value, or nil when it threw (the outcome is recorded).
    func run<T: Sendable>(_ name: String, large: Bool = false, _ body: () async throws -> T) async -> Result<T, any Error> {
        operationsInFlight.add(1, ordering: .relaxed)
        if large { transfersInFlight.add(1, ordering: .relaxed) }
        defer {
            operationsInFlight.subtract(1, ordering: .relaxed)
            if large { transfersInFlight.subtract(1, ordering: .relaxed) }
        }
        let started = ContinuousClock.now
        let result: Result<T, any Error>
        do { result = .success(try await body()) } catch { result = .failure(error) }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        let outcome: SoakOutcome = switch result {
        case .success: .ok
        case .failure(let error): SoakOutcome(error)
        }
        state.withLock { s in
            var t = s.tallies[name, default: Tally()]
            t.latency.add(seconds)
            switch outcome {
            case .ok: t.ok += 1
            case .typed(let code): t.typed[code, default: 0] += 1
            case .cancelled: t.cancelled += 1
            case .untyped(let description):
                t.untyped += 1
                if s.untypedExamples.count < 20 { s.untypedExamples.append("\(name): \(description)") }
            }
            s.tallies[name] = t
        }
        return result
    }

    func mismatch(_ key: String, _ what: String) {
        state.withLock { s in
            if s.mismatches.count < 1000 { s.mismatches.append(what) }
            if s.traced.count < 200 { s.traced.insert(key) }
        }
    }
    func violation(_ key: String, _ what: String) {
        state.withLock { s in
            if s.violations.count < 1000 { s.violations.append(what) }
            if s.traced.count < 200 { s.traced.insert(key) }
        }
    }
    func lateWrite(_ key: String, _ what: String) {
        state.withLock { s in
            s.lateWriteEvents += 1
            s.lateWriteKeys.insert(key)
            if s.lateWrites.count < 200 { s.lateWrites.append(what) }
            if s.lateWriteKeys.count <= 5 { s.traced.insert(key) }
        }
    }
    func moved(_ bytes: Int) { bytesMoved.add(bytes, ordering: .relaxed) }
}

/// The process's resident memory, open descriptors and threads, from /proc.
struct ProcessStats: Sendable, Codable {
    var rssKiB: Int
    var descriptors: Int
    var threads: Int
    /// Each thread's name (/proc/self/task/N/comm), sorted: which ones a difference is.
    var threadNames: [String]? = nil

    /// With the threads' names (costs a read per thread: for the few samples that report them).
    static func named() -> ProcessStats {
        var p = now()
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        p.threadNames = tasks.compactMap { try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8) }
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.sorted()
        return p
    }

    static func now() -> ProcessStats {
        var rss = 0, threads = 0
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) {
            for line in status.split(separator: "\n") {
                let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                guard fields.count >= 2 else { continue }
                if fields[0] == "VmRSS:" { rss = Int(fields[1]) ?? 0 }
                if fields[0] == "Threads:" { threads = Int(fields[1]) ?? 0 }
            }
        }
        // Less one: the descriptor that reads the directory.
        let descriptors = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 1) - 1
        return ProcessStats(rssKiB: rss, descriptors: descriptors, threads: threads)
    }
}

/// A flag one task raises and others poll.
final class StopFlag: Sendable {
    private let raised = Atomic<Bool>(false)
    func raise() { raised.store(true, ordering: .relaxed) }
    var isRaised: Bool { raised.load(ordering: .relaxed) }
}

/// Writes one line a second to `samples.csv`: seconds since the start, RSS, descriptors,
/// threads, operations and large transfers in flight, bytes moved so far.
func sample(every interval: Duration, into url: URL, recorder: SoakRecorder, start: ContinuousClock.Instant,
            until stop: StopFlag) async throws {
    guard FileManager.default.createFile(atPath: url.path, contents: Data("t,rss_kib,descriptors,threads,operations,transfers,bytes\n".utf8)) else {
        throw SoakFailure("could not create \(url.path)")
    }
    let file = try FileHandle(forWritingTo: url)
    defer { try? file.close() }
    try file.seekToEnd()
    var next = ContinuousClock.now
    while !stop.isRaised {
        let p = ProcessStats.now()
        let t = ContinuousClock.now - start
        let seconds = Double(t.components.seconds) + Double(t.components.attoseconds) * 1e-18
        // Interpolated, not String(format:): its %d is 32 bits, and the bytes pass 2^31 in a minute.
        let line = String(format: "%.2f", seconds) + ",\(p.rssKiB),\(p.descriptors),\(p.threads),"
            + "\(recorder.operationsInFlight.load(ordering: .relaxed)),\(recorder.transfersInFlight.load(ordering: .relaxed)),"
            + "\(recorder.bytesMoved.load(ordering: .relaxed))\n"
        try file.write(contentsOf: Data(line.utf8))
        next = next.advanced(by: interval)
        try await Task.sleep(until: next, clock: .continuous)
    }
}

/// Brings the workload to rest now and then: each task finishes the operation it is in and
/// waits, and with all at rest (the client alive, its connections idle) a sample is taken.
/// At any instant of the run hundreds of MiB are in flight (parts, bodies), so the RSS sampled
/// each second swings by more than a leak of 1 MiB in 10 minutes would add in hours; at rest
/// it does not.
final class QuietPoints: Sendable {
    private struct State: Sendable {
        var asked = false
        var atRest = 0
        var round = 0
    }
    private let state = Locked(State())

    /// Called by each task between operations: waits while a quiet sample is being taken.
    func restIfAsked() async {
        let round: Int? = state.withLock { s in
            guard s.asked else { return nil }
            s.atRest += 1
            return s.round
        }
        guard let round else { return }
        while state.withLock({ $0.round }) == round { try? await Task.sleep(for: .milliseconds(100)) }
    }

    /// Asks every task to rest; true once all `tasks` do, false if some did not within `limit`.
    func quiet(tasks: Int, within limit: Duration) async -> Bool {
        state.withLock { $0.asked = true }
        let end = ContinuousClock.now.advanced(by: limit)
        while state.withLock({ $0.atRest }) < tasks && ContinuousClock.now < end {
            try? await Task.sleep(for: .milliseconds(100))
        }
        return state.withLock { $0.atRest } >= tasks
    }

    /// Lets the tasks go on.
    func resume() {
        state.withLock { s in
            s.asked = false
            s.atRest = 0
            s.round += 1
        }
    }
}

/// One sample taken at rest: free heap given back to the system first (`malloc_trim`), so
/// that RSS is what the process holds, not what glibc kept of earlier peaks.
struct QuietSample: Sendable, Codable {
    var t: Double
    var rssKiB: Int
    var rssBeforeTrimKiB: Int
    var descriptors: Int
    var threads: Int
    var waitedSeconds: Double
    var allAtRest: Bool
    /// After the trim: what malloc's heaps hold in use (its mmapped chunks included), what
    /// they hold free, and the part buffers (mapped apart from malloc) that exist.
    var heapInUseKiB: Int?
    var heapFreeKiB: Int?
    var partBuffers: Int
    var partBufferKiB: Int
    /// libcurl's blocks mapped apart from malloc (its receive buffers): none at rest.
    var curlMappedBlocks: Int

    static func take(since start: ContinuousClock.Instant, waitedSince asked: ContinuousClock.Instant, allAtRest: Bool) -> QuietSample {
        func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
        let untrimmed = ProcessStats.now()
        _ = trimHeap?(0)
        let p = ProcessStats.now()
        let heap = heapStats()
        return QuietSample(t: seconds(ContinuousClock.now - start), rssKiB: p.rssKiB, rssBeforeTrimKiB: untrimmed.rssKiB,
                           descriptors: p.descriptors, threads: p.threads, waitedSeconds: seconds(ContinuousClock.now - asked),
                           allAtRest: allAtRest, heapInUseKiB: heap.map { $0.inUse / 1024 }, heapFreeKiB: heap.map { $0.free / 1024 },
                           partBuffers: PartBuffer.live.load(ordering: .relaxed),
                           partBufferKiB: PartBuffer.liveBytes.load(ordering: .relaxed) / 1024,
                           curlMappedBlocks: CurlMemory.mappedBlocks)
    }

    /// glibc's own account (`malloc_info`, the totals over every arena): bytes taken from the
    /// system and mapped chunks, less the free chunks, are in use.
    static func heapStats() -> (inUse: Int, free: Int)? {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_info") else { return nil }
        let info = unsafeBitCast(symbol, to: (@convention(c) (Int32, UnsafeMutablePointer<FILE>?) -> Int32).self)
        var buffer: UnsafeMutablePointer<CChar>?
        var size = 0
        guard let stream = open_memstream(&buffer, &size) else { return nil }
        _ = info(0, stream)
        fclose(stream)
        guard let buffer else { return nil }
        defer { free(buffer) }
        let xml = String(cString: buffer)
        // The totals follow the last arena's </heap>.
        guard let end = xml.range(of: "</heap>", options: .backwards) else { return nil }
        var totals: [String: Int] = [:]
        for line in xml[end.upperBound...].split(separator: "\n") {
            let parts = line.split(separator: "\"")
            // <total type="fast" count="0" size="0"/>  or  <system type="current" size="135168"/>
            guard parts.count >= 4, let kind = parts.first?.split(separator: " ").first else { continue }
            let name = String(kind.dropFirst()) + "." + parts[1]
            totals[name] = Int(parts[parts.count - 2])
        }
        guard let current = totals["system.current"] else { return nil }
        let free = (totals["total.fast"] ?? 0) + (totals["total.rest"] ?? 0)
        return (current - free + (totals["total.mmap"] ?? 0), free)
    }
}

/// glibc's `malloc_trim` (not in Swift's Glibc module): looked up once.
let trimHeap: (@convention(c) (Int) -> Int32)? = {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
    return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
}()
