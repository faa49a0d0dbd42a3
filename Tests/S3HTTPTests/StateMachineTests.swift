@testable import S3HTTP
import Testing

/// The loop's and a transfer's rules, as values: no curl, no threads, no continuations
/// (waiters are strings here).
@Suite struct LoopStateMachineTests {
    typealias Machine = LoopStateMachine<Int, String>

    @Test func messagesQueueWhileRunning() {
        var m = Machine()
        #expect(m.post(1) == .wake)
        #expect(m.post(2) == .wake)
        guard case .handle(let batch) = m.takeInbox() else { Issue.record("expected a batch"); return }
        #expect(batch == [1, 2])
        guard case .handle(let empty) = m.takeInbox() else { Issue.record("expected a batch"); return }
        #expect(empty.isEmpty)
    }

    @Test func aMessageQueuedInTheStoppingPassIsHandedBackNotLost() {
        var m = Machine()
        #expect(m.post(7) == .wake)
        guard case .wakeAndWait = m.requestShutdown(waiter: "a") else { Issue.record("first shutdown wakes"); return }
        #expect(m.post(8) == .refuse, "nothing is accepted once shutdown was asked for")
        guard case .stop(let toFail) = m.takeInbox() else { Issue.record("expected stop"); return }
        #expect(toFail == [7])
        #expect(m.phase == .draining)
    }

    @Test func shutdownIsIdempotentAndEveryWaiterIsResumed() {
        var m = Machine()
        guard case .wakeAndWait = m.requestShutdown(waiter: "first") else { Issue.record(); return }
        guard case .wait = m.requestShutdown(waiter: "second") else { Issue.record("a concurrent call waits"); return }
        guard case .wait = m.requestShutdown(waiter: nil) else { Issue.record("a lease release waits without a waiter"); return }
        _ = m.takeInbox()
        guard case .wait = m.requestShutdown(waiter: "third") else { Issue.record("during draining: wait"); return }
        let (late, waiters) = m.finish()
        #expect(late.isEmpty)
        #expect(waiters == ["first", "second", "third"])
        #expect(m.phase == .stopped)
        guard case .resume(let w) = m.requestShutdown(waiter: "after") else { Issue.record("after the stop: at once"); return }
        #expect(w == "after")
        #expect(m.post(9) == .refuse)
    }
}

@Suite struct TransferStateMachineTests {
    typealias Machine = TransferStateMachine<String, String, String>
    struct Concurrent: Error {}
    struct Producer: Error {}

    func machine(limit: Int = 100) -> Machine { Machine(responseLimit: limit, requestLimit: 100, mergeSize: 40) }

    func feed(_ m: inout Machine, _ count: Int) -> Machine.ReceiveAction {
        let bytes = [UInt8](repeating: 1, count: count)
        return bytes.withUnsafeBytes { m.receive($0, expectedLength: -1) }
    }

    @Test func startThenHead() {
        var m = machine()
        guard case .enqueue = m.start("head") else { Issue.record(); return }
        #expect(m.headArrived() == "head")
        #expect(m.headArrived() == nil, "the head is delivered once")
        guard case .fail = m.start("again") else { Issue.record("a transfer starts once"); return }
    }

    @Test func aFullBufferPausesAndADrainingReadUnpausesOnce() {
        var m = machine(limit: 100)
        _ = m.start("h")
        _ = m.headArrived()
        #expect(feed(&m, 60) == .accepted)
        #expect(feed(&m, 60) == .accepted)
        #expect(feed(&m, 10) == .pause, "past the limit curl must pause")
        #expect(m.isPausedByUs)
        guard case .element(let first, let unpause1) = m.read(parking: nil, concurrentReadError: Concurrent()) else { Issue.record(); return }
        #expect(first.count == 60)
        #expect(unpause1 == false, "60 bytes left: above half the limit")
        guard case .element(_, let unpause2) = m.read(parking: nil, concurrentReadError: Concurrent()) else { Issue.record(); return }
        #expect(unpause2 == true)
        guard case .wait = m.read(parking: nil, concurrentReadError: Concurrent()) else { Issue.record(); return }
        #expect(m.receive == .unpauseRequested)
        m.clearPause()
        #expect(!m.isPausedByUs)
    }

    @Test func aSecondWaitingReaderIsRefusedAndTheFirstIsKept() {
        var m = machine()
        _ = m.start("h")
        _ = m.headArrived()
        guard case .parked = m.read(parking: "reader1", concurrentReadError: Concurrent()) else { Issue.record(); return }
        guard case .fail(let e) = m.read(parking: "reader2", concurrentReadError: Concurrent()) else { Issue.record(); return }
        #expect(e is Concurrent)
        _ = feed(&m, 5)
        let flushed = m.flush()
        #expect(flushed?.reader == "reader1")
        #expect(flushed?.element.count == 5)
        #expect(m.flush() == nil)
    }

    @Test func cancelFailsEveryWaiterOnceAndWinsOverCompletion() {
        var m = machine()
        _ = m.start("h")
        let wake = m.cancel()
        #expect(wake?.head?.0 == "h")
        #expect(m.cancel() == nil, "cancel is idempotent")
        #expect(feed(&m, 5) == .abort)
        let done = m.complete(.success(()), bodyEndedEarly: Producer())
        #expect(done.head == nil)
        guard case .fail(let e) = m.read(parking: nil, concurrentReadError: Concurrent()) else { Issue.record(); return }
        #expect(e is CancellationError)
    }

    @Test func completionResumesAReaderWithTheRestThenTheEnd() {
        var m = machine()
        _ = m.start("h")
        _ = m.headArrived()
        guard case .parked = m.read(parking: "r", concurrentReadError: Concurrent()) else { Issue.record(); return }
        let wake = m.complete(.success(()), bodyEndedEarly: Producer())
        guard let (reader, result) = wake.body, case .success(nil) = result else { Issue.record("reader gets the end"); return }
        #expect(reader == "r")
        guard case .end = m.read(parking: nil, concurrentReadError: Concurrent()) else { Issue.record(); return }
    }

    @Test func aFailureReachesTheHeadWaiterAndLaterReads() {
        var m = machine()
        _ = m.start("h")
        let wake = m.complete(.failure(Producer()), bodyEndedEarly: Producer())
        guard let (w, result) = wake.head, case .failure(let e) = result else { Issue.record(); return }
        #expect(w == "h")
        #expect(e is Producer)
        guard case .fail = m.read(parking: nil, concurrentReadError: Concurrent()) else { Issue.record(); return }
    }

    @Test func theUploadSideWaitsForCurlAndReportsTheProducersFailure() {
        var m = machine()
        _ = m.start("h")
        var out = [UInt8](repeating: 0, count: 80)
        guard case .pause = out.withUnsafeMutableBytes({ m.send(into: $0) }) else { Issue.record("nothing to send yet"); return }
        guard case .taken(let unpause) = m.enqueueUpload([UInt8](repeating: 2, count: 60), waiter: "p1", endedError: Producer()) else { Issue.record(); return }
        #expect(unpause, "curl was paused waiting for data")
        guard case .parked = m.enqueueUpload([UInt8](repeating: 3, count: 60), waiter: "p2", endedError: Producer()) else { Issue.record("past the limit the producer waits"); return }
        guard case .wrote(80, let resume) = out.withUnsafeMutableBytes({ m.send(into: $0) }) else { Issue.record(); return }
        #expect(resume == "p2", "drained below half: the producer goes on")
        #expect(out[59] == 2 && out[60] == 3)
        guard case .wrote(40, nil) = out.withUnsafeMutableBytes({ m.send(into: $0) }) else { Issue.record(); return }
        _ = m.finishUpload(failure: Producer())
        guard case .abort = out.withUnsafeMutableBytes({ m.send(into: $0) }) else { Issue.record("a failed producer aborts"); return }
        #expect(m.uploadFailure is Producer)
    }

    @Test func aShortFileIsRememberedAsTheUploadFailure() {
        var m = machine()
        m.failUpload(HTTPTransportError(kind: .requestBodyFailed, host: "h", curlCode: 0, message: "short"))
        #expect((m.uploadFailure as? HTTPTransportError)?.message == "short")
        #expect(CurlCode(rawValue: 42) == .abortedByCallback)
        #expect(CurlCode.abortedByCallback.kind == .requestBodyFailed)
        #expect(HTTPTransportError.kind(curlCode: 60) == .tls)
        #expect(HTTPTransportError.kind(curlCode: 12345) == .other)
    }
}

/// The phases of a direct connection (plain or TLS) and what its socket waits for.
@Suite struct DirectConnectionStateMachineTests {
    typealias Machine = DirectConnectionStateMachine

    /// Applies `events` in order, each of which must be allowed; the phases passed through.
    func walk(_ events: [Machine.Event], from machine: Machine = Machine()) -> (Machine, [Machine.State]) {
        var m = machine
        var seen: [Machine.State] = []
        for event in events {
            let moved1 = m.apply(event)
            #expect(moved1, "\(event) from \(m.state)")
            seen.append(m.state)
        }
        return (m, seen)
    }

    @Test func aPlainExchangeAndTheNextOnTheKeptConnection() {
        let (m, seen) = walk([.attach(handshakeNeeded: false), .requestSent, .headRead, .released, .attach(handshakeNeeded: false)])
        #expect(seen == [.sending, .head, .body, .idle, .sending])
        #expect(m.interest(paused: false) == .readWrite, "writing, and watching for an early answer")
    }

    @Test func aTLSConnectionHandshakesFirstAndOnlyOnce() {
        let (m, seen) = walk([.attach(handshakeNeeded: true), .handshakeDone, .requestSent, .headRead, .released])
        #expect(seen == [.handshaking, .sending, .head, .body, .idle])
        // A kept TLS connection is reused without another handshake; asking for one is refused.
        var again = m
        let moved2 = again.apply(.attach(handshakeNeeded: true))
        #expect(!moved2)
        #expect(again.state == .idle)
        let moved3 = again.apply(.attach(handshakeNeeded: false))
        #expect(moved3 && again.state == .sending)
    }

    @Test func movesOutOfOrderAreRefusedAndChangeNothing() {
        var m = Machine()
        for event: Machine.Event in [.handshakeDone, .requestSent, .headRead, .released] {
            let moved4 = m.apply(event)
            #expect(!moved4, "\(event) while connecting")
            #expect(m.state == .connecting)
        }
        let moved5 = m.apply(.attach(handshakeNeeded: false))
        #expect(moved5)
        let moved6 = m.apply(.handshakeDone)
        #expect(!moved6, "no handshake on a plain connection")
        let moved7 = m.apply(.headRead)
        #expect(!moved7, "no head before the request is sent")
        let moved8 = m.apply(.attach(handshakeNeeded: false))
        #expect(!moved8, "one exchange at a time")
        #expect(m.state == .sending)
        let moved9 = m.apply(.requestSent)
        #expect(moved9)
        let moved10 = m.apply(.released)
        #expect(!moved10, "not released before its body")
        let moved11 = m.apply(.headRead)
        #expect(moved11)
        let moved12 = m.apply(.connectedWithoutTransfer)
        #expect(!moved12)
    }

    @Test func closeEndsEveryPhaseForGood() {
        let paths: [[Machine.Event]] = [[], [.attach(handshakeNeeded: true)], [.attach(handshakeNeeded: false), .requestSent],
                                        [.attach(handshakeNeeded: false), .requestSent, .headRead], [.connectedWithoutTransfer]]
        for path in paths {
            var m = walk(path).0
            let moved13 = m.apply(.close)
            #expect(moved13)
            #expect(m.state == .closed)
            #expect(m.interest(paused: false) == .none)
            let moved14 = m.apply(.attach(handshakeNeeded: false))
            #expect(!moved14, "a closed connection carries nothing")
            #expect(m.state == .closed)
        }
    }

    @Test func whatTheSocketWaitsFor() {
        var m = Machine()
        #expect(m.interest(paused: false) == .none, "curl polls a connecting socket")
        m.apply(.attach(handshakeNeeded: true))
        #expect(m.interest(paused: false) == .read)
        m.tlsWait = .write
        #expect(m.interest(paused: false) == .write, "a handshake that must write waits to write")
        m.apply(.handshakeDone)
        #expect(m.tlsWait == .none, "a move clears what the last TLS step waited for")
        #expect(m.interest(paused: false) == .readWrite)
        m.tlsWait = .write
        #expect(m.interest(paused: false) == .readWrite, "a TLS write that waits still watches for an answer")
        m.tlsWait = .read
        #expect(m.interest(paused: false) == .read, "a TLS write that must read first waits to read")
        m.apply(.requestSent)
        #expect(m.interest(paused: false) == .read)
        #expect(m.interest(paused: true) == .none, "a lagging reader stops the reading")
        m.apply(.headRead)
        #expect(m.interest(paused: true) == .none)
        m.apply(.released)
        #expect(m.interest(paused: false) == .read, "an idle connection is watched for the server closing it")
    }
}
