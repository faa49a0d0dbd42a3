import ArgumentParser
import Foundation
import S3

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the s3 commands of a file (or - for standard input), one per line, several at once.",
        discussion: """
        Each line is a command without the leading s3 (e.g. cp a.txt s3://b/a.txt); # starts a comment line; words \
        are split as a shell would (quotes, backslash), without expanding anything. All commands share one client \
        (this command's connection options), one limit of parts in flight (--concurrency) and the output mode. \
        Ends with a summary; exits 0 when every command succeeded, 2 when some failed, 1 when all did.
        """)
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "A file of commands, or - for standard input.") var file: String
    @Option(help: "Commands run at once.") var jobs = 8
    @Option(help: "Parts or ranges in flight at once, across all commands.") var concurrency = 16

    func run() async throws {
        guard jobs >= 1, concurrency >= 1 else { throw ValidationError("--jobs and --concurrency must be at least 1") }
        let text: String
        if file == "-" {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        } else {
            guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
            text = String(decoding: data, as: UTF8.self)
        }
        var lines: [(number: Int, words: [String])] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            var words = try Self.split(trimmed, line: i + 1)
            if words.first == "s3" { words.removeFirst() }
            lines.append((i + 1, words))
        }
        let client = try connection.client()
        let printer = output.printer()
        let limiter = S3TransferLimiter(permits: concurrency)
        let (jobs, json, lines2) = (jobs, printer.json, lines)
        try await perform(printer) {
            let failed = try await SharedRun.$client.withValue(client) {
                try await SharedRun.$limiter.withValue(limiter) {
                    try await SharedRun.$json.withValue(json) {
                        try await SharedRun.$nested.withValue(true) { try await Self.runAll(lines2, jobs: jobs, printer: printer) }
                    }
                }
            }
            printer.result("run: \(lines2.count) command(s), \(failed) failed", ["op": "summary", "commands": lines2.count, "failed": failed])
            if failed > 0 { throw ExitCode(failed == lines2.count ? Exit.failure : Exit.partial) }
        }
    }

    /// Runs the lines, `jobs` at once; returns how many failed.
    static func runAll(_ lines: [(number: Int, words: [String])], jobs: Int, printer: Printer) async throws -> Int {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            var failed = 0, next = 0, running = 0
            while next < lines.count || running > 0 {
                if next < lines.count && running < jobs {
                    let (number, words) = lines[next]
                    group.addTask { await runLine(number, words, printer: printer) }
                    next += 1
                    running += 1
                    continue
                }
                if try await group.next() == false { failed += 1 }
                running -= 1
            }
            return failed
        }
    }

    /// One line; `false` when it failed (already reported).
    static func runLine(_ number: Int, _ words: [String], printer: Printer) async -> Bool {
        do {
            let parsed = try S3Command.parseAsRoot(words)
            if parsed is Run { throw ValidationError("run cannot be nested") }
            guard let command = parsed as? any AsyncParsableCommand else { throw ValidationError("not a command: \(words.joined(separator: " "))") }
            try await SharedRun.$arguments.withValue(Array(words.dropFirst())) {
                var c = command
                try await c.run()
            }
            return true
        } catch let e as ExitCode where e == .success {
            return true   // --help and the like
        } catch {
            let code = exitStatus(for: error, printer)
            if error is ExitCode { printer.failure(ValidationError("line \(number) ended with status \(code.rawValue)"), ["line": number]) }
            else { printer.failure(ValidationError("line \(number): \(words.joined(separator: " "))"), ["line": number]) }
            return false
        }
    }

    /// Splits a line into words as a POSIX shell does for quoting (no expansion).
    static func split(_ line: String, line number: Int) throws -> [String] {
        var words: [String] = [], word = "", inWord = false
        var quote: Character?
        var escaped = false
        for c in line {
            if escaped {
                word.append(c)
                escaped = false
            } else if let q = quote {
                if c == q { quote = nil } else if c == "\\" && q == "\"" { escaped = true } else { word.append(c) }
            } else if c == "\\" {
                escaped = true
                inWord = true
            } else if c == "\"" || c == "'" {
                quote = c
                inWord = true
            } else if c == " " || c == "\t" {
                if inWord { words.append(word) }
                word = ""
                inWord = false
            } else {
                word.append(c)
                inWord = true
            }
        }
        if quote != nil || escaped { throw ValidationError("line \(number): unterminated quote or escape") }
        if inWord { words.append(word) }
        return words
    }
}
