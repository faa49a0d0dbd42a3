import Foundation
import Logging
import S3Locking

/// Every request of the soak, on disk: one line per attempt the client made (its debug and
/// trace log: attempt started, answered with a status and request ID, retried after an error,
/// failed for good) and one per operation a task ran (key, start and end, outcome). When a
/// promise is found broken at the end, the lines of that key are read back from here (and from
/// the load balancer's access log, which names the gateway that served each request) and put in
/// the report. On disk, not in memory: the soak's own memory must stay flat for hours.
///
/// Each line: wall-clock seconds (as nginx's `$msec`), a tab, the key (or `-`), a tab, the rest.
final class SoakRequestLog: Sendable {
    private let file: Locked<FileHandle?>

    init(_ url: URL) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw SoakFailure("could not create \(url.path)")
        }
        file = Locked(try FileHandle(forWritingTo: url))
    }

    func write(key: String?, _ text: String) {
        let line = Data((String(format: "%.3f", Date().timeIntervalSince1970) + "\t\(key ?? "-")\t\(text)\n").utf8)
        file.withLock { $0?.write(line) }
    }

    func close() { file.withLock { try? $0?.close(); $0 = nil } }

    /// A logger whose every line (trace level and up) goes to this log.
    func logger() -> Logger {
        var logger = Logger(label: "s3") { _ in Handler(log: self) }
        logger.logLevel = .trace
        return logger
    }

    private struct Handler: LogHandler {
        let log: SoakRequestLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var all = metadata.merging(event.metadata ?? [:]) { $1 }
            let key = all.removeValue(forKey: "s3.key").map { "\($0)" }
            let fields = all.keys.sorted().map { "\($0)=\(all[$0]!)" }.joined(separator: " ")
            log.write(key: key, "\(event.message) \(fields)")
        }
    }

    /// The lines of each of `keys` in the text file at `url`: a line belongs to a key when
    /// `keyOf` finds that key in it. Read in pieces (the file grows to hundreds of MiB);
    /// at most `limit` lines a key, the last ones.
    static func lines(of keys: Set<String>, in url: URL, limit: Int = 60, keyOf: (Substring) -> Substring?) -> [String: [String]] {
        guard !keys.isEmpty, let handle = try? FileHandle(forReadingFrom: url) else { return [:] }
        defer { try? handle.close() }
        var found: [String: [String]] = [:]
        var carry = Data()
        func take(_ line: Substring) {
            guard let key = keyOf(line), keys.contains(String(key)) else { return }
            var l = found[String(key), default: []]
            l.append(String(line))
            if l.count > limit { l.removeFirst() }
            found[String(key)] = l
        }
        while let chunk = try? handle.read(upToCount: 4 << 20), !chunk.isEmpty {
            carry.append(chunk)
            guard let last = carry.lastIndex(of: UInt8(ascii: "\n")) else { continue }
            let text = String(decoding: carry[carry.startIndex..<last], as: UTF8.self)
            for line in text.split(separator: "\n") { take(line) }
            carry = Data(carry[(last + 1)...])
        }
        if !carry.isEmpty { take(Substring(String(decoding: carry, as: UTF8.self))) }
        return found
    }

    /// Follows an operation's outcome when it was a write: the bytes it meant to store.
    static let wroteMarker = "; wrote "

    /// From the lines of one key: the bytes of each write that may have been stored late, that
    /// is every write that failed or succeeded only after more than one attempt (the rule of
    /// ``TaskKeys/mayLand(_:_:)``).
    static func lateWrites(in lines: [String]) -> [Expected] {
        lines.compactMap { line -> Expected? in
            guard let operation = line.range(of: "\toperation "), let marker = line.range(of: wroteMarker) else { return nil }
            // "operation 1.0-1.2 s: put, ok; wrote ..." : the outcome is after the name's comma.
            let event = line[operation.upperBound..<marker.lowerBound]
            guard let comma = event.range(of: ", ", options: .backwards) else { return nil }
            guard event[comma.upperBound...] != "ok" else { return nil }
            return Expected(logged: line[marker.upperBound...])
        }
    }

    /// The key a line of this log is about (its second field).
    static func key(ofRequestLine line: Substring) -> Substring? {
        let fields = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
        return fields.count >= 2 ? fields[1] : nil
    }

    /// The key a line of the balancer's access log is about (format `trace` of
    /// scripts/cluster-lib.sh: `$msec $request_method $request_uri $status ...`), for requests
    /// to `bucket`.
    static func key(ofAccessLine line: Substring, bucket: String) -> Substring? {
        let fields = line.split(separator: " ", maxSplits: 3)
        guard fields.count >= 3 else { return nil }
        let uri = fields[2]
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0]
        let prefix = "/\(bucket)/"
        guard path.hasPrefix(prefix) else { return nil }
        let encoded = path.dropFirst(prefix.count)
        return encoded.removingPercentEncoding.map { Substring($0) } ?? encoded
    }
}
