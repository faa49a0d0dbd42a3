import Foundation
import S3
import Testing

struct MissingServer: Error, CustomStringConvertible {
    let variable: String
    var description: String { "\(variable) is not set: run the suite with scripts/test, which starts moto and SeaweedFS on 127.0.0.1" }
}

/// A real S3 server the suites run against, both started by scripts/test on 127.0.0.1: moto
/// (what boto3 users test with; checks no signature or checksum) and SeaweedFS (checks every
/// SigV4 signature and `x-amz-checksum-*`, as a production store does). Every test that takes
/// a `TestServer` runs once against each; what a server lacks is stated where a test needs it.
struct TestServer: Sendable, CustomTestStringConvertible, Hashable {
    enum Kind: String, Sendable { case moto, seaweedfs }
    let kind: Kind

    static let moto = TestServer(kind: .moto)
    static let seaweedfs = TestServer(kind: .seaweedfs)
    /// The servers every parameterised test runs against.
    static let all: [TestServer] = [.moto, .seaweedfs]

    var testDescription: String { kind.rawValue }

    /// The server of the running test (set by ``run(_:)``); moto outside a parameterised test.
    @TaskLocal static var current: TestServer = .moto
    /// Whether the running test reaches the fault proxy over TLS (set by ``run(overTLS:_:)``):
    /// through nginx, the TLS terminator scripts/test puts in front of every server and proxy.
    @TaskLocal static var overTLS = false

    private func variable(_ moto: String, _ seaweed: String) throws -> String {
        let name = kind == .moto ? moto : seaweed
        guard let url = ProcessInfo.processInfo.environment[name], !url.isEmpty else { throw MissingServer(variable: name) }
        return url
    }

    /// The server's S3 endpoint.
    func endpoint() throws -> String { try variable("S3_TEST_ENDPOINT", "S3_TEST_SEAWEEDFS_ENDPOINT") }
    /// The fault-injecting proxy in front of it (Tests/Fixtures/fault_proxy.py); over TLS
    /// (``overTLS``), nginx terminating TLS in front of that proxy.
    func proxyEndpoint() throws -> String {
        Self.overTLS ? try variable("S3_TEST_TLS_PROXY_ENDPOINT", "S3_TEST_SEAWEEDFS_TLS_PROXY_ENDPOINT") : try faultControlEndpoint()
    }
    /// The fault proxy itself, over plain HTTP: where its rules are set and its log read.
    func faultControlEndpoint() throws -> String { try variable("S3_TEST_PROXY_ENDPOINT", "S3_TEST_SEAWEEDFS_PROXY_ENDPOINT") }
    /// The server behind nginx terminating TLS (a certificate of the test CA, ``testCAPath()``).
    func tlsEndpoint() throws -> String { try variable("S3_TEST_TLS_ENDPOINT", "S3_TEST_SEAWEEDFS_TLS_ENDPOINT") }

    // What a server lacks. Each is used by the tests that meet it, which say so.

    /// moto stores any browser-form POST: it checks neither the policy's conditions (size,
    /// key prefix, fields) nor its signature. SeaweedFS checks them all.
    var checksPostPolicies: Bool { kind == .seaweedfs }
    /// moto's server answers every CORS preflight (OPTIONS) with 403 and echoes any origin: it
    /// stores CORS rules but does not apply them. SeaweedFS answers by the rules.
    var appliesCORSRules: Bool { kind == .seaweedfs }
    /// SeaweedFS reports `MaxAgeSeconds` 0 for a CORS rule set without it; moto, like S3, none.
    var keepsCORSMaxAgeAbsent: Bool { kind == .moto }
    /// SeaweedFS answers DeleteBucketOwnershipControls with 204 and keeps the setting.
    var deletesOwnershipControls: Bool { kind == .moto }
    /// moto does not see a bare `?retention` (GetObjectRetention answers with the object's
    /// bytes), lets `bypassGovernanceRetention` delete a version in compliance mode, refuses
    /// PutObjectLockConfiguration on a bucket with objects ("Bucket needs to be empty") and
    /// ignores the retention and legal hold of a CreateMultipartUpload, and gives no default
    /// retention to a write that carries a legal hold. SeaweedFS does all five as S3 does.
    var implementsObjectLockFully: Bool { kind == .seaweedfs }
    /// SeaweedFS answers GetObjectAttributes without the object's checksum; moto with it.
    var reportsChecksumInAttributes: Bool { kind == .moto }
    /// moto answers GetObjectAttributes without ObjectParts; SeaweedFS, like S3, lists the parts
    /// with their sizes, page by page.
    var reportsObjectParts: Bool { kind == .seaweedfs }
    /// SeaweedFS answers `PUT ?publicAccessBlock` with 501 NotImplemented.
    var supportsPublicAccessBlock: Bool { kind == .moto }
    /// SeaweedFS keeps objects in a file tree: it folds `//` in keys and refuses `.`/`..` segments.
    var keepsKeysVerbatim: Bool { kind == .moto }
    /// SeaweedFS does not report a bucket's LocationConstraint.
    var reportsLocationConstraint: Bool { kind == .moto }
    /// SeaweedFS ignores a version ID on an unversioned bucket and answers with the object;
    /// moto refuses it (400), as S3 does.
    var refusesVersionIDsOnUnversionedBuckets: Bool { kind == .moto }
    /// moto ignores `x-amz-copy-source-if-match` (SeaweedFS refuses a copy whose source's ETag differs).
    var checksCopySourceConditions: Bool { kind == .seaweedfs }
    /// moto checks no signature (SeaweedFS refuses a wrong one with SignatureDoesNotMatch).
    var verifiesSignatures: Bool { kind == .seaweedfs }
    /// moto checks `If-None-Match: *` and writes later, with no lock between (`put_object` in
    /// moto/s3/responses.py): concurrent create-only PUTs can both succeed, as the ThreadSanitizer
    /// run's slower timing showed (2 winners of 20). SeaweedFS, like S3, lets exactly one win.
    var createOnlyIsAtomic: Bool { kind == .seaweedfs }
    /// moto answers every upload's `Initiated` in ListMultipartUploads with the same fixed date
    /// (2010-11-10, in moto/s3/responses.py); SeaweedFS, like S3, with when it started.
    var reportsUploadStartTimes: Bool { kind == .seaweedfs }

    /// Runs `body` with this server as ``current``.
    func run<T>(_ body: () async throws -> T) async rethrows -> T {
        try await Self.$current.withValue(self, operation: body)
    }

    /// Runs `body` with this server as ``current``, its fault proxy reached over TLS or not.
    func run<T>(overTLS: Bool, _ body: () async throws -> T) async rethrows -> T {
        try await Self.$overTLS.withValue(overTLS) { try await Self.$current.withValue(self, operation: body) }
    }

    /// Runs `body` with this server as ``current`` (synchronous tests).
    func runSync<T>(_ body: () throws -> T) rethrows -> T {
        try Self.$current.withValue(self, operation: body)
    }
}

/// A test server reached over plain HTTP or through the TLS terminator in front of its fault
/// proxy: the argument of the tests that must hold on both paths users take.
struct ServerRoute: Sendable, CustomTestStringConvertible {
    let server: TestServer
    let overTLS: Bool

    /// Every server, plain and over TLS.
    static let all: [ServerRoute] = TestServer.all.flatMap { [ServerRoute(server: $0, overTLS: false), ServerRoute(server: $0, overTLS: true)] }

    var testDescription: String { overTLS ? "\(server.testDescription) over TLS" : server.testDescription }

    /// Runs `body` with this route's server as ``TestServer/current`` and ``TestServer/overTLS`` set.
    func run<T>(_ body: () async throws -> T) async rethrows -> T {
        try await server.run(overTLS: overTLS, body)
    }
}

/// The current test server's endpoint.
func serverEndpoint() throws -> String { try TestServer.current.endpoint() }

/// moto's endpoint, for the tests that need moto itself (versioning, signature-free requests).
func motoEndpoint() throws -> String { try TestServer.moto.endpoint() }

let testCredentials = S3Credentials(accessKeyID: "testing", secretAccessKey: "testing-secret")

/// A client of the current test server.
func makeClient(style: S3Configuration.AddressingStyle = .path, region: String = "us-east-1") throws -> S3Client {
    var endpoint = try serverEndpoint()
    if style == .virtualHost { endpoint = endpoint.replacingOccurrences(of: "127.0.0.1", with: "localhost") }
    return S3Client(configuration: try S3Configuration(endpoint: endpoint, region: region, credentials: testCredentials, addressingStyle: style))
}

/// A fresh bucket name for one test.
func uniqueBucket(_ label: String = "t") -> String {
    "\(label)-\(UUID().uuidString.lowercased().prefix(18))"
}

func sha256Hex(_ bytes: [UInt8]) -> String {
    S3TestDigest.sha256Hex(bytes)
}

/// Runs a program and returns its exit status and standard output.
func run(_ executable: String, _ arguments: [String], stdin: Data? = nil) throws -> (Int32, Data) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    let out = Pipe()
    p.standardOutput = out
    let input = Pipe()
    if stdin != nil { p.standardInput = input }
    try p.run()
    if let stdin {
        input.fileHandleForWriting.write(stdin)
        try input.fileHandleForWriting.close()
    }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, data)
}

struct HelperFailed: Error, CustomStringConvertible {
    let description: String
}

/// Runs Tests/Fixtures/boto3_helper.py against the current test server and decodes its JSON answer.
func boto3(_ arguments: [String], stdin: [UInt8]? = nil) throws -> Any {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/boto3_helper.py").path
    let (status, out) = try run("/usr/bin/env", ["python3", script, try serverEndpoint()] + arguments, stdin: stdin.map { Data($0) })
    guard status == 0 else { throw HelperFailed(description: "boto3_helper \(arguments) exited \(status)") }
    return try JSONSerialization.jsonObject(with: out, options: [.fragmentsAllowed])
}

/// The fault-injecting proxy in front of the current test server (Tests/Fixtures/fault_proxy.py).
func proxyEndpoint() throws -> String { try TestServer.current.proxyEndpoint() }

/// A client of the fault proxy in front of the current test server.
func makeProxiedClient(retry: S3RetryPolicy? = nil) throws -> S3Client {
    var configuration = try S3Configuration(endpoint: try proxyEndpoint(), credentials: testCredentials)
    if TestServer.overTLS { configuration.http.tls.caBundlePath = try testCAPath() }
    if let retry { configuration.retry = retry }
    return S3Client(configuration: configuration)
}

/// The PEM of the CA scripts/test made for the TLS terminators (no system trusts it).
func testCAPath() throws -> String {
    guard let path = ProcessInfo.processInfo.environment["S3_TEST_TLS_CA"], !path.isEmpty else {
        throw MissingServer(variable: "S3_TEST_TLS_CA")
    }
    return path
}

/// Sets the proxy's fault rules for one bucket (an empty list clears them).
func setFaults(bucket: String, _ rulesJSON: String) throws {
    let (status, out) = try run("/usr/bin/curl", ["-s", "-X", "PUT", "--data-binary", rulesJSON, try TestServer.current.faultControlEndpoint() + "/__faults__/" + bucket])
    guard status == 0, String(decoding: out, as: UTF8.self) == "ok" else { throw HelperFailed(description: "setting proxy faults failed") }
}

/// The requests the proxy saw for `bucket` since its faults were last set.
func proxyLog(bucket: String) throws -> [String] {
    let (status, out) = try run("/usr/bin/curl", ["-s", try TestServer.current.faultControlEndpoint() + "/__log__/" + bucket])
    guard status == 0 else { throw HelperFailed(description: "reading the proxy log failed") }
    return try JSONDecoder().decode([String].self, from: out)
}

/// Deterministic bytes for transfer tests.
func patternBytes(_ count: Int, seed: UInt8 = 7) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13 &+ Int(seed)) }
}

/// The debug build of the `s3` tool (scripts/test builds it).
let s3ToolPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent(".build/debug/s3").path

/// Runs the `s3` tool as a user would, with the test credentials, against `endpoint`.
func runS3Tool(_ arguments: [String], endpoint: String) throws -> (status: Int32, output: Data, error: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: s3ToolPath)
    p.arguments = arguments
    var environment = ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing-secret",
                       "AWS_ENDPOINT_URL": endpoint, "HOME": "/nonexistent", "PATH": "/usr/bin:/bin"]
    if endpoint.hasPrefix("https:") { environment["AWS_CA_BUNDLE"] = try testCAPath() }
    p.environment = environment
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, o, String(decoding: e, as: UTF8.self))
}

/// Runs each `(what, call)`: every call must fail with `.invalidArgument`, and `client` must
/// have sent nothing (bad input is refused before any request).
func expectRefusedBeforeSending(_ client: S3Client, _ cases: [(String, () async throws -> Void)],
                                sourceLocation: SourceLocation = #_sourceLocation) async {
    for (what, call) in cases {
        do {
            try await call()
            Issue.record("\(what) was accepted", sourceLocation: sourceLocation)
        } catch let e as S3Error {
            #expect(e.code == .invalidArgument, "\(what): \(e)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("\(what) failed with \(error), not an S3Error", sourceLocation: sourceLocation)
        }
    }
    #expect(client.requestCount == 0, "a request was sent", sourceLocation: sourceLocation)
}
