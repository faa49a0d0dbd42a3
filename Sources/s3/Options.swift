import ArgumentParser
import Foundation
import Logging
import S3

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

    @Option(help: ArgumentHelp("Sign with SigV4a, valid in these regions (comma-separated, or *), as multi-region access points require.",
                               valueName: "regions"))
    var sigv4a: String?

    @Option(help: "A PEM file of CA certificates to trust instead of the system's (also AWS_CA_BUNDLE).")
    var caBundle: String?

    @Flag(help: "Do not verify the server's TLS certificate. Dangerous: anyone on the path can read and change the traffic.")
    var noVerifySSL = false

    @Flag(name: [.customShort("v"), .long], help: "Log each request (operation, status, request ID, duration), retries and credential refreshes to standard error.")
    var verbose = false

    @Flag(help: "Log as --verbose does, and each request as it is sent (swift-log's trace level).")
    var debug = false

    func client() throws -> S3Client {
        if let shared = SharedRun.client { return shared }
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
        if let sigv4a {
            let regions = sigv4a.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard !regions.contains(where: \.isEmpty) else { throw ValidationError("--sigv4a takes region names separated by commas, or *") }
            configuration.signatureVersion = .v4a(regionSet: regions)
        }
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


/// How results are shown, shared by every subcommand.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print one JSON object per line on standard output (results and errors) instead of text.")
    var json = false

    @Flag(name: .shortAndLong, help: "Print no progress and no per-file lines; errors and summaries only.")
    var quiet = false

    @Flag(name: [.customShort("H"), .customLong("human")], help: "Sizes in KiB, MiB, GiB (powers of 1,024).")
    var human = false

    func printer() -> Printer { Printer(json: json || SharedRun.json, quiet: quiet, human: human) }
}

/// What `s3 run` shares with the commands it runs: one client (one connection pool, one
/// retry quota), one limit on parts in flight, and the output mode.
enum SharedRun {
    @TaskLocal static var client: S3Client?
    @TaskLocal static var limiter: S3TransferLimiter?
    @TaskLocal static var json = false
    @TaskLocal static var nested = false
    /// The words of the line being run (for options whose order matters).
    @TaskLocal static var arguments: [String]?
}
