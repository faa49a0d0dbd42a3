import Foundation
import S3
import S3HTTP
import Testing

/// HTTPS to moto and to SeaweedFS, each behind nginx terminating TLS (scripts/lib.sh
/// `start_tls_fronts`) with a certificate signed by a CA made at test time: no system trusts it.
@Suite struct TLSTests {
    func client(_ server: TestServer, _ tls: HTTPEngineConfiguration.TLS = .init()) throws -> S3Client {
        var http = HTTPEngineConfiguration()
        http.tls = tls
        return S3Client(configuration: try S3Configuration(endpoint: try server.tlsEndpoint(), credentials: testCredentials, http: http))
    }

    /// A client of `endpoint` trusting the test CA, on an engine of its own (whose counters tell
    /// which path the requests took).
    func clientAndEngine(_ endpoint: String, direct: Bool = true) throws -> (S3Client, HTTPEngine) {
        var http = HTTPEngineConfiguration()
        http.tls = .init(caBundlePath: try testCAPath())
        http.receivesDirectly = direct
        let engine = HTTPEngine(configuration: http)
        return (S3Client(configuration: try S3Configuration(endpoint: endpoint, credentials: testCredentials, http: http), engine: engine), engine)
    }

    /// The TLS fronts' log: "protocol cipher session-reused method uri" a request.
    func frontsLog() throws -> [Substring] {
        guard let path = ProcessInfo.processInfo.environment["S3_TEST_TLS_LOG"], !path.isEmpty else {
            throw MissingServer(variable: "S3_TEST_TLS_LOG")
        }
        return try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
    }

    /// A round trip over TLS at the library's defaults: a PUT, a multipart upload, a ranged
    /// download to memory and one to a file (every range through curl's write callback into the
    /// file, gathered into 256 KiB writes), each checked against the object's checksum.
    /// Returns the name of the bucket it used (gone afterwards).
    @discardableResult
    func roundTrip(_ client: S3Client) async throws -> String {
        try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "tls") { b in
            try await b.putObject(key: "small", body: "over tls")
            #expect(String(decoding: try await b.getObject(key: "small").body(), as: UTF8.self) == "over tls")
            let big = patternBytes(11 << 20 + 12_345, seed: 9)
            try await b.uploadObject(key: "big", bytes: big, options: S3TransferOptions(partSize: 5 << 20, concurrency: 2))
            var options = S3TransferOptions()
            options.partSize = 2 << 20
            var back: [UInt8] = []
            for try await chunk in b.downloadStream(key: "big", options: options) { back += chunk }
            #expect(back == big)
            let target = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID()).bin")
            defer { try? FileManager.default.removeItem(at: target) }
            try await b.downloadObject(key: "big", to: target, options: options)
            #expect([UInt8](try Data(contentsOf: target)) == big)
            return b.name
        }
    }

    /// curl builds its certificate store from the bundle once and keeps it (its CA cache) for
    /// every later connection, instead of parsing the bundle again for each (0.35 ms for this
    /// one-certificate bundle, 35 ms for the system's). curl turns that cache off when a CA
    /// directory is set too, as Debian's libcurl has built in: so the bundle is given alone
    /// (TLS.trustLocations). Shown by deleting the bundle after the first connection: the
    /// connections opened afterwards still verify against the kept store.
    @Test(arguments: TestServer.all) func theCABundleIsReadOnceNotForEveryConnection(server: TestServer) async throws {
        let bundle = FileManager.default.temporaryDirectory.appendingPathComponent("ca-\(UUID()).pem")
        try FileManager.default.copyItem(atPath: try testCAPath(), toPath: bundle.path)
        defer { try? FileManager.default.removeItem(at: bundle) }
        var http = HTTPEngineConfiguration()
        http.tls = .init(caBundlePath: bundle.path)
        http.receivesDirectly = false
        let client = S3Client(configuration: try S3Configuration(endpoint: try server.tlsEndpoint(), credentials: testCredentials, http: http))
        try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "cacache") { b in
            try await b.putObject(key: "first", body: "one connection")
            try FileManager.default.removeItem(at: bundle)
            // Eight at once: at least seven connections are new.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<8 {
                    group.addTask { try await b.putObject(key: "k\(i)", body: patternBytes(256 << 10, seed: UInt8(i))) }
                }
                try await group.waitForAll()
            }
            var count = 0
            for try await _ in b.listObjects() { count += 1 }
            #expect(count == 9)
        }
    }

    @Test(arguments: TestServer.all) func anUnknownCAIsRefusedByDefault(server: TestServer) async throws {
        let e = await #expect(throws: S3Error.self) { _ = try await client(server).listBuckets() }
        #expect(e?.code == .transportFailure)
        #expect((e?.underlying as? HTTPTransportError)?.kind == .tls, "\(String(describing: e))")
        #expect(e?.attempts == 1, "a certificate failure is not retried")
    }

    /// A certificate from the trusted CA, for another host name (other.invalid), is refused:
    /// the CA alone does not make a connection trusted.
    @Test func aCertificateForAnotherHostIsRefused() async throws {
        guard let url = ProcessInfo.processInfo.environment["S3_TEST_TLS_WRONG_HOST_ENDPOINT"], !url.isEmpty else {
            throw MissingServer(variable: "S3_TEST_TLS_WRONG_HOST_ENDPOINT")
        }
        var http = HTTPEngineConfiguration()
        http.tls = .init(caBundlePath: try testCAPath())
        let client = S3Client(configuration: try S3Configuration(endpoint: url, credentials: testCredentials, http: http))
        let e = await #expect(throws: S3Error.self) { _ = try await client.listBuckets() }
        let transport = e?.underlying as? HTTPTransportError
        #expect(transport?.kind == .tls, "\(String(describing: e))")
        #expect(transport?.message.contains("127.0.0.1") == true, "the error names the host: \(String(describing: transport))")
        #expect(e?.attempts == 1, "a certificate failure is not retried")
        // The same server with verification off answers: what was refused was the name.
        http.tls = .init(dangerouslyDisableCertificateVerification: true)
        let engine = HTTPEngine(configuration: http)
        let response = try await engine.execute(HTTPRequest(method: "GET", url: url + "/"))
        #expect(response.status == 200)
        _ = try await response.body.collect()
        await engine.shutdown()
    }

    /// GETs `range` of `url` into a part buffer on `engine`: the status and the bytes.
    func rangedGet(_ engine: HTTPEngine, _ url: String, _ range: ClosedRange<Int>) async throws -> (Int, [UInt8]) {
        let buffer = PartBuffer(capacity: range.count)
        var headers = HTTPHeaders()
        headers.add("Range", "bytes=\(range.lowerBound)-\(range.upperBound)")
        let response = try await engine.execute(HTTPRequest(method: "GET", url: url, headers: headers, responseBuffer: buffer))
        let streamed = try await response.body.collect()
        return (response.status, (200..<300).contains(response.status) ? [UInt8](buffer.bytes) : streamed)
    }

    /// Ranged GETs over HTTPS into part buffers take the direct path: the loop's own TLS
    /// (`DirectTLSContext`) over the TCP connection curl opened. The bytes are the object's, one
    /// connection carries consecutive ranges, and a second connection to the same server,
    /// opened while the first is busy (its answer trickles through the fault proxy), resumes the
    /// first one's TLS session: no full handshake on a reconnect.
    @Test func rangedGetsOverTLSAreReceivedDirectlyAndResumeTheSession() async throws {
        try await TestServer.moto.run(overTLS: true) {
            let s3 = try makeProxiedClient()
            try await S3Bucket.withTemporaryBucket(client: s3, namePrefix: "direct-tls") { b in
                let body = patternBytes(3 << 20 + 17, seed: 4)
                try await b.putObject(key: "k", body: body)
                var http = HTTPEngineConfiguration()
                http.tls = .init(caBundlePath: try testCAPath())
                let engine = HTTPEngine(configuration: http)
                // Presigned: the engine knows nothing of S3 (moto refuses an unsigned GET).
                let url = try await s3.presignedURL(bucket: b.name, key: "k")
                /// Where `bytes` first differs from the object's `range` (nil: identical), without
                /// a diff of megabytes in a failure message.
                func mismatch(_ bytes: [UInt8], _ range: ClosedRange<Int>) -> String? {
                    guard bytes.count == range.count else { return "\(bytes.count) bytes where \(range.count) were asked for" }
                    guard let i = zip(bytes, body[range]).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset else { return nil }
                    return "first difference at byte \(i) of \(range)"
                }
                for range in [(1 << 20)...(2 << 20) - 1, (2 << 20)...(body.count - 1)] {
                    let (status, bytes) = try await rangedGet(engine, url, range)
                    #expect(status == 206)
                    #expect(mismatch(bytes, range) == nil)
                }
                #expect(engine.directConnectionsOpened == 1, "both ranges on one kept connection")
                #expect(engine.directTLSSessionsResumed == 0)
                // The first range trickles for a second, holding that connection: the next range
                // needs a new one, which resumes the kept session.
                try setFaults(bucket: b.name, #"[{"method":"GET","range":"bytes=0-","action":"trickle","bytes":1000,"seconds":1.0,"times":1}]"#)
                defer { try? setFaults(bucket: b.name, "[]") }
                let slow = Task { try await self.rangedGet(engine, url, 0...(1 << 20) - 1) }
                try await Task.sleep(for: .milliseconds(300))
                let (status, bytes) = try await rangedGet(engine, url, (1 << 20)...(2 << 20) - 1)
                #expect(status == 206 && mismatch(bytes, (1 << 20)...(2 << 20) - 1) == nil)
                let (slowStatus, slowBytes) = try await slow.value
                #expect(slowStatus == 206 && mismatch(slowBytes, 0...(1 << 20) - 1) == nil)
                #expect(engine.directConnectionsOpened == 2)
                #expect(engine.directTLSSessionsResumed == 1, "a reconnect resumes the TLS session")
                await engine.shutdown()
            }
        }
    }

    /// The direct TLS path verifies as curl does: a certificate for another host, or from a CA
    /// nobody trusts, fails the handshake with a `.tls` error that says why; nothing is received.
    @Test func theDirectTLSPathRefusesAWrongHostAndAnUnknownCA() async throws {
        guard let wrongHost = ProcessInfo.processInfo.environment["S3_TEST_TLS_WRONG_HOST_ENDPOINT"], !wrongHost.isEmpty else {
            throw MissingServer(variable: "S3_TEST_TLS_WRONG_HOST_ENDPOINT")
        }
        var http = HTTPEngineConfiguration()
        http.tls = .init(caBundlePath: try testCAPath())
        let trusting = HTTPEngine(configuration: http)
        let e1 = await #expect(throws: HTTPTransportError.self) { _ = try await rangedGet(trusting, wrongHost + "/b/k", 0...9) }
        #expect(e1?.kind == .tls)
        #expect(e1?.message.contains("certificate verification failed") == true, "\(String(describing: e1))")
        #expect(e1?.message.lowercased().contains("mismatch") == true, "\(String(describing: e1))")
        #expect(e1?.isRetryable == false)
        #expect(trusting.directConnectionsOpened == 1, "refused on the direct path, not by curl")
        await trusting.shutdown()
        let systemTrust = HTTPEngine(configuration: HTTPEngineConfiguration())
        let e2 = await #expect(throws: HTTPTransportError.self) {
            _ = try await rangedGet(systemTrust, try TestServer.moto.tlsEndpoint() + "/b/k", 0...9)
        }
        #expect(e2?.kind == .tls)
        #expect(e2?.message.contains("unable to get local issuer certificate") == true, "\(String(describing: e2))")
        await systemTrust.shutdown()
    }

    /// The parts of a multipart upload over HTTPS are written by the loop's own TLS (records
    /// gathered into large writes, the body read from its part buffer): on kept connections, the
    /// object whole (SeaweedFS checks every part's signature and checksum on the way in), and
    /// the same through curl (`receivesDirectly = false`, which opens no direct connection).
    @Test(arguments: TestServer.all) func multipartPartsOverTLSAreSentDirectly(server: TestServer) async throws {
        for direct in [true, false] {
            let (client, engine) = try clientAndEngine(try server.tlsEndpoint(), direct: direct)
            try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "tls-parts") { b in
                let big = patternBytes(16 << 20 + 4_321, seed: 12)
                try await b.uploadObject(key: "big", bytes: big, options: S3TransferOptions(partSize: 5 << 20, concurrency: 2))
                let opened = engine.directConnectionsOpened
                if direct {
                    #expect((1...2).contains(opened), "4 parts, 2 at a time, on at most 2 direct connections: \(opened)")
                } else {
                    #expect(opened == 0)
                }
                #expect(try await b.getObject(key: "big").body() == big)
            }
            await engine.shutdown()
        }
    }

    /// Small requests take the direct path as well: one pool, so GETs after a burst of PUTs
    /// (as many at a time as there are connections) find the PUTs' connections and open none, and a cold burst opens at most 16 at a time
    /// (a request that finds none idle takes the first that frees, rather than each waiting for
    /// a handshake of its own).
    @Test(arguments: TestServer.all) func aBurstOfSmallRequestsSharesOnePool(server: TestServer) async throws {
        let (client, engine) = try clientAndEngine(try server.tlsEndpoint())
        try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "tls-pool") { b in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<48 { group.addTask { try await b.putObject(key: "k\(i)", body: "value \(i)") } }
                try await group.waitForAll()
            }
            let opened = engine.directConnectionsOpened
            #expect((1...48).contains(opened), "\(opened) connections")
            #expect((1...16).contains(engine.directConnectionsOpeningPeak), "\(engine.directConnectionsOpeningPeak) opening at once")
            // As many GETs at a time as the PUTs left connections idle: each finds one.
            var values: [Int: String] = [:]
            for batch in stride(from: 0, to: 48, by: opened) {
                try await withThrowingTaskGroup(of: (Int, String).self) { group in
                    for i in batch..<min(48, batch + opened) {
                        group.addTask { (i, String(decoding: try await b.getObject(key: "k\(i)").body(), as: UTF8.self)) }
                    }
                    for try await (i, value) in group { values[i] = value }
                }
            }
            #expect(values.count == 48 && values.allSatisfy { $0.value == "value \($0.key)" })
            #expect(engine.directConnectionsOpened == opened, "the GETs found the PUTs' connections")
        }
        await engine.shutdown()
    }

    /// Both paths offer the TLS 1.3 suites in one order, AES-128-GCM first: curl's (the PUT) and
    /// the direct one (the ranged GETs). nginx in front logs the cipher of every request.
    @Test func bothPathsNegotiateAES128GCM() async throws {
        let (client, engine) = try clientAndEngine(try TestServer.moto.tlsEndpoint())
        try await S3Bucket.withTemporaryBucket(client: client, namePrefix: "cipher") { b in
            let body = patternBytes(3 << 20, seed: 3)
            try await b.putObject(key: "k", body: body)
            var back: [UInt8] = []
            for try await chunk in b.downloadStream(key: "k", options: S3TransferOptions(partSize: 1 << 20, concurrency: 2)) { back += chunk }
            #expect(back == body)
            #expect(engine.directConnectionsOpened >= 1, "the ranges took the direct path")
            let lines = try frontsLog().filter { $0.contains("/\(b.name)/k") }
            #expect(lines.contains { $0.contains(" PUT ") } && lines.filter { $0.contains(" GET ") }.count >= 3, "\(lines)")
            #expect(lines.allSatisfy { $0.hasPrefix("TLSv1.3 TLS_AES_128_GCM_SHA256 ") }, "\(lines)")
        }
        await engine.shutdown()
    }

    /// A server that speaks TLS 1.2 only (the other fronts speak 1.3 too, and every client here
    /// picks it): the round trip works on curl's path and the direct one, over 1.2.
    @Test func aTLS12OnlyServerWorksOnBothPaths() async throws {
        guard let endpoint = ProcessInfo.processInfo.environment["S3_TEST_TLS12_ENDPOINT"], !endpoint.isEmpty else {
            throw MissingServer(variable: "S3_TEST_TLS12_ENDPOINT")
        }
        let (client, engine) = try clientAndEngine(endpoint)
        let bucket = try await roundTrip(client)
        #expect(engine.directConnectionsOpened >= 2, "the parts and the ranges took the direct path")
        let lines = try frontsLog().filter { $0.contains(" /\(bucket)") }
        #expect(lines.count >= 10, "\(lines)")
        #expect(lines.allSatisfy { $0.hasPrefix("TLSv1.2 ") }, "the round trip spoke TLS 1.2: \(lines)")
        await engine.shutdown()
    }

    @Test(arguments: TestServer.all) func aConfiguredCABundleIsTrusted(server: TestServer) async throws {
        try await roundTrip(client(server, .init(caBundlePath: try testCAPath())))
    }

    @Test(arguments: TestServer.all) func awsCABundleIsReadFromTheEnvironment(server: TestServer) async throws {
        var environment = ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing-secret", "HOME": "/nonexistent",
                           "AWS_ENDPOINT_URL": try server.tlsEndpoint(), "AWS_CA_BUNDLE": try testCAPath()]
        let configuration = try S3Configuration.fromEnvironment(environment)
        #expect(configuration.http.tls.caBundlePath == (try testCAPath()))
        try await roundTrip(S3Client(configuration: configuration))
        environment["AWS_CA_BUNDLE"] = "/nonexistent/ca.pem"
        let e = #expect(throws: S3Error.self) { _ = try S3Configuration.fromEnvironment(environment) }
        #expect(e?.message.contains("/nonexistent/ca.pem") == true)
    }

    @Test func disablingVerificationConnects() async throws {
        try await roundTrip(client(.moto, .init(dangerouslyDisableCertificateVerification: true)))
    }

    /// Over TLS an unsigned payload needs no opt-in; SeaweedFS checks each body's CRC-32C.
    @Test(arguments: TestServer.all) func unsignedPayloadsNeedNoOptInOverTLS(server: TestServer) async throws {
        var http = HTTPEngineConfiguration()
        http.tls = .init(caBundlePath: try testCAPath())
        var configuration = try S3Configuration(endpoint: try server.tlsEndpoint(), credentials: testCredentials, http: http)
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
                               "AWS_ENDPOINT_URL": try TestServer.moto.tlsEndpoint(), "HOME": "/nonexistent", "PATH": "/usr/bin:/bin"]
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
        #expect(try s3(["ls"], caBundle: try testCAPath()).0 == 0)
        #expect(try s3(["ls", "--ca-bundle", try testCAPath()]).0 == 0)
        let (insecure, warning) = try s3(["ls", "--no-verify-ssl"])
        #expect(insecure == 0)
        #expect(warning.contains("verification is off"), "\(warning)")
    }
}
