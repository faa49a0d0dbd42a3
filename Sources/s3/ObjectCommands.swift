import ArgumentParser
import Foundation
import S3

struct Remove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Delete an object, everything under a prefix (--recursive), or the objects a wildcard matches.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "s3://bucket/key, s3://bucket/prefix/ with --recursive, or s3://bucket/logs/2024-* (quoted).") var location: S3Location
    @Flag(name: .shortAndLong, help: "Delete every object under the prefix.") var recursive = false
    @Flag(help: "Print what would be deleted, delete nothing.") var dryRun = false
    @Option(help: "Delete this version of the object for good (one key only).") var versionId: String?
    @Flag(help: "With --version-id: delete a version under Object Lock governance retention (needs s3:BypassGovernanceRetention).")
    var bypassGovernance = false

    func validate() throws {
        if versionId != nil && (recursive || location.hasWildcard) { throw ValidationError("--version-id takes one key, not --recursive or a wildcard") }
        if bypassGovernance && versionId == nil { throw ValidationError("--bypass-governance goes with --version-id (a retention holds a version)") }
    }

    func run() async throws {
        let client = try connection.client()
        let printer = output.printer()
        let (location, recursive, dryRun, version, bypass) = (location, recursive, dryRun, versionId, bypassGovernance)
        if !recursive && !location.hasWildcard { _ = try location.requireKey() }
        try await perform(printer) {
            let bucket = location.bucket(client)
            guard recursive || location.hasWildcard else {
                let key = try location.requireKey()
                if !dryRun { try await bucket.deleteObject(key: key, versionID: version, bypassGovernanceRetention: bypass) }
                printer.result((dryRun ? "(dryrun) " : "") + "delete: \(location)" + (version.map { " (version \($0))" } ?? ""),
                               ["op": "delete", "key": key, "versionId": version, "dryRun": dryRun ? true : nil])
                return
            }
            let keys = location.matchingObjects(client).map(\.key).filter { key in
                printer.result((dryRun ? "(dryrun) " : "") + "delete: s3://\(location.bucket)/\(key)",
                               ["op": "delete", "key": key, "dryRun": dryRun ? true : nil], detail: true)
                return !dryRun
            }
            do {
                let n = try await bucket.deleteObjects(keys: keys)
                if !dryRun { printer.result("deleted \(n) object(s)", ["op": "summary", "deleted": n]) }
            } catch let e as S3Error where e.code == .partialFailure {
                for f in e.failures { printer.failure(S3Error(code: S3Error.Code(rawValue: f.code), message: f.message), ["key": f.key]) }
                throw ExitCode(Exit.partial)
            }
        }
    }
}

struct Cat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cat", abstract: "Write an object to standard output.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "s3://bucket/key") var location: S3Location

    func run() async throws {
        let client = try connection.client()
        let key = try location.requireKey()
        let location = location
        try await perform(output.printer()) {
            try await location.bucket(client).downloadObject(key: key, toDescriptor: STDOUT_FILENO)
        }
    }
}

struct DiskUsage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "du", abstract: "Count the objects and bytes under a prefix (or matching a wildcard).")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "s3://bucket[/prefix]") var location: S3Location

    func run() async throws {
        let client = try connection.client()
        let printer = output.printer()
        let location = location
        try await perform(printer) {
            var objects = 0, bytes: Int64 = 0
            for try await o in location.matchingObjects(client) {
                objects += 1
                bytes += try await o.size
            }
            printer.result("\(printer.size(bytes))  \(objects) object(s)  \(location)",
                           ["path": location.description, "objects": objects, "bytes": bytes])
        }
    }
}

struct Stat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stat", abstract: "Show what S3 keeps about an object: size, ETag, time, type, metadata, checksum, properties.",
                                                    aliases: ["head"])
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "s3://bucket/key") var location: S3Location
    @Option(help: "A version of the object.") var versionId: String?

    func run() async throws {
        let client = try connection.client()
        let printer = output.printer()
        let key = try location.requireKey()
        let (location, version) = (location, versionId)
        try await perform(printer) {
            let a = try await client.headObject(bucket: location.bucket, key: key, versionID: version)
            let p = a.properties
            let fields: [(String, Any?)] = [
                ("key", key), ("size", a.size), ("etag", a.eTag), ("lastModified", a.lastModified), ("contentType", a.contentType),
                ("versionId", a.versionID), ("checksum", a.checksum.map { "\($0)" }), ("storageClass", p.storageClass),
                ("cacheControl", p.cacheControl), ("contentDisposition", p.contentDisposition), ("contentEncoding", p.contentEncoding),
                ("contentLanguage", p.contentLanguage), ("expires", p.expires), ("encryption", p.encryption.map { "\($0)" }),
                ("customerKey", a.usesCustomerKey ? true : nil), ("tagCount", a.tagCount),
                ("objectLockMode", p.retention?.mode.rawValue), ("objectLockRetainUntil", p.retention?.retainUntil),
                ("legalHold", p.legalHold.map { $0 ? "ON" : "OFF" }),
                ("metadata", a.metadata.isEmpty ? nil : a.metadata),
            ]
            printer.result(printer.lines(fields).joined(separator: "\n"), Dictionary(uniqueKeysWithValues: fields))
        }
    }
}

struct Presign: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "presign",
        abstract: "Print a presigned URL for an object (GET, or PUT to let someone upload), or with --post a browser upload form's URL and fields.",
        discussion: """
            With --post, the output is the URL to post a multipart/form-data form to and its fields, in order; \
            the file goes last, as the field "file". For example:
              s3 presign --post --key-prefix --content-length-range 1-10485760 --content-type-prefix image/ s3://bucket/photos/
            """)
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "s3://bucket/key (with --key-prefix, s3://bucket/prefix)") var location: S3Location
    @Option(help: "Seconds the URL or form works (1 to 604800).") var expires = 3600
    @Flag(help: "A URL for uploading (PUT) instead of reading.") var put = false
    @Flag(help: "A browser upload form (POST policy) instead of a URL.") var post = false
    @Flag(help: "With --post: the form may upload any key under the given prefix (the file's name completes it).") var keyPrefix = false
    @Option(help: ArgumentHelp("With --post: the file's size must lie in this range of bytes.", valueName: "min-max"))
    var contentLengthRange: String?
    @Option(help: "With --post: the object's Content-Type.") var contentType: String?
    @Option(help: "With --post: the Content-Type must start with this (the page sets it).") var contentTypePrefix: String?
    @Option(help: ArgumentHelp("With --post: user metadata the form sets (repeatable).", valueName: "name=value")) var metadata: [String] = []
    @Option(help: "With --post: the status S3 answers a successful upload with (200, 201 or 204).") var successActionStatus: Int?
    @Option(help: "With --post: where S3 sends the browser after a successful upload.") var successActionRedirect: String?

    func postConditions() throws -> [S3PostCondition] {
        var conditions: [S3PostCondition] = []
        if let range = contentLengthRange {
            let parts = range.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 2, let low = Int64(parts[0]), let high = Int64(parts[1]), low >= 0, high >= low else {
                throw ValidationError("--content-length-range takes min-max in bytes (for example 1-10485760), got \(range)")
            }
            conditions.append(.contentLength(low...high))
        }
        if let contentType { conditions.append(.contentType(contentType)) }
        if let contentTypePrefix { conditions.append(.contentType(startingWith: contentTypePrefix)) }
        for m in metadata {
            guard let eq = m.firstIndex(of: "="), eq != m.startIndex else { throw ValidationError("--metadata takes name=value, got \(m)") }
            conditions.append(.metadata(String(m[..<eq]), String(m[m.index(after: eq)...])))
        }
        if let successActionStatus { conditions.append(.successActionStatus(successActionStatus)) }
        if let successActionRedirect { conditions.append(.successActionRedirect(successActionRedirect)) }
        return conditions
    }

    func validate() throws {
        if put && post { throw ValidationError("--put and --post cannot be used together") }
        let postOnly = keyPrefix || contentLengthRange != nil || contentType != nil || contentTypePrefix != nil || !metadata.isEmpty
            || successActionStatus != nil || successActionRedirect != nil
        if postOnly && !post { throw ValidationError("--key-prefix, --content-length-range, --content-type, --content-type-prefix, --metadata and --success-action-* need --post") }
    }

    func run() async throws {
        let client = try connection.client()
        let printer = output.printer()
        let (location, expires) = (location, expires)
        if post {
            let key: S3PostKey = keyPrefix ? .prefix(location.key ?? "") : .exactly(try location.requireKey())
            if keyPrefix && location.hasWildcard { throw ValidationError("\(location): wildcards are not taken here") }
            let conditions = try postConditions()
            try await perform(printer) {
                let form = try await client.presignedPost(bucket: location.bucket, key: key, conditions: conditions, expiresIn: expires)
                let text = (["POST \(form.url)"] + form.fields.map { "\($0.name)=\($0.value)" }).joined(separator: "\n")
                printer.result(text, ["url": form.url, "method": "POST", "expires": expires,
                                      "fields": Dictionary(form.fields.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })])
            }
            return
        }
        let key = try location.requireKey()
        let method = put ? "PUT" : "GET"
        try await perform(printer) {
            let url = try await client.presignedURL(method: method, bucket: location.bucket, key: key, expiresIn: expires)
            printer.result(url, ["url": url, "method": method, "expires": expires])
        }
    }
}

struct URLCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "url", abstract: "Print an object's URL (optionally presigned: see also presign).")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "s3://bucket/key") var location: S3Location
    @Option(help: "Presign for this many seconds (at most 604800).") var presign: Int?

    func run() async throws {
        let client = try connection.client()
        let printer = output.printer()
        let key = try location.requireKey()
        let (location, presign) = (location, presign)
        try await perform(printer) {
            let url = if let seconds = presign {
                try await client.presignedURL(bucket: location.bucket, key: key, expiresIn: seconds)
            } else {
                location.bucket(client).url(forKey: key)
            }
            printer.result(url, ["url": url])
        }
    }
}

struct ObjectAttributes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attributes",
        abstract: "Show an object's ETag, checksum, parts (each with its size and checksum), storage class and size, without its bytes.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "s3://bucket/key") var location: S3Location
    @Option(help: "A version of the object.") var versionId: String?

    func run() async throws {
        let client = try connection.client()
        let printer = output.printer()
        let key = try location.requireKey()
        let (bucket, version) = (location.bucket, versionId)
        try await perform(printer) {
            // Every page of parts.
            var a = try await client.objectAttributes(bucket: bucket, key: key, versionID: version)
            while let marker = a.nextPartNumberMarker {
                let next = try await client.objectAttributes(bucket: bucket, key: key, versionID: version, partNumberMarker: marker)
                a.parts += next.parts
                a.nextPartNumberMarker = next.nextPartNumberMarker.flatMap { $0 > marker ? $0 : nil }
            }
            let parts: [[String: Any]] = a.parts.map { p in
                var d: [String: Any] = ["partNumber": p.partNumber, "size": NSNumber(value: p.size)]
                if let c = p.checksum { d["checksum"] = "\(c)" }
                return d
            }
            let fields: [(String, Any?)] = [
                ("key", key), ("size", a.size), ("etag", a.eTag), ("checksum", a.checksum.map { "\($0)" }), ("storageClass", a.storageClass),
                ("lastModified", a.lastModified), ("versionId", a.versionID), ("partsCount", a.partsCount), ("parts", parts.isEmpty ? nil : parts),
            ]
            let lines = printer.lines(fields.filter { $0.0 != "parts" })
                + a.parts.map { "part \($0.partNumber): \(printer.size($0.size))" + ($0.checksum.map { "  \($0)" } ?? "") }
            printer.result(lines.joined(separator: "\n"), Dictionary(uniqueKeysWithValues: fields))
        }
    }
}
