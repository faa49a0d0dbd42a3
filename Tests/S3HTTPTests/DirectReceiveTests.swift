import Foundation
@testable import S3HTTP
import S3Signing
import Testing

/// Direct receive: plain-HTTP GETs with a response buffer read from a socket curl opened
/// (DirectConnection), against the HTTP fixture.
@Suite(.serialized) struct DirectReceiveTests {
    /// A fresh engine: its own connections, so the ports below say which connection answered.
    func engine(direct: Bool = true) -> HTTPEngine {
        var configuration = HTTPEngineConfiguration()
        configuration.receivesDirectly = direct
        return HTTPEngine(configuration: configuration)
    }

    /// GETs `path` into a new buffer; the status and what the buffer holds.
    func get(_ engine: HTTPEngine, _ path: String, capacity: Int = 1 << 20) async throws -> (Int, [UInt8]) {
        let buffer = PartBuffer(capacity: capacity)
        let response = try await engine.execute(HTTPRequest(method: "GET", url: try fixtureURL() + path, responseBuffer: buffer))
        let streamed = try await response.body.collect()
        return (response.status, (200..<300).contains(response.status) ? [UInt8](buffer.bytes) : streamed)
    }

    @Test func rangesLandInTheBufferAndTheConnectionIsKept() async throws {
        for direct in [true, false] {
            let engine = engine(direct: direct)
            let (status, body) = try await get(engine, "/bytes/3000001", capacity: 3 << 20)
            #expect(status == 200)
            #expect(body.count == 3_000_001 && patternMatches(body, at: 0))
            let (_, first) = try await get(engine, "/conn")
            let (_, second) = try await get(engine, "/conn")
            #expect(!first.isEmpty && first == second, "one kept-alive connection answers both (direct: \(direct))")
            #expect(engine.directConnectionsOpened == (direct ? 1 : 0))
            await engine.shutdown()
        }
    }

    @Test func theRequestCarriesItsHeadersAndHost() async throws {
        let engine = engine()
        let buffer = PartBuffer(capacity: 1 << 16)
        var headers = HTTPHeaders()
        headers.add("Range", "bytes=0-9")
        headers.add("x-amz-date", "20261202T120000Z")
        headers.add("X-Empty", "")
        let response = try await engine.execute(HTTPRequest(method: "GET", url: try fixtureURL() + "/headers", headers: headers,
                                                            responseBuffer: buffer))
        _ = try await response.body.collect()
        let json = try JSONSerialization.jsonObject(with: Data(buffer.bytes)) as? [String: String] ?? [:]
        #expect(json["range"] == "bytes=0-9")
        #expect(json["x-amz-date"] == "20261202T120000Z")
        #expect(json["x-empty"] == "")
        #expect(json["host"] == String(try fixtureURL().dropFirst("http://".count)))
        #expect(json["expect"] == nil && json["content-length"] == nil)
        await engine.shutdown()
    }

    /// GETs `path` with its body streamed (no response buffer); the status and the body.
    func stream(_ engine: HTTPEngine, _ path: String) async throws -> (Int, [UInt8]) {
        let response = try await engine.execute(HTTPRequest(method: "GET", url: try fixtureURL() + path))
        return (response.status, try await response.body.collect())
    }

    /// Chunked answers are decoded on the direct connection (into a buffer, or streamed), and
    /// the connection is kept after them; nothing goes through curl.
    @Test func aChunkedAnswerIsDecodedDirectly() async throws {
        let engine = engine()
        let (status, body) = try await get(engine, "/chunked/300001")
        #expect(status == 200)
        #expect(body.count == 300_001 && patternMatches(body, at: 0))
        let (oddStatus, odd) = try await stream(engine, "/chunked-odd/200003")
        #expect(oddStatus == 200)
        #expect(odd.count == 200_003 && patternMatches(odd, at: 0))
        let (_, first) = try await get(engine, "/conn")
        let (_, second) = try await stream(engine, "/conn")
        #expect(!first.isEmpty && first == second)
        #expect(engine.directConnectionsOpened == 1, "one kept connection for all four")
        await engine.shutdown()
    }

    /// A chunked answer longer than its buffer fails as too large (the head gave no length to
    /// check first); one that breaks off before its last chunk is a broken connection.
    @Test func aChunkedAnswerTooLongOrCutShortFails() async throws {
        let engine = engine()
        let tooLong = await #expect(throws: HTTPTransportError.self) { _ = try await get(engine, "/chunked/70000", capacity: 65536) }
        #expect(tooLong?.kind == .bodyTooLarge)
        let cut = await #expect(throws: HTTPTransportError.self) { _ = try await stream(engine, "/chunked-cut/5000") }
        #expect(cut?.kind == .connectionBroken)
        let (status, body) = try await get(engine, "/chunked/10")
        #expect(status == 200 && body.count == 10)
        await engine.shutdown()
    }

    /// An answer with neither length nor chunks ends when the server closes; the next request
    /// gets a new connection.
    @Test func anAnswerUntilTheCloseIsReadToTheEnd() async throws {
        let engine = engine()
        let (status, body) = try await get(engine, "/until-close/400009")
        #expect(status == 200)
        #expect(body.count == 400_009 && patternMatches(body, at: 0))
        let (_, streamed) = try await stream(engine, "/until-close/1234")
        #expect(streamed.count == 1234 && patternMatches(streamed, at: 0))
        #expect(engine.directConnectionsOpened == 2)
        await engine.shutdown()
    }

    /// HEAD answers carry a Content-Length but no body; a small PUT of bytes and a DELETE go
    /// direct too, on the same kept connection.
    @Test func smallRequestsOfEveryMethodShareOneConnection() async throws {
        let engine = engine()
        let head = try await engine.execute(HTTPRequest(method: "HEAD", url: try fixtureURL() + "/bytes/5000"))
        #expect(head.status == 200 && head.headers["content-length"] == "5000")
        #expect(try await head.body.collect().isEmpty)
        var headers = HTTPHeaders()
        headers.add("Content-Type", "text/plain")
        let bytes = Array("small object".utf8)
        let put = try await engine.execute(HTTPRequest(method: "PUT", url: try fixtureURL() + "/echo", headers: headers, body: .bytes(bytes)))
        let echo = try await decodeEcho(put)
        #expect(echo.length == bytes.count && echo.sha256 == Digest.hex(Digest.sha256(bytes)) && echo.method == "PUT")
        let post = try await engine.execute(HTTPRequest(method: "POST", url: try fixtureURL() + "/echo", headers: headers))
        #expect(try await decodeEcho(post).length == 0)
        let deleted = try await engine.execute(HTTPRequest(method: "DELETE", url: try fixtureURL() + "/k"))
        #expect(deleted.status == 204)
        #expect(try await deleted.body.collect().isEmpty)
        let (_, after) = try await stream(engine, "/bytes/100")
        #expect(after.count == 100)
        #expect(engine.directConnectionsOpened == 1)
        await engine.shutdown()
    }

    /// At most `maxConnectionsPerHost` direct connections to a host: the rest of the requests
    /// wait for one and all complete.
    @Test func directConnectionsKeepToThePerHostLimit() async throws {
        var configuration = HTTPEngineConfiguration()
        configuration.maxConnectionsPerHost = 3
        let engine = HTTPEngine(configuration: configuration)
        let url = try fixtureURL()
        let sizes = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<24 {
                group.addTask {
                    let response = try await engine.execute(HTTPRequest(method: "GET", url: url + "/slow/100/\(1000 + i)"))
                    return try await response.body.collect().count
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(sizes.sorted() == (0..<24).map { 1000 + $0 })
        #expect(engine.directConnectionsOpened == 3)
        await engine.shutdown()
    }

    @Test func anAnswerCutShortIsABrokenConnection() async throws {
        let engine = engine()
        let error = await #expect(throws: HTTPTransportError.self) { _ = try await get(engine, "/cut/100000/5000") }
        #expect(error?.kind == .connectionBroken)
        #expect(error?.isRetryable == true)
        // The engine goes on with a new connection.
        let (status, body) = try await get(engine, "/bytes/1000")
        #expect(status == 200 && body.count == 1000)
        await engine.shutdown()
    }

    @Test func anIdleConnectionTheServerDropsIsReplacedOnce() async throws {
        let engine = engine()
        let (_, armed) = try await get(engine, "/arm-drop/10")
        #expect(armed.count == 10)
        // The server closes the kept connection on this request without answering: sent again
        // on a new one, as curl does with a stale reused connection.
        let (status, body) = try await get(engine, "/bytes/5000")
        #expect(status == 200)
        #expect(body.count == 5000 && patternMatches(body, at: 0))
        #expect(engine.directConnectionsOpened == 2)
        await engine.shutdown()
    }

    /// PUTs `bytes` from a part buffer to the fixture's echo; its answer.
    func putBuffer(_ engine: HTTPEngine, _ bytes: [UInt8]) async throws -> EchoReply {
        let buffer = PartBuffer(capacity: bytes.count)
        bytes.withUnsafeBytes { buffer.base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        buffer.count = bytes.count
        var headers = HTTPHeaders()
        headers.add("Content-Type", "application/octet-stream")
        headers.add("Expect", "")
        let response = try await engine.execute(HTTPRequest(method: "PUT", url: try fixtureURL() + "/echo", headers: headers,
                                                            body: .buffer(buffer)))
        #expect(response.status == 200)
        return try await decodeEcho(response)
    }

    /// A part buffer's PUT is written by the loop itself (head, then the body from the buffer),
    /// on a kept connection; its answer streams as any other. The same bytes arrive as through
    /// curl.
    @Test func partBuffersArePutDirectly() async throws {
        let bytes = (0..<(3 << 20) + 7).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let expected = Digest.hex(Digest.sha256(bytes))
        for direct in [true, false] {
            let engine = engine(direct: direct)
            for _ in 0..<2 {
                let echo = try await putBuffer(engine, bytes)
                #expect(echo.length == bytes.count)
                #expect(echo.sha256 == expected)
                #expect(!echo.chunked && echo.method == "PUT")
                #expect(echo.content_type == "application/octet-stream")
                #expect(echo.expect == nil)
            }
            #expect(engine.directConnectionsOpened == (direct ? 1 : 0), "two PUTs on one kept connection (direct: \(direct))")
            await engine.shutdown()
        }
    }

    /// A kept connection the server closes instead of reading the PUT's body: the PUT is sent
    /// again, whole, on a new connection.
    @Test func aPutOnADroppedConnectionIsSentAgainOnce() async throws {
        let engine = engine()
        let (_, armed) = try await get(engine, "/arm-drop/10")
        #expect(armed.count == 10)
        let bytes = [UInt8](repeating: 0x5A, count: 2 << 20)
        let echo = try await putBuffer(engine, bytes)
        #expect(echo.length == bytes.count)
        #expect(echo.sha256 == Digest.hex(Digest.sha256(bytes)))
        #expect(engine.directConnectionsOpened == 2)
        await engine.shutdown()
    }

    /// A server that refuses a PUT at once, reads none of its 16 MiB body, and closes only 3 s
    /// later: the answer is read while the body is still being written, as curl does, not when
    /// the server gives up; the connection, its request cut short, is not kept.
    @Test func anAnswerBeforeTheBodyIsSentIsRead() async throws {
        for direct in [true, false] {
            let engine = engine(direct: direct)
            let buffer = PartBuffer(capacity: 16 << 20)
            buffer.count = 16 << 20
            var headers = HTTPHeaders()
            headers.add("Content-Type", "application/octet-stream")
            headers.add("Expect", "")
            let clock = ContinuousClock()
            let started = clock.now
            let response = try await engine.execute(HTTPRequest(method: "PUT", url: try fixtureURL() + "/refuse", headers: headers,
                                                                body: .buffer(buffer)))
            let text = String(decoding: try await response.body.collect(), as: UTF8.self)
            let elapsed = clock.now - started
            #expect(response.status == 403)
            #expect(text == "refused before the body")
            #expect(elapsed < .seconds(2), "the answer took \(elapsed) (direct: \(direct))")
            let echo = try await putBuffer(engine, [1, 2, 3])
            #expect(echo.length == 3)
            #expect(engine.directConnectionsOpened == (direct ? 2 : 0), "a new connection after the cut-short one")
            await engine.shutdown()
        }
    }

    @Test func connectionCloseIsHonoured() async throws {
        let engine = engine()
        let (_, closing) = try await get(engine, "/close-conn")
        let (_, next) = try await get(engine, "/conn")
        #expect(!closing.isEmpty && !next.isEmpty && closing != next, "a new connection after Connection: close")
        #expect(engine.directConnectionsOpened == 2)
        await engine.shutdown()
    }

    @Test func errorBodiesStreamThroughTheStateMachine() async throws {
        let engine = engine()
        let (status, body) = try await get(engine, "/status/404")
        #expect(status == 404)
        #expect(String(decoding: body, as: UTF8.self) == "status 404")
        await engine.shutdown()
    }

    @Test func aCancelledRangeStopsAndItsConnectionIsNotReused() async throws {
        let engine = engine()
        let buffer = PartBuffer(capacity: 1 << 20)
        let task = Task {
            let response = try await engine.execute(HTTPRequest(method: "GET", url: try fixtureURL() + "/stall/1000/1000000", responseBuffer: buffer))
            _ = try await response.body.collect()
        }
        try await Task.sleep(for: .milliseconds(300))
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        let (_, port) = try await get(engine, "/conn")
        #expect(!port.isEmpty)
        await engine.shutdown()
    }

    @Test func shutdownEndsDirectTransfersAndConnections() async throws {
        let engine = engine()
        _ = try await get(engine, "/bytes/10")  // one idle connection
        let buffer = PartBuffer(capacity: 1 << 20)
        let response = try await engine.execute(HTTPRequest(method: "GET", url: try fixtureURL() + "/stall/1000/1000000", responseBuffer: buffer))
        await engine.shutdown()
        let error = await #expect(throws: HTTPTransportError.self) { _ = try await response.body.collect() }
        #expect(error?.kind == .shutdown)
    }

    @Test func aStalledRangeFailsAsStalled() async throws {
        var configuration = HTTPEngineConfiguration()
        configuration.stallTimeoutSeconds = 1
        let engine = HTTPEngine(configuration: configuration)
        let buffer = PartBuffer(capacity: 1 << 20)
        let response = try await engine.execute(HTTPRequest(method: "GET", url: try fixtureURL() + "/stall/1000/1000000", responseBuffer: buffer))
        let error = await #expect(throws: HTTPTransportError.self) { _ = try await response.body.collect() }
        #expect(error?.kind == .stalled)
        #expect(buffer.count == 1000)
        await engine.shutdown()
    }

    @Test func nothingListensIsConnectionRefused() async throws {
        let engine = engine()
        let buffer = PartBuffer(capacity: 1 << 10)
        // A port below the ephemeral range that nothing of the suite binds.
        let error = await #expect(throws: HTTPTransportError.self) {
            _ = try await engine.execute(HTTPRequest(method: "GET", url: "http://127.0.0.1:1/x", responseBuffer: buffer))
        }
        #expect(error?.kind == .connectionRefused)
        await engine.shutdown()
    }
}

/// The pure parts: which requests go direct, the bytes of the request, the parser of the head.
@Suite struct DirectHTTPUnitTests {
    func parse(_ text: String) -> DirectHTTP.HeadResult {
        Array(text.utf8).withUnsafeBytes { DirectHTTP.parseHead($0) }
    }

    @Test func eligibility() {
        let buffer = PartBuffer(capacity: 16)
        #expect(DirectHTTP.isEligible(HTTPRequest(method: "GET", url: "http://h:1/b/k", responseBuffer: buffer)))
        #expect(DirectHTTP.isEligible(HTTPRequest(method: "GET", url: "https://h/b/k", responseBuffer: buffer)))
        #expect(!DirectHTTP.isEligible(HTTPRequest(method: "GET", url: "ftp://h/b/k", responseBuffer: buffer)))
        // Every request whose body is in memory goes direct, whatever its method and wherever
        // its answer goes; a body read from a file or a stream as it goes, a time limit, or user
        // information in the URL send it through curl.
        #expect(DirectHTTP.isEligible(HTTPRequest(method: "GET", url: "http://h/b/k")))
        #expect(DirectHTTP.isEligible(HTTPRequest(method: "HEAD", url: "http://h/b/k")))
        #expect(DirectHTTP.isEligible(HTTPRequest(method: "DELETE", url: "https://h/b/k")))
        #expect(DirectHTTP.isEligible(HTTPRequest(method: "PUT", url: "http://h/b/k", body: .bytes([1]))))
        #expect(DirectHTTP.isEligible(HTTPRequest(method: "POST", url: "http://h/b?delete", body: .bytes([1]))))
        #expect(DirectHTTP.isEligible(HTTPRequest(method: "PUT", url: "https://h/b/k?partNumber=1", body: .buffer(buffer))))
        #expect(DirectHTTP.isEligible(HTTPRequest(method: "PUT", url: "http://h/b/k", body: .buffer(buffer), responseBuffer: buffer)))
        #expect(!DirectHTTP.isEligible(HTTPRequest(method: "GET", url: "http://u:p@h/b/k", responseBuffer: buffer)))
        #expect(!DirectHTTP.isEligible(HTTPRequest(method: "GET", url: "http://h/b/k", responseBuffer: buffer, timeoutMilliseconds: 5)))
        #expect(!DirectHTTP.isEligible(HTTPRequest(method: "PUT", url: "http://h/b/k", body: .buffer(buffer), timeoutMilliseconds: 5)))
        #expect(!DirectHTTP.isEligible(HTTPRequest(method: "PUT", url: "http://h/b/k", body: .file(descriptor: 0, offset: 0, length: 1))))
        let stream = HTTPBodyStream(length: 1) { _ in }
        #expect(!DirectHTTP.isEligible(HTTPRequest(method: "PUT", url: "http://h/b/k", body: .stream(stream))))
        #expect(DirectHTTP.connectionKey(url: "http://h/b") == "h:80")
        #expect(DirectHTTP.connectionKey(url: "http://h:9000/b") == "h:9000")
        #expect(DirectHTTP.connectionKey(url: "http://[::1]/b") == "[::1]:80")
        #expect(DirectHTTP.connectionKey(url: "http://[::1]:9000?x") == "[::1]:9000")
        // TLS connections are pooled apart from plain ones to the same port.
        #expect(DirectHTTP.connectionKey(url: "https://h/b") == "https://h:443")
        #expect(DirectHTTP.connectionKey(url: "https://h:9000/b") == "https://h:9000")
        #expect(DirectHTTP.endpoint(ofKey: "https://[::1]:443") == ("[::1]:443", true))
        #expect(DirectHTTP.endpoint(ofKey: "h:80") == ("h:80", false))
        #expect(DirectHTTP.hostName(ofAuthority: "[::1]:443") == "::1")
        #expect(DirectHTTP.hostName(ofAuthority: "s3.example.com:443") == "s3.example.com")
        #expect(DirectHTTP.hostName(ofAuthority: "127.0.0.1:9000") == "127.0.0.1")
    }

    @Test func requestBytes() {
        var headers = HTTPHeaders()
        headers.add("Host", "bucket.h:9000")
        headers.add("Range", "bytes=0-1")
        headers.add("Expect", "")
        headers.add("X-Empty", "")
        let bytes = DirectHTTP.requestBytes(HTTPRequest(method: "GET", url: "http://h:9000/k%20x?versionId=1#frag", headers: headers))
        #expect(bytes.map { String(decoding: $0, as: UTF8.self) }
            == "GET /k%20x?versionId=1 HTTP/1.1\r\nHost: bucket.h:9000\r\nRange: bytes=0-1\r\nX-Empty: \r\n\r\n")
        let bare = DirectHTTP.requestBytes(HTTPRequest(method: "GET", url: "http://h:9000?list-type=2"))
        #expect(bare.map { String(decoding: $0, as: UTF8.self) } == "GET /?list-type=2 HTTP/1.1\r\nHost: h:9000\r\n\r\n")
        #expect(DirectHTTP.requestBytes(HTTPRequest(method: "GET", url: "https://h/k")).map { String(decoding: $0, as: UTF8.self) }
            == "GET /k HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(DirectHTTP.requestBytes(HTTPRequest(method: "GET", url: "ftp://h/k")) == nil)
        // A body's length is the buffer's bytes in use; a given Content-Length is not repeated.
        let buffer = PartBuffer(capacity: 100)
        buffer.count = 42
        var putHeaders = HTTPHeaders()
        putHeaders.add("Content-Length", "7")
        putHeaders.add("Content-Type", "application/octet-stream")
        #expect(DirectHTTP.requestBytes(HTTPRequest(method: "PUT", url: "http://h/k?partNumber=2", headers: putHeaders, body: .buffer(buffer)))
            .map { String(decoding: $0, as: UTF8.self) }
            == "PUT /k?partNumber=2 HTTP/1.1\r\nHost: h\r\nContent-Type: application/octet-stream\r\nContent-Length: 42\r\n\r\n")
        // Bytes, and a body without a type: it gets the one curl's path sends; a DELETE has no body.
        #expect(DirectHTTP.requestBytes(HTTPRequest(method: "POST", url: "http://h/b?delete", body: .bytes([1, 2, 3])))
            .map { String(decoding: $0, as: UTF8.self) }
            == "POST /b?delete HTTP/1.1\r\nHost: h\r\nContent-Type: application/octet-stream\r\nContent-Length: 3\r\n\r\n")
        #expect(DirectHTTP.requestBytes(HTTPRequest(method: "DELETE", url: "http://h/b/k")).map { String(decoding: $0, as: UTF8.self) }
            == "DELETE /b/k HTTP/1.1\r\nHost: h\r\n\r\n")
    }

    @Test func heads() throws {
        guard case .head(let h) = parse("HTTP/1.1 206 Partial Content\r\nContent-Length: 10\r\nETag:  \"x\" \r\nContent-Range: bytes 0-9/20\r\n\r\nBODY") else {
            Issue.record("not parsed")
            return
        }
        #expect(h.status == 206 && h.contentLength == 10 && h.keepAlive && !h.hasTransferEncoding)
        #expect(h.length == "HTTP/1.1 206 Partial Content\r\nContent-Length: 10\r\nETag:  \"x\" \r\nContent-Range: bytes 0-9/20\r\n\r\n".utf8.count)
        #expect(h.fields.map(\.0) == ["Content-Length", "ETag", "Content-Range"])
        #expect(h.fields[1].1 == "\"x\"")

        guard case .head(let bare) = parse("HTTP/1.1 200\nContent-Length: 0\n\n") else { Issue.record("LF-only head"); return }
        #expect(bare.status == 200 && bare.contentLength == 0)
        guard case .head(let old) = parse("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n") else { Issue.record("1.0"); return }
        #expect(!old.keepAlive)
        guard case .head(let closing) = parse("HTTP/1.1 200 OK\r\nConnection: Keep-Alive, close\r\nContent-Length: 1\r\n\r\n") else { return }
        #expect(!closing.keepAlive)
        guard case .head(let chunked) = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") else { return }
        #expect(chunked.hasTransferEncoding && chunked.isChunked && chunked.contentLength == nil)
        guard case .head(let gzipped) = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n") else { return }
        #expect(gzipped.hasTransferEncoding && !gzipped.isChunked, "chunked not last: the body ends at the close")
        guard case .head(let both) = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip , Chunked \r\nContent-Length: 3\r\n\r\n") else { return }
        #expect(both.isChunked)
        guard case .head(let same) = parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n") else { return }
        #expect(same.contentLength == 5)
    }

    @Test func incompleteAndInvalidHeads() {
        for partial in ["", "HTTP/1.1 200 OK", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r"] {
            guard case .needMore = parse(partial) else { Issue.record("\(String(reflecting: partial)) is not incomplete"); continue }
        }
        let invalid = [
            "HTTP/2 200\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n", "http/1.1 200 OK\r\n\r\n", "HTTP/1.1 099 X\r\n\r\n",
            "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n", "HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "SSH-2.0-OpenSSH\r\n\r\n",
            "HTTP/1.1 200 OK\r\n" + String(repeating: "X-Long: y\r\n", count: 7000),
        ]
        for text in invalid {
            guard case .invalid = parse(text) else { Issue.record("\(String(reflecting: text.prefix(60))) is not refused"); continue }
        }
    }
}
