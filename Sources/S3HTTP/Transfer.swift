import CCurl
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// One request in flight: the state shared between the loop thread (curl's callbacks) and the
/// tasks awaiting its head and reading its body.
///
/// Thread model: `state` is guarded by its mutex and may be touched from any thread. The
/// `loop*` properties belong to the loop thread alone (set up, read and cleared only there),
/// which is what makes `@unchecked Sendable` sound. Continuations are taken out under the lock
/// and resumed after it is released.
final class Transfer: @unchecked Sendable {
    let id: UInt64
    let request: HTTPRequest
    let host: String
    unowned(unsafe) let loop: CurlLoop
    let responseLimit: Int
    let requestLimit: Int
    /// Response bytes are merged into elements of about this size before they are handed out.
    let mergeSize: Int

    struct State {
        var head: HTTPResponseHead?
        var headWaiter: CheckedContinuation<HTTPResponseHead, any Error>?
        var chunks: [[UInt8]] = []
        var pending: [UInt8] = []
        var buffered = 0
        var peakBuffered = 0
        var bodyWaiter: CheckedContinuation<[UInt8]?, any Error>?
        var recvPaused = false
        var unpauseRequested = false
        var done: Result<Void, any Error>?
        var cancelled = false
        // Streamed request body.
        var upChunks: [[UInt8]] = []
        var upOffset = 0
        var upBuffered = 0
        var upFinished = false
        var upFailed = false
        var sendPaused = false
        var producerWaiter: CheckedContinuation<Void, any Error>?
        var producer: Task<Void, Never>?

        /// Takes the oldest buffered element (a full chunk, else the partial one), if any.
        mutating func takeElement() -> [UInt8]? {
            let element: [UInt8]
            if !chunks.isEmpty {
                element = chunks.removeFirst()
            } else if !pending.isEmpty {
                element = pending
                pending = []
            } else {
                return nil
            }
            buffered -= element.count
            return element
        }
    }

    let state = Mutex(State())

    // Loop-thread-only state.
    var loopEasy: UnsafeMutableRawPointer?
    var loopHeaderList: UnsafeMutablePointer<curl_slist>?
    var loopErrorBuffer: UnsafeMutablePointer<CChar>?
    var loopUploadOffset: Int64 = 0
    var loopHeaderFields: [(String, String)] = []
    var loopDirty = false
    var loopExpectedLength: Int64 = -1
    /// Response body bytes taken so far (checked against `Content-Length` at the end).
    var loopBodyBytes: Int64 = 0
    /// When a byte last moved either way (monotonic nanoseconds), for stall detection.
    var loopLastActivity: UInt64 = 0
    /// The request's `responseBuffer`, once a 2xx head said the body goes there.
    var loopDirect: PartBuffer?
    /// The body did not fit in `loopDirect`.
    var loopOverflow = false

    init(id: UInt64, request: HTTPRequest, loop: CurlLoop, configuration: HTTPEngineConfiguration) {
        self.id = id
        self.request = request
        self.host = request.host
        self.loop = loop
        self.responseLimit = max(configuration.responseBufferLimit, 16 << 10)
        self.requestLimit = max(configuration.requestBufferLimit, 16 << 10)
        self.mergeSize = min(256 << 10, max(16 << 10, responseLimit / 4))
    }

    var peakBuffered: Int { state.withLock { $0.peakBuffered } }

    // MARK: - Caller side

    /// Stores the head continuation and queues the transfer on the loop.
    func start(_ continuation: CheckedContinuation<HTTPResponseHead, any Error>) {
        let early: Result<HTTPResponseHead, any Error>? = state.withLock { s in
            if s.cancelled { return .failure(CancellationError()) }
            s.headWaiter = continuation
            return nil
        }
        if let early {
            continuation.resume(with: early)
            return
        }
        loop.post(.add(self))
        if case .stream(let stream) = request.body {
            let writer = HTTPUploadWriter(transfer: self)
            let task = Task {
                do {
                    try await stream.produce(writer)
                    self.finishUpload(failed: false)
                } catch {
                    self.finishUpload(failed: true)
                }
            }
            let cancelNow = state.withLock { s -> Bool in
                s.producer = task
                return s.cancelled || s.done != nil
            }
            if cancelNow { task.cancel() }
        }
    }

    /// The next body chunk, nil at the end.
    func nextChunk(isolation actor: isolated (any Actor)? = #isolation) async throws -> [UInt8]? {
        enum Step { case value([UInt8]?), fail(any Error), wait }
        func take(_ s: inout State) -> (Step, Bool) {
            guard let element = s.takeElement() else {
                if let done = s.done {
                    switch done {
                    case .success: return (.value(nil), false)
                    case .failure(let e): return (.fail(e), false)
                    }
                }
                return (s.cancelled ? .fail(CancellationError()) : .wait, false)
            }
            var unpause = false
            if s.recvPaused && !s.unpauseRequested && s.buffered <= responseLimit / 2 {
                s.unpauseRequested = true
                unpause = true
            }
            return (.value(element), unpause)
        }
        let (step, unpause) = state.withLock { take(&$0) }
        if unpause { loop.post(.unpause(id)) }
        switch step {
        case .value(let v): return v
        case .fail(let e): throw e
        case .wait: break
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation(isolation: actor) { (c: CheckedContinuation<[UInt8]?, any Error>) in
                let (step, unpause) = state.withLock { s -> (Step, Bool) in
                    let r = take(&s)
                    if case .wait = r.0 { s.bodyWaiter = c }
                    return r
                }
                if unpause { loop.post(.unpause(id)) }
                switch step {
                case .value(let v): c.resume(returning: v)
                case .fail(let e): c.resume(throwing: e)
                case .wait: break
                }
            }
        } onCancel: {
            self.cancel()
        }
    }

    /// Cancels the transfer unless it already finished. Waiters get `CancellationError`.
    func cancel() {
        let (head, body, producerWaiter, producer, wasLive) = state.withLock { s in
            let live = s.done == nil && !s.cancelled
            if live { s.cancelled = true }
            let r = (s.headWaiter, s.bodyWaiter, s.producerWaiter, s.producer, live)
            if live {
                s.headWaiter = nil
                s.bodyWaiter = nil
                s.producerWaiter = nil
            }
            return r
        }
        guard wasLive else { return }
        producer?.cancel()
        head?.resume(throwing: CancellationError())
        body?.resume(throwing: CancellationError())
        producerWaiter?.resume(throwing: CancellationError())
        loop.post(.cancel(id))
    }

    // MARK: - Streamed request body (producer side)

    func enqueueUpload(_ bytes: [UInt8]) async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                enum Step { case ok, fail(any Error), wait }
                let (step, unpause) = state.withLock { s -> (Step, Bool) in
                    if s.cancelled { return (.fail(CancellationError()), false) }
                    if let done = s.done {
                        if case .failure(let e) = done { return (.fail(e), false) }
                        return (.fail(HTTPTransportError(kind: .requestBodyFailed, host: host, curlCode: 0,
                                                         message: "the request ended before its body was written")), false)
                    }
                    s.upChunks.append(bytes)
                    s.upBuffered += bytes.count
                    var unpause = false
                    if s.sendPaused {
                        s.sendPaused = false
                        unpause = true
                    }
                    if s.upBuffered >= requestLimit {
                        s.producerWaiter = c
                        return (.wait, unpause)
                    }
                    return (.ok, unpause)
                }
                if unpause { loop.post(.unpause(id)) }
                switch step {
                case .ok: c.resume()
                case .fail(let e): c.resume(throwing: e)
                case .wait: break
                }
            }
        } onCancel: {
            // The producer being cancelled means the body can never complete.
            self.cancel()
        }
    }

    func finishUpload(failed: Bool) {
        let unpause = state.withLock { s -> Bool in
            s.upFinished = true
            s.upFailed = failed
            let wasPaused = s.sendPaused
            s.sendPaused = false
            return wasPaused
        }
        if unpause { loop.post(.unpause(id)) }
    }

    // MARK: - Loop side (called on the loop thread only)

    /// curl's write callback: buffer response bytes, or pause when the reader lags.
    func loopReceive(_ data: UnsafeRawBufferPointer) -> Int {
        if let direct = loopDirect { return loopReceiveDirect(data, into: direct) }
        let r = state.withLock { s -> Int in
            if s.cancelled { return 0 }
            if s.buffered >= responseLimit {
                s.recvPaused = true
                return Int(s3_curl_writefunc_pause())
            }
            if !s.pending.isEmpty && s.pending.count + data.count > mergeSize {
                s.chunks.append(s.pending)
                s.pending = []
            }
            if s.pending.capacity == 0 {
                // Size the element once: the whole body when it is small and its length known.
                let want = loopExpectedLength >= 0 ? min(Int64(mergeSize), max(loopExpectedLength, Int64(data.count))) : Int64(mergeSize)
                s.pending.reserveCapacity(Int(want))
            }
            s.pending.append(contentsOf: data)
            s.buffered += data.count
            if s.buffered > s.peakBuffered { s.peakBuffered = s.buffered }
            return data.count
        }
        if r == data.count {
            loopLastActivity = monotonicNanoseconds()
            loopBodyBytes += Int64(r)
        }
        if r == data.count, !loopDirty {
            loopDirty = true
            loop.markDirty(self)
        }
        return r
    }

    /// The write callback with a response buffer: one copy, no lock but the cancel check.
    private func loopReceiveDirect(_ data: UnsafeRawBufferPointer, into buffer: PartBuffer) -> Int {
        if state.withLock({ $0.cancelled }) { return 0 }
        guard buffer.count + data.count <= buffer.capacity else {
            loopOverflow = true
            return 0
        }
        buffer.append(data)
        loopBodyBytes += Int64(data.count)
        loopLastActivity = monotonicNanoseconds()
        return data.count
    }

    /// After a loop pass: hands buffered bytes to a waiting reader (one wake-up per pass).
    func loopFlush() {
        loopDirty = false
        let (waiter, element, unpause) = state.withLock { s -> (CheckedContinuation<[UInt8]?, any Error>?, [UInt8], Bool) in
            guard let w = s.bodyWaiter, let element = s.takeElement() else { return (nil, [], false) }
            s.bodyWaiter = nil
            // The transfer may have paused in this same pass, after the bytes handed out here
            // were buffered: the reader will not see a full buffer, so resume it from here.
            var unpause = false
            if s.recvPaused && !s.unpauseRequested && s.buffered <= responseLimit / 2 {
                s.recvPaused = false
                unpause = true
            }
            return (w, element, unpause)
        }
        waiter?.resume(returning: element)
        if unpause, let easy = loopEasy {
            loopLastActivity = monotonicNanoseconds()
            _ = s3_curl_easy_pause_cont(easy)
        }
    }

    /// Whether the transfer is paused on purpose (a slow reader, or a producer with nothing
    /// to send yet): such a transfer is not stalled.
    var isPausedByUs: Bool { state.withLock { $0.recvPaused || $0.sendPaused } }

    /// curl's header callback, one line at a time.
    func loopHeaderLine(_ line: UnsafeRawBufferPointer) {
        loopLastActivity = monotonicNanoseconds()
        var end = line.count
        while end > 0 && (line[end - 1] == 10 || line[end - 1] == 13) { end -= 1 }
        if end == 0 {
            var code = 0
            _ = s3_curl_easy_getinfo_long(loopEasy, CURLINFO_RESPONSE_CODE, &code)
            if code >= 200 { deliverHead(status: code) } else { loopHeaderFields.removeAll() }
            return
        }
        let text = UnsafeRawBufferPointer(rebasing: line[0..<end])
        if text.starts(with: "HTTP/".utf8) {
            loopHeaderFields.removeAll()
            return
        }
        guard let colon = text.firstIndex(of: UInt8(ascii: ":")) else { return }
        let name = String(decoding: text[0..<colon], as: UTF8.self)
        var vs = colon + 1
        while vs < end && (text[vs] == 32 || text[vs] == 9) { vs += 1 }
        let value = String(decoding: text[vs..<end], as: UTF8.self)
        loopHeaderFields.append((name, value))
    }

    /// Why a transfer curl reported complete is not: a body shorter or longer than its
    /// `Content-Length` (a connection that broke, or a server that sent more than it said).
    func loopLengthMismatch(status: Int) -> HTTPTransportError? {
        guard loopExpectedLength >= 0, request.method != "HEAD", status != 204, status != 304,
              loopBodyBytes != loopExpectedLength else { return nil }
        return HTTPTransportError(kind: .connectionBroken, host: host, curlCode: 0,
                                  message: "the response body had \(loopBodyBytes) bytes where Content-Length said \(loopExpectedLength)")
    }

    func deliverHead(status: Int) {
        let head = HTTPResponseHead(status: status, headers: HTTPHeaders(loopHeaderFields))
        if let lengthText = head.headers["content-length"], let n = Int64(lengthText) { loopExpectedLength = n }
        if (200..<300).contains(status), let buffer = request.responseBuffer { loopDirect = buffer }
        let waiter = state.withLock { s -> CheckedContinuation<HTTPResponseHead, any Error>? in
            if s.head != nil { return nil }
            s.head = head
            let w = s.headWaiter
            s.headWaiter = nil
            return w
        }
        waiter?.resume(returning: head)
    }

    /// curl's read callback for a streamed body.
    func loopSendStream(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let (n, waiter) = state.withLock { s -> (Int, CheckedContinuation<Void, any Error>?) in
            if s.cancelled { return (Int(s3_curl_readfunc_abort()), nil) }
            if s.upChunks.isEmpty {
                if s.upFinished { return (s.upFailed ? Int(s3_curl_readfunc_abort()) : 0, nil) }
                s.sendPaused = true
                return (Int(s3_curl_readfunc_pause()), nil)
            }
            var written = 0
            while written < buffer.count, !s.upChunks.isEmpty {
                let chunk = s.upChunks[0]
                let take = min(buffer.count - written, chunk.count - s.upOffset)
                chunk.withUnsafeBytes { src in
                    buffer.baseAddress!.advanced(by: written).copyMemory(from: src.baseAddress!.advanced(by: s.upOffset), byteCount: take)
                }
                written += take
                s.upOffset += take
                if s.upOffset == chunk.count {
                    s.upChunks.removeFirst()
                    s.upOffset = 0
                }
            }
            s.upBuffered -= written
            var w: CheckedContinuation<Void, any Error>?
            if s.upBuffered < requestLimit / 2 {
                w = s.producerWaiter
                s.producerWaiter = nil
            }
            return (written, w)
        }
        waiter?.resume()
        return n
    }

    /// Clears the paused flags before the loop calls `curl_easy_pause(CONT)`.
    func loopClearPause() {
        loopLastActivity = monotonicNanoseconds()
        state.withLock { s in
            s.recvPaused = false
            s.unpauseRequested = false
            s.sendPaused = false
        }
    }

    /// Ends the transfer with `result`; wakes every waiter.
    func loopComplete(_ result: Result<Void, any Error>, status: Int) {
        let (head, headValue, body, element, producerWaiter, producer) = state.withLock { s in
            var result = result
            if s.cancelled { result = .failure(CancellationError()) }
            if !s.pending.isEmpty {
                s.chunks.append(s.pending)
                s.pending = []
            }
            s.done = result
            var headValue: Result<HTTPResponseHead, any Error>?
            let hw = s.headWaiter
            s.headWaiter = nil
            if hw != nil {
                if case .failure(let e) = result {
                    headValue = .failure(e)
                } else {
                    let h = HTTPResponseHead(status: status, headers: HTTPHeaders(loopHeaderFields))
                    s.head = h
                    headValue = .success(h)
                }
            }
            let bw = s.bodyWaiter
            s.bodyWaiter = nil
            var element: Result<[UInt8]?, any Error> = .success(nil)
            if bw != nil {
                if let c = s.takeElement() {
                    element = .success(c)
                } else if case .failure(let e) = result {
                    element = .failure(e)
                }
            }
            let pw = s.producerWaiter
            s.producerWaiter = nil
            return (hw, headValue, bw, element, pw, s.producer)
        }
        if let head, let headValue { head.resume(with: headValue) }
        body?.resume(with: element)
        producer?.cancel()
        producerWaiter?.resume(throwing: HTTPTransportError(kind: .requestBodyFailed, host: host, curlCode: 0,
                                                            message: "the request ended before its body was written"))
    }
}

/// CLOCK_MONOTONIC in nanoseconds.
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
