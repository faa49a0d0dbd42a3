import ArgumentParser
import Foundation
import S3
import S3Locking

/// The tool's exit statuses (documented in `s3 --help` and the README).
enum Exit {
    static let failure: Int32 = 1
    /// Some files or objects failed or were skipped; the rest was done.
    static let partial: Int32 = 2
    static let notFound: Int32 = 3
    static let usage: Int32 = 64
    static let interrupted: Int32 = 130
}

/// Writes results: text lines, or one JSON object per line with `--json`. Safe to call from
/// many tasks (lines never interleave).
struct Printer: Sendable {
    let json: Bool
    let quiet: Bool
    let human: Bool
    private static let lock = Locked(())

    /// A result: `fields` as JSON, or `text` (unless quiet and `detail`).
    func result(_ text: @autoclosure () -> String, _ fields: [String: Any?], detail: Bool = false) {
        if json {
            emit(Self.jsonLine(fields))
        } else if !(quiet && detail) {
            emit(text() + "\n")
        }
    }

    /// A failure of one item or of the command: a line on standard error, and with `--json` an
    /// object with `"error"` on standard output.
    func failure(_ error: any Error, _ fields: [String: Any?] = [:]) {
        let message = Self.message(error)
        var f = fields
        f["error"] = message
        if let e = error as? S3Error { f["code"] = e.code.rawValue }
        if json { emit(Self.jsonLine(f)) }
        let subject = (fields["source"] ?? fields["destination"] ?? fields["path"]).flatMap { $0 }.map { "\($0): " } ?? ""
        Self.lock.withLock { _ in FileHandle.standardError.write(Data("s3: \(subject)\(message)\n".utf8)) }
    }

    /// Named fields as `name: value` lines for people: absent ones left out, dates in ISO 8601,
    /// `size` as ``size(_:)`` writes it, a metadata map as one `metadata.NAME: value` line each.
    func lines(_ fields: [(String, Any?)]) -> [String] {
        let formatter = ISO8601DateFormatter()
        return fields.flatMap { name, value -> [String] in
            switch value {
            case nil: return []
            case let d as Date: return ["\(name): \(formatter.string(from: d))"]
            case let m as [String: String]: return m.sorted { $0.key < $1.key }.map { "metadata.\($0.key): \($0.value)" }
            case let bytes as Int64 where name == "size": return ["size: \(size(bytes))"]
            case let v?: return ["\(name): \(v)"]
            }
        }
    }

    /// A size for people: bytes, or with `--human` KiB/MiB/GiB/TiB.
    func size(_ bytes: Int64) -> String { human ? Self.humanSize(bytes) : String(bytes) }

    static func humanSize(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(bytes), unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: value < 10 ? "%.1f %@" : "%.0f %@", value, units[unit])
    }

    static func message(_ error: any Error) -> String {
        switch error {
        case let e as S3Error: return "\(e)"
        case let e as ValidationError: return e.message
        case is CancellationError: return "interrupted"
        default: return "\(error)"
        }
    }

    private func emit(_ line: String) {
        Self.lock.withLock { _ in FileHandle.standardOutput.write(Data(line.utf8)) }
    }

    static func jsonLine(_ fields: [String: Any?]) -> String {
        var clean: [String: Any] = [:]
        for (k, v) in fields {
            guard let v else { continue }
            switch v {
            case let d as Date: clean[k] = ISO8601DateFormatter().string(from: d)
            case let i as Int64: clean[k] = NSNumber(value: i)
            default: clean[k] = v
            }
        }
        guard let data = try? JSONSerialization.data(withJSONObject: clean, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            return "{\"error\":\"unencodable result\"}\n"
        }
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

/// Runs a subcommand: maps errors to a message and an exit status, and turns Ctrl-C (SIGINT)
/// into cancellation of the work (multipart uploads aborted, no partial file), then exit 130.
/// A second Ctrl-C exits at once.
func perform(_ printer: Printer, _ body: @escaping @Sendable () async throws -> Void) async throws {
    if SharedRun.nested {
        try await body()   // inside `s3 run`: its caller reports
        return
    }
    let work = Task { try await body() }
    let interrupts = Locked(0)
    signal(SIGINT, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
    source.setEventHandler {
        let n = interrupts.withLock { $0 += 1; return $0 }
        if n == 1 {
            FileHandle.standardError.write(Data("\ns3: interrupted, cancelling (Ctrl-C again to quit at once)\n".utf8))
            work.cancel()
        } else {
            _exit(Exit.interrupted)
        }
    }
    source.resume()
    defer { source.cancel() }
    do {
        try await work.value
    } catch {
        if interrupts.withLock({ $0 }) > 0 || error is CancellationError {
            throw ExitCode(Exit.interrupted)
        }
        throw exitStatus(for: error, printer)
    }
    if interrupts.withLock({ $0 }) > 0 { throw ExitCode(Exit.interrupted) }
}

/// Reports `error` and says which exit status it means.
func exitStatus(for error: any Error, _ printer: Printer) -> ExitCode {
    if let code = error as? ExitCode { return code }
    printer.failure(error)
    switch error {
    case let e as S3Error where e.code == .noSuchKey || e.code == .noSuchBucket: return ExitCode(Exit.notFound)
    case let e as S3Error where e.code == .invalidArgument: return ExitCode(Exit.usage)
    case is ValidationError: return ExitCode(Exit.usage)
    case is CancellationError: return ExitCode(Exit.interrupted)
    default: return ExitCode(Exit.failure)
    }
}

/// A progress display on standard error: on a terminal a bar redrawn in place (bytes, share,
/// rate, time left); otherwise one plain line at the end; nothing with `--quiet` or `--json`.
final class ProgressBar: @unchecked Sendable {
    private let enabled: Bool
    private let live: Bool
    private let lock = NSLock()
    private var last: S3TransferProgress?
    private var drawn = false

    init(printer: Printer) {
        enabled = !printer.quiet && !printer.json && !SharedRun.nested
        live = isatty(STDERR_FILENO) == 1
    }

    /// The callback for ``S3TransferOptions/progress``.
    var callback: @Sendable (S3TransferProgress) -> Void { { [self] in show($0) } }

    func show(_ p: S3TransferProgress) {
        guard enabled else { return }
        lock.lock()
        last = p
        if live {
            drawn = true
            FileHandle.standardError.write(Data(("\r" + Self.format(p, width: Self.terminalWidth()) + "\u{1B}[K").utf8))
        }
        lock.unlock()
    }

    /// Ends the display: the final figures on their own line.
    func end() {
        lock.lock()
        defer { lock.unlock() }
        guard enabled, let p = last, p.bytesDone > 0 || p.partsDone > 0 else { return }
        FileHandle.standardError.write(Data(((live ? "\r" : "") + Self.format(p, width: live ? Self.terminalWidth() : 0) + (live ? "\u{1B}[K" : "") + "\n").utf8))
        last = nil
    }

    static func terminalWidth() -> Int {
        var size = winsize()
        return ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 ? Int(size.ws_col) : 80
    }

    /// `[#####.....]  42%  12.3 MiB / 29.1 MiB  5.1 MiB/s  ETA 0:03  3 done` (the bar only when
    /// the total is known and `width` leaves room).
    static func format(_ p: S3TransferProgress, width: Int) -> String {
        var tail = Printer.humanSize(p.bytesDone)
        var share: Double?
        if let total = p.totalBytes, total > 0 {
            share = min(1, Double(p.bytesDone) / Double(total))
            tail = String(format: "%3.0f%%  ", share! * 100) + tail + " / " + Printer.humanSize(total)
        }
        tail += "  " + Printer.humanSize(Int64(p.bytesPerSecond)) + "/s"
        if let total = p.totalBytes, p.bytesPerSecond > 0, total >= p.bytesDone {
            let left = Int((Double(total - p.bytesDone) / p.bytesPerSecond).rounded(.up))
            tail += "  ETA " + (left >= 3600 ? String(format: "%d:%02d:%02d", left / 3600, left / 60 % 60, left % 60)
                                            : String(format: "%d:%02d", left / 60, left % 60))
        }
        tail += "  \(p.partsDone) done"
        if let share, width - tail.count >= 14 {
            let cells = min(40, width - tail.count - 4)
            let full = Int(share * Double(cells))
            return "[" + String(repeating: "#", count: full) + String(repeating: ".", count: cells - full) + "]  " + tail
        }
        return tail
    }
}
