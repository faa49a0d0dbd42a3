import ArgumentParser
import Foundation
import S3

struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List buckets, or objects under s3://bucket/prefix.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "s3://bucket[/prefix]; without it, the buckets are listed.") var location: S3Location?
    @Flag(name: .shortAndLong, help: "List every key below the prefix instead of one level.") var recursive = false

    func run() async throws {
        let client = try connection.client()
        let printer = output.printer()
        let (location, recursive) = (location, recursive)
        try await perform(printer) {
            guard let location else {
                for try await bucket in S3Bucket.listBuckets(client: client) {
                    printer.result(bucket.name, ["bucket": bucket.name])
                }
                return
            }
            let bucket = location.bucket(client)
            let formatter = ISO8601DateFormatter()
            func show(_ o: S3Object) async throws {
                let (size, date) = (try await o.size, try await o.lastModified)
                printer.result("\(formatter.string(from: date))  \(printer.size(size).leftPad(12))  \(o.key)",
                               ["key": o.key, "size": size, "lastModified": date])
            }
            if location.hasWildcard {
                for try await o in location.matchingObjects(client) { try await show(o) }
            } else if recursive {
                for try await o in bucket.findObjects(prefix: location.key) { try await show(o) }
            } else {
                for try await entry in bucket.findEntries(prefix: location.key, delimiter: "/") {
                    switch entry {
                    case .commonPrefix(let p): printer.result("\("PRE".leftPad(34))  \(p)", ["prefix": p])
                    case .object(let o): try await show(o)
                    }
                }
            }
        }
    }
}

struct MakeBucket: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "mb", abstract: "Create a bucket (no error if you own it already).")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "s3://bucket") var location: S3Location
    @Option(help: "Expire objects this many days after they are written.") var lifetimeDays: Int?
    @Flag(help: "Allow public reads and listing.") var `public` = false
    @Flag(help: "With S3 Object Lock (and so versioning): see s3 lock, s3 retention, s3 legal-hold.") var objectLock = false

    func run() async throws {
        let client = try connection.client()
        let printer = output.printer()
        let (location, days, open, lock) = (location, lifetimeDays, self.public, objectLock)
        try await perform(printer) {
            _ = try await S3Bucket.create(name: location.bucket, client: client, lifetimeInDays: days, allowPublicAccess: open,
                                          objectLockEnabled: lock)
            printer.result("make_bucket: \(location)", ["op": "make_bucket", "bucket": location.bucket])
        }
    }
}

struct RemoveBucket: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rb", abstract: "Delete a bucket.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "s3://bucket") var location: S3Location
    @Flag(help: "Delete every object, version and unfinished upload first.") var force = false

    func run() async throws {
        let client = try connection.client()
        let printer = output.printer()
        let (location, force) = (location, force)
        try await perform(printer) {
            try await location.bucket(client).deleteBucket(force: force)
            printer.result("remove_bucket: \(location)", ["op": "remove_bucket", "bucket": location.bucket])
        }
    }
}

struct Lifetime: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lifetime", abstract: "Expire a bucket's objects DAYS days after they are written (0 removes the rule).")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "s3://bucket") var location: S3Location
    @Argument(help: "Days; 0 or less removes the expiry rule.") var days: Int

    func run() async throws {
        let client = try connection.client()
        let printer = output.printer()
        let (location, days) = (location, days)
        try await perform(printer) {
            try await location.bucket(client).setLifetimeInDays(days)
            printer.result(days > 0 ? "lifetime: objects in \(location) expire after \(days) day(s)" : "lifetime: expiry rule removed from \(location)",
                           ["op": "lifetime", "bucket": location.bucket, "days": max(days, 0)])
        }
    }
}

struct Public: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "public", abstract: "Allow anyone to read and list a bucket.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "s3://bucket") var location: S3Location

    func run() async throws {
        let client = try connection.client()
        let printer = output.printer()
        let location = location
        try await perform(printer) {
            try await location.bucket(client).allowPublicAccess()
            printer.result("public: \(location) is now publicly readable", ["op": "public", "bucket": location.bucket])
        }
    }
}
