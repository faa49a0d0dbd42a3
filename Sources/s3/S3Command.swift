// The `s3` command-line tool: a thin layer over the S3 library.
import ArgumentParser
import Foundation
import Logging
import S3

@main
struct S3Command: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "s3",
        abstract: "Work with Amazon S3 and S3-compatible stores.",
        discussion: """
        Endpoint, region and credentials come from the options below or, as with the AWS CLI, from \
        AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, AWS_REGION / AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID, \
        AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_PROFILE with ~/.aws/credentials and ~/.aws/config \
        (static keys, credential_process, role_arn with source_profile), then web identity (AWS_ROLE_ARN + \
        AWS_WEB_IDENTITY_TOKEN_FILE), the container endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI) \
        and EC2 instance metadata (IMDSv2; AWS_EC2_METADATA_DISABLED=true turns it off).

        Exit status: 0 success, 1 failure, 3 no such bucket or key, 64 bad usage.
        """,
        subcommands: [List.self, MakeBucket.self, RemoveBucket.self, Copy.self, Remove.self, Cat.self, URLCommand.self,
                      Lifetime.self, Public.self]
    )
}

/// Connection options shared by every subcommand.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "The S3 endpoint URL, e.g. http://127.0.0.1:9000.")
    var endpoint: String?

    @Option(help: "The signing region.")
    var region: String?

    @Option(help: "The profile of ~/.aws/credentials and ~/.aws/config to use.")
    var profile: String?

    @Flag(help: "Use path-style URLs (http://host/bucket/key).")
    var pathStyle = false

    @Flag(help: "Use virtual-host-style URLs (http://bucket.host/key).")
    var virtualHost = false

    @Flag(help: "Send upload bodies unsigned with a CRC-32C checksum instead of a signed SHA-256 (faster; for TLS or trusted networks).")
    var crc32c = false

    @Option(help: ArgumentHelp("The kind of store: aws, r2, gcs, b2, minio, ceph, seaweedfs or other (default: from the endpoint's host).",
                               valueName: "store"))
    var store: String?

    @Option(help: ArgumentHelp("The checksum uploads carry: crc32, crc32c or crc64nvme (default: the store's).", valueName: "algorithm"))
    var checksumAlgorithm: String?

    @Flag(help: "Neither send nor check checksums unless required (the AWS SDKs' WHEN_REQUIRED); on by default.")
    var noChecksums = false

    @Option(help: "A PEM file of CA certificates to trust instead of the system's (also AWS_CA_BUNDLE).")
    var caBundle: String?

    @Flag(help: "Do not verify the server's TLS certificate. Dangerous: anyone on the path can read and change the traffic.")
    var noVerifySSL = false

    @Flag(name: [.customShort("v"), .long], help: "Log each request (operation, status, request ID, duration), retries and credential refreshes to standard error.")
    var verbose = false

    @Flag(help: "Log as --verbose does, and each request as it is sent (swift-log's trace level).")
    var debug = false

    func client() throws -> S3Client {
        let style: S3Configuration.AddressingStyle = pathStyle ? .path : (virtualHost ? .virtualHost : .automatic)
        var configuration = try S3Configuration.fromEnvironment(endpoint: endpoint, region: region, profile: profile,
                                                                addressingStyle: style)
        if let store {
            guard let profile = S3StoreProfile(rawValue: store.lowercased()) else {
                throw ValidationError("unknown store \(store): use one of \(S3StoreProfile.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            configuration.store = profile
            if profile == .r2 && region == nil && configuration.region == "us-east-1" { configuration.region = "auto" }
        }
        if let checksumAlgorithm {
            guard let algorithm = S3ChecksumAlgorithm(rawValue: checksumAlgorithm.uppercased()), algorithm.isUploadAlgorithm else {
                throw ValidationError("unknown checksum algorithm \(checksumAlgorithm): use crc32, crc32c or crc64nvme")
            }
            configuration.checksumAlgorithm = algorithm
        }
        if noChecksums { configuration.checksums = .whenRequired }
        if crc32c {
            configuration.checksumAlgorithm = .crc32c
            configuration.payloadProtection = .checksumOnly
            // Asking for --crc32c is the explicit choice; over plain http it is said out loud.
            configuration.allowsUnsignedPayloadOverHTTP = true
            if configuration.endpoint.scheme == "http" {
                FileHandle.standardError.write(Data("s3: warning: --crc32c over plain http: upload bodies are not signed and not encrypted\n".utf8))
            }
        }
        if let caBundle {
            guard FileManager.default.isReadableFile(atPath: caBundle) else {
                throw ValidationError("the CA bundle \(caBundle) cannot be read")
            }
            configuration.http.tls.caBundlePath = caBundle
        }
        if noVerifySSL {
            FileHandle.standardError.write(Data("s3: warning: TLS certificate verification is off (--no-verify-ssl)\n".utf8))
            configuration.http.tls.dangerouslyDisableCertificateVerification = true
        }
        if verbose || debug {
            var logger = Logger(label: "s3") { StreamLogHandler.standardError(label: $0) }
            logger.logLevel = debug ? .trace : .debug
            configuration.logger = logger
        }
        return S3Client(configuration: configuration)
    }
}

/// `s3://bucket[/key]`.
struct S3Location: ExpressibleByArgument, CustomStringConvertible {
    var bucket: String
    var key: String?

    init?(argument: String) {
        guard argument.hasPrefix("s3://") else { return nil }
        let rest = argument.dropFirst(5)
        guard !rest.isEmpty else { return nil }
        if let slash = rest.firstIndex(of: "/") {
            bucket = String(rest[..<slash])
            let k = String(rest[rest.index(after: slash)...])
            key = k.isEmpty ? nil : k
        } else {
            bucket = String(rest)
        }
        if bucket.isEmpty { return nil }
    }

    var description: String { "s3://\(bucket)" + (key.map { "/" + $0 } ?? "") }

    func requireKey() throws -> String {
        guard let key else { throw ValidationError("\(self) names a bucket; an object key is needed (s3://bucket/key)") }
        return key
    }
}

/// Runs a subcommand body, turning library errors into a message and an exit status.
func perform(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let e as S3Error {
        FileHandle.standardError.write(Data("s3: \(e)\n".utf8))
        throw ExitCode(e.code == .noSuchKey || e.code == .noSuchBucket ? 3 : 1)
    }
}

func say(_ text: String) { print(text) }

struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List buckets, or objects under s3://bucket/prefix.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "s3://bucket[/prefix]; without it, the buckets are listed.") var location: S3Location?
    @Flag(name: .shortAndLong, help: "List every key below the prefix instead of one level.") var recursive = false

    func run() async throws {
        let client = try connection.client()
        try await perform {
            guard let location else {
                for try await bucket in S3Bucket.listBuckets(client: client) { say(bucket.name) }
                return
            }
            let bucket = S3Bucket.unchecked(name: location.bucket, client: client)
            let formatter = ISO8601DateFormatter()
            func line(_ o: S3Object) async throws -> String {
                let size = try await o.size
                let date = try await o.lastModified
                return "\(formatter.string(from: date))  \(String(size).leftPad(12))  \(o.key)"
            }
            if recursive {
                for try await o in bucket.findObjects(prefix: location.key) { say(try await line(o)) }
            } else {
                for try await entry in bucket.findEntries(prefix: location.key, delimiter: "/") {
                    switch entry {
                    case .commonPrefix(let p): say("\("PRE".leftPad(34))  \(p)")
                    case .object(let o): say(try await line(o))
                    }
                }
            }
        }
    }
}

extension String {
    func leftPad(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}

struct MakeBucket: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "mb", abstract: "Create a bucket (no error if you own it already).")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "s3://bucket") var location: S3Location
    @Option(help: "Expire objects this many days after they are written.") var lifetimeDays: Int?
    @Flag(help: "Allow public reads and listing.") var `public` = false

    func run() async throws {
        let client = try connection.client()
        try await perform {
            _ = try await S3Bucket.create(name: location.bucket, client: client, lifetimeInDays: lifetimeDays, allowPublicAccess: self.public)
            say("make_bucket: \(location)")
        }
    }
}

struct RemoveBucket: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rb", abstract: "Delete a bucket.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "s3://bucket") var location: S3Location
    @Flag(help: "Delete every object, version and unfinished upload first.") var force = false

    func run() async throws {
        let client = try connection.client()
        try await perform {
            try await S3Bucket.unchecked(name: location.bucket, client: client).deleteBucket(force: force)
            say("remove_bucket: \(location)")
        }
    }
}

struct Copy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cp",
        abstract: "Copy files to S3 or objects to files (- for standard output); --recursive for directories and prefixes.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "A local path or s3://bucket/key (s3://bucket/prefix/ with --recursive).") var source: String
    @Argument(help: "A local path (or directory) or s3://bucket[/key].") var destination: String
    @Flag(name: .shortAndLong, help: "Copy a whole directory up, or everything under a prefix down.") var recursive = false
    @Option(help: "Content-Type of an upload.") var contentType = "application/octet-stream"
    @Option(help: "Part and range size in MiB.") var partSizeMib = 8
    @Option(help: "Parts or ranges in flight at once (shared by all files).") var concurrency = 8
    @Flag(help: "Print no progress.") var quiet = false
    @Flag(help: "Flush downloaded files to disk (fsync) before they appear under their name.") var fsync = false

    func run() async throws {
        let client = try connection.client()
        let from = S3Location(argument: source), to = S3Location(argument: destination)
        let progress = ProgressLine(enabled: !quiet && destination != "-")
        var options = S3TransferOptions(partSize: partSizeMib << 20, concurrency: concurrency, progress: { progress.show($0) })
        options.syncToDisk = fsync
        try await perform {
            switch (from, to, recursive) {
            case (nil, let target?, false):
                let file = URL(fileURLWithPath: source)
                let key = target.key.map { $0.hasSuffix("/") ? $0 + file.lastPathComponent : $0 } ?? file.lastPathComponent
                let bucket = S3Bucket.unchecked(name: target.bucket, client: client)
                try await bucket.uploadObject(key: key, file: file, contentType: contentType, options: options)
                progress.end()
                say("upload: \(source) to s3://\(target.bucket)/\(key)")
            case (nil, let target?, true):
                var prefix = target.key ?? ""
                if !prefix.isEmpty && !prefix.hasSuffix("/") { prefix += "/" }
                let bucket = S3Bucket.unchecked(name: target.bucket, client: client)
                let keys = try await bucket.uploadDirectory(URL(fileURLWithPath: source), prefix: prefix, options: options)
                progress.end()
                say("upload: \(keys.count) file(s) from \(source) to s3://\(target.bucket)/\(prefix)")
            case (let origin?, nil, false):
                let key = try origin.requireKey()
                let bucket = S3Bucket.unchecked(name: origin.bucket, client: client)
                if destination == "-" {
                    try await bucket.downloadObject(key: key, toDescriptor: STDOUT_FILENO)
                    return
                }
                var target = URL(fileURLWithPath: destination)
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: destination, isDirectory: &isDirectory), isDirectory.boolValue {
                    target = target.appendingPathComponent((key as NSString).lastPathComponent)
                }
                try await bucket.downloadObject(key: key, to: target, options: options)
                progress.end()
                say("download: \(origin) to \(target.path)")
            case (let origin?, nil, true):
                var prefix = origin.key ?? ""
                if !prefix.isEmpty && !prefix.hasSuffix("/") { prefix += "/" }
                let bucket = S3Bucket.unchecked(name: origin.bucket, client: client)
                let files = try await bucket.downloadPrefix(prefix, to: URL(fileURLWithPath: destination), options: options)
                progress.end()
                say("download: \(files.count) object(s) from s3://\(origin.bucket)/\(prefix) to \(destination)")
            case (nil, nil, _):
                throw ValidationError("one side of cp must be s3://bucket/key")
            case (_?, _?, _):
                throw ValidationError("copying between two S3 locations is not supported yet")
            }
        }
    }
}

/// One progress line on standard error: redrawn in place on a terminal (about 20 times a
/// second at most, as the library throttles), a single summary line otherwise.
final class ProgressLine: @unchecked Sendable {
    private let enabled: Bool
    private let live = isatty(STDERR_FILENO) == 1
    private let lock = NSLock()
    private var last: S3TransferProgress?

    init(enabled: Bool) { self.enabled = enabled }

    func show(_ p: S3TransferProgress) {
        guard enabled else { return }
        lock.lock()
        last = p
        lock.unlock()
        if live { FileHandle.standardError.write(Data(("\r" + Self.format(p) + "   ").utf8)) }
    }

    func end() {
        lock.lock()
        let p = last
        lock.unlock()
        guard enabled, let p else { return }
        FileHandle.standardError.write(Data(((live ? "\r" : "") + Self.format(p) + "\n").utf8))
    }

    static func format(_ p: S3TransferProgress) -> String {
        func mib(_ b: Int64) -> String { String(format: "%.1f MiB", Double(b) / 1_048_576) }
        var s = mib(p.bytesDone)
        if let total = p.totalBytes, total > 0 {
            s += " / " + mib(total) + String(format: " (%.0f%%)", Double(p.bytesDone) * 100 / Double(total))
        }
        s += String(format: "  %.1f MiB/s  %d part(s) or file(s) done", p.bytesPerSecond / 1_048_576, p.partsDone)
        return s
    }
}

struct Remove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete an object.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "s3://bucket/key") var location: S3Location

    func run() async throws {
        let client = try connection.client()
        let key = try location.requireKey()
        try await perform {
            try await S3Bucket.unchecked(name: location.bucket, client: client).deleteObject(key: key)
            say("delete: \(location)")
        }
    }
}

struct Cat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cat", abstract: "Write an object to standard output.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "s3://bucket/key") var location: S3Location

    func run() async throws {
        let client = try connection.client()
        let key = try location.requireKey()
        try await perform {
            try await S3Bucket.unchecked(name: location.bucket, client: client).downloadObject(key: key, toDescriptor: STDOUT_FILENO)
        }
    }
}

struct URLCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "url", abstract: "Print an object's URL (optionally presigned).")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "s3://bucket/key") var location: S3Location
    @Option(help: "Presign for this many seconds (at most 604800).") var presign: Int?

    func run() async throws {
        let client = try connection.client()
        let key = try location.requireKey()
        try await perform {
            if let seconds = presign {
                say(try await client.presignedURL(bucket: location.bucket, key: key, expiresIn: seconds))
            } else {
                say(S3Bucket.unchecked(name: location.bucket, client: client).url(forKey: key))
            }
        }
    }
}

struct Lifetime: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lifetime", abstract: "Expire a bucket's objects DAYS days after they are written (0 removes the rule).")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "s3://bucket") var location: S3Location
    @Argument(help: "Days; 0 or less removes the expiry rule.") var days: Int

    func run() async throws {
        let client = try connection.client()
        try await perform {
            try await S3Bucket.unchecked(name: location.bucket, client: client).setLifetimeInDays(days)
            say(days > 0 ? "lifetime: objects in \(location) expire after \(days) day(s)" : "lifetime: expiry rule removed from \(location)")
        }
    }
}

struct Public: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "public", abstract: "Allow anyone to read and list a bucket.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "s3://bucket") var location: S3Location

    func run() async throws {
        let client = try connection.client()
        try await perform {
            try await S3Bucket.unchecked(name: location.bucket, client: client).allowPublicAccess()
            say("public: \(location) is now publicly readable")
        }
    }
}
