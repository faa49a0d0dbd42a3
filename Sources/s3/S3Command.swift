// The `s3` command-line tool: a thin layer over the S3 library.
import ArgumentParser
import Foundation
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

        Keys may hold wildcards (quote them): * (any characters, / included), ? (one), [abc], [!abc]; \
        the listing starts at the part before the first wildcard.

        Exit status: 0 success; 1 failure; 2 partial (some files or objects failed or were skipped); \
        3 no such bucket or key; 64 bad usage; 130 interrupted (Ctrl-C: transfers are cancelled, \
        multipart uploads aborted, no partial file left).

        Shell completions: s3 --generate-completion-script bash|zsh|fish.
        """,
        subcommands: [List.self, MakeBucket.self, RemoveBucket.self, Copy.self, Move.self, Sync.self, Remove.self, Cat.self,
                      DiskUsage.self, Stat.self, ObjectAttributes.self, Presign.self, URLCommand.self, Lifetime.self, Public.self,
                      Policy.self, CORS.self, Ownership.self, Lock.self, Retention.self, LegalHold.self, Run.self]
    )
}

/// `s3://bucket[/key]`, the key possibly holding wildcards.
struct S3Location: ExpressibleByArgument, CustomStringConvertible, Sendable {
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
        guard !hasWildcard else { throw ValidationError("\(self): wildcards are not taken here") }
        return key
    }

    /// Whether the key holds `*`, `?` or `[`.
    var hasWildcard: Bool { key.map { $0.contains { "*?[".contains($0) } } ?? false }

    /// The key as a folder: `""`, or ending with `/`.
    var folder: String {
        guard let key, !key.isEmpty else { return "" }
        return key.hasSuffix("/") ? key : key + "/"
    }

    /// For a wildcard key: the folder the matches are taken relative to (up to the last `/`
    /// before the first wildcard) and the pattern relative to it.
    var wildcardParts: (folder: String, pattern: String) {
        let key = self.key ?? ""
        let literal = S3SyncFilter.literalPrefix(of: key)
        let folder = literal.lastIndex(of: "/").map { String(key[...$0]) } ?? ""
        return (folder, String(key.dropFirst(folder.count)))
    }

    func bucket(_ client: S3Client) -> S3Bucket { S3Bucket.unchecked(name: bucket, client: client) }

    /// The objects this location names: with a wildcard, those it matches (listed from the
    /// pattern's literal beginning); otherwise every object under the key as a prefix.
    func matchingObjects(_ client: S3Client) -> AsyncFilterSequence<S3ObjectSequence> {
        let (folder, pattern) = hasWildcard ? wildcardParts : (key ?? "", "")
        let listed = folder + S3SyncFilter.literalPrefix(of: pattern)
        return bucket(client).findObjects(prefix: listed.isEmpty ? nil : listed).filter { o in
            pattern.isEmpty || S3SyncFilter.matches(String(o.key.dropFirst(folder.count)), pattern: pattern)
        }
    }
}

extension String {
    func leftPad(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
