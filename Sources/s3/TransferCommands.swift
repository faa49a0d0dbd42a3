import ArgumentParser
import Foundation
import S3

/// Options of the commands that move bytes.
struct TransferOptions: ParsableArguments {
    @Option(help: "Content-Type of a single-file upload (default: from the file's extension, else application/octet-stream).")
    var contentType: String?
    @Option(help: "Part and range size in MiB.") var partSizeMib = 8
    @Option(help: "Parts or ranges in flight at once (shared by all files).") var concurrency = 8
    @Option(help: "Files or objects transferred at once.") var objects = 16
    @Flag(help: "Flush downloaded files to disk (fsync) before they appear under their name.") var fsync = false

    func transferOptions(_ progress: ProgressBar) throws -> S3TransferOptions {
        guard partSizeMib >= 5, concurrency >= 1, objects >= 1 else {
            throw ValidationError("--part-size-mib must be at least 5, --concurrency and --objects at least 1")
        }
        var options = S3TransferOptions(partSize: partSizeMib << 20, concurrency: concurrency, progress: progress.callback)
        options.syncToDisk = fsync
        if let shared = SharedRun.limiter { options.limiter = shared }
        return options
    }
}

/// `cp` and `mv`: one file or object, a directory or prefix (`--recursive`), or the objects a
/// wildcard matches; between a local path and S3, or within S3 (server-side copy).
struct TransferRun {
    var source: String
    var destination: String
    var recursive: Bool
    var move: Bool
    var transfer: TransferOptions
    var client: S3Client
    var printer: Printer

    func run() async throws {
        let from = S3Location(argument: source), to = S3Location(argument: destination)
        let progress = ProgressBar(printer: printer)
        var options = try transfer.transferOptions(progress)
        let verb = move ? "move" : nil
        if from == nil && to == nil { throw ValidationError("one side must be s3://bucket/key (for local copies use cp(1))") }
        if let from, from.hasWildcard || recursive {
            // Many objects: through the sync engine, copying everything it lists.
            let parts = from.wildcardParts
            let (folder, pattern) = from.hasWildcard ? (parts.folder, Optional(parts.pattern)) : (from.folder, nil)
            try await many(from: .bucket(from.bucket(client), prefix: folder), pattern: pattern, to: to, options: options, progress: progress)
            return
        }
        if from == nil, recursive {
            try await many(from: .directory(URL(fileURLWithPath: source)), pattern: nil, to: to, options: options, progress: progress)
            return
        }
        switch (from, to) {
        case (nil, let target?):
            let file = URL(fileURLWithPath: source)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: file.path, isDirectory: &isDirectory) else {
                throw ValidationError("\(source): no such file")
            }
            if isDirectory.boolValue { throw ValidationError("\(source) is a directory: add --recursive") }
            let key = target.key.map { $0.hasSuffix("/") ? $0 + file.lastPathComponent : $0 } ?? file.lastPathComponent
            let type = transfer.contentType ?? S3SyncOptions.guessContentType(file.lastPathComponent) ?? "application/octet-stream"
            let result = try await target.bucket(client).uploadObject(key: key, file: file, contentType: type, options: options)
            progress.end()
            if move { try FileManager.default.removeItem(at: file) }
            printer.result("\(verb ?? "upload"): \(source) to s3://\(target.bucket)/\(key)",
                           ["op": verb ?? "upload", "source": source, "destination": "s3://\(target.bucket)/\(key)", "etag": result.eTag], detail: true)
        case (let origin?, nil):
            let key = try origin.requireKey()
            let bucket = origin.bucket(client)
            if destination == "-" {
                guard !move else { throw ValidationError("mv cannot write to standard output") }
                try await bucket.downloadObject(key: key, toDescriptor: STDOUT_FILENO)
                return
            }
            var target = URL(fileURLWithPath: destination)
            var isDirectory: ObjCBool = false
            if destination.hasSuffix("/") || (FileManager.default.fileExists(atPath: destination, isDirectory: &isDirectory) && isDirectory.boolValue) {
                target = target.appendingPathComponent((key as NSString).lastPathComponent)
            }
            options.progress = progress.callback
            let modified = try await client.headObject(bucket: origin.bucket, key: key).lastModified
            try await bucket.downloadObject(key: key, to: target, options: options)
            if let modified { try? setFileTime(target, modified) }
            progress.end()
            if move { try await bucket.deleteObject(key: key) }
            printer.result("\(verb ?? "download"): \(origin) to \(target.path)",
                           ["op": verb ?? "download", "source": origin.description, "destination": target.path], detail: true)
        case (let origin?, let target?):
            let key = try origin.requireKey()
            let targetKey = target.key.map { $0.hasSuffix("/") ? $0 + (key as NSString).lastPathComponent : $0 } ?? (key as NSString).lastPathComponent
            try await target.bucket(client).copyObject(from: key, to: targetKey, sourceBucket: origin.bucket, options: options)
            progress.end()
            if move { try await origin.bucket(client).deleteObject(key: key) }
            printer.result("\(verb ?? "copy"): \(origin) to s3://\(target.bucket)/\(targetKey)",
                           ["op": verb ?? "copy", "source": origin.description, "destination": "s3://\(target.bucket)/\(targetKey)"], detail: true)
        case (nil, nil):
            break
        }
    }

    private func many(from: S3SyncLocation, pattern: String?, to: S3Location?, options: S3TransferOptions, progress: ProgressBar) async throws {
        var sync = S3SyncOptions()
        sync.compareWithDestination = false
        sync.removeSourceAfterCopy = move
        sync.sourcePattern = pattern
        sync.transfer = options
        sync.maxObjectsInFlight = transfer.objects
        let target: S3SyncLocation = to.map { .bucket($0.bucket(client), prefix: $0.folder) } ?? .directory(URL(fileURLWithPath: destination))
        let summary = try await S3SyncJob(from: from, to: target, options: sync).run { event in report(event, printer, move: move) }
        progress.end()
        try finish(summary, printer)
    }
}

/// Prints one event of a sync, copy or move.
func report(_ event: S3SyncEvent, _ printer: Printer, move: Bool = false) {
    let op: String
    switch event.action {
    case .delete: op = "delete"
    case .copy:
        if move { op = "move" } else if event.source?.hasPrefix("s3://") == false { op = "upload" } else if event.destination.hasPrefix("s3://") {
            op = "copy"
        } else { op = "download" }
    }
    var fields: [String: Any?] = ["op": op, "source": event.source, "destination": event.destination, "dryRun": event.dryRun ? true : nil]
    if case .copy(_, let size, let reason) = event.action {
        fields["size"] = size
        fields["reason"] = reason.rawValue
    }
    if let error = event.error {
        printer.failure(error, fields)
        return
    }
    let text = (event.dryRun ? "(dryrun) " : "") + op + ": " + (event.source.map { $0 + " to " } ?? "") + event.destination
    printer.result(text, fields, detail: true)
}

/// The closing line of a batch, and exit 2 when anything failed or was skipped.
func finish(_ summary: S3SyncSummary, _ printer: Printer, dryRun: Bool = false) throws {
    for skipped in summary.skipped { printer.failure(ValidationError("skipped \(skipped)")) }
    var text = (dryRun ? "(dryrun) " : "") + "\(summary.copied) copied (\(Printer.humanSize(summary.bytesCopied))), \(summary.deleted) deleted, \(summary.unchanged) unchanged"
    if summary.failed > 0 { text += ", \(summary.failed) failed" }
    printer.result(text, ["op": "summary", "copied": summary.copied, "bytes": summary.bytesCopied, "deleted": summary.deleted,
                          "unchanged": summary.unchanged, "failed": summary.failed])
    if summary.failed > 0 || !summary.skipped.isEmpty { throw ExitCode(Exit.partial) }
}

/// Sets a downloaded file's time to its object's, as `aws s3 cp` does (so a sync back sees it unchanged).
func setFileTime(_ file: URL, _ date: Date) throws {
    try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))],
                                          ofItemAtPath: file.path)
}

/// The arguments `cp` and `mv` share.
struct TransferPaths: ParsableArguments {
    @Argument(help: "A local path or s3://bucket/key (s3://bucket/prefix/ with --recursive; wildcards allowed).") var source: String
    @Argument(help: "A local path (or directory) or s3://bucket[/key].") var destination: String
    @Flag(name: .shortAndLong, help: "The whole directory or prefix.") var recursive = false

    func run(move: Bool, transfer: TransferOptions, connection: ConnectionOptions, output: OutputOptions) async throws {
        let job = TransferRun(source: source, destination: destination, recursive: recursive, move: move, transfer: transfer,
                              client: try connection.client(), printer: output.printer())
        try await perform(job.printer) { try await job.run() }
    }
}

struct Copy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cp",
        abstract: "Copy files to S3, objects to files (- for standard output) or objects to objects (server-side).",
        discussion: "With --recursive, a directory or everything under a prefix; with a wildcard key ('s3://b/logs/*.gz'), the objects it matches.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var transfer: TransferOptions
    @OptionGroup var paths: TransferPaths

    func run() async throws { try await paths.run(move: false, transfer: transfer, connection: connection, output: output) }
}

struct Move: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mv", abstract: "Move files or objects: copy, then delete each source once its copy is done.",
        discussion: "Takes what cp takes. A source whose copy failed is kept.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var transfer: TransferOptions
    @OptionGroup var paths: TransferPaths

    func run() async throws { try await paths.run(move: true, transfer: transfer, connection: connection, output: output) }
}

struct Sync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Make a directory or prefix like another: local to S3, S3 to local, or S3 to S3 (server-side).",
        discussion: """
        A file is copied when the destination lacks it, the sizes differ, or (uploads and copies) the source is \
        newer, in whole seconds; downloads compare sizes only unless --exact-timestamps, and take the object's time, \
        so a sync back finds nothing to do. Both sides are read as sorted streams: \
        memory stays flat whatever the number of files. --exclude and --include take globs matched against the \
        relative path (* also matches /); the last rule that matches decides.
        """)
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var transfer: TransferOptions
    @Argument(help: "A directory or s3://bucket[/prefix].") var source: String
    @Argument(help: "A directory or s3://bucket[/prefix].") var destination: String
    @Flag(help: "Delete what the destination has and the source does not.") var delete = false
    @Flag(help: "Print what would be done, do nothing.") var dryRun = false
    @Flag(help: "Compare sizes only, not times.") var sizeOnly = false
    @Flag(help: "Copy when the times differ at all (downloads otherwise compare sizes only).") var exactTimestamps = false
    @Option(help: "Leave out relative paths matching this glob (repeatable).") var exclude: [String] = []
    @Option(help: "Take paths matching this glob again (repeatable; rules apply in the order given).") var include: [String] = []

    func run() async throws {
        let client = try connection.client()
        let printer = output.printer()
        let progress = ProgressBar(printer: printer)
        var options = S3SyncOptions()
        options.deleteExtraneous = delete
        options.dryRun = dryRun
        options.sizeOnly = sizeOnly
        options.exactTimestamps = exactTimestamps
        options.filter = S3SyncFilter(rules: orderedRules())
        options.maxObjectsInFlight = transfer.objects
        options.transfer = try transfer.transferOptions(progress)
        func side(_ text: String) -> S3SyncLocation {
            if let l = S3Location(argument: text) { return .bucket(l.bucket(client), prefix: l.key ?? "") }
            return .directory(URL(fileURLWithPath: text))
        }
        if S3Location(argument: source) == nil && S3Location(argument: destination) == nil {
            throw ValidationError("one side of sync must be s3://bucket[/prefix]")
        }
        if S3Location(argument: source)?.hasWildcard == true || S3Location(argument: destination)?.hasWildcard == true {
            throw ValidationError("sync takes no wildcards: use --exclude / --include")
        }
        let job = S3SyncJob(from: side(source), to: side(destination), options: options)
        let dryRun = options.dryRun
        try await perform(printer) {
            let summary = try await job.run { report($0, printer) }
            progress.end()
            try finish(summary, printer, dryRun: dryRun)
        }
    }

    /// The --exclude and --include rules in the order they were given on the command line.
    private func orderedRules() -> [S3SyncFilter.Rule] {
        var rules: [S3SyncFilter.Rule] = []
        let args = SharedRun.arguments ?? Array(CommandLine.arguments.dropFirst())
        var i = 0
        while i < args.count {
            let a = args[i]
            for (name, make) in [("--exclude", S3SyncFilter.Rule.exclude), ("--include", S3SyncFilter.Rule.include)] {
                if a == name, i + 1 < args.count {
                    rules.append(make(args[i + 1]))
                    i += 1
                } else if a.hasPrefix(name + "=") {
                    rules.append(make(String(a.dropFirst(name.count + 1))))
                }
            }
            i += 1
        }
        // What the parser saw is the truth; the scan only gives the order.
        let parsed = exclude.map(S3SyncFilter.Rule.exclude) + include.map(S3SyncFilter.Rule.include)
        return rules.count == parsed.count && Set(rules) == Set(parsed) ? rules : parsed
    }
}
