import Foundation
@testable import S3HTTP
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Bodies written into a file at an offset (`HTTPRequest.responseFile`): spliced from the
/// socket on a direct connection, written by curl's write callback otherwise. Both paths run
/// every test, against the HTTP fixture.
@Suite(.serialized) struct ResponseFileTests {
    func engine(direct: Bool) -> HTTPEngine {
        var configuration = HTTPEngineConfiguration()
        configuration.receivesDirectly = direct
        return HTTPEngine(configuration: configuration)
    }

    /// A temporary file of `size` bytes of 0xEE, open for reading and writing.
    final class Scratch {
        let path: String
        let fd: Int32
        init(size: Int) throws {
            path = NSTemporaryDirectory() + "response-file-\(UUID().uuidString)"
            fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw CocoaError(.fileWriteUnknown) }
            let fill = [UInt8](repeating: 0xEE, count: size)
            _ = fill.withUnsafeBytes { pwrite(fd, $0.baseAddress!, size, 0) }
        }
        var bytes: [UInt8] { (try? [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))) ?? [] }
        deinit {
            close(fd)
            unlink(path)
        }
    }

    /// GETs `path` into `file` at `offset` (room for `length` bytes): the response, what its body
    /// stream yielded, and the bytes the transport says it wrote.
    func get(_ engine: HTTPEngine, _ path: String, into file: ResponseFile, offset: Int64, length: Int64) async throws
        -> (status: Int, streamed: [UInt8], written: Int64?) {
        var request = HTTPRequest(method: "GET", url: try fixtureURL() + path)
        request.responseFile = ResponseFileRange(file: file, offset: offset, length: length)
        let response = try await engine.execute(request)
        let streamed = try await response.body.collect()
        return (response.status, streamed, response.body.finishedByteCount)
    }

    @Test(arguments: [true, false]) func aBodyLandsAtItsOffsetAndNothingElseIsTouched(direct: Bool) async throws {
        let engine = engine(direct: direct)
        let scratch = try Scratch(size: 4_000_000)
        let file = try #require(ResponseFile(duplicating: scratch.fd))
        let (status, streamed, written) = try await get(engine, "/bytes/3000001", into: file, offset: 123_457, length: 3_000_001)
        #expect(status == 200)
        #expect(streamed.isEmpty, "the body went into the file, not the stream")
        #expect(written == 3_000_001)
        let bytes = scratch.bytes
        #expect(bytes.count == 4_000_000)
        #expect(bytes[..<123_457].allSatisfy { $0 == 0xEE })
        #expect(patternMatches(Array(bytes[123_457..<3_123_458]), at: 0))
        #expect(bytes[3_123_458...].allSatisfy { $0 == 0xEE })
        // A second body on the same (kept) connection, at another offset.
        let (_, _, again) = try await get(engine, "/bytes/1000", into: file, offset: 0, length: 1000)
        #expect(again == 1000)
        #expect(patternMatches(Array(scratch.bytes[..<1000]), at: 0))
        #expect(engine.directConnectionsOpened == (direct ? 1 : 0))
        await engine.shutdown()
    }

    @Test(arguments: [true, false]) func aBodyLongerThanItsRoomFailsBeforeWritingPastIt(direct: Bool) async throws {
        let engine = engine(direct: direct)
        let scratch = try Scratch(size: 300_000)
        let file = try #require(ResponseFile(duplicating: scratch.fd))
        let error = await #expect(throws: HTTPTransportError.self) {
            _ = try await get(engine, "/bytes/200000", into: file, offset: 1000, length: 199_999)
        }
        #expect(error?.kind == .bodyTooLarge)
        #expect(error?.isRetryable == false)
        let bytes = scratch.bytes
        #expect(bytes[..<1000].allSatisfy { $0 == 0xEE })
        #expect(bytes[200_999...].allSatisfy { $0 == 0xEE }, "no byte past the room")
        await engine.shutdown()
    }

    @Test(arguments: [true, false]) func aFailedWriteIsAResponseWriteFailure(direct: Bool) async throws {
        // Every write to /dev/full fails with ENOSPC (and it takes no splice: the fallback path).
        let full = open("/dev/full", O_WRONLY | O_CLOEXEC)
        try #require(full >= 0)
        defer { close(full) }
        let engine = engine(direct: direct)
        let file = try #require(ResponseFile(duplicating: full))
        let error = await #expect(throws: HTTPTransportError.self) {
            _ = try await get(engine, "/bytes/100000", into: file, offset: 0, length: 100_000)
        }
        #expect(error?.kind == .responseWriteFailed)
        #expect(error?.isRetryable == false)
        #expect(error?.message.contains(String(cString: strerror(ENOSPC))) == true)
        // The engine goes on, and a file that takes writes gets its bytes (on a direct
        // connection, now without splice on this loop).
        let scratch = try Scratch(size: 70_000)
        let good = try #require(ResponseFile(duplicating: scratch.fd))
        let (status, _, written) = try await get(engine, "/bytes/70000", into: good, offset: 0, length: 70_000)
        #expect(status == 200 && written == 70_000)
        #expect(patternMatches(scratch.bytes, at: 0))
        await engine.shutdown()
    }

    @Test(arguments: [true, false]) func aBodyCutShortSaysHowManyBytesItWrote(direct: Bool) async throws {
        let engine = engine(direct: direct)
        let scratch = try Scratch(size: 200_000)
        let file = try #require(ResponseFile(duplicating: scratch.fd))
        var request = HTTPRequest(method: "GET", url: try fixtureURL() + "/cut/100000/5000")
        request.responseFile = ResponseFileRange(file: file, offset: 10, length: 100_000)
        let response = try await engine.execute(request)
        let error = await #expect(throws: HTTPTransportError.self) { _ = try await response.body.collect() }
        #expect(error?.kind == .connectionBroken)
        let written = try #require(response.body.finishedByteCount)
        #expect(written == 5000, "what a retry resumes after")
        #expect(patternMatches(Array(scratch.bytes[10..<(10 + Int(written))]), at: 0))
        #expect(scratch.bytes[(10 + Int(written))...].allSatisfy { $0 == 0xEE })
        await engine.shutdown()
    }

    @Test(arguments: [true, false]) func errorBodiesStreamAndLeaveTheFileAlone(direct: Bool) async throws {
        let engine = engine(direct: direct)
        let scratch = try Scratch(size: 1000)
        let file = try #require(ResponseFile(duplicating: scratch.fd))
        let (status, streamed, _) = try await get(engine, "/status/404", into: file, offset: 0, length: 1000)
        #expect(status == 404)
        #expect(String(decoding: streamed, as: UTF8.self) == "status 404")
        #expect(scratch.bytes.allSatisfy { $0 == 0xEE })
        await engine.shutdown()
    }

    @Test(arguments: [true, false]) func aCancelledBodyStopsAndTheEngineGoesOn(direct: Bool) async throws {
        let engine = engine(direct: direct)
        let scratch = try Scratch(size: 1 << 20)
        let file = try #require(ResponseFile(duplicating: scratch.fd))
        let task = Task {
            _ = try await get(engine, "/stall/1000/1000000", into: file, offset: 0, length: 1_000_000)
        }
        try await Task.sleep(for: .milliseconds(300))
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        let afterCancel = scratch.bytes
        // The 1,000 bytes sent are in the file (spliced as they came) or not at all (gathered
        // for one write, as curl's pieces and bytes that came with the head are, and dropped
        // with the cancelled transfer): never anything else, never past them.
        let first = Array(afterCancel[..<1000])
        #expect(patternMatches(first, at: 0) || first.allSatisfy { $0 == 0xEE })
        if !direct { #expect(first.allSatisfy { $0 == 0xEE }, "curl's pieces are gathered, and dropped on cancellation") }
        #expect(afterCancel[1000...].allSatisfy { $0 == 0xEE })
        try await Task.sleep(for: .milliseconds(200))
        #expect(scratch.bytes == afterCancel, "no write after the cancellation was reported")
        let (status, _, written) = try await get(engine, "/bytes/5000", into: file, offset: 0, length: 5000)
        #expect(status == 200 && written == 5000)
        await engine.shutdown()
    }

    @Test func theFileOutlivesTheCallersDescriptor() async throws {
        // The caller closes its descriptor at once; the request's duplicate still writes.
        let engine = engine(direct: true)
        let scratch = try Scratch(size: 10_000)
        let copy = dup(scratch.fd)
        let file = try #require(ResponseFile(duplicating: copy))
        close(copy)
        let (_, _, written) = try await get(engine, "/bytes/10000", into: file, offset: 0, length: 10_000)
        #expect(written == 10_000)
        #expect(patternMatches(scratch.bytes, at: 0))
        await engine.shutdown()
    }

    @Test func reservingAllocatesTheFileAndRefusesWhatCannotFit() throws {
        let scratch = try Scratch(size: 0)
        let file = try #require(ResponseFile(duplicating: scratch.fd))
        #expect(file.reserve(3_000_000) == 0)
        var info = stat()
        #expect(fstat(scratch.fd, &info) == 0)
        #expect(info.st_size == 3_000_000, "the size is the object's at once")
        #expect(Int64(info.st_blocks) * 512 >= 3_000_000, "the blocks are allocated, not a hole")
        #expect(file.reserve(0) == 0)
        // Far past what any disk or file system holds: refused before any byte is fetched.
        let refused = file.reserve(1 << 60)
        #expect(refused == EFBIG || refused == ENOSPC, "errno \(refused)")
    }

    @Test func aWriteOfSeveralStepsLandsWhole() throws {
        // ResponseFile.write splits what it is given into calls of at most writeStep bytes.
        let count = ResponseFile.writeStep * 3 + 5
        let scratch = try Scratch(size: count + 14)
        let file = try #require(ResponseFile(duplicating: scratch.fd))
        let data = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
        #expect(data.withUnsafeBytes { file.write($0, at: 7) } == 0)
        let bytes = scratch.bytes
        #expect(bytes.count == count + 14)
        #expect(bytes[..<7].allSatisfy { $0 == 0xEE })
        #expect(Array(bytes[7..<(7 + count)]) == data)
        #expect(bytes[(7 + count)...].allSatisfy { $0 == 0xEE })
    }

    @Test func eligibility() throws {
        let scratch = try Scratch(size: 1)
        let file = try #require(ResponseFile(duplicating: scratch.fd))
        var request = HTTPRequest(method: "GET", url: "http://h:1/b/k")
        request.responseFile = ResponseFileRange(file: file, offset: 0, length: 1)
        #expect(DirectHTTP.isEligible(request))
        request.url = "https://h/b/k"
        #expect(DirectHTTP.isEligible(request), "decrypted by the loop (DirectTLSContext)")
        request.url = "ftp://h/b/k"
        #expect(!DirectHTTP.isEligible(request))
        #expect(ResponseFile(duplicating: -1) == nil)
    }
}
