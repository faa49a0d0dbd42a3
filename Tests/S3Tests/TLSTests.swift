import Foundation
import S3
import S3HTTP
import Testing

/// HTTPS against a TLS terminator in front of moto whose certificate is signed by a CA made at
/// test time (scripts/lib.sh `start_tls_proxy`): no system trusts it.
@Suite struct TLSTests {
    func tlsEndpoint() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["S3_TEST_TLS_ENDPOINT"], !url.isEmpty else {
            throw HelperFailed(description: "S3_TEST_TLS_ENDPOINT is not set: run the suite with scripts/test")
        }
        return url
    }

    func testCA() throws -> String {
        guard let path = ProcessInfo.processInfo.environment["S3_TEST_TLS_CA"], !path.isEmpty else {
            throw HelperFailed(description: "S3_TEST_TLS_CA is not set: run the suite with scripts/test")
        }
        return path
    }

    func client(_ tls: HTTPEngineConfiguration.TLS = .init()) throws -> S3Client {
        var http = HTTPEngineConfiguration()
        http.tls = tls
        return S3Client(configuration: try S3Configuration(endpoint: try tlsEndpoint(), credentials: testCredentials, http: http))
    }

    /// A round trip that exercises one PUT, a multipart upload and a ranged download over TLS.
    func roundTrip(_ client: S3Client) async throws {
        try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "tls") { b in
            try await b.putObject(key: "small", body: "over tls")
            #expect(String(decoding: try await b.getObject(key: "small").body(), as: UTF8.self) == "over tls")
            let big = patternBytes(11 << 20, seed: 9)
            try await b.uploadObject(key: "big", bytes: big, options: S3TransferOptions(partSize: 5 << 20, concurrency: 2))
            var options = S3TransferOptions()
            options.partSize = 2 << 20
            var back: [UInt8] = []
            for try await chunk in b.downloadStream(key: "big", options: options) { back += chunk }
            #expect(back == big)
        }
    }

    @Test func anUnknownCAIsRefusedByDefault() async throws {
        let e = await #expect(throws: S3Error.self) { _ = try await client().listBuckets() }
        #expect(e?.code == .transportFailure)
        #expect((e?.underlying as? HTTPTransportError)?.kind == .tls, "\(String(describing: e))")
        #expect(e?.attempts == 1, "a certificate failure is not retried")
    }

    @Test func aConfiguredCABundleIsTrusted() async throws {
        try await roundTrip(client(.init(caBundlePath: try testCA())))
    }

    @Test func awsCABundleIsReadFromTheEnvironment() async throws {
        var environment = ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing-secret", "HOME": "/nonexistent",
                           "AWS_ENDPOINT_URL": try tlsEndpoint(), "AWS_CA_BUNDLE": try testCA()]
        let configuration = try S3Configuration.fromEnvironment(environment)
        #expect(configuration.http.tls.caBundlePath == (try testCA()))
        try await roundTrip(S3Client(configuration: configuration))
        environment["AWS_CA_BUNDLE"] = "/nonexistent/ca.pem"
        let e = #expect(throws: S3Error.self) { _ = try S3Configuration.fromEnvironment(environment) }
        #expect(e?.message.contains("/nonexistent/ca.pem") == true)
    }

    @Test func disablingVerificationConnects() async throws {
        try await roundTrip(client(.init(dangerouslyDisableCertificateVerification: true)))
    }

    @Test func unsignedPayloadsNeedNoOptInOverTLS() async throws {
        var http = HTTPEngineConfiguration()
        http.tls = .init(caBundlePath: try testCA())
        var configuration = try S3Configuration(endpoint: try tlsEndpoint(), credentials: testCredentials, http: http)
        configuration.payloadProtection = .checksumOnly
        #expect(configuration.allowsUnsignedPayloadOverHTTP == false)
        try await roundTrip(S3Client(configuration: configuration))
    }

    @Test func theCommandLineToolVerifiesAndCanBeTold() throws {
        let tool = s3ToolPath
        func s3(_ arguments: [String], caBundle: String? = nil) throws -> (Int32, String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: tool)
            p.arguments = arguments
            var environment = ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing-secret",
                               "AWS_ENDPOINT_URL": try tlsEndpoint(), "HOME": "/nonexistent", "PATH": "/usr/bin:/bin"]
            if let caBundle { environment["AWS_CA_BUNDLE"] = caBundle }
            p.environment = environment
            let err = Pipe()
            p.standardError = err
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            let e = err.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return (p.terminationStatus, String(decoding: e, as: UTF8.self))
        }
        let (refused, why) = try s3(["ls"])
        #expect(refused == 1)
        #expect(why.contains("tls"), "\(why)")
        #expect(try s3(["ls"], caBundle: try testCA()).0 == 0)
        #expect(try s3(["ls", "--ca-bundle", try testCA()]).0 == 0)
        let (insecure, warning) = try s3(["ls", "--no-verify-ssl"])
        #expect(insecure == 0)
        #expect(warning.contains("verification is off"), "\(warning)")
    }
}
