import Foundation
import S3
import S3HTTP
import S3Signing
import Testing

/// No secret key, session token or signature shows in what a program may print or log: values
/// printed, debug-printed or `dump()`ed, and the errors of a wide range of failures.
@Suite struct SecretsTests {
    static let secret = "S3cr3t-NEVER-SHOWN-0123456789abcdef"
    static let token = "T0ken-NEVER-SHOWN-fedcba9876543210"
    static let credentials = S3Credentials(accessKeyID: "AKIDSECRETSTEST", secretAccessKey: secret, sessionToken: token)

    /// Every way a value turns into text.
    func renderings(_ value: Any) -> String {
        var dumped = ""
        dump(value, to: &dumped)
        return "\(value)\n" + String(reflecting: value) + "\n" + dumped
    }

    func expectNoSecret(_ value: Any, also forbidden: [String] = [], _ label: String) {
        let text = renderings(value)
        for s in [Self.secret, Self.token] + forbidden {
            #expect(!text.contains(s), "\(label) shows a secret: \(text)")
        }
    }

    @Test func printingDumpingAndReflectingShowNoSecret() async throws {
        let configuration = try S3Configuration(endpoint: "http://127.0.0.1:9", credentials: Self.credentials)
        let client = S3Client(configuration: configuration)
        let signer = SigV4Signer(credentials: Self.credentials, region: "us-east-1")
        var signed = SigV4Request(method: "GET", path: "/b/k", headers: [("host", "127.0.0.1:9")], payloadHash: SigV4Payload.unsigned)
        let signature = String(signer.sign(&signed, at: SigV4Timestamp(secondsSince1970: 1_700_000_000)))
        #expect(signature.count == 64)
        let headers = HTTPHeaders(signed.headers)
        let request = HTTPRequest(method: "GET", url: "http://127.0.0.1:9/b/k", headers: headers)
        let presigned = try await client.presignedURL(bucket: "bucket", key: "k")
        let presignedSignature = String(presigned.split(separator: "X-Amz-Signature=").last ?? "")
        #expect(presignedSignature.count == 64)
        let presignedRequest = HTTPRequest(method: "GET", url: presigned)

        expectNoSecret(Self.credentials, "credentials")
        expectNoSecret(configuration, "a configuration")
        expectNoSecret(client, "a client")
        expectNoSecret(signer, also: [signature], "a signer")
        expectNoSecret(headers, also: [signature], "signed headers")
        expectNoSecret(request, also: [signature], "a signed request")
        expectNoSecret(presignedRequest, also: [presignedSignature], "a presigned request")
        // What stays visible: enough to tell which key and which request.
        #expect(renderings(Self.credentials).contains("AKIDSECRETSTEST"))
        #expect(renderings(request).contains("http://127.0.0.1:9/b/k"))
    }

    @Test func credentialProvidersShowNoSecret() async throws {
        let container = try S3ContainerCredentialProvider(fullURI: "http://127.0.0.1:9/creds?sig=query-secret",
                                                          authorizationToken: "Bearer " + Self.token)
        let process = S3ProcessCredentialProvider(command: "vault read -field=x secret/s3 --token=" + Self.secret)
        let resolved = S3ResolvedCredentials(Self.credentials, expiration: Date(), source: "test")
        let chain = S3CredentialProviderChain([container, process, S3StaticCredentialProvider(Self.credentials)])
        let configuration = try S3Configuration(endpoint: "http://127.0.0.1:9", credentialProvider: chain)
        for (value, label) in [(container, "a container provider"), (process, "a process provider"), (resolved, "resolved credentials"),
                               (chain, "a chain"), (configuration, "a configuration with a chain"),
                               (S3Client(configuration: configuration), "a client with a chain")] as [(Any, String)] {
            expectNoSecret(value, also: ["query-secret"], label)
        }
        // The metadata service's session token, once one was fetched, is not shown either.
        let fake = try FakeNamespace()
        let imds = try S3InstanceMetadataCredentialProvider(endpoint: fake.imds)
        let client = S3Client(configuration: try S3Configuration(endpoint: try CredentialServers.authEndpoint(), credentialProvider: imds))
        _ = try await client.listBuckets()
        let held = try #require(client.currentCredentials)
        for value in [imds, client, held] as [Any] {
            expectNoSecret(value, also: ["imds-token-", held.credentials.secretAccessKey, held.credentials.sessionToken ?? "-"], "IMDS")
        }
    }

    @Test func errorsOfManyFailuresShowNoSecret() async throws {
        var errors: [any Error] = []
        func collect(_ body: () async throws -> Void) async {
            do { try await body() } catch { errors.append(error) }
        }
        // SeaweedFS checks signatures: a wrong secret is refused (SignatureDoesNotMatch).
        try await TestServer.seaweedfs.run {
            let wrong = S3Client(configuration: try S3Configuration(
                endpoint: try serverEndpoint(), credentials: S3Credentials(accessKeyID: "testing", secretAccessKey: Self.secret)))
            await collect { _ = try await wrong.listBuckets() }
            await collect { try await wrong.putObject(bucket: "no-such-bucket-secrets", key: "k", bytes: [1, 2, 3]) }
            await collect { _ = try await wrong.getObject(bucket: "no-such-bucket-secrets", key: "k") }
        }
        try await TestServer.moto.run {
            let client = S3Client(configuration: try S3Configuration(endpoint: try serverEndpoint(), credentials: Self.credentials))
            await collect { _ = try await client.headObject(bucket: "no-such-bucket-secrets", key: "k") }
            await collect { _ = try await client.getObject(bucket: "no-such-bucket-secrets", key: "k") }
            await collect { try await client.putObject(bucket: "Bad_Name", key: "k", bytes: []) }
            await collect { _ = try await client.presignedURL(bucket: "b", key: "k", expiresIn: 10_000_000) }
        }
        // Nothing listens on port 9: a transport failure.
        let unreachable = S3Client(configuration: try S3Configuration(endpoint: "http://127.0.0.1:9", credentials: Self.credentials))
        await collect { _ = try await S3Client.withRetryPolicy(.none) { try await unreachable.listBuckets() } }
        #expect(errors.count == 8)
        for error in errors { expectNoSecret(error, "the error \(type(of: error))") }
    }

    @Test func theCommandLineToolsErrorsShowNoSecret() throws {
        try TestServer.seaweedfs.runSync {
            let tool = s3ToolPath
            let p = Process()
            p.executableURL = URL(fileURLWithPath: tool)
            p.arguments = ["ls", "s3://no-such-bucket-secrets"]
            p.environment = ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": Self.secret, "AWS_SESSION_TOKEN": Self.token,
                             "AWS_ENDPOINT_URL": try serverEndpoint(), "HOME": "/nonexistent", "PATH": "/usr/bin:/bin"]
            let out = Pipe(), err = Pipe()
            p.standardOutput = out
            p.standardError = err
            try p.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile() + err.fileHandleForReading.readDataToEndOfFile(),
                              as: UTF8.self)
            p.waitUntilExit()
            #expect(p.terminationStatus != 0)
            #expect(!text.isEmpty)
            #expect(!text.contains(Self.secret) && !text.contains(Self.token), "\(text)")
        }
    }
}
