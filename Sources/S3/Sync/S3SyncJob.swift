import Foundation
import S3Locking
#if canImport(Glibc)
import Glibc
#endif

/// One side of a sync: a local directory, or a prefix of a bucket.
public enum S3SyncLocation: Sendable, CustomStringConvertible {
    /// The files below a directory.
    case directory(URL)
    /// The objects under a prefix of a bucket (a prefix that does not end with `/` gets one: a
    /// sync works on folders, as `aws s3 sync` does).
    case bucket(S3Bucket, prefix: String)

    /// The directory's path, or `s3://bucket/prefix`.
    public var description: String {
        switch self {
        case .directory(let url): return url.path
        case .bucket(let bucket, let prefix): return "s3://\(bucket.name)/\(prefix)"
        }
    }

    /// The prefix with its trailing `/`.
    var folderPrefix: String {
        guard case .bucket(_, let prefix) = self else { return "" }
        return prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/"
    }
}

/// How a sync decides and acts.
public struct S3SyncOptions: Sendable {
    /// Delete what the destination has and the source does not (`--delete`).
    public var deleteExtraneous = false
    /// Decide and report, change nothing (`--dry-run`).
    public var dryRun = false
    /// Copy only when the sizes differ, whatever the times (`--size-only`).
    public var sizeOnly = false
    /// Copy when the times differ at all (`--exact-timestamps`). Without it an upload or copy
    /// takes a newer source, and a download compares sizes only, as the AWS CLI does.
    public var exactTimestamps = false
    /// Which relative paths take part (on both sides: an excluded file is neither copied nor deleted).
    public var filter = S3SyncFilter()
    /// Part size and concurrency of the transfers; ``S3TransferOptions/progress`` reports the
    /// whole sync (bytes copied, files done; the total is not known in advance).
    public var transfer = S3TransferOptions()
    /// Files or objects copied at once (their parts share ``S3TransferOptions/concurrency``).
    public var maxObjectsInFlight = 16
    /// Compare with the destination (a sync); `false` copies every source path without listing
    /// the destination (a recursive copy, `s3 cp -r`).
    public var compareWithDestination = true
    /// Delete each source file or object once it is copied (a move, `s3 mv`).
    public var removeSourceAfterCopy = false
    /// A glob (see ``S3SyncFilter``) the source's relative paths must match; a bucket source is
    /// listed only from the pattern's literal beginning (`2024-*.csv` lists `2024-`).
    public var sourcePattern: String?
    /// `Content-Type` of uploads, from the file's name; `nil`: `application/octet-stream`.
    public var contentType: (@Sendable (String) -> String?)? = S3SyncOptions.guessContentType

    /// The default options: copy what is missing, larger or smaller, or newer; delete nothing.
    public init() {}

    /// A `Content-Type` for common file extensions (`.html`, `.css`, `.js`, `.json`, `.png`, ...).
    @Sendable public static func guessContentType(_ path: String) -> String? {
        guard let dot = path.lastIndex(of: "."), !path[dot...].contains("/") else { return nil }
        return contentTypes[path[path.index(after: dot)...].lowercased()]
    }

    private static let contentTypes: [String: String] = [
        "html": "text/html", "htm": "text/html", "css": "text/css", "js": "text/javascript", "mjs": "text/javascript",
        "json": "application/json", "xml": "application/xml", "txt": "text/plain", "csv": "text/csv", "md": "text/markdown",
        "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "svg": "image/svg+xml",
        "webp": "image/webp", "ico": "image/x-icon", "pdf": "application/pdf", "zip": "application/zip",
        "gz": "application/gzip", "tar": "application/x-tar", "mp4": "video/mp4", "mp3": "audio/mpeg",
        "wasm": "application/wasm", "woff": "font/woff", "woff2": "font/woff2",
    ]
}

/// What a sync does with one relative path.
public enum S3SyncAction: Sendable, Hashable {
    /// Copy it from the source (upload, download or server-side copy).
    case copy(path: String, size: Int64, reason: Reason)
    /// Delete it from the destination (``S3SyncOptions/deleteExtraneous``).
    case delete(path: String)

    /// Why a path is copied.
    public enum Reason: String, Sendable, Hashable {
        /// The destination does not have it.
        case missing
        /// The sizes differ.
        case sizeDiffers = "size differs"
        /// The source is newer (or, with ``S3SyncOptions/exactTimestamps``, the times differ).
        case newer
    }

    /// The relative path acted on.
    public var path: String {
        switch self {
        case .copy(let path, _, _), .delete(let path): return path
        }
    }
}

/// One thing a sync did (or, in a dry run, would do), reported as it happens.
public struct S3SyncEvent: Sendable {
    /// The action.
    public var action: S3SyncAction
    /// Where from and where to, as `s3://bucket/key` or a file path (`source` is `nil` for a delete).
    public var source: String?
    /// The destination acted on.
    public var destination: String
    /// Why it failed, if it did; the sync goes on with the other paths.
    public var error: (any Error)?
    /// Whether it was only reported (``S3SyncOptions/dryRun``).
    public var dryRun: Bool
}

/// What a sync did.
public struct S3SyncSummary: Sendable {
    /// Paths copied (or that would be, in a dry run).
    public var copied = 0
    /// Bytes of the copied paths.
    public var bytesCopied: Int64 = 0
    /// Paths deleted from the destination.
    public var deleted = 0
    /// Paths present on both sides and left alone.
    public var unchanged = 0
    /// Paths that failed (see the events), and local entries that could not be read.
    public var failed = 0
    /// Local paths left out: names that are not UTF-8, unreadable directories, keys that
    /// cannot be files (`..`, absolute, ending in `/`).
    public var skipped: [String] = []
}

/// A one-way sync with `aws s3 sync`'s rules: a path is copied when the destination lacks it,
/// when the sizes differ, or (uploads and copies) when the source is newer, seconds compared;
/// a download sets the file's time to the object's `Last-Modified`, so syncing back finds
/// nothing to do; with
/// ``S3SyncOptions/deleteExtraneous`` paths only the destination has are deleted.
///
/// Both sides are read as sorted streams (a listing in key order, a directory walk sorted the
/// same way: UTF-8 byte order on S3, folder by folder on stores that list so, which the first
/// listing page tells) and merged, so memory does not grow with the number of files; a side
/// that turns out not to be sorted stops the sync. Deletions wait until both sides were read
/// to the end (their paths kept in a temporary file), so a sync that stops deletes nothing.
///
/// ```swift
/// let job = S3SyncJob(from: .directory(site), to: .bucket(bucket, prefix: "www/"), options: options)
/// let summary = try await job.run { event in print(event.action) }
/// ```
public struct S3SyncJob: Sendable {
    /// Where files come from.
    public let source: S3SyncLocation
    /// What is made like the source.
    public let destination: S3SyncLocation
    /// How.
    public let options: S3SyncOptions

    /// A sync of `source` into `destination`. Two local directories are refused by ``run(onEvent:)``.
    public init(from source: S3SyncLocation, to destination: S3SyncLocation, options: S3SyncOptions = S3SyncOptions()) {
        self.source = source
        self.destination = destination
        self.options = options
    }

    /// Runs the sync; `onEvent` hears of every copy and delete (from several tasks at once).
    /// Paths that fail are reported and counted, the others go on; a listing or walk that fails
    /// throws, as does cancellation (transfers in flight are cancelled: no partial file, no
    /// multipart upload left).
    @discardableResult
    public func run(onEvent: @escaping @Sendable (S3SyncEvent) -> Void = { _ in }) async throws -> S3SyncSummary {
        if case .directory = source, case .directory = destination {
            throw S3Error.invalidArgument("a sync needs a bucket on at least one side")
        }
        guard options.maxObjectsInFlight >= 1, options.transfer.concurrency >= 1 else {
            throw S3Error.invalidArgument("maxObjectsInFlight and concurrency must be at least 1")
        }
        for case .bucket(let bucket, _) in [source, destination] { try Validation.bucketName(bucket.name) }
        if case .directory(let url) = source {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw S3Error.invalidArgument("\(url.path) is not a directory")
            }
        }
        if case .directory(let url) = destination, !options.dryRun {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        }
        let summary = Locked(S3SyncSummary())
        let meter = ProgressMeter(total: nil, callback: options.transfer.progress)
        var perObject = options.transfer
        perObject.progress = nil
        perObject.limiter = options.transfer.limiter ?? S3TransferLimiter(permits: options.transfer.concurrency)
        perObject.parentMeter = meter
        let transfer = perObject
        var sourceSide = SyncSide(source, filter: options.filter, pattern: options.sourcePattern)
        var destinationSide = options.compareWithDestination ? SyncSide(destination, filter: options.filter, pattern: nil) : SyncSide.empty
        // Both sides must follow the store's listing order (a first page tells it).
        let orders = Set([try await sourceSide.prime(), try await destinationSide.prime()].compactMap { $0 })
        guard orders.count <= 1 else {
            throw S3Error.invalidArgument("the two stores list keys in different orders (one folder by folder): a sync between them is not possible")
        }
        let order = orders.first ?? .bytes
        try sourceSide.start(order: order)
        try destinationSide.start(order: order)
        let deleter = DeleteBatcher(destination: destination, onEvent: onEvent, summary: summary)
        let spool = try DeleteSpool()
        try await withThrowingTaskGroup(of: Void.self) { group in
            var inFlight = 0
            func launch(_ work: @escaping @Sendable () async -> Void) async throws {
                if inFlight == options.maxObjectsInFlight {
                    try await group.next()
                    inFlight -= 1
                }
                group.addTask(operation: work)
                inFlight += 1
            }
            var s = try await sourceSide.next(), d = try await destinationSide.next()
            while s != nil || d != nil {
                try Task.checkCancellation()
                let action: S3SyncAction?
                let from = s
                if let a = s, d == nil || order.precedes(a.path, d!.path) {
                    action = .copy(path: a.path, size: a.size, reason: .missing)
                    s = try await sourceSide.next()
                } else if let b = d, s == nil || order.precedes(b.path, s!.path) {
                    action = options.deleteExtraneous ? .delete(path: b.path) : nil
                    d = try await destinationSide.next()
                } else {
                    let (a, b) = (s!, d!)
                    action = decide(a, b)
                    if action == nil { summary.withLock { $0.unchanged += 1 } }
                    s = try await sourceSide.next()
                    d = try await destinationSide.next()
                }
                guard let action else { continue }
                let event = S3SyncEvent(action: action, source: action.isCopy ? describe(source, action.path) : nil,
                                        destination: describe(destination, action.path), error: nil, dryRun: options.dryRun)
                if options.dryRun {
                    record(event, summary: summary)
                    onEvent(event)
                    continue
                }
                switch action {
                case .copy:
                    let entry = from!
                    try await launch { [self] in
                        var done = event
                        do {
                            try await copy(entry, options: transfer)
                            if options.removeSourceAfterCopy { try await removeSource(entry.path) }
                        } catch {
                            done.error = error
                        }
                        meter.add(bytes: 0, partDone: true)
                        record(done, summary: summary)
                        onEvent(done)
                    }
                case .delete:
                    try spool.append(action.path)
                }
            }
            // Both listings were read to the end in order: now the deletions.
            let batchSize = { if case .directory = destination { return 1 } else { return 1000 } }()
            try await spool.batches(of: batchSize) { paths in
                let events = paths.map { S3SyncEvent(action: .delete(path: $0), source: nil, destination: describe(destination, $0),
                                                     error: nil, dryRun: false) }
                try await launch { await deleter.run(events) }
            }
            try await group.waitForAll()
        }
        meter.finish()
        return summary.withLock {
            $0.skipped += sourceSide.skipped + destinationSide.skipped
            $0.failed += sourceSide.skipped.count
            return $0
        }
    }

    /// The rule for a path both sides have: `nil` when it is left alone.
    func decide(_ a: SyncEntry, _ b: SyncEntry) -> S3SyncAction? {
        if a.size != b.size { return .copy(path: a.path, size: a.size, reason: .sizeDiffers) }
        if options.sizeOnly { return nil }
        guard let ta = a.modified, let tb = b.modified else { return nil }
        let (sa, sb) = (ta.timeIntervalSince1970.rounded(.down), tb.timeIntervalSince1970.rounded(.down))
        if options.exactTimestamps { return sa != sb ? .copy(path: a.path, size: a.size, reason: .newer) : nil }
        // As the AWS CLI: a download compares sizes only (a file's time is the user's to change).
        if case .directory = destination { return nil }
        return sa > sb ? .copy(path: a.path, size: a.size, reason: .newer) : nil
    }

    private func record(_ event: S3SyncEvent, summary: Locked<S3SyncSummary>) {
        summary.withLock {
            if event.error != nil {
                $0.failed += 1
            } else if case .copy(_, let size, _) = event.action {
                $0.copied += 1
                $0.bytesCopied += size
            } else {
                $0.deleted += 1
            }
        }
    }

    private func describe(_ location: S3SyncLocation, _ path: String) -> String {
        switch location {
        case .directory(let url): return url.appendingPathComponent(path).path
        case .bucket(let bucket, _): return "s3://\(bucket.name)/\(location.folderPrefix)\(path)"
        }
    }

    /// One copy: an upload, a download (then the file's time set to the object's), or a
    /// server-side copy.
    private func copy(_ entry: SyncEntry, options transfer: S3TransferOptions) async throws {
        let path = entry.path
        switch (source, destination) {
        case (.directory(let root), .bucket(let bucket, _)):
            let type = options.contentType?(path) ?? "application/octet-stream"
            try await bucket.uploadObject(key: destination.folderPrefix + path, file: root.appendingPathComponent(path),
                                          contentType: type, options: transfer)
        case (.bucket(let bucket, _), .directory(let root)):
            let file = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            let key = source.folderPrefix + path
            try await bucket.downloadObject(key: key, to: file, options: transfer)
            if let modified = entry.modified { try setModificationTime(file, modified) }
        case (.bucket(let from, _), .bucket(let to, _)):
            try await to.copyObject(from: source.folderPrefix + path, to: destination.folderPrefix + path, sourceBucket: from.name,
                                    options: transfer)
        case (.directory, .directory):
            preconditionFailure("refused in run()")
        }
    }
}

extension S3SyncJob {
    /// The second half of a move.
    private func removeSource(_ path: String) async throws {
        switch source {
        case .directory(let root):
            let file = root.appendingPathComponent(path)
            guard unlink(file.path) == 0 || errno == ENOENT else {
                throw S3Error.invalidArgument("copied, but cannot delete \(file.path): \(String(cString: strerror(errno)))")
            }
        case .bucket(let bucket, _):
            try await bucket.deleteObject(key: source.folderPrefix + path)
        }
    }
}

extension S3SyncAction {
    var isCopy: Bool { if case .copy = self { return true } else { return false } }
}

/// Sets a file's modification (and access) time, to the second.
func setModificationTime(_ file: URL, _ date: Date) throws {
    let seconds = time_t(date.timeIntervalSince1970.rounded(.down))
    var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
    guard utimensat(AT_FDCWD, file.path, &times, 0) == 0 else {
        throw S3Error.invalidArgument("cannot set the time of \(file.path): \(String(cString: strerror(errno)))")
    }
}

/// One side of a sync as a sorted stream of entries, filtered, checked to be in order.
struct SyncSide {
    /// A listing read page by page (summaries only: nothing per key is kept).
    struct Listing {
        let client: S3Client
        let bucket: String
        let prefix: String
        let listed: String
        var page: [S3ObjectSummary] = []
        var index = 0
        var token: String?
        var started = false
        var finished = false
        var server: String?
    }
    private enum Source {
        case local(root: URL?, walker: LocalTreeWalker?)
        case listing(Listing)
    }
    private var source: Source
    private let filter: S3SyncFilter
    private let pattern: String?
    private var order = S3KeyOrder.bytes
    private var last: String?
    private(set) var skipped: [String] = []
    private let name: String

    /// A side with nothing on it.
    static var empty: SyncSide { SyncSide() }

    private init() {
        source = .local(root: nil, walker: LocalTreeWalker())
        filter = S3SyncFilter()
        pattern = nil
        name = "nothing"
    }

    init(_ location: S3SyncLocation, filter: S3SyncFilter, pattern: String?) {
        self.filter = filter
        self.pattern = pattern
        name = location.description
        switch location {
        case .directory(let url):
            source = .local(root: url, walker: nil)
        case .bucket(let bucket, _):
            let prefix = location.folderPrefix
            source = .listing(Listing(client: bucket.client, bucket: bucket.name, prefix: prefix,
                                      listed: prefix + (pattern.map(S3SyncFilter.literalPrefix(of:)) ?? "")))
        }
    }

    /// For a listing, fetches the first page and says in which order the store lists; `nil`
    /// for a directory, which follows whatever order ``start(order:)`` gives.
    mutating func prime() async throws -> S3KeyOrder? {
        guard case .listing(var l) = source else { return nil }
        try await Self.fetch(&l)
        source = .listing(l)
        return S3KeyOrder.of(page: l.page.map(\.key)) ?? S3KeyOrder.of(server: l.server, store: l.client.configuration.store)
    }

    /// Fixes the order of both sides; a directory starts its walk in it.
    mutating func start(order: S3KeyOrder) throws {
        self.order = order
        if case .local(let root?, nil) = source {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue {
                source = .local(root: root, walker: try LocalTreeWalker(root: root, order: order))
            } else {
                source = .local(root: root, walker: LocalTreeWalker())   // a destination not made yet (a dry run)
            }
        }
    }

    private static func fetch(_ l: inout Listing) async throws {
        try Task.checkCancellation()
        let page = try await l.client.listObjectsV2(bucket: l.bucket, prefix: l.listed.isEmpty ? nil : l.listed,
                                                    continuationToken: l.started ? l.token : nil)
        l.started = true
        l.page = page.objects
        l.index = 0
        l.token = page.nextContinuationToken
        l.finished = !page.isTruncated || page.nextContinuationToken == nil
        l.server = l.server ?? page.server
    }

    mutating func next() async throws -> SyncEntry? {
        while true {
            var entry: SyncEntry
            switch source {
            case .local(let root, var walker):
                guard var w = walker else { preconditionFailure("start(order:) first") }
                let e = try w.next()
                skipped += w.takeSkipped()
                walker = w
                source = .local(root: root, walker: walker)
                guard let e else { return nil }
                entry = e
            case .listing(var l):
                if l.index == l.page.count {
                    if l.finished { return nil }
                    try await Self.fetch(&l)
                    source = .listing(l)
                    continue
                }
                let o = l.page[l.index]
                l.index += 1
                source = .listing(l)
                entry = SyncEntry(path: String(o.key.dropFirst(l.prefix.count)), size: o.size, modified: o.lastModified)
                // Folder markers and keys no file can have are not synced.
                if entry.path.isEmpty || entry.path.hasSuffix("/") { continue }
                if entry.path.hasPrefix("/") || entry.path.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0 == ".." || $0 == "." || $0.isEmpty }) {
                    skipped.append("s3://\(l.bucket)/\(o.key) (cannot be a file)")
                    continue
                }
            }
            if let last, !order.precedes(last, entry.path) {
                throw S3Error(code: .invalidResponse,
                              message: "\(name) is not in key order (\(String(reflecting: entry.path)) after \(String(reflecting: last))): the sync stopped before acting on it")
            }
            last = entry.path
            if let pattern, !S3SyncFilter.matches(entry.path, pattern: pattern) { continue }
            if filter.includes(entry.path) { return entry }
        }
    }
}

/// Runs a batch of deletions: one DeleteObjects request of up to 1,000 keys, or file by file
/// for a local destination; reports each.
final class DeleteBatcher: Sendable {
    private let destination: S3SyncLocation
    private let onEvent: @Sendable (S3SyncEvent) -> Void
    private let summary: Locked<S3SyncSummary>

    init(destination: S3SyncLocation, onEvent: @escaping @Sendable (S3SyncEvent) -> Void, summary: Locked<S3SyncSummary>) {
        self.destination = destination
        self.onEvent = onEvent
        self.summary = summary
    }

    func run(_ batch: [S3SyncEvent]) async {
        var results = batch
        switch destination {
        case .directory(let root):
            for i in results.indices {
                let file = root.appendingPathComponent(results[i].action.path)
                if unlink(file.path) != 0 && errno != ENOENT {
                    results[i].error = S3Error.invalidArgument("cannot delete \(file.path): \(String(cString: strerror(errno)))")
                }
            }
        case .bucket(let bucket, _):
            let prefix = destination.folderPrefix
            do {
                let failures = try await bucket.client.deleteObjects(bucket: bucket.name, keys: batch.map { (prefix + $0.action.path, nil) })
                let failed = Dictionary(failures.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
                for i in results.indices {
                    if let f = failed[prefix + results[i].action.path] {
                        results[i].error = S3Error(code: S3Error.Code(rawValue: f.code), message: f.message, bucket: bucket.name, key: f.key)
                    }
                }
            } catch {
                for i in results.indices { results[i].error = error }
            }
        }
        for event in results {
            summary.withLock { if event.error != nil { $0.failed += 1 } else { $0.deleted += 1 } }
            onEvent(event)
        }
    }
}
