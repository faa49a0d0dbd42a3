/// The state of one request in flight, as a value: what the tasks awaiting its head and body
/// see, what curl's callbacks may do, and its streamed request body. Every event returns the
/// action the caller (``Transfer``, under its mutex) must carry out after unlocking: resume
/// a waiter, wake or unpause the loop, cancel the producer. Waiters are type parameters, so the
/// rules are unit-tested with plain values, without curl or continuations.
///
/// ```
///  idle ──start──▶ awaitingHead ──head──▶ streaming ──complete──▶ finished(result)
///    │                  │                     │                     (buffered bytes
///    └──────────────────┴───── cancel ────────┴──▶ cancelled         still readable)
/// ```
struct TransferStateMachine<HeadWaiter, BodyWaiter, ProducerWaiter> {
    enum Phase {
        /// Created; not handed to the loop yet.
        case idle
        /// Queued on the loop; the caller waits for the head.
        case awaitingHead(HeadWaiter)
        /// The head was delivered; the body streams.
        case streaming
        /// Curl finished (the result); bytes already buffered can still be read.
        case finished(Result<Void, any Error>)
        /// The caller cancelled: every waiter was failed with `CancellationError`; the loop
        /// removes the handle when it gets to it.
        case cancelled
    }

    /// Whether curl may deliver more response bytes.
    enum Receive: Equatable {
        case flowing
        /// The buffer is full; curl was told to pause.
        case paused
        /// A reader drained the buffer and asked the loop to unpause.
        case unpauseRequested
    }

    /// The streamed request body.
    enum Upload {
        case open
        case finished
        /// The producer threw (or the body could not be read): the request fails with this.
        case failed(any Error)
    }

    private(set) var phase: Phase = .idle
    private(set) var receive: Receive = .flowing
    private var reader: BodyWaiter?
    /// Full elements, oldest first, and the one being filled.
    private var chunks: [[UInt8]] = []
    private var chunkHead = 0
    private var pending: [UInt8] = []
    private(set) var buffered = 0
    private(set) var peakBuffered = 0
    let responseLimit: Int
    let mergeSize: Int

    private(set) var upload: Upload = .open
    private var upChunks: [[UInt8]] = []
    private var upOffset = 0
    private(set) var upBuffered = 0
    private(set) var sendPaused = false
    private var producerWaiter: ProducerWaiter?
    private var producer: Task<Void, Never>?
    let requestLimit: Int

    init(responseLimit: Int, requestLimit: Int, mergeSize: Int) {
        self.responseLimit = responseLimit
        self.requestLimit = requestLimit
        self.mergeSize = mergeSize
    }

    var isCancelled: Bool {
        if case .cancelled = phase { return true }
        return false
    }

    var isFinished: Bool {
        switch phase {
        case .finished, .cancelled: return true
        default: return false
        }
    }

    /// Paused on purpose (a slow reader, or a producer with nothing to send yet): not a stall.
    var isPausedByUs: Bool { receive != .flowing || sendPaused }

    /// Why the request body failed, if it did (the loop reports this for curl's abort code).
    var uploadFailure: (any Error)? {
        if case .failed(let e) = upload { return e }
        return nil
    }

    // MARK: - Start and head

    enum StartAction {
        /// Hand the transfer to the loop.
        case enqueue
        /// Already cancelled: fail the head waiter now.
        case fail(HeadWaiter, any Error)
    }

    mutating func start(_ waiter: HeadWaiter) -> StartAction {
        guard case .idle = phase else { return .fail(waiter, CancellationError()) }
        phase = .awaitingHead(waiter)
        return .enqueue
    }

    /// The producer task of a streamed body; returns true when it must be cancelled at once.
    mutating func setProducer(_ task: Task<Void, Never>) -> Bool {
        producer = task
        return isFinished
    }

    /// The head arrived (loop thread): the waiter to resume, if one waits.
    mutating func headArrived() -> HeadWaiter? {
        guard case .awaitingHead(let waiter) = phase else { return nil }
        phase = .streaming
        return waiter
    }

    // MARK: - Response body

    enum ReceiveAction: Equatable {
        /// The bytes were taken.
        case accepted
        /// The buffer is full: tell curl to pause (it offers the same bytes again later).
        case pause
        /// Cancelled: tell curl to stop.
        case abort
    }

    /// curl's write callback (loop thread): buffer the bytes, or pause when the reader lags.
    mutating func receive(_ data: UnsafeRawBufferPointer, expectedLength: Int64) -> ReceiveAction {
        if isCancelled { return .abort }
        if buffered >= responseLimit {
            receive = .paused
            return .pause
        }
        if !pending.isEmpty && pending.count + data.count > mergeSize {
            chunks.append(pending)
            pending = []
        }
        if pending.capacity == 0 {
            // Size the element once: the whole body when it is small and its length known.
            let want = expectedLength >= 0 ? min(Int64(mergeSize), max(expectedLength, Int64(data.count))) : Int64(mergeSize)
            pending.reserveCapacity(Int(want))
        }
        pending.append(contentsOf: data)
        buffered += data.count
        if buffered > peakBuffered { peakBuffered = buffered }
        return .accepted
    }

    /// Takes the oldest buffered element (a full chunk, else the partial one), if any.
    private mutating func takeElement() -> [UInt8]? {
        let element: [UInt8]
        if chunkHead < chunks.count {
            element = chunks[chunkHead]
            chunks[chunkHead] = []
            chunkHead += 1
            if chunkHead == chunks.count {
                chunks.removeAll(keepingCapacity: true)
                chunkHead = 0
            }
        } else if !pending.isEmpty {
            element = pending
            pending = []
        } else {
            return nil
        }
        buffered -= element.count
        return element
    }

    /// Whether a read that just drained the buffer should ask the loop to unpause curl.
    private mutating func unpauseAfterRead() -> Bool {
        guard receive == .paused, buffered <= responseLimit / 2 else { return false }
        receive = .unpauseRequested
        return true
    }

    enum ReadAction {
        /// An element; with `unpause`, post an unpause to the loop.
        case element([UInt8], unpause: Bool)
        /// The body ended.
        case end
        /// The transfer failed (or was cancelled).
        case fail(any Error)
        /// Nothing yet: the waiter passed in was stored (resumed by ``flush()`` or ``complete``).
        case parked
        /// Nothing yet and no waiter given: call again with one.
        case wait
    }

    /// A reader asks for the next element. At most one reader may wait at a time: a second
    /// concurrent one is refused (`error`), so the first is never forgotten.
    mutating func read(parking waiter: BodyWaiter?, concurrentReadError: @autoclosure () -> any Error) -> ReadAction {
        if let element = takeElement() {
            return .element(element, unpause: unpauseAfterRead())
        }
        switch phase {
        case .finished(.success): return .end
        case .finished(.failure(let e)): return .fail(e)
        case .cancelled: return .fail(CancellationError())
        default: break
        }
        guard let waiter else { return reader == nil ? .wait : .fail(concurrentReadError()) }
        if reader != nil { return .fail(concurrentReadError()) }
        reader = waiter
        return .parked
    }

    /// After a loop pass (loop thread): hand an element to a waiting reader. With
    /// `unpauseNow`, curl paused in this same pass after the bytes handed out were buffered:
    /// the loop unpauses it directly.
    mutating func flush() -> (reader: BodyWaiter, element: [UInt8], unpauseNow: Bool)? {
        guard let waiter = reader, let element = takeElement() else { return nil }
        reader = nil
        var unpauseNow = false
        if receive == .paused && buffered <= responseLimit / 2 {
            receive = .flowing
            unpauseNow = true
        }
        return (waiter, element, unpauseNow)
    }

    /// The loop is about to call `curl_easy_pause(CONT)` (loop thread).
    mutating func clearPause() {
        receive = .flowing
        sendPaused = false
    }

    // MARK: - Cancel and completion

    struct Wake {
        var head: (HeadWaiter, Result<Void, any Error>)?
        var body: (BodyWaiter, Result<[UInt8]?, any Error>)?
        var producer: (ProducerWaiter, any Error)?
        var producerTask: Task<Void, Never>?
    }

    /// The caller cancels: every waiter fails now. Returns nil when already over (nothing to do);
    /// otherwise also post a removal to the loop.
    mutating func cancel() -> Wake? {
        var wake = Wake()
        switch phase {
        case .finished, .cancelled: return nil
        case .awaitingHead(let w): wake.head = (w, .failure(CancellationError()))
        case .idle, .streaming: break
        }
        phase = .cancelled
        if let r = reader { wake.body = (r, .failure(CancellationError())) }
        reader = nil
        if let p = producerWaiter { wake.producer = (p, CancellationError()) }
        producerWaiter = nil
        wake.producerTask = producer
        return wake
    }

    /// Curl ended the transfer (loop thread), or the loop failed it. A cancelled transfer ends
    /// as cancelled whatever curl said. The head waiter gets `.success` when curl finished
    /// without the header callback seeing the end of the head (the loop builds the head then).
    mutating func complete(_ result: Result<Void, any Error>, bodyEndedEarly: @autoclosure () -> any Error) -> Wake {
        var wake = Wake()
        if !pending.isEmpty {
            chunks.append(pending)
            pending = []
        }
        switch phase {
        case .cancelled:
            break
        case .awaitingHead(let w):
            wake.head = (w, result)
            phase = .finished(result)
        default:
            phase = .finished(result)
        }
        if let r = reader {
            reader = nil
            if let element = takeElement() {
                wake.body = (r, .success(element))
            } else if case .finished(.failure(let e)) = phase {
                wake.body = (r, .failure(e))
            } else if isCancelled {
                wake.body = (r, .failure(CancellationError()))
            } else {
                wake.body = (r, .success(nil))
            }
        }
        if let p = producerWaiter {
            producerWaiter = nil
            wake.producer = (p, bodyEndedEarly())
        }
        wake.producerTask = producer
        return wake
    }

    // MARK: - Streamed request body

    enum EnqueueAction {
        /// Taken; with `unpause`, post an unpause (curl was waiting for data).
        case taken(unpause: Bool)
        /// Taken, and the buffer is full: the waiter was stored until curl drains it.
        case parked(unpause: Bool)
        case fail(any Error)
    }

    /// The producer hands over bytes; past `requestLimit` buffered, it waits.
    mutating func enqueueUpload(_ bytes: [UInt8], waiter: ProducerWaiter, endedError: @autoclosure () -> any Error) -> EnqueueAction {
        switch phase {
        case .cancelled: return .fail(CancellationError())
        case .finished(.failure(let e)): return .fail(e)
        case .finished(.success): return .fail(endedError())
        default: break
        }
        upChunks.append(bytes)
        upBuffered += bytes.count
        let unpause = sendPaused
        sendPaused = false
        if upBuffered >= requestLimit {
            producerWaiter = waiter
            return .parked(unpause: unpause)
        }
        return .taken(unpause: unpause)
    }

    /// The producer is done (`failure` nil) or threw. Returns true when the loop must unpause.
    mutating func finishUpload(failure: (any Error)?) -> Bool {
        if case .open = upload { upload = failure.map { .failed($0) } ?? .finished }
        let wasPaused = sendPaused
        sendPaused = false
        return wasPaused
    }

    /// The request body could not be read (a file shorter than promised): the request fails
    /// with `error` instead of looking cancelled.
    mutating func failUpload(_ error: any Error) {
        if case .failed = upload { return }
        upload = .failed(error)
    }

    enum SendAction {
        /// Bytes copied; resume the producer if given (the buffer drained below half).
        case wrote(Int, resume: ProducerWaiter?)
        /// Nothing to send yet: tell curl to pause.
        case pause
        /// The body is complete.
        case end
        /// Cancelled, or the producer failed: tell curl to abort.
        case abort
    }

    /// curl's read callback for a streamed body (loop thread).
    mutating func send(into buffer: UnsafeMutableRawBufferPointer) -> SendAction {
        if isCancelled { return .abort }
        if upChunks.isEmpty {
            switch upload {
            case .finished: return .end
            case .failed: return .abort
            case .open:
                sendPaused = true
                return .pause
            }
        }
        var written = 0
        while written < buffer.count, !upChunks.isEmpty {
            let take = min(buffer.count - written, upChunks[0].count - upOffset)
            upChunks[0].withUnsafeBytes { src in
                buffer.baseAddress!.advanced(by: written).copyMemory(from: src.baseAddress!.advanced(by: upOffset), byteCount: take)
            }
            written += take
            upOffset += take
            if upOffset == upChunks[0].count {
                upChunks.removeFirst()
                upOffset = 0
            }
        }
        upBuffered -= written
        var resume: ProducerWaiter?
        if upBuffered < requestLimit / 2 {
            resume = producerWaiter
            producerWaiter = nil
        }
        return .wrote(written, resume: resume)
    }
}
