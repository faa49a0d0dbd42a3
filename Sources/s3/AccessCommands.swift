import ArgumentParser
import Foundation
import S3

// Who may do what with a bucket, and for how long its versions are kept: `s3 policy`,
// `s3 cors`, `s3 ownership`, `s3 lock`, `s3 retention`, `s3 legal-hold`. Each shows the
// setting without options, and with --json prints it in the AWS CLI's shape.

/// The contents of FILE, or standard input for `-`.
func readInput(_ path: String) throws -> Data {
    if path == "-" { return FileHandle.standardInput.readDataToEndOfFile() }
    guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
    return data
}

struct Policy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "Show, set or delete a bucket's policy (a JSON document).",
        discussion: "Without options the policy is printed as the store keeps it; \"(no policy)\" (with --json, \"policy\": null) when there is none.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "s3://bucket") var location: S3Location
    @Option(help: ArgumentHelp("Set the policy from this JSON file (- for standard input).", valueName: "file")) var set: String?
    @Flag(help: "Delete the policy.") var delete = false

    func validate() throws {
        if set != nil && delete { throw ValidationError("--set and --delete cannot go together") }
        if location.key != nil { throw ValidationError("\(location) names an object; a policy belongs to a bucket (s3://bucket)") }
    }

    func run() async throws {
        let client = try connection.client()
        let printer = output.printer()
        let bucket = location.bucket
        let text = try set.map { String(decoding: try readInput($0), as: UTF8.self) }
        let delete = delete
        try await perform(printer) {
            if let text {
                try await client.setBucketPolicy(bucket: bucket, json: text)
                printer.result("policy: set on s3://\(bucket)", ["op": "policy", "bucket": bucket, "set": true])
            } else if delete {
                try await client.deleteBucketPolicy(bucket: bucket)
                printer.result("policy: deleted from s3://\(bucket)", ["op": "policy", "bucket": bucket, "deleted": true])
            } else {
                let policy = try await client.bucketPolicy(bucket: bucket)
                // As JSON when it parses (it does, from S3); the text as the store gave it otherwise.
                var shown: Any = NSNull()
                if let policy { shown = (try? JSONSerialization.jsonObject(with: Data(policy.utf8))) ?? policy }
                printer.result(policy ?? "(no policy)", ["bucket": bucket, "policy": shown])
            }
        }
    }
}

struct CORS: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cors", abstract: "Show, set or delete a bucket's CORS rules.",
        discussion: """
            --set takes the JSON of `aws s3api put-bucket-cors` ({"CORSRules": [...]}, or the list alone). For example:
              {"CORSRules": [{"AllowedOrigins": ["https://app.example.com"], "AllowedMethods": ["GET", "PUT", "POST"],
                              "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 3000}]}
            """)
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "s3://bucket") var location: S3Location
    @Option(help: ArgumentHelp("Set the rules from this JSON file (- for standard input).", valueName: "file")) var set: String?
    @Flag(help: "Delete every rule.") var delete = false

    struct File: Codable { var CORSRules: [S3CORSRule] }

    static func rules(from data: Data) throws -> [S3CORSRule] {
        do {
            if let file = try? JSONDecoder().decode(File.self, from: data) { return file.CORSRules }
            return try JSONDecoder().decode([S3CORSRule].self, from: data)
        } catch {
            throw ValidationError("the CORS rules are not {\"CORSRules\": [...]} with AllowedMethods (GET, PUT, POST, DELETE, HEAD) "
                                  + "and AllowedOrigins in each rule: \(error)")
        }
    }

    func validate() throws {
        if set != nil && delete { throw ValidationError("--set and --delete cannot go together") }
        if location.key != nil { throw ValidationError("\(location) names an object; CORS rules belong to a bucket (s3://bucket)") }
    }

    func run() async throws {
        let client = try connection.client()
        let printer = output.printer()
        let bucket = location.bucket
        let rules = try set.map { try Self.rules(from: try readInput($0)) }
        if rules?.isEmpty == true { throw ValidationError("no CORS rules in the file (to remove them all, use --delete)") }
        let delete = delete
        try await perform(printer) {
            if let rules {
                try await client.setCORSRules(bucket: bucket, rules)
                printer.result("cors: \(rules.count) rule(s) set on s3://\(bucket)", ["op": "cors", "bucket": bucket, "rules": rules.count])
            } else if delete {
                try await client.setCORSRules(bucket: bucket, [])
                printer.result("cors: rules deleted from s3://\(bucket)", ["op": "cors", "bucket": bucket, "deleted": true])
            } else {
                let rules = try await client.corsRules(bucket: bucket)
                let data = try JSONEncoder().encode(File(CORSRules: rules))
                let object = try JSONSerialization.jsonObject(with: data)
                let text = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
                printer.result(String(decoding: text, as: UTF8.self), ["bucket": bucket, "CORSRules": (object as? [String: Any])?["CORSRules"]])
            }
        }
    }
}

/// An ownership setting as typed: its S3 name, in any case.
func parseOwnership(_ text: String) throws -> S3ObjectOwnership {
    guard let o = S3ObjectOwnership.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() }) else {
        throw ValidationError("\(text) is not BucketOwnerEnforced, BucketOwnerPreferred or ObjectWriter")
    }
    return o
}

struct Ownership: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ownership", abstract: "Show, set or delete a bucket's object ownership controls.",
        discussion: "BucketOwnerEnforced (ACLs off: policies alone decide), BucketOwnerPreferred or ObjectWriter.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "s3://bucket") var location: S3Location
    @Option(help: "Set: BucketOwnerEnforced, BucketOwnerPreferred or ObjectWriter.") var set: String?
    @Flag(help: "Delete the ownership controls.") var delete = false

    func validate() throws {
        if set != nil && delete { throw ValidationError("--set and --delete cannot go together") }
        if let set { _ = try parseOwnership(set) }
        if location.key != nil { throw ValidationError("\(location) names an object; ownership controls belong to a bucket (s3://bucket)") }
    }

    func run() async throws {
        let client = try connection.client()
        let printer = output.printer()
        let (bucket, set, delete) = (location.bucket, try set.map(parseOwnership), delete)
        try await perform(printer) {
            if set != nil || delete {
                try await client.setObjectOwnership(bucket: bucket, set)
                printer.result("ownership: \(set?.rawValue ?? "controls deleted") on s3://\(bucket)",
                               ["op": "ownership", "bucket": bucket, "ObjectOwnership": set?.rawValue, "deleted": delete ? true : nil])
            } else {
                let ownership = try await client.objectOwnership(bucket: bucket)
                printer.result(ownership?.rawValue ?? "(none)", ["bucket": bucket, "ObjectOwnership": ownership?.rawValue])
            }
        }
    }
}

/// A retention mode as typed: governance or compliance, in any case.
func parseMode(_ text: String) throws -> S3RetentionMode {
    guard let mode = S3RetentionMode(rawValue: text.uppercased()) else { throw ValidationError("the mode is governance or compliance, not \(text)") }
    return mode
}

/// A date for a retention: ISO 8601 (`2027-01-31T12:00:00Z`, or a day `2027-01-31`, midnight UTC).
func parseRetentionDate(_ text: String) throws -> Date {
    let full = ISO8601DateFormatter()
    if let d = full.date(from: text) { return d }
    let day = ISO8601DateFormatter()
    day.formatOptions = [.withFullDate]
    if let d = day.date(from: text) { return d }
    throw ValidationError("\(text) is not a date like 2027-01-31T12:00:00Z or 2027-01-31")
}

func retentionFields(_ r: S3ObjectRetention?) -> [String: Any]? {
    r.map { ["Mode": $0.mode.rawValue, "RetainUntilDate": ISO8601DateFormatter().string(from: $0.retainUntil)] }
}

struct Lock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock", abstract: "Show or set a bucket's Object Lock default retention.",
        discussion: """
            A bucket gets Object Lock when it is made (s3 mb --object-lock). Then, for example:
              s3 lock s3://records --mode compliance --days 365     every new version kept a year
              s3 lock s3://records --no-default                     new versions unlocked unless written with a retention
            """)
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "s3://bucket") var location: S3Location
    @Option(help: "The default retention's mode: governance or compliance.") var mode: String?
    @Option(help: "The default retention in days.") var days: Int?
    @Option(help: "The default retention in years.") var years: Int?
    @Flag(help: "Remove the default retention.") var noDefault = false

    func validate() throws {
        if location.key != nil { throw ValidationError("\(location) names an object; use s3 retention for one object") }
        if noDefault && (mode != nil || days != nil || years != nil) { throw ValidationError("--no-default takes no --mode, --days or --years") }
        if days != nil && years != nil { throw ValidationError("--days or --years, not both") }
        if (mode == nil) != (days == nil && years == nil) { throw ValidationError("a default retention needs --mode and --days or --years") }
        if let mode { _ = try parseMode(mode) }
    }

    func run() async throws {
        let client = try connection.client()
        let printer = output.printer()
        let bucket = location.bucket
        let rule = try mode.map { S3DefaultRetention(mode: try parseMode($0), period: days.map { .days($0) } ?? .years(years ?? 0)) }
        let change = rule != nil || noDefault
        try await perform(printer) {
            if change { try await client.setObjectLockConfiguration(bucket: bucket, defaultRetention: rule) }
            let configuration = try await client.objectLockConfiguration(bucket: bucket)
            var fields: [String: Any?] = ["bucket": bucket, "ObjectLockEnabled": configuration.enabled ? "Enabled" : nil]
            var text = configuration.enabled ? "Object Lock: enabled" : "Object Lock: not enabled"
            if let d = configuration.defaultRetention {
                let (unit, n): (String, Int) = switch d.period {
                case .days(let n): ("Days", n)
                case .years(let n): ("Years", n)
                }
                fields["DefaultRetention"] = ["Mode": d.mode.rawValue, unit: n] as [String: Any]
                text += ", default retention \(d.mode.rawValue) \(n) \(unit.lowercased())"
            } else if configuration.enabled {
                text += ", no default retention"
            }
            printer.result(text, fields)
        }
    }
}

struct Retention: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention", abstract: "Show or set the Object Lock retention of an object version.",
        discussion: """
            For example:  s3 retention s3://records/2026/ledger.csv --mode governance --until 2030-01-01
            Shortening a governance retention needs --bypass-governance; a compliance one cannot be shortened.
            """)
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "s3://bucket/key") var location: S3Location
    @Option(help: "The version (default: the current one).") var versionId: String?
    @Option(help: "Set: governance or compliance.") var mode: String?
    @Option(help: "Set: keep the version until this date (2027-01-31T12:00:00Z, or 2027-01-31).") var until: String?
    @Flag(help: "Allow shortening a governance retention (needs s3:BypassGovernanceRetention).") var bypassGovernance = false

    func validate() throws {
        _ = try location.requireKey()
        if (mode == nil) != (until == nil) { throw ValidationError("setting a retention takes both --mode and --until") }
        if let until { _ = try parseRetentionDate(until) }
        if let mode { _ = try parseMode(mode) }
    }

    func run() async throws {
        let client = try connection.client()
        let printer = output.printer()
        let (bucket, key, version, bypass) = (location.bucket, try location.requireKey(), versionId, bypassGovernance)
        let retention = try mode.map { S3ObjectRetention(mode: try parseMode($0), retainUntil: try parseRetentionDate(until ?? "")) }
        try await perform(printer) {
            if let retention {
                try await client.setObjectRetention(bucket: bucket, key: key, versionID: version, retention, bypassGovernanceRetention: bypass)
            }
            // Read back from HEAD: every store reports it there (moto lacks GetObjectRetention).
            let head = try await client.headObject(bucket: bucket, key: key, versionID: version)
            let r = head.properties.retention
            printer.result(r.map { "\($0.mode.rawValue) until \(ISO8601DateFormatter().string(from: $0.retainUntil))" } ?? "(no retention)",
                           ["bucket": bucket, "key": key, "versionId": head.versionID, "Retention": retentionFields(r)])
        }
    }
}

struct LegalHold: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "legal-hold", abstract: "Show, put or lift a legal hold on an object version.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "s3://bucket/key") var location: S3Location
    @Argument(help: "on or off (without it: show)") var status: String?
    @Option(help: "The version (default: the current one).") var versionId: String?

    func validate() throws {
        _ = try location.requireKey()
        if let status, !["on", "off"].contains(status.lowercased()) { throw ValidationError("the status is on or off, not \(status)") }
    }

    func run() async throws {
        let client = try connection.client()
        let printer = output.printer()
        let (bucket, key, version) = (location.bucket, try location.requireKey(), versionId)
        let set = status.map { $0.lowercased() == "on" }
        try await perform(printer) {
            if let set { try await client.setObjectLegalHold(bucket: bucket, key: key, versionID: version, set) }
            let on = try await client.objectLegalHold(bucket: bucket, key: key, versionID: version)
            printer.result("legal hold: \(on ? "ON" : "OFF")", ["bucket": bucket, "key": key, "versionId": version, "LegalHold": on ? "ON" : "OFF"])
        }
    }
}
