import Foundation
import S3HTTP
import S3TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The engine's lifetime and the defects of its first design, each reproduced here
/// (issue 10): a body that outlives its engine, shutdown races and repeats, transfers queued
/// behind the connection cap, a failing upload producer, a shrinking file, two readers of one
/// body, and the process-wide SIGPIPE setting.
@Suite(.serialized) struct LifetimeTests {
    /// Opens a 64 MiB GET on an engine of its own and returns only the body.
    static func bodyOfADroppedEngine(_ url: String) async throws -> HTTPResponseBody {
        var config = HTTPEngineConfiguration()
        config.responseBufferLimit = 256 << 10
        let engine = HTTPEngine(configuration: config)
        let response = try await engine.execute(HTTPRequest(method: "GET", url: url))
        return response.body
    }

    @Test func aBodyOutlivesItsEngine() async throws {
        let base = try fixtureURL()
        let size = 64 << 20
        let body = try await Self.bodyOfADroppedEngine(base + "/bytes/\(size)")
        var offset = 0
        var good = true
        var chunks = 0
        for try await chunk in body {
            good = good && patternMatches(chunk, at: offset)
            offset += chunk.count
            chunks += 1
            // Read slowly at first, so the transfer pauses while nobody holds the engine.
            if chunks < 20 { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(offset == size)
        #expect(good)
    }

    @Test func shutdownRacingAHundredRequestersEndsEveryOne() async throws {
        let base = try fixtureURL()
        for round in 0..<20 {
            let engine = HTTPEngine()
            // 100 tasks send requests back to back until one fails; shutdown lands among them,
            // so some requests are posted in the very loop pass that sees it.
            let outcomes = try await within(30, "round \(round): a request never ended") {
                try await withThrowingTaskGroup(of: String.self) { group in
                    for i in 0..<100 {
                        group.addTask {
                            while true {
                                do {
                                    let r = try await engine.execute(HTTPRequest(method: "GET", url: base + "/bytes/\(100 + i)"))
                                    _ = try await r.body.collect()
                                } catch let e as HTTPTransportError {
                                    return e.kind == .shutdown ? "shutdown" : "other \(e)"
                                } catch {
                                    return "other \(error)"
                                }
                            }
                        }
                    }
                    try await Task.sleep(for: .milliseconds(20 + 5 * round))
                    await engine.shutdown()
                    var all: [String] = []
                    for try await o in group { all.append(o) }
                    return all
                }
            }
            #expect(outcomes.count == 100)
            #expect(outcomes.allSatisfy { $0 == "shutdown" }, "\(outcomes.filter { $0 != "shutdown" })")
            // After shutdown, a new request fails at once.
            let late = await #expect(throws: HTTPTransportError.self) {
                _ = try await engine.execute(HTTPRequest(method: "GET", url: base + "/bytes/10"))
            }
            #expect(late?.kind == .shutdown)
        }
    }

    @Test func shutdownTwiceReturns() async throws {
        // Run on a thread of its own: if it blocks, it must not block the test's pool.
        let done = DispatchSemaphore(value: 0)
        let engine = HTTPEngine()
        Task.detached {
            await engine.shutdown()
            await engine.shutdown()
            done.signal()
        }
        var finished = false
        for _ in 0..<100 {
            if done.wait(timeout: .now()) == .success { finished = true; break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(finished, "a second shutdown() did not return within 5 s")
    }

    @Test func transfersQueuedBehindTheConnectionCapAreNotStalls() async throws {
        let base = try fixtureURL()
        var config = HTTPEngineConfiguration()
        config.stallTimeoutSeconds = 2
        config.maxConnectionsPerHost = 64
        let engine = HTTPEngine(configuration: config)
        defer { Task { await engine.shutdown() } }
        // 300 GETs that each take about a second (bytes every 100 ms, so none of them stalls):
        // the last waves wait 4 s for a connection.
        let results = try await within(60, "300 slow GETs") {
            try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<300 {
                    group.addTask {
                        do {
                            let r = try await engine.execute(HTTPRequest(method: "GET", url: base + "/slow/1000/1000"))
                            let bytes = try await r.body.collect()
                            return bytes.count == 1000 && patternMatches(bytes, at: 0) ? "ok" : "bad body"
                        } catch {
                            return "\(error)"
                        }
                    }
                }
                var all: [String] = []
                for try await o in group { all.append(o) }
                return all
            }
        }
        let failed = results.filter { $0 != "ok" }
        #expect(failed.isEmpty, "\(failed.count) failed, e.g. \(failed.first ?? "")")
    }

    struct ProducerFailed: Error, Equatable {}

    @Test func aProducerThatThrowsFailsTheRequestWithItsError() async throws {
        let base = try fixtureURL()
        let stream = HTTPBodyStream { writer in
            try await writer.write([UInt8](repeating: 7, count: 100_000))
            try await Task.sleep(for: .milliseconds(50))
            throw ProducerFailed()
        }
        let error = await #expect(throws: (any Error).self) {
            let r = try await HTTPEngine.shared.execute(HTTPRequest(method: "PUT", url: base + "/echo", body: .stream(stream)))
            _ = try await r.body.collect()
        }
        #expect(!(error is CancellationError), "a producer's failure is not a cancellation: \(String(describing: error))")
        #expect(error is ProducerFailed, "the producer's own error: \(String(describing: error))")
    }

    @Test func aFileShorterThanPromisedIsABodyFailureNotACancellation() async throws {
        let base = try fixtureURL()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("shrunk-\(UUID().uuidString)").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(repeating: 1, count: 1 << 20))
        defer { unlink(path) }
        let fd = open(path, O_RDONLY)
        #expect(fd >= 0)
        defer { close(fd) }
        // The request promises 4 MiB (the file's size when the upload was planned); it holds 1.
        let error = await #expect(throws: (any Error).self) {
            let r = try await HTTPEngine.shared.execute(HTTPRequest(method: "PUT", url: base + "/echo", body: .file(descriptor: fd, offset: 0, length: 4 << 20)))
            _ = try await r.body.collect()
        }
        #expect(!(error is CancellationError), "\(String(describing: error))")
        let transport = error as? HTTPTransportError
        #expect(transport?.kind == .requestBodyFailed, "\(String(describing: error))")
        #expect(transport?.message.contains("1048576") == true, "says where the file ended: \(String(describing: error))")
    }

    @Test func twoReadersOfOneBodyDoNotHang() async throws {
        let base = try fixtureURL()
        let response = try await HTTPEngine.shared.execute(HTTPRequest(method: "GET", url: base + "/slow/1000/100000"))
        let body = response.body
        let outcomes = try await within(10, "two readers of one body") {
            try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        do {
                            var n = 0
                            for try await chunk in body { n += chunk.count }
                            return "read \(n)"
                        } catch {
                            return "error \(error)"
                        }
                    }
                }
                var all: [String] = []
                for try await o in group { all.append(o) }
                return all
            }
        }
        #expect(outcomes.count == 2)
        #expect(outcomes.contains { $0.hasPrefix("error") && $0.contains("another") }, "the second reader is told: \(outcomes)")
    }

    @Test func theProcessKeepsItsSIGPIPEDisposition() async throws {
        let base = try fixtureURL()
        let r = try await HTTPEngine(configuration: HTTPEngineConfiguration()).execute(HTTPRequest(method: "GET", url: base + "/bytes/10"))
        _ = try await r.body.collect()
        var current = sigaction()
        sigaction(SIGPIPE, nil, &current)
        let handler = unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self)
        #expect(handler != unsafeBitCast(SIG_IGN, to: Int.self), "the library set SIGPIPE to ignored for the whole process")
    }
}
