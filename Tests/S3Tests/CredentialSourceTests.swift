import Foundation
import Logging
import S3Locking
import Testing
@testable import S3

// The credential sources servers use, end to end: the library and the `s3` tool fetch
// temporary credentials from loopback fakes of IMDSv2, the container endpoint and STS
// (Tests/Fixtures/credential_fakes.py), and sign with them requests to a moto that runs with
// authentication on (scripts/lib.sh start_moto_auth): it refuses any request whose signature or
// session token is not that of credentials its STS issued, so a request that passes was signed
// with the served key and carried its token. (That moto refuses signed queries holding an encoded
// "/", a moto limitation also seen with boto3: these tests list buckets, not prefixes.)

/// The authenticating moto and the fakes, from scripts/test.
enum CredentialServers {
    static func variable(_ name: String) throws -> String {
        guard let v = ProcessInfo.processInfo.environment[name], !v.isEmpty else { throw MissingServer(variable: name) }
        return v
    }
    static func authEndpoint() throws -> String { try variable("S3_TEST_AUTH_ENDPOINT") }
    static func fakes() throws -> String { try variable("S3_TEST_CREDENTIAL_FAKES") }
    static func roleARN() throws -> String { try variable("S3_TEST_AUTH_ROLE_ARN") }
    static func adminKey() throws -> (String, String) { (try variable("S3_TEST_AUTH_KEY"), try variable("S3_TEST_AUTH_SECRET")) }
}

/// One namespace of the fakes: its URLs, settings and what it did.
struct FakeNamespace {
    let name = "ns-" + UUID().uuidString.lowercased().prefix(12)
    let base: String

    init() throws { base = try CredentialServers.fakes() }

    var imds: String { base + "/" + name + "/imds" }
    var container: String { base + "/" + name + "/container/creds" }
    var sts: String { base + "/" + name + "/sts" }

    func set(_ json: String) throws {
        let (status, _) = try run("/usr/bin/curl", ["-sf", "-X", "POST", "--data-binary", json, base + "/control/" + name])
        guard status == 0 else { throw HelperFailed(description: "setting the fakes failed") }
    }

    struct State: Decodable {
        struct Served: Decodable { let id: String; let secret: String; let token: String }
        struct Entry: Decodable { let method: String; let kind: String; let path: String; let imds_token: Bool }
        let counts: [String: Int]
        let served: [Served]
        let log: [Entry]
        let web_tokens: [String]
        func count(_ what: String) -> Int { counts[what] ?? 0 }
    }

    func state() throws -> State {
        let (status, out) = try run("/usr/bin/curl", ["-sf", base + "/control/" + name])
        guard status == 0 else { throw HelperFailed(description: "reading the fakes failed") }
        return try JSONDecoder().decode(State.self, from: out)
    }
}

/// Collects every log record of the loggers made from it, as `level [message] key=value ...`.
final class LogCapture: Sendable {
    let lines = Locked<[String]>([])

    var logger: Logger {
        var logger = Logger(label: "test") { _ in Handler(capture: self) }
        logger.logLevel = .trace
        return logger
    }

    var text: String { lines.withLock { $0.joined(separator: "\n") } }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let all = self.metadata.merging(event.metadata ?? [:]) { $1 }
            let rendered = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            capture.lines.withLock { $0.append("\(event.level) [\(event.message)] \(rendered)") }
        }
    }
}

/// A clock the tests move (credential expiry is compared with it).
final class MovableClock: Sendable {
    let offset = Locked<TimeInterval>(0)
    var now: Date { Date().addingTimeInterval(offset.withLock { $0 }) }
    func advance(_ seconds: TimeInterval) { offset.withLock { $0 += seconds } }
}

/// A client configured from `environment` as the `s3` tool would be, against the
/// authenticating moto, with a movable credential clock and a capturing logger.
func credentialClient(_ environment: [String: String], clock: MovableClock = MovableClock(), logs: LogCapture? = nil) throws -> S3Client {
    var env = ["HOME": "/nonexistent", "AWS_ENDPOINT_URL_S3": try CredentialServers.authEndpoint()]
    env.merge(environment) { $1 }
    var configuration = try S3Configuration.fromEnvironment(env, addressingStyle: .path)
    configuration.credentialClock = { clock.now }
    if let logs { configuration.logger = logs.logger }
    return S3Client(configuration: configuration)
}

func tempTextFile(_ text: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("cred-\(UUID())").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

@Suite struct CredentialSourceTests {
    /// The operations a server does, through `client`; all must pass moto's authentication.
    func exercise(_ client: S3Client) async throws {
        let bucket = uniqueBucket("cred")
        try await client.createBucket(bucket)
        try await client.putObject(bucket: bucket, key: "hello.txt", bytes: Array("hello".utf8))
        let body = try await client.getObject(bucket: bucket, key: "hello.txt").body.collect()
        #expect(body == Array("hello".utf8))
        #expect(try await client.listBuckets().contains { $0.name == bucket })
        try await client.deleteObject(bucket: bucket, key: "hello.txt")
        try await client.deleteBucket(bucket)
    }

    @Test func instanceMetadataV2() async throws {
        let fake = try FakeNamespace()
        let client = try credentialClient(["AWS_EC2_METADATA_SERVICE_ENDPOINT": fake.imds])
        #expect(client.configuration.credentialProvider is S3InstanceMetadataCredentialProvider)
        try await exercise(client)
        let state = try fake.state()
        // One session token, one role lookup, one credentials fetch for all those requests.
        #expect(state.count("imds_token") == 1)
        #expect(state.count("imds_credentials") == 1)
        // IMDSv2 only: every metadata GET carried the session token.
        let metadataGETs = state.log.filter { $0.kind == "imds" && $0.method == "GET" }
        #expect(metadataGETs.count == 2)
        #expect(metadataGETs.allSatisfy { $0.imds_token })
        let served = try #require(state.served.first)
        let held = try #require(client.currentCredentials)
        #expect(held.credentials.accessKeyID == served.id)
        #expect(held.credentials.sessionToken == served.token)
        #expect(held.source == "instance metadata")
        #expect(held.expiration != nil)
    }

    @Test func theAuthenticatingServerRefusesAnythingButTheServedCredentials() async throws {
        // The control that makes the other tests meaningful: the served key with another
        // secret, or without its token, is refused.
        let fake = try FakeNamespace()
        let client = try credentialClient(["AWS_EC2_METADATA_SERVICE_ENDPOINT": fake.imds])
        _ = try await client.listBuckets()
        let served = try #require(try fake.state().served.first)
        let endpoint = try CredentialServers.authEndpoint()
        let wrongSecret = S3Client(configuration: try S3Configuration(
            endpoint: endpoint, credentials: S3Credentials(accessKeyID: served.id, secretAccessKey: "not-" + served.secret, sessionToken: served.token)))
        let e1 = await #expect(throws: S3Error.self) { try await wrongSecret.listBuckets() }
        #expect(e1?.code == "SignatureDoesNotMatch")
        let noToken = S3Client(configuration: try S3Configuration(
            endpoint: endpoint, credentials: S3Credentials(accessKeyID: served.id, secretAccessKey: served.secret)))
        let e2 = await #expect(throws: S3Error.self) { try await noToken.listBuckets() }
        #expect(e2?.httpStatus == 403)
    }

    @Test func instanceMetadataRenewsItsSessionTokenAfter401() async throws {
        let fake = try FakeNamespace()
        let clock = MovableClock()
        let client = try credentialClient(["AWS_EC2_METADATA_SERVICE_ENDPOINT": fake.imds], clock: clock)
        _ = try await client.listBuckets()
        let first = try #require(client.currentCredentials?.credentials.accessKeyID)
        // The metadata service restarts (every session token is void), and the credentials expire.
        try fake.set(#"{"revoke_tokens": true}"#)
        clock.advance(3600)
        _ = try await client.listBuckets()
        let state = try fake.state()
        #expect(state.count("imds_401") == 1)
        #expect(state.count("imds_token") == 2)
        #expect(state.count("imds_credentials") == 2)
        #expect(client.currentCredentials?.credentials.accessKeyID != first)
        #expect(client.currentCredentials?.credentials.accessKeyID == state.served.last?.id)
    }

    @Test func containerEndpointWithATokenFileReadAgainAtEachRefresh() async throws {
        let fake = try FakeNamespace()
        try fake.set(#"{"container_token": "Bearer first-token"}"#)
        let tokenFile = try tempTextFile("Bearer first-token\n")
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }
        let clock = MovableClock()
        let client = try credentialClient(["AWS_CONTAINER_CREDENTIALS_FULL_URI": fake.container,
                                           "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tokenFile], clock: clock)
        #expect(client.configuration.credentialProvider is S3ContainerCredentialProvider)
        try await exercise(client)
        #expect(try fake.state().count("container") == 1)
        #expect(client.currentCredentials?.source == "container endpoint")
        // The agent rotates the token; the next refresh (4 min 50 s before expiry) reads the file again.
        try "Bearer second-token".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        try fake.set(#"{"container_token": "Bearer second-token"}"#)
        clock.advance(3600 - 290)
        _ = try await client.listBuckets()
        let state = try fake.state()
        #expect(state.count("container") == 2)
        #expect(state.count("container_refused") == 0)
        #expect(client.currentCredentials?.credentials.accessKeyID == state.served.last?.id)
    }

    @Test func containerEndpointWithATokenInTheEnvironment() async throws {
        let fake = try FakeNamespace()
        try fake.set(#"{"container_token": "env-token"}"#)
        let client = try credentialClient(["AWS_CONTAINER_CREDENTIALS_FULL_URI": fake.container, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "env-token"])
        _ = try await client.listBuckets()
        // A wrong token is refused by the endpoint: no credentials, and the error says why.
        let wrong = try credentialClient(["AWS_CONTAINER_CREDENTIALS_FULL_URI": fake.container, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "stale"])
        let error = await #expect(throws: S3Error.self) { try await wrong.listBuckets() }
        #expect(error?.code == .credentialsUnavailable)
        #expect(error?.message.contains("HTTP 403") == true)
        #expect(error.map { "\($0)" }?.contains("stale") == false)
    }

    @Test func fullURIOverPlainHTTPMustNameAnAllowedHost() throws {
        for allowed in ["127.0.0.1", "127.9.8.7", "[::1]", "localhost", "169.254.170.2", "169.254.170.23", "[fd00:ec2::23]"] {
            #expect(S3ContainerCredentialProvider.isAllowedHost(allowed), "\(allowed)")
        }
        for refused in ["10.0.0.1", "169.254.169.254", "128.0.0.1", "example.com", "127.0.0.1.example.com", "[::2]", "[fd00:ec2::254]", "0177.0.0.1"] {
            #expect(!S3ContainerCredentialProvider.isAllowedHost(refused), "\(refused)")
        }
        // Refused before anything is sent, with what would be allowed.
        let e = #expect(throws: S3Error.self) {
            try S3Configuration.fromEnvironment(["HOME": "/nonexistent", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://10.1.2.3/creds"])
        }
        #expect(e?.code == .invalidArgument)
        #expect(e?.message.contains("169.254.170.23") == true)
        // Over HTTPS any host is allowed (the certificate is the guarantee); nothing is sent here.
        #expect(throws: Never.self) { try S3ContainerCredentialProvider(fullURI: "https://creds.example.com/v1") }
        // The ECS relative form always goes to 169.254.170.2 (not contacted here).
        #expect(try S3ContainerCredentialProvider(relativeURI: "/v2/credentials/abc").url == "http://169.254.170.2/v2/credentials/abc")
        #expect(throws: S3Error.self) { try S3ContainerCredentialProvider(relativeURI: "v2/no-slash") }
        #expect(throws: S3Error.self) { try S3ContainerCredentialProvider(fullURI: "http://127.0.0.1/x", authorizationToken: "a\r\nX-Evil: 1") }
    }

    @Test func webIdentityReadsTheTokenFileAgainAtEachRefresh() async throws {
        let fake = try FakeNamespace()
        try fake.set(#"{"web_token": "jwt-first"}"#)
        let tokenFile = try tempTextFile("jwt-first\n")
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }
        let clock = MovableClock()
        let client = try credentialClient(["AWS_ROLE_ARN": try CredentialServers.roleARN(), "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile,
                                           "AWS_ROLE_SESSION_NAME": "tests", "AWS_ENDPOINT_URL_STS": fake.sts], clock: clock)
        #expect(client.configuration.credentialProvider is S3WebIdentityCredentialProvider)
        try await exercise(client)
        #expect(client.currentCredentials?.source == "web identity")
        try "jwt-second".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        try fake.set(#"{"web_token": "jwt-second"}"#)
        clock.advance(3600)
        _ = try await client.listBuckets()
        let state = try fake.state()
        #expect(state.web_tokens == ["jwt-first", "jwt-second"])
        #expect(client.currentCredentials?.credentials.accessKeyID == state.served.last?.id)
        // A token STS refuses: no credentials, an error naming STS's code and not the token.
        try fake.set(#"{"web_token": "something-else"}"#)
        clock.advance(3600)
        let error = await #expect(throws: S3Error.self) { try await client.listBuckets() }
        #expect(error?.code == .credentialsUnavailable)
        #expect(error?.message.contains("InvalidIdentityToken") == true)
        #expect(error.map { "\($0)" }?.contains("jwt-second") == false)
    }

    @Test func webIdentityFromAProfile() async throws {
        let fake = try FakeNamespace()
        let tokenFile = try tempTextFile("jwt-profile")
        let config = try tempTextFile("""
        [profile eks]
        role_arn = \(try CredentialServers.roleARN())
        web_identity_token_file = \(tokenFile)
        role_session_name = from-profile
        """)
        defer { for f in [tokenFile, config] { try? FileManager.default.removeItem(atPath: f) } }
        let client = try credentialClient(["AWS_CONFIG_FILE": config, "AWS_PROFILE": "eks", "AWS_ENDPOINT_URL_STS": fake.sts])
        _ = try await client.listBuckets()
        #expect(try fake.state().web_tokens == ["jwt-profile"])
    }

    @Test func assumedRoleFromASourceProfileThroughSTS() async throws {
        let (key, secret) = try CredentialServers.adminKey()
        let credentials = try tempTextFile("""
        [base]
        aws_access_key_id = \(key)
        aws_secret_access_key = \(secret)
        """)
        let config = try tempTextFile("""
        [profile deploy]
        role_arn = \(try CredentialServers.roleARN())
        source_profile = base
        role_session_name = deploy-session
        """)
        defer { for f in [credentials, config] { try? FileManager.default.removeItem(atPath: f) } }
        let client = try credentialClient(["AWS_SHARED_CREDENTIALS_FILE": credentials, "AWS_CONFIG_FILE": config, "AWS_PROFILE": "deploy",
                                           "AWS_ENDPOINT_URL_STS": try CredentialServers.authEndpoint()])
        #expect(client.configuration.credentialProvider is S3AssumeRoleCredentialProvider)
        try await exercise(client)
        let held = try #require(client.currentCredentials)
        #expect(held.source == "assumed role (profile base)")
        #expect(held.credentials.accessKeyID != key)
        #expect(held.credentials.sessionToken != nil)
        // A profile naming itself in a cycle is refused before anything is sent.
        let cyclic = try tempTextFile("""
        [profile a]
        role_arn = arn:aws:iam::123456789012:role/x
        source_profile = b
        [profile b]
        role_arn = arn:aws:iam::123456789012:role/y
        source_profile = a
        """)
        defer { try? FileManager.default.removeItem(atPath: cyclic) }
        let e = #expect(throws: S3Error.self) {
            try S3Configuration.fromEnvironment(["HOME": "/nonexistent", "AWS_CONFIG_FILE": cyclic, "AWS_PROFILE": "a"])
        }
        #expect(e?.message.contains("cycle") == true)
    }

    @Test func credentialProcessOfAProfile() async throws {
        let fake = try FakeNamespace()
        // The process hands out the credentials the metadata fake serves (real temporary ones).
        _ = try await credentialClient(["AWS_EC2_METADATA_SERVICE_ENDPOINT": fake.imds]).listBuckets()
        let served = try #require(try fake.state().served.first)
        let script = try tempTextFile("""
        #!/bin/sh
        echo '{"Version": 1, "AccessKeyId": "\(served.id)", "SecretAccessKey": "\(served.secret)", "SessionToken": "\(served.token)", "Expiration": "2099-01-01T00:00:00Z"}'
        """)
        let config = try tempTextFile("""
        [default]
        credential_process = /bin/sh \(script)
        """)
        defer { for f in [script, config] { try? FileManager.default.removeItem(atPath: f) } }
        let client = try credentialClient(["AWS_CONFIG_FILE": config])
        #expect(client.configuration.credentialProvider is S3ProcessCredentialProvider)
        try await exercise(client)
        #expect(client.currentCredentials?.source == "credential_process")
        // A failing command is an error that names its exit status and no output.
        let failing = try tempTextFile("[default]\ncredential_process = /bin/sh -c 'echo secret-output; exit 3'\n")
        defer { try? FileManager.default.removeItem(atPath: failing) }
        let error = await #expect(throws: S3Error.self) { try await credentialClient(["AWS_CONFIG_FILE": failing]).listBuckets() }
        #expect(error?.message.contains("status 3") == true)
        #expect(error.map { "\($0)" }?.contains("secret-output") == false)
    }

    @Test func theChainTakesTheFirstConfiguredSourceInTheSDKsOrder() async throws {
        let fake = try FakeNamespace()
        try fake.set(#"{"web_token": "jwt-order"}"#)
        let tokenFile = try tempTextFile("jwt-order")
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }
        let web = ["AWS_ROLE_ARN": try CredentialServers.roleARN(), "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ENDPOINT_URL_STS": fake.sts]
        let container = ["AWS_CONTAINER_CREDENTIALS_FULL_URI": fake.container]
        let imds = ["AWS_EC2_METADATA_SERVICE_ENDPOINT": fake.imds]
        func counts() throws -> (web: Int, container: Int, imds: Int) {
            let s = try fake.state()
            return (s.count("sts_AssumeRoleWithWebIdentity"), s.count("container"), s.count("imds_credentials"))
        }
        // All three configured: web identity.
        _ = try await credentialClient(web.merging(container) { $1 }.merging(imds) { $1 }).listBuckets()
        #expect(try counts() == (1, 0, 0))
        // Container and metadata: the container endpoint.
        _ = try await credentialClient(container.merging(imds) { $1 }).listBuckets()
        #expect(try counts() == (1, 1, 0))
        // Metadata alone.
        _ = try await credentialClient(imds).listBuckets()
        #expect(try counts() == (1, 1, 1))
        // Keys in the environment win over all of them: nothing is fetched.
        let (key, secret) = try CredentialServers.adminKey()
        let envKeys = try credentialClient(web.merging(container) { $1 }.merging(imds) { $1 }
            .merging(["AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret]) { $1 })
        _ = try await envKeys.listBuckets()
        #expect(envKeys.currentCredentials?.source == "environment")
        #expect(try counts() == (1, 1, 1))
        // A configured source that fails is the error: the chain does not fall through to IMDS.
        try fake.set(#"{"status": 500}"#)
        let error = await #expect(throws: S3Error.self) { try await credentialClient(container.merging(imds) { $1 }).listBuckets() }
        #expect(error?.message.contains("container endpoint") == true)
        #expect(try counts().imds == 1)
        // With AWS_EC2_METADATA_DISABLED and nothing else, no source: said before any request.
        let none = #expect(throws: S3Error.self) {
            _ = try credentialClient(["AWS_EC2_METADATA_DISABLED": "true"])
        }
        #expect(none?.message.contains("no credentials found") == true)
    }

    @Test func concurrentRequestsShareOneFetchAndOneRefresh() async throws {
        let fake = try FakeNamespace()
        try fake.set(#"{"delay": 0.3}"#)
        let clock = MovableClock()
        let client = try credentialClient(["AWS_CONTAINER_CREDENTIALS_FULL_URI": fake.container], clock: clock)
        func burst() async throws {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<200 { group.addTask { _ = try await client.listBuckets() } }
                try await group.waitForAll()
            }
        }
        try await burst()
        #expect(try fake.state().count("container") == 1)
        clock.advance(3600 - 290)  // 4 min 50 s before expiry
        try await burst()
        let state = try fake.state()
        #expect(state.count("container") == 2)
        #expect(client.currentCredentials?.credentials.accessKeyID == state.served.last?.id)
    }

    @Test func aFailedRefreshKeepsTheValidCredentials() async throws {
        let fake = try FakeNamespace()
        let clock = MovableClock()
        let logs = LogCapture()
        let client = try credentialClient(["AWS_CONTAINER_CREDENTIALS_FULL_URI": fake.container], clock: clock, logs: logs)
        _ = try await client.listBuckets()
        let first = client.currentCredentials?.credentials.accessKeyID
        try fake.set(#"{"status": 503}"#)
        // Due for a refresh and still valid for 4 min 50 s (a margin for a loaded machine: the
        // fake dates the expiry by the real clock).
        clock.advance(3600 - 290)
        _ = try await client.listBuckets()
        _ = try await client.listBuckets()
        #expect(client.currentCredentials?.credentials.accessKeyID == first)
        // One refresh tried (2 attempts at the endpoint), not one per request.
        #expect(try fake.state().count("container") == 3)
        #expect(logs.text.contains("credential refresh failed; the held credentials are still valid"))
        // Once they have expired the failure is the answer.
        clock.advance(300)
        let error = await #expect(throws: S3Error.self) { try await client.listBuckets() }
        #expect(error?.code == .credentialsUnavailable)
    }

    @Test func noSecretInLogsOrErrors() async throws {
        let fake = try FakeNamespace()
        try fake.set(#"{"container_token": "Bearer agent-token-123", "web_token": "jwt-secret-456"}"#)
        let logs = LogCapture()
        var errors: [String] = []
        func attempt(_ env: [String: String]) async {
            do {
                let client = try credentialClient(env, logs: logs)
                try await exercise(client)
                errors.append("\(String(reflecting: client)) \(client.currentCredentials.map { "\($0)" } ?? "")")
            } catch { errors.append("\(error) \(String(reflecting: error))") }
        }
        let tokenFile = try tempTextFile("jwt-secret-456")
        let wrongTokenFile = try tempTextFile("jwt-wrong-789")
        defer { for f in [tokenFile, wrongTokenFile] { try? FileManager.default.removeItem(atPath: f) } }
        await attempt(["AWS_EC2_METADATA_SERVICE_ENDPOINT": fake.imds])
        await attempt(["AWS_CONTAINER_CREDENTIALS_FULL_URI": fake.container, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Bearer agent-token-123"])
        await attempt(["AWS_CONTAINER_CREDENTIALS_FULL_URI": fake.container, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Bearer wrong-token-000"])
        await attempt(["AWS_ROLE_ARN": try CredentialServers.roleARN(), "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ENDPOINT_URL_STS": fake.sts])
        await attempt(["AWS_ROLE_ARN": try CredentialServers.roleARN(), "AWS_WEB_IDENTITY_TOKEN_FILE": wrongTokenFile,
                       "AWS_ENDPOINT_URL_STS": fake.sts])
        let state = try fake.state()
        #expect(state.served.count == 3)
        let (_, adminSecret) = try CredentialServers.adminKey()
        var secrets = ["agent-token-123", "wrong-token-000", "jwt-secret-456", "jwt-wrong-789", adminSecret]
        for s in state.served { secrets += [s.secret, s.token] }
        let everything = logs.text + "\n" + errors.joined(separator: "\n")
        #expect(logs.text.contains("S3 request"))  // the logs are there, at trace level
        #expect(logs.text.contains("credentials refreshed"))
        for secret in secrets { #expect(!everything.contains(secret), "a secret or token appears in the logs or errors") }
    }

    @Test func theToolWorksWithEachSourceAndNoStaticKeys() throws {
        let fake = try FakeNamespace()
        try fake.set(#"{"container_token": "cli-token", "web_token": "cli-jwt"}"#)
        let tokenFile = try tempTextFile("cli-jwt")
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }
        let endpoint = try CredentialServers.authEndpoint()
        let bucket = uniqueBucket("cred-cli")
        func tool(_ arguments: [String], _ env: [String: String]) throws -> (Int32, String, String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: s3ToolPath)
            p.arguments = arguments
            p.environment = ["HOME": "/nonexistent", "PATH": "/usr/bin:/bin", "AWS_ENDPOINT_URL": endpoint].merging(env) { $1 }
            let out = Pipe(), err = Pipe()
            p.standardOutput = out
            p.standardError = err
            try p.run()
            let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
        }
        let sources: [(String, [String: String])] = [
            ("imds", ["AWS_EC2_METADATA_SERVICE_ENDPOINT": fake.imds]),
            ("container", ["AWS_CONTAINER_CREDENTIALS_FULL_URI": fake.container, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "cli-token"]),
            ("web identity", ["AWS_ROLE_ARN": try CredentialServers.roleARN(), "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile,
                              "AWS_ENDPOINT_URL_STS": fake.sts]),
        ]
        var everything = ""
        for (i, (name, env)) in sources.enumerated() {
            if i == 0 {
                let (status, _, err) = try tool(["mb", "s3://" + bucket], env)
                #expect(status == 0, "mb with \(name): \(err)")
            }
            let (status, out, err) = try tool(["ls", "-v"], env)
            #expect(status == 0, "ls with \(name): \(err)")
            #expect(out.split(separator: "\n").contains { $0.hasSuffix(bucket) }, "ls with \(name)")
            #expect(err.contains("credentials refreshed"), "-v logs the credential fetch (\(name))")
            everything += out + err
        }
        #expect(try tool(["rb", "s3://" + bucket], sources[0].1).0 == 0)
        let state = try fake.state()
        #expect(state.count("imds_credentials") >= 1 && state.count("container") >= 1 && state.count("sts_AssumeRoleWithWebIdentity") >= 1)
        for s in state.served { #expect(!everything.contains(s.secret) && !everything.contains(s.token)) }
        #expect(!everything.contains("cli-token") && !everything.contains("cli-jwt"))
    }
}
