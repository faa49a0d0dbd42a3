import CCurl
#if canImport(Glibc)
import Glibc
#endif
import S3Locking
import Synchronization

/// One request in flight: the shared state between the loop thread (curl's callbacks) and the
/// tasks awaiting its head and reading its body.
///
/// Thread model: `machine` (the rules, see ``TransferStateMachine``) is guarded by its mutex
/// and may be touched from any thread; each event returns an action carried out after the
/// lock is released (continuations are never resumed under it). The `loop*` properties belong
/// to the loop thread alone (set up, read and cleared only there), which is what makes
/// `@unchecked Sendable` sound.
///
/// Lifetime: a transfer holds its engine's ``EngineLease`` strongly, so the loop runs as long
/// as any body, iterator or waiter needs it, even after every `HTTPEngine` is gone.
final class Transfer: @unchecked Sendable {
    typealias Machine = TransferStateMachine<CheckedContinuation<HTTPResponseHead, any Error>,
                                             CheckedContinuation<[UInt8]?, any Error>,
                                             CheckedContinuation<Void, any Error>>
    let id: UInt64
    let request: HTTPRequest
    let host: String
    let lease: EngineLease
    var loop: CurlLoop { lease.loop }
    let machine: Locked<Machine>
    /// Set once `cancel()` moved the machine to cancelled: what the write callback checks for
    /// every piece of a body going straight into a response buffer, without the lock (taking
    /// it, and matching the phase, cost 9% of a 1 GiB ranged download's CPU).
    private let cancelledFlag = Atomic<Bool>(false)
    /// Body bytes written into the response file so far (stored by the loop thread after each
    /// write, read by whoever shows progress; nothing is ordered by it).
    let fileBytesSoFar = Atomic<Int64>(0)

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
    /// Whether curl has a connection for this transfer (its pre-request callback ran). Until
    /// then it may be queued behind the per-host connection limit: not a stall.
    var loopConnected = false
    /// When a byte last moved either way (monotonic nanoseconds), for stall detection.
    var loopLastActivity: UInt64 = 0
    /// The request's `responseBuffer`, once a 2xx head said the body goes there.
    var loopDirect: PartBuffer? { didSet { loopDirectRef = loopDirect.map { Unmanaged.passUnretained($0) } } }
    /// The same buffer for the write callback, used without a retain and release per piece
    /// (`loopDirect` keeps it alive). Those atomic operations on the buffer's reference count
    /// were 5-10% of a 1 GiB ranged download's CPU: contended, the count's cache line being
    /// shared with objects other threads touch.
    private var loopDirectRef: Unmanaged<PartBuffer>?
    /// The body did not fit in `loopDirect` (or `loopFile`).
    var loopOverflow = false
    /// The request's `responseFile`, once a 2xx head said the body goes there.
    var loopFile: ResponseFileRange?
    /// Why writing into `loopFile` failed (`errno`), 0 while it has not.
    var loopFileErrno: Int32 = 0
    /// Body bytes for `loopFile` received but not yet written, gathered so that each write is
    /// ``ResponseFile/writeStep`` long: curl hands a body over at most 16 KiB at a time (and
    /// over TLS every byte goes through curl). A buffer of the loop's (``CurlLoop/takeFileStage()``),
    /// given back when the transfer finishes; its first `loopFileStaged` bytes are those of the
    /// body from `loopFileStageStart` on.
    var loopFileStage: UnsafeMutableRawBufferPointer?
    var loopFileStaged = 0
    var loopFileStageStart: Int64 = 0
    /// The direct connection serving it, when it takes that path (see ``DirectConnection``).
    var loopDirectConnection: DirectConnection?
    /// The request as bytes, for the direct path (kept to send it again on a new connection).
    var loopDirectRequest: [UInt8] = []
    /// The response status the direct path read (curl's transfers ask curl).
    var loopStatus = 0

    init(id: UInt64, request: HTTPRequest, lease: EngineLease, configuration: HTTPEngineConfiguration) {
        self.id = id
        self.request = request
        self.host = request.host
        self.lease = lease
        let responseLimit = max(configuration.responseBufferLimit, 16 << 10)
        machine = Locked(Machine(responseLimit: responseLimit, requestLimit: max(configuration.requestBufferLimit, 16 << 10),
                                mergeSize: min(256 << 10, max(16 << 10, responseLimit / 4))))
    }

    var peakBuffered: Int { machine.withLock { $0.peakBuffered } }
    var isCancelled: Bool { machine.withLock { $0.isCancelled } }
    /// `cancel()` ran (without the lock; for the loop's receive paths).
    var loopIsCancelled: Bool { cancelledFlag.load(ordering: .acquiring) }

    /// The body bytes received once curl ended the transfer, else nil (see
    /// ``HTTPResponseBody/finishedByteCount``). `loopBodyBytes` is the loop thread's, which no
    /// longer touches it once the state machine says finished (a cancelled transfer may still
    /// be receiving until the loop removes it: nil then).
    func finishedBodyBytes() -> Int64? {
        machine.withLock { m in
            if case .finished = m.phase { return loopBodyBytes }
            return nil
        }
    }

    /// Carries out a wake-up. A head waiter gets `.success` only from the loop thread (curl
    /// finished before the header callback saw the end of the head): only then are the loop's
    /// header fields read.
    private func wake(_ w: Machine.Wake, status: Int = 0) {
        if let (waiter, result) = w.head {
            waiter.resume(with: result.map { HTTPResponseHead(status: status, headers: HTTPHeaders(loopHeaderFields)) })
        }
        if let (waiter, result) = w.body { waiter.resume(with: result) }
        w.producerTask?.cancel()
        if let (waiter, error) = w.producer { waiter.resume(throwing: error) }
    }

    private var concurrentReadError: HTTPTransportError {
        HTTPTransportError(kind: .concurrentRead, host: host, curlCode: 0,
                           message: "the body is already being read by another iterator; a body is read by one reader at a time")
    }

    private var bodyEndedError: HTTPTransportError {
        HTTPTransportError(kind: .requestBodyFailed, host: host, curlCode: 0, message: "the request ended before its body was written")
    }

    // MARK: - Caller side

    /// Stores the head continuation and queues the transfer on the loop.
    func start(_ continuation: CheckedContinuation<HTTPResponseHead, any Error>) {
        switch machine.withLock({ $0.start(continuation) }) {
        case .fail(let waiter, let error):
            waiter.resume(throwing: error)
            return
        case .enqueue:
            break
        }
        loop.post(.add(self))
        if case .stream(let stream) = request.body.storage {
            let writer = HTTPUploadWriter(transfer: self)
            let task = Task {
                do {
                    try await stream.produce(writer)
                    self.finishUpload(failure: nil)
                } catch {
                    self.finishUpload(failure: error)
                }
            }
            if machine.withLock({ $0.setProducer(task) }) { task.cancel() }
        }
    }

    /// The next body chunk, nil at the end.
    func nextChunk(isolation actor: isolated (any Actor)? = #isolation) async throws -> [UInt8]? {
        // The error is built only when a second reader is actually refused (autoclosure).
        switch machine.withLock({ $0.read(parking: nil, concurrentReadError: self.concurrentReadError) }) {
        case .element(let element, let unpause):
            if unpause { loop.post(.unpause(id)) }
            return element
        case .end: return nil
        case .fail(let e): throw e
        case .wait, .parked: break
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation(isolation: actor) { (c: CheckedContinuation<[UInt8]?, any Error>) in
                switch machine.withLock({ $0.read(parking: c, concurrentReadError: self.concurrentReadError) }) {
                case .element(let element, let unpause):
                    if unpause { loop.post(.unpause(id)) }
                    c.resume(returning: element)
                case .end: c.resume(returning: nil)
                case .fail(let e): c.resume(throwing: e)
                case .wait, .parked: break
                }
            }
        } onCancel: {
            self.cancel()
        }
    }

    /// Cancels the transfer unless it already finished. Waiters get `CancellationError`.
    func cancel() {
        let w = machine.withLock { m in
            let w = m.cancel()
            if w != nil { cancelledFlag.store(true, ordering: .releasing) }  // with the phase, under the same lock
            return w
        }
        guard let w else { return }
        wake(w)
        loop.post(.cancel(id))
    }

    // MARK: - Streamed request body (producer side)

    func enqueueUpload(_ bytes: [UInt8]) async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                switch machine.withLock({ $0.enqueueUpload(bytes, waiter: c, endedError: self.bodyEndedError) }) {
                case .taken(let unpause):
                    if unpause { loop.post(.unpause(id)) }
                    c.resume()
                case .parked(let unpause):
                    if unpause { loop.post(.unpause(id)) }
                case .fail(let e):
                    c.resume(throwing: e)
                }
            }
        } onCancel: {
            // The producer being cancelled means the body can never complete.
            self.cancel()
        }
    }

    func finishUpload(failure: (any Error)?) {
        if machine.withLock({ $0.finishUpload(failure: failure) }) { loop.post(.unpause(id)) }
    }

    // MARK: - Loop side (called on the loop thread only)

    /// curl's write callback: buffer response bytes, or pause when the reader lags.
    func loopReceive(_ data: UnsafeRawBufferPointer) -> Int {
        if let direct = loopDirectRef { return direct._withUnsafeGuaranteedRef { loopReceiveDirect(data, into: $0) } }
        if loopFile != nil { return loopWriteFile(data) ? data.count : 0 }
        let expected = loopExpectedLength
        // The bytes are copied inside the lock, on this thread, before curl reuses them.
        switch machine.withLock({ $0.receive(data, expectedLength: expected) }) {
        case .abort: return 0
        case .pause: return Int(s3_curl_writefunc_pause())
        case .accepted:
            loopLastActivity = monotonicNanoseconds()
            loopBodyBytes += Int64(data.count)
            if !loopDirty {
                loopDirty = true
                loop.markDirty(self)
            }
            return data.count
        }
    }

    /// The write callback with a response buffer: one copy, no lock but the cancel check.
    private func loopReceiveDirect(_ data: UnsafeRawBufferPointer, into buffer: PartBuffer) -> Int {
        if cancelledFlag.load(ordering: .acquiring) { return 0 }
        guard buffer.count + data.count <= buffer.capacity else {
            loopOverflow = true
            return 0
        }
        buffer.appendStreaming(data)
        loopBodyBytes += Int64(data.count)
        loopLastActivity = monotonicNanoseconds()
        return data.count
    }

    /// Takes body bytes for `loopFile`, after those already taken: they are gathered in
    /// `loopFileStage` and written a ``ResponseFile/writeStep`` at a time (the rest by
    /// ``loopFlushFile()`` when the transfer ends). False (with `loopOverflow` or
    /// `loopFileErrno` set) when they do not fit or a write failed, or when the transfer was
    /// cancelled.
    ///
    /// Why gather: written as curl hands them over, 16 KiB per `pwrite`, the 1 GiB download over
    /// TLS spent 45% of its CPU copying into the page cache and 10% zeroing the rest of each
    /// new folio that a short write only partly covered (`perf`, ext4, a fallocated file).
    func loopWriteFile(_ data: UnsafeRawBufferPointer) -> Bool {
        guard let target = loopFile, !cancelledFlag.load(ordering: .acquiring) else { return false }
        guard loopBodyBytes + Int64(data.count) <= target.length else {
            loopOverflow = true
            return false
        }
        var rest = data
        while !rest.isEmpty {
            guard let room = loopFileRoom(limit: rest.count) else { return false }
            room.baseAddress!.copyMemory(from: rest.baseAddress!, byteCount: room.count)
            rest = UnsafeRawBufferPointer(rebasing: rest[room.count...])
            guard loopFileCommit(room.count) else { return false }
        }
        return true
    }

    /// Room after the gathered bytes for at most `limit` more body bytes, for a reader that
    /// decrypts straight into it (a direct TLS connection): one copy fewer than reading into a
    /// scratch buffer and taking from there. Nil when the transfer was cancelled or writing what
    /// was gathered before failed. ``loopFileCommit(_:)`` takes what was put there.
    func loopFileRoom(limit: Int) -> UnsafeMutableRawBufferPointer? {
        guard loopFile != nil, !cancelledFlag.load(ordering: .acquiring) else { return nil }
        // Bytes written past the gathered ones meanwhile (the direct path splices): those go first.
        if loopFileStaged > 0 && loopFileStageStart + Int64(loopFileStaged) != loopBodyBytes && !loopFlushFile() { return nil }
        let stage: UnsafeMutableRawBufferPointer
        if let s = loopFileStage { stage = s } else { stage = loop.takeFileStage(); loopFileStage = stage }
        if loopFileStaged == 0 { loopFileStageStart = loopBodyBytes }
        let n = min(limit, stage.count - loopFileStaged)
        return UnsafeMutableRawBufferPointer(rebasing: stage[loopFileStaged..<(loopFileStaged + n)])
    }

    /// Takes `count` bytes put into the room ``loopFileRoom(limit:)`` gave; false when writing
    /// the gathered bytes failed (`loopFileErrno` says why).
    func loopFileCommit(_ count: Int) -> Bool {
        loopFileStaged += count
        loopBodyBytes += Int64(count)
        loopLastActivity = monotonicNanoseconds()
        if let stage = loopFileStage, loopFileStaged == stage.count { return loopFlushFile() }
        return true
    }

    /// Writes the gathered bytes (`loopFileStage`) at their place in `loopFile`; false, with
    /// `loopFileErrno` set, when the write failed. True when nothing was waiting.
    func loopFlushFile() -> Bool {
        guard let target = loopFile, let stage = loopFileStage, loopFileStaged > 0 else { return true }
        let at = target.offset + loopFileStageStart
        let e = target.file.write(UnsafeRawBufferPointer(rebasing: stage[0..<loopFileStaged]), at: at)
        guard e == 0 else {
            loopFileErrno = e
            return false
        }
        loopFileStaged = 0
        fileBytesSoFar.store(loopBodyBytes, ordering: .relaxed)
        return true
    }

    /// The error of a body that did not fit in its response buffer or file, or could not be
    /// written to the file; nil when neither happened.
    func loopSinkError(curlCode: Int32 = 0) -> HTTPTransportError? {
        if loopFileErrno != 0 {
            return HTTPTransportError(kind: .responseWriteFailed, host: host, curlCode: curlCode,
                                      message: "writing the response body to its file failed: " + String(cString: strerror(loopFileErrno)))
        }
        guard loopOverflow else { return nil }
        if let buffer = loopDirect {
            return HTTPTransportError(kind: .bodyTooLarge, host: host, curlCode: curlCode,
                                      message: "the response body is larger than its buffer of \(buffer.capacity) bytes")
        }
        if let target = loopFile {
            return HTTPTransportError(kind: .bodyTooLarge, host: host, curlCode: curlCode,
                                      message: "the response body is larger than the \(target.length) bytes of its place in the file")
        }
        return nil
    }

    /// After a loop pass: hands buffered bytes to a waiting reader (one wake-up per pass).
    func loopFlush() {
        loopDirty = false
        guard let (reader, element, unpauseNow) = machine.withLock({ $0.flush() }) else { return }
        reader.resume(returning: element)
        if unpauseNow, let easy = loopEasy {
            loopLastActivity = monotonicNanoseconds()
            _ = s3_curl_easy_pause_cont(easy)
        } else if unpauseNow, let connection = loopDirectConnection {
            loopLastActivity = monotonicNanoseconds()
            loop.directResume(connection)
        }
    }

    /// Whether the transfer is paused on purpose: such a transfer is not stalled.
    var isPausedByUs: Bool { machine.withLock { $0.isPausedByUs } }

    /// curl's pre-request callback: a connection is ready and the request is about to go out.
    func loopConnectionReady() {
        loopConnected = true
        loopLastActivity = monotonicNanoseconds()
    }

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
        if (200..<300).contains(status) {
            if let buffer = request.responseBuffer { loopDirect = buffer }
            if let target = request.responseFile { loopFile = target }
        }
        machine.withLock { $0.headArrived() }?.resume(returning: head)
    }

    /// curl's read callback for a streamed body.
    func loopSendStream(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        // curl's buffer is filled inside the lock, on this thread, before the callback returns.
        switch machine.withLock({ $0.send(into: buffer) }) {
        case .wrote(let n, let resume):
            resume?.resume()
            return n
        case .pause: return Int(s3_curl_readfunc_pause())
        case .end: return 0
        case .abort: return Int(s3_curl_readfunc_abort())
        }
    }

    /// The request body could not be read (loop thread): remembered, so the abort it causes is
    /// reported as this error rather than as a cancellation.
    func loopFailUpload(_ error: HTTPTransportError) {
        machine.withLock { $0.failUpload(error) }
    }

    /// Why the request body failed, if it did.
    var uploadFailure: (any Error)? { machine.withLock { $0.uploadFailure } }

    /// Clears the paused flags before the loop calls `curl_easy_pause(CONT)`.
    func loopClearPause() {
        loopLastActivity = monotonicNanoseconds()
        machine.withLock { $0.clearPause() }
    }

    /// Ends the transfer with `result`; wakes every waiter.
    func loopComplete(_ result: Result<Void, any Error>, status: Int) {
        let w = machine.withLock { $0.complete(result, bodyEndedEarly: self.bodyEndedError) }
        wake(w, status: status)
    }
}

/// CLOCK_MONOTONIC in nanoseconds.
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    // The coarse clock (a few ms of resolution, no more than a memory read): these stamps only
    // tell a stalled transfer (seconds), and the write callback takes one for every piece of a
    // body; CLOCK_MONOTONIC there was 3% of a 1 GiB download's CPU.
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
