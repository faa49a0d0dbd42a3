import Foundation
import S3
import S3Locking
import Synchronization

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

    func mismatch(_ what: String) { state.withLock { if $0.mismatches.count < 1000 { $0.mismatches.append(what) } } }
    func violation(_ what: String) { state.withLock { if $0.violations.count < 1000 { $0.violations.append(what) } } }
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
