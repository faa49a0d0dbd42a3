import CCurl
import CTLS
#if canImport(Glibc)
import Glibc
#endif

/// An HTTP or HTTPS connection that curl opened and handed over: every request whose body is
/// in memory (``DirectHTTP/isEligible(_:)``) takes one, so small requests and the ranges and
/// parts of large transfers share one pool, one TLS context and its sessions. Bodies read from
/// a file or a stream as they go, requests with a time limit, and everything behind a proxy
/// stay with curl.
///
/// Why: curl reads every body into its own receive buffer and hands it to the write callback,
/// which must copy it out before returning: two copies of every byte on the loop thread (the
/// kernel's into curl's buffer, ours into the part buffer), each about 28% of a 1 GiB
/// download's CPU. Here the loop `recv`s straight into the part buffer: the kernel's copy is
/// the only one. A body bound for a file is `splice`d from the socket through a pipe into the
/// file: the kernel copies it once, into the page cache, and this process not at all. Small
/// requests took the same path once a cold start of 64 of them over TLS was found paying for
/// two pools (curl's and this one) and a TLS context per connection under curl.
///
/// How: curl still opens the connection (`CURLOPT_CONNECT_ONLY`: name resolution, happy
/// eyeballs, the connect timeout, keep-alive probes); once it is connected the loop takes the
/// socket (`CURLINFO_ACTIVESOCKET`) and removes the handle, whose close-socket callback then
/// leaves the socket open. The loop writes the request (``DirectHTTP/requestBytes(_:)``, then
/// the body from where it is), reads the head (``DirectHTTP/parseHead(_:)``), then the body in
/// its framing (`Content-Length` bytes, chunks through ``ChunkedDecoder``, or up to the close),
/// and keeps the connection for the next request to the same host. At most
/// ``HTTPEngineConfiguration/maxConnectionsPerHost`` are open or busy per host; further
/// requests wait for one. Its socket is polled by the same `curl_multi_poll` as curl's own (as
/// an extra descriptor). A connection that was idle and breaks before any byte of the answer is
/// replaced once, as curl does with a stale reused one.
///
/// Over HTTPS curl opens the TCP connection only; the handshake and every byte after it go
/// through ``DirectTLSContext`` (libssl, read-ahead): each read decrypts several records
/// straight into the part buffer, or into the gathered writes of a file (no `splice`: the bytes
/// must pass through this process to be decrypted).
///
/// Loop thread only.
final class DirectConnection {
    typealias State = DirectConnectionStateMachine.State

    /// `host:port`.
    let key: String
    /// Its phase and the moves allowed from it (``DirectConnectionStateMachine``).
    var machine = DirectConnectionStateMachine()
    var state: State { machine.state }
    var fd: Int32 = -1
    /// Set once the socket is ours: curl's close-socket callback then leaves it open.
    var adopted = false
    /// The transfer it serves (nil while idle, or connecting for a transfer that ended).
    var transfer: Transfer?
    /// The request's head; it is followed by the transfer's body (``DirectHTTP/body(of:)``), and
    /// `sent` counts the bytes of the two written (``CurlLoop/directSendRequest(_:_:)``).
    var output: [UInt8] = []
    var sent = 0
    var headBytes: [UInt8] = []
    /// Body bytes still to come (`Content-Length` framing; `Int64.max` for the others).
    var remaining: Int64 = 0
    /// The body is chunked: its decoder (``ChunkedDecoder``), and the bytes it decoded from the
    /// last read, to be handed on.
    var chunked: ChunkedDecoder?
    var decoded: [UInt8] = []
    /// The body has neither length nor chunks: it ends when the server closes the connection.
    var untilClose = false
    /// It counts against the per-host limit (``HTTPEngineConfiguration/maxConnectionsPerHost``):
    /// opening, or serving a transfer (not idle, not closed).
    var inUse = false
    /// Connecting, or over TLS not yet past its handshake (``CurlLoop/directOpeningPerHost``).
    var opening = false
    var keepAlive = true
    /// The server answered before the whole request was written (``CurlLoop/directAnsweredEarly(_:)``):
    /// the rest was not sent, so the connection is closed after the answer.
    var cutShort = false
    /// `headBytes` holds bytes not yet parsed (read while the request was being written).
    var unparsedHead = false
    /// It carried an earlier exchange (then a failure before any byte of the answer is the
    /// server having closed an idle connection).
    var reused = false
    var receivedAny = false
    /// The transfer's reader lags (an error body read through the state machine): no reading
    /// until it unpauses; `pending` holds what it did not take.
    var paused = false
    var pending: [UInt8] = []
    var idleSince: UInt64 = 0
    /// TLS (`https://` keys): the connection over the socket, once curl connected it. Its
    /// handshake runs on the first request only: a TLS connection is never kept before it.
    var tls: OpaquePointer?

    init(key: String) { self.key = key }
}

/// curl's close-socket callback for the connecting handles of direct connections.
func directCloseSocketCallback(_ clientp: UnsafeMutableRawPointer?, _ fd: curl_socket_t) -> Int32 {
    guard let clientp else { return close(fd) }
    let connection = Unmanaged<DirectConnection>.fromOpaque(clientp).takeUnretainedValue()
    return connection.adopted ? 0 : close(fd)
}

extension CurlLoop {
    /// The most connections opening to one host at once (connecting, and over TLS handshaking);
    /// a request that finds none idle and this many opening waits for the first to be free.
    ///
    /// Why: a cold start of 64 requests at once over TLS opened 64 connections, and each waited
    /// for its own handshake while the server signed 64 of them (RSA) and the loop did 64 in turn:
    /// the first batch of PUTs took 29-58 ms (p99 of 5,000 at 64 in flight) against the CRT's
    /// 23-27 ms, which opens 25. With at most 16 opening, the first requests finish on the
    /// first connections while later ones open.
    static let directOpeningPerHost = 16

    /// The most bytes of a streamed body handed to its reader's buffer at once.
    static let directPieceSize = 16 << 10

    /// Idle direct connections kept per host, and how long one is kept.
    static let directIdlePerHost = 64
    static let directIdleNanoseconds: UInt64 = 30_000_000_000

    /// Starts `t` on a direct connection when it qualifies; false when it goes through curl.
    func directStart(_ t: Transfer) -> Bool {
        guard directEnabled, DirectHTTP.isEligible(t.request), let key = DirectHTTP.connectionKey(url: t.request.url),
              !DirectHTTP.endpoint(ofKey: key).tls || directTLSEnabled,
              let bytes = DirectHTTP.requestBytes(t.request) else { return false }
        t.loopDirectRequest = bytes
        transfers[t.id] = t
        liveCount.store(transfers.count, ordering: .relaxed)
        directConnect(t, key: key)
        return true
    }

    /// Serves `t` on an idle connection to `key`, else on a new one; false when it must wait:
    /// the host has ``HTTPEngineConfiguration/maxConnectionsPerHost`` in use (as curl queues its
    /// own), or ``directOpeningPerHost`` still opening.
    @discardableResult
    private func directConnect(_ t: Transfer, key: String, queue: Bool = true) -> Bool {
        while var list = directIdle[key], let connection = list.popLast() {
            directIdle[key] = list.isEmpty ? nil : list
            guard connection.state == .idle else { continue }
            connection.reused = true
            directAttach(connection, t)
            return true
        }
        let limit = configuration.maxConnectionsPerHost
        if (limit > 0 && directInUse[key, default: 0] >= limit) || directOpening[key, default: 0] >= Self.directOpeningPerHost {
            if queue { directWaiting[key, default: []].append(t) }
            return false
        }
        directOpen(key: key, for: t)
        return true
    }

    /// Counts `connection` in or out of its host's connections in use; a host that falls below
    /// its limit gets its first waiting transfer started at the end of the pass.
    func directCount(_ connection: DirectConnection, inUse: Bool) {
        if !inUse { directEndOpening(connection) }
        guard connection.inUse != inUse else { return }
        connection.inUse = inUse
        directInUse[connection.key, default: 0] += inUse ? 1 : -1
        if !inUse && directWaiting[connection.key] != nil { directFreed.insert(connection.key) }
    }

    /// The connection is open (connected, and over TLS past its handshake) or gone: one more
    /// may start opening to its host.
    func directEndOpening(_ connection: DirectConnection) {
        guard connection.opening else { return }
        connection.opening = false
        directOpening[connection.key, default: 0] -= 1
        if directWaiting[connection.key] != nil { directFreed.insert(connection.key) }
    }

    /// Starts the transfers that waited for a connection to a host that now has one free or
    /// may open one (once a pass, not from inside `finish`), in the order they came.
    func directStartWaiting() {
        guard !directFreed.isEmpty else { return }
        let keys = directFreed
        directFreed.removeAll()
        for key in keys {
            while var queue = directWaiting[key], !queue.isEmpty {
                let t = queue[0]
                // One cancelled or failed while it waited is gone from the table.
                if transfers[t.id] === t {
                    guard directConnect(t, key: key, queue: false) else { break }
                }
                queue.removeFirst()
                directWaiting[key] = queue.isEmpty ? nil : queue
            }
        }
    }

    /// Opens a connection to `key` for `t` through curl (`CURLOPT_CONNECT_ONLY`).
    func directOpen(key: String, for t: Transfer) {
        let connection = DirectConnection(key: key)
        connection.transfer = t
        t.loopDirectConnection = connection
        directCount(connection, inUse: true)
        connection.opening = true
        directOpening[key, default: 0] += 1
        if directOpening[key]! > directOpeningPeak.load(ordering: .relaxed) { directOpeningPeak.store(directOpening[key]!, ordering: .relaxed) }
        guard let easy = curl_easy_init() else {
            t.loopDirectConnection = nil
            finish(t, .failure(HTTPTransportError(kind: .other, host: t.host, curlCode: 0, message: "curl_easy_init failed")))
            return
        }
        directOpened.wrappingAdd(1, ordering: .relaxed)
        let me = Unmanaged.passUnretained(connection).toOpaque()
        // TCP only, also for TLS: the handshake is the loop's (DirectTLSContext).
        var ok = s3_curl_easy_setopt_string(easy, CURLOPT_URL, "http://" + DirectHTTP.endpoint(ofKey: key).authority + "/") == CURLE_OK
        _ = s3_curl_easy_setopt_long(easy, CURLOPT_CONNECT_ONLY, 1)
        _ = s3_curl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        _ = s3_curl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, configuration.connectTimeoutMilliseconds)
        _ = s3_curl_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1)
        _ = s3_curl_easy_setopt_long(easy, CURLOPT_TCP_NODELAY, 1)
        _ = s3_curl_easy_setopt_closesocket_callback(easy, directCloseSocketCallback)
        _ = s3_curl_easy_setopt_ptr(easy, CURLOPT_CLOSESOCKETDATA, me)
        directConnecting[UInt(bitPattern: easy)] = connection
        ok = ok && curl_multi_add_handle(multi, easy) == CURLM_OK
        if !ok {
            directConnecting[UInt(bitPattern: easy)] = nil
            curl_easy_cleanup(easy)
            connection.machine.apply(.close)
            directCount(connection, inUse: false)
            finish(t, .failure(HTTPTransportError(kind: .other, host: t.host, curlCode: 0, message: "could not start the connection")))
        }
    }

    /// curl finished connecting `easy` (a direct connection's handle), if it is one.
    func directConnected(easy: UnsafeMutableRawPointer, code: CURLcode) -> Bool {
        guard let connection = directConnecting.removeValue(forKey: UInt(bitPattern: easy)) else { return false }
        var socket: curl_socket_t = -1
        if code == CURLE_OK { _ = s3_curl_easy_getinfo_socket(easy, &socket) }
        connection.adopted = code == CURLE_OK && socket >= 0
        // With the socket adopted, the close-socket callback leaves it open.
        curl_multi_remove_handle(multi, easy)
        curl_easy_cleanup(easy)
        guard connection.adopted else {
            connection.machine.apply(.close)
            directCount(connection, inUse: false)
            if let t = connection.transfer, transfers[t.id] === t {
                let raw = Int32(bitPattern: code.rawValue)
                var kind = code == CURLE_OK ? HTTPTransportError.Kind.other : HTTPTransportError.kind(curlCode: raw)
                if kind == .stalled { kind = .connectTimeout }
                t.loopDirectConnection = nil
                finish(t, .failure(HTTPTransportError(kind: kind, host: t.host, curlCode: raw,
                                                      message: String(cString: curl_easy_strerror(code)))))
            }
            return true
        }
        connection.fd = socket
        if !DirectHTTP.endpoint(ofKey: connection.key).tls { directEndOpening(connection) }
        let live = connection.transfer.flatMap { transfers[$0.id] === $0 ? $0 : nil }
        if DirectHTTP.endpoint(ofKey: connection.key).tls {
            var failure: String?
            switch directTLS() {
            case .success(let context):
                connection.tls = context.connection(fd: socket, key: connection.key)
                if connection.tls == nil { failure = "could not start TLS" }
            case .failure(let error):
                failure = error.message
            }
            guard failure == nil, let t = live else {
                // A TLS connection is not kept half-open: with no one to handshake for, closed.
                directClose(connection)
                if let t = live {
                    t.loopDirectConnection = nil
                    finish(t, .failure(HTTPTransportError(kind: .tls, host: t.host, curlCode: 0, message: failure ?? "")))
                }
                return true
            }
            directAttach(connection, t)
            return true
        }
        if let t = live {
            directAttach(connection, t)
        } else {
            connection.transfer = nil
            directMakeIdle(connection)
        }
        return true
    }

    /// Puts `t`'s request on `connection` and starts sending it.
    func directAttach(_ connection: DirectConnection, _ t: Transfer) {
        connection.transfer = t
        t.loopDirectConnection = connection
        connection.output = t.loopDirectRequest
        connection.sent = 0
        connection.headBytes.removeAll(keepingCapacity: true)
        connection.receivedAny = false
        connection.cutShort = false
        connection.unparsedHead = false
        connection.paused = false
        connection.pending = []
        connection.chunked = nil
        connection.decoded.removeAll(keepingCapacity: true)
        connection.untilClose = false
        directCount(connection, inUse: true)
        connection.machine.apply(.attach(handshakeNeeded: connection.tls != nil && connection.state == .connecting))
        directBusy[ObjectIdentifier(connection)] = connection
        t.loopConnectionReady()
        directService(connection)
    }

    func directMakeIdle(_ connection: DirectConnection) {
        directBusy[ObjectIdentifier(connection)] = nil
        var list = directIdle[connection.key] ?? []
        guard connection.fd >= 0, list.count < Self.directIdlePerHost else {
            directClose(connection)
            return
        }
        if let tls = connection.tls, case .success(let context) = directTLS() { context.keepSession(of: tls, key: connection.key) }
        connection.machine.apply(connection.state == .connecting ? .connectedWithoutTransfer : .released)
        directCount(connection, inUse: false)
        connection.idleSince = monotonicNanoseconds()
        list.append(connection)
        directIdle[connection.key] = list
    }

    func directClose(_ connection: DirectConnection) {
        directBusy[ObjectIdentifier(connection)] = nil
        if let tls = connection.tls { s3_tls_free(tls) }
        connection.tls = nil
        if connection.fd >= 0 { close(connection.fd) }
        connection.fd = -1
        connection.machine.apply(.close)
        connection.transfer = nil
        connection.pending = []
        directCount(connection, inUse: false)
    }

    /// `finish` for a transfer on a direct connection: the connection goes back to the pool when
    /// the exchange ended cleanly, is left to connect (then idles) when it was still connecting,
    /// and is closed otherwise (the answer is part-read).
    func directDetach(_ t: Transfer, success: Bool) {
        guard let connection = t.loopDirectConnection else { return }
        t.loopDirectConnection = nil
        guard connection.transfer === t else { return }
        connection.transfer = nil
        switch connection.state {
        case .connecting:
            break
        case .body where success && connection.remaining == 0 && connection.keepAlive && connection.pending.isEmpty:
            directMakeIdle(connection)
        default:
            directClose(connection)
        }
    }

    /// Moves bytes on `connection` until the socket would block or the exchange ends.
    func directService(_ connection: DirectConnection) {
        while let t = connection.transfer {
            switch connection.state {
            case .handshaking:
                guard let tls = connection.tls else { return }
                let r = s3_tls_handshake(tls)
                if r == 1 {
                    if s3_tls_resumed(tls) == 1 { directResumed.wrappingAdd(1, ordering: .relaxed) }
                    connection.machine.apply(.handshakeDone)
                    directEndOpening(connection)
                    t.loopLastActivity = monotonicNanoseconds()
                    continue
                }
                if Int(r) == S3_TLS_WANT_READ || Int(r) == S3_TLS_WANT_WRITE {
                    connection.machine.tlsWait = Int(r) == S3_TLS_WANT_READ ? .read : .write
                    return
                }
                // A certificate or handshake failure is the TLS's, not the network's: not retried.
                finish(t, .failure(HTTPTransportError(kind: .tls, host: t.host, curlCode: 0,
                                                      message: "\(DirectHTTP.endpoint(ofKey: connection.key).authority): " + directTLSError(tls))))
                return
            case .sending:
                guard directSendRequest(connection, t) else { return }
            case .head:
                guard directReadHead(connection, t) else { return }
            case .body:
                guard directReadBody(connection, t) else { return }
            case .connecting, .idle, .closed:
                return
            }
        }
    }

    /// Reads what the connection holds (at most 16 KiB) onto the end of `headBytes`: what
    /// ``directRecv(_:_:_:)`` returned, and `errno` after it.
    func directReadMoreHead(_ connection: DirectConnection) -> (Int, Int32) {
        let chunk = 16 << 10
        let old = connection.headBytes.count
        connection.headBytes.append(contentsOf: repeatElement(0, count: chunk))
        let n = connection.headBytes.withUnsafeMutableBytes { directRecv(connection, $0.baseAddress! + old, chunk) }
        let savedErrno = errno
        connection.headBytes.removeLast(chunk - max(n, 0))
        return (n, savedErrno)
    }

    /// Reads and parses the head; true to go on (the state moved on), false to wait or stop.
    private func directReadHead(_ connection: DirectConnection, _ t: Transfer) -> Bool {
        let (n, savedErrno) = directReadMoreHead(connection)
        if n == 0 && !connection.unparsedHead {
            directBroken(connection, t, "the connection closed before the response head")
            return false
        }
        if n < 0 {
            if savedErrno == EINTR { return true }
            if savedErrno == EAGAIN || savedErrno == EWOULDBLOCK {
                // Bytes read while the request was being written are parsed now, or they would
                // wait for more that may never come.
                guard connection.unparsedHead else { return false }
            } else {
                directBroken(connection, t, "receiving failed: " + directIOError(connection, savedErrno))
                return false
            }
        }
        connection.unparsedHead = false
        connection.receivedAny = true
        t.loopLastActivity = monotonicNanoseconds()
        while true {
            let parsed = connection.headBytes.withUnsafeBytes { DirectHTTP.parseHead($0) }
            switch parsed {
            case .needMore:
                return true
            case .invalid(let why):
                finish(t, .failure(HTTPTransportError(kind: .protocolError, host: t.host, curlCode: 0, message: "invalid response: " + why)))
                return false
            case .head(let head):
                if (100..<200).contains(head.status) {
                    // An interim answer (100 Continue and the like): the real one follows.
                    connection.headBytes.removeFirst(head.length)
                    if head.status == 101 {
                        finish(t, .failure(HTTPTransportError(kind: .protocolError, host: t.host, curlCode: 0,
                                                              message: "invalid response: a protocol switch to a GET")))
                        return false
                    }
                    continue
                }
                if connection.cutShort && (200..<300).contains(head.status) {
                    // A success for a request whose body was not all sent: not to be believed.
                    finish(t, .failure(HTTPTransportError(kind: .protocolError, host: t.host, curlCode: 0,
                                                          message: "invalid response: \(head.status) before the request body was sent")))
                    return false
                }
                connection.keepAlive = head.keepAlive && !connection.cutShort
                // The body's framing (RFC 9112 §6.3): none after HEAD, 204 and 304; chunked;
                // else Content-Length; else (no length, or a coding other than chunked) until
                // the server closes, after which the connection is not kept.
                let lengthKnown: Bool
                if t.request.method == "HEAD" || head.status == 204 || head.status == 304 {
                    connection.remaining = 0
                    lengthKnown = true
                } else if head.isChunked {
                    connection.chunked = ChunkedDecoder()
                    connection.remaining = .max
                    lengthKnown = false
                } else if let length = head.contentLength, !head.hasTransferEncoding {
                    connection.remaining = length
                    lengthKnown = true
                } else {
                    connection.untilClose = true
                    connection.keepAlive = false
                    connection.remaining = .max
                    lengthKnown = false
                }
                let rest = Array(connection.headBytes[head.length...])
                connection.headBytes.removeAll(keepingCapacity: true)
                connection.machine.apply(.headRead)
                t.loopHeaderFields = head.fields
                t.loopStatus = head.status
                t.deliverHead(status: head.status)
                guard connection.transfer === t else { return false }  // the caller went away meanwhile
                if !lengthKnown {
                    // Checked piece by piece as the body comes (directDeliver).
                } else if let buffer = t.loopDirect, Int64(buffer.capacity - buffer.count) < connection.remaining {
                    t.loopOverflow = true
                } else if let target = t.loopFile, target.length - t.loopBodyBytes < connection.remaining {
                    t.loopOverflow = true
                }
                if t.loopOverflow, let error = t.loopSinkError() {
                    finish(t, .failure(error))
                    return false
                }
                if !rest.isEmpty {
                    return rest.withUnsafeBytes { directTakeBody($0, connection, t) }
                }
                if connection.remaining == 0 { finish(t, .success(())); return false }
                return true
            }
        }
    }

    /// Reads body bytes: into the response buffer with `recv` when the head said it goes
    /// there (2xx), else through the transfer's state machine (an error body).
    private func directReadBody(_ connection: DirectConnection, _ t: Transfer) -> Bool {
        if connection.paused { return false }
        if connection.remaining == 0 { finish(t, .success(())); return false }
        if connection.chunked != nil || connection.untilClose { return directReadFramedBody(connection, t) }
        if let target = t.loopFile {
            if t.loopIsCancelled { return false }  // the loop's cancel message ends it
            // Over TLS the bytes are decrypted here: received and written (gathered), never spliced.
            return directFileSpliceOff || connection.tls != nil ? directReceiveIntoFile(connection, t) : directSplice(connection, t, into: target)
        }
        if let buffer = t.loopDirect {
            if t.loopIsCancelled { return false }  // the loop's cancel message ends it
            let want = Int(min(connection.remaining, Int64(buffer.capacity - buffer.count)))
            let n = directRecv(connection, buffer.base + buffer.count, want)
            if n > 0 {
                buffer.count += n
                t.loopBodyBytes += Int64(n)
                connection.remaining -= Int64(n)
                t.loopLastActivity = monotonicNanoseconds()
                if connection.remaining == 0 { finish(t, .success(())); return false }
                return true
            }
            return directReceiveFailed(connection, t, n)
        }
        let size = Int(min(connection.remaining, Int64(directScratch.count)))
        let n = directScratch.withUnsafeMutableBytes { directRecv(connection, $0.baseAddress!, size) }
        if n > 0 {
            return directScratch.withUnsafeBytes { directDeliver(UnsafeRawBufferPointer(rebasing: $0[0..<n]), connection, t) }
        }
        return directReceiveFailed(connection, t, n)
    }

    /// Reads a body that has no `Content-Length`: chunked, or until the server closes.
    private func directReadFramedBody(_ connection: DirectConnection, _ t: Transfer) -> Bool {
        if let decoder = connection.chunked, decoder.isFinished {
            // Its last bytes were handed on after a pause.
            connection.remaining = 0
            finish(t, .success(()))
            return false
        }
        if t.loopIsCancelled { return false }  // the loop's cancel message ends it
        let n = directScratch.withUnsafeMutableBytes { directRecv(connection, $0.baseAddress!, $0.count) }
        if n == 0 && connection.untilClose {
            finish(t, .success(()))
            return false
        }
        guard n > 0 else {
            if n == 0 {
                directBroken(connection, t, "the connection closed before the end of the chunked body")
                return false
            }
            return directReceiveFailed(connection, t, n)
        }
        t.loopLastActivity = monotonicNanoseconds()
        return directScratch.withUnsafeBytes { directTakeBody(UnsafeRawBufferPointer(rebasing: $0[0..<n]), connection, t) }
    }

    /// Takes body bytes as they came off the connection, in its framing: decoded first when
    /// chunked, then handed on (``directDeliver(_:_:_:)``). False when it must wait or stop.
    private func directTakeBody(_ raw: UnsafeRawBufferPointer, _ connection: DirectConnection, _ t: Transfer) -> Bool {
        guard connection.chunked != nil else {
            if !connection.untilClose && raw.count > connection.remaining {
                finish(t, .failure(HTTPTransportError(kind: .protocolError, host: t.host, curlCode: 0,
                                                      message: "invalid response: more bytes than its Content-Length")))
                return false
            }
            return directDeliver(raw, connection, t)
        }
        connection.decoded.removeAll(keepingCapacity: true)
        let outcome = connection.chunked!.decode(raw, into: &connection.decoded)
        if case .invalid(let why) = outcome {
            finish(t, .failure(HTTPTransportError(kind: .protocolError, host: t.host, curlCode: 0, message: "invalid response: " + why)))
            return false
        }
        if case .finished(let consumed) = outcome, consumed < raw.count {
            // Bytes after the body that nobody asked for: the connection is not kept.
            connection.keepAlive = false
        }
        if !connection.decoded.isEmpty {
            let bytes = connection.decoded
            guard bytes.withUnsafeBytes({ directDeliver($0, connection, t) }) else { return false }
        }
        if connection.chunked!.isFinished {
            connection.remaining = 0  // nothing more to come: the connection may be kept
            finish(t, .success(()))
            return false
        }
        return true
    }

    /// Moves body bytes from the socket into the transfer's file without copying them through
    /// this process: `splice` from the socket into the loop's pipe, then from the pipe into the
    /// file at the body's offset. The pipe is empty again when this returns (one that could not
    /// be emptied is dropped).
    private func directSplice(_ connection: DirectConnection, _ t: Transfer, into target: ResponseFileRange) -> Bool {
        guard let pipe = directSplicePipe() else { return directReceiveIntoFile(connection, t) }
        let want = Int(min(connection.remaining, Int64(pipe.size)))
        let n = s3_splice(connection.fd, nil, pipe.write, nil, want, 1)
        if n <= 0 {
            if n < 0 && errno == EINVAL {
                // This socket does not splice: receive and write instead.
                directFileSpliceOff = true
                return true
            }
            return directReceiveFailed(connection, t, n)
        }
        var left = n
        while left > 0 {
            var offset = target.offset + t.loopBodyBytes
            // At most writeStep per call: a longer one makes the kernel allocate large folios,
            // which costs far more on a VM whose free pages the host has taken back.
            let m = s3_splice(pipe.read, nil, target.file.fd, &offset, min(left, ResponseFile.writeStep), 0)
            if m > 0 {
                left -= m
                t.loopBodyBytes += Int64(m)
                connection.remaining -= Int64(m)
                continue
            }
            let e = m < 0 ? errno : EIO
            if e == EINTR { continue }
            if e == EINVAL && !directFileSpliceOff {
                // The file's file system does not take `splice`: drain the pipe by reading and
                // writing, and receive the rest that way.
                directFileSpliceOff = true
                guard directDrainPipe(pipe.read, left, into: t) else { break }
                connection.remaining -= Int64(left)
                left = 0
                continue
            }
            t.loopFileErrno = e
            break
        }
        if left > 0 {
            directDropPipe()
            if let error = t.loopSinkError() { finish(t, .failure(error)) }
            return false
        }
        t.fileBytesSoFar.store(t.loopBodyBytes, ordering: .relaxed)
        t.loopLastActivity = monotonicNanoseconds()
        if connection.remaining == 0 { finish(t, .success(())); return false }
        return true
    }

    /// Reads `count` bytes out of the pipe and writes them into the transfer's file; false
    /// when a write failed (`loopFileErrno` says why) or the pipe gave less.
    private func directDrainPipe(_ fd: Int32, _ count: Int, into t: Transfer) -> Bool {
        var left = count
        while left > 0 {
            let n = directScratch.withUnsafeMutableBytes { read(fd, $0.baseAddress!, min(left, $0.count)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                t.loopFileErrno = n < 0 ? errno : EIO
                return false
            }
            let written = directScratch.withUnsafeBytes { t.loopWriteFile(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            if !written {
                if t.loopFileErrno == 0 { t.loopFileErrno = EIO }
                return false
            }
            left -= n
        }
        return true
    }

    /// The body into the file without `splice`: `recv` into scratch, then `pwrite`. Over TLS the
    /// bytes are decrypted straight into the transfer's gathered writes.
    private func directReceiveIntoFile(_ connection: DirectConnection, _ t: Transfer) -> Bool {
        if connection.tls != nil {
            guard let room = t.loopFileRoom(limit: Int(connection.remaining)) else {
                if let error = t.loopSinkError() { finish(t, .failure(error)) }
                return false  // or cancelled: the loop's cancel message ends it
            }
            let n = directRecv(connection, room.baseAddress!, room.count)
            guard n > 0 else { return directReceiveFailed(connection, t, n) }
            connection.remaining -= Int64(n)
            guard t.loopFileCommit(n) else {
                if let error = t.loopSinkError() { finish(t, .failure(error)) }
                return false
            }
            if connection.remaining == 0 { finish(t, .success(())); return false }
            return true
        }
        let size = Int(min(connection.remaining, Int64(directScratch.count)))
        let n = directScratch.withUnsafeMutableBytes { directRecv(connection, $0.baseAddress!, size) }
        guard n > 0 else { return directReceiveFailed(connection, t, n) }
        guard directScratch.withUnsafeBytes({ t.loopWriteFile(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }) else {
            if let error = t.loopSinkError() { finish(t, .failure(error)) }
            return false
        }
        connection.remaining -= Int64(n)
        if connection.remaining == 0 { finish(t, .success(())); return false }
        return true
    }

    /// The loop's splice pipe, made (1 MiB where the system allows) on first use; nil when no
    /// pipe can be made.
    private func directSplicePipe() -> (read: Int32, write: Int32, size: Int)? {
        if let pipe = directPipe { return pipe }
        var fds: [Int32] = [-1, -1]
        guard s3_pipe_cloexec_nonblock(&fds) == 0 else { return nil }
        let size = Int(s3_pipe_set_size(fds[1], 1 << 20))
        guard size > 0 else {
            close(fds[0]); close(fds[1])
            return nil
        }
        directPipe = (fds[0], fds[1], size)
        return directPipe
    }

    /// Closes the splice pipe (it may hold bytes of a failed transfer); the next use makes a new one.
    func directDropPipe() {
        guard let pipe = directPipe else { return }
        close(pipe.read)
        close(pipe.write)
        directPipe = nil
    }

    /// A `recv` that returned `n <= 0`: false unless it was interrupted.
    private func directReceiveFailed(_ connection: DirectConnection, _ t: Transfer, _ n: Int) -> Bool {
        if n == 0 {
            directBroken(connection, t, "the connection closed with \(connection.remaining) bytes of the body still to come")
            return false
        }
        let e = errno
        if e == EINTR { return true }
        if e == EAGAIN || e == EWOULDBLOCK { return false }
        directBroken(connection, t, "receiving failed: " + directIOError(connection, e))
        return false
    }

    /// `recv` on the connection, or a TLS read decrypting into `buffer`: bytes read (> 0), 0 when
    /// the peer closed, or -1 with `errno` (`EAGAIN` when it must wait; ``DirectConnectionStateMachine/tlsWait``
    /// says for what over TLS; `EPROTO` when TLS failed, ``directIOError(_:_:)`` says why).
    func directRecv(_ connection: DirectConnection, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
        guard let tls = connection.tls else { return recv(connection.fd, buffer, count, 0) }
        let n = s3_tls_read(tls, buffer, count)
        return directTLSOutcome(connection, n)
    }

    /// `send` on the connection (`more`: the next bytes follow at once, `MSG_MORE`), or a TLS
    /// write (gathered: see ``CurlLoop/directSendRequest(_:_:)``): as ``directRecv(_:_:_:)``.
    func directSend(_ connection: DirectConnection, _ bytes: UnsafeRawPointer, _ count: Int, more: Bool = false) -> Int {
        guard let tls = connection.tls else {
            return send(connection.fd, bytes, count, Int32(MSG_NOSIGNAL) | (more ? Int32(MSG_MORE) : 0))
        }
        let n = s3_tls_write(tls, bytes, count)
        return directTLSOutcome(connection, n)
    }

    func directTLSOutcome(_ connection: DirectConnection, _ n: Int) -> Int {
        if n > 0 {
            connection.machine.tlsWait = .none
            return n
        }
        switch n {
        case S3_TLS_CLOSED:
            return 0
        case S3_TLS_WANT_READ, S3_TLS_WANT_WRITE:
            connection.machine.tlsWait = n == S3_TLS_WANT_READ ? .read : .write
            errno = EAGAIN
        default:
            errno = EPROTO
        }
        return -1
    }

    /// Why an I/O step failed: the TLS failure's own text over TLS, else `errno`'s.
    func directIOError(_ connection: DirectConnection, _ code: Int32) -> String {
        if code == EPROTO, let tls = connection.tls { return directTLSError(tls) }
        return String(cString: strerror(code))
    }

    /// Hands body bytes that do not go into a response buffer (in order) to the transfer.
    private func directDeliver(_ bytes: UnsafeRawBufferPointer, _ connection: DirectConnection, _ t: Transfer) -> Bool {
        if let buffer = t.loopDirect {
            guard buffer.count + bytes.count <= buffer.capacity else {
                // Only a body without Content-Length gets here too long (the head checks the others).
                t.loopOverflow = true
                if let error = t.loopSinkError() { finish(t, .failure(error)) }
                return false
            }
            buffer.append(bytes)
            t.loopBodyBytes += Int64(bytes.count)
            connection.remaining -= Int64(bytes.count)
        } else if t.loopFile != nil {
            guard t.loopWriteFile(bytes) else {
                if let error = t.loopSinkError() { finish(t, .failure(error)) }
                return false  // or cancelled: the loop's cancel message ends it
            }
            connection.remaining -= Int64(bytes.count)
        } else {
            // Handed over at most 16 KiB at a time, as curl does: the reader's buffer takes a
            // piece while it is under its limit, so it holds at most the limit and one piece.
            var at = 0
            while at < bytes.count {
                let piece = UnsafeRawBufferPointer(rebasing: bytes[at..<min(bytes.count, at + Self.directPieceSize)])
                let taken = t.loopReceive(piece)
                if taken == Int(s3_curl_writefunc_pause()) {
                    connection.paused = true
                    connection.pending = Array(bytes[at...])
                    return false
                }
                if taken != piece.count { return false }  // cancelled: the loop's cancel message ends it
                connection.remaining -= Int64(piece.count)
                at += piece.count
            }
        }
        if connection.remaining == 0 { finish(t, .success(())); return false }
        return true
    }

    /// The transfer's reader caught up: hand over what it left, then read on.
    func directResume(_ connection: DirectConnection) {
        guard let t = connection.transfer else { return }
        connection.paused = false
        if !connection.pending.isEmpty {
            let bytes = connection.pending
            connection.pending = []
            guard bytes.withUnsafeBytes({ directDeliver($0, connection, t) }) else { return }
        }
        directService(connection)
    }

    /// The connection broke. An idle connection the server closed before answering (nothing
    /// received) is replaced once with a new one; otherwise the transfer fails as
    /// `.connectionBroken` (retryable).
    func directBroken(_ connection: DirectConnection, _ t: Transfer, _ why: String) {
        if connection.reused && !connection.receivedAny {
            t.loopDirectConnection = nil
            directClose(connection)
            directOpen(key: connection.key, for: t)
            return
        }
        finish(t, .failure(HTTPTransportError(kind: .connectionBroken, host: t.host, curlCode: 0, message: why)))
    }

    /// The descriptors of direct connections for `curl_multi_poll`, and the connections in the
    /// same order.
    func directWaitDescriptors() {
        directPolled.removeAll(keepingCapacity: true)
        directWait.removeAll(keepingCapacity: true)
        let pollIn = s3_curl_wait_pollin(), pollOut = s3_curl_wait_pollout()
        func watch(_ connection: DirectConnection) {
            let events: Int16
            switch connection.machine.interest(paused: connection.paused) {
            case .none: return
            case .read: events = pollIn
            case .write: events = pollOut
            case .readWrite: events = pollIn | pollOut
            }
            directPolled.append(connection)
            directWait.append(curl_waitfd(fd: connection.fd, events: events, revents: 0))
        }
        for connection in directBusy.values where connection.fd >= 0 { watch(connection) }
        for list in directIdle.values {
            for connection in list where connection.state == .idle { watch(connection) }
        }
    }

    /// After the poll: serves the connections that are ready. An idle connection that turns
    /// readable was closed by the server (or sent what nobody asked for): closed.
    func directServeReady() {
        for (i, connection) in directPolled.enumerated() where directWait[i].revents != 0 {
            if connection.state == .idle {
                directDropIdle(connection)
            } else {
                directService(connection)
            }
        }
    }

    /// Closes idle connections kept longer than `directIdleNanoseconds`.
    func directExpireIdle(now: UInt64) {
        for list in directIdle.values {
            for connection in list where connection.state == .idle && now - connection.idleSince > Self.directIdleNanoseconds {
                directDropIdle(connection)
            }
        }
    }

    private func directDropIdle(_ connection: DirectConnection) {
        directClose(connection)
        if let list = directIdle[connection.key] {
            let kept = list.filter { $0 !== connection }
            directIdle[connection.key] = kept.isEmpty ? nil : kept
        }
    }

    /// At shutdown: closes every direct connection and drops the connecting handles.
    func directCloseAll() {
        for (key, connection) in directConnecting {
            if let easy = UnsafeMutableRawPointer(bitPattern: key) {
                // Not adopted: the close-socket callback closes whatever curl had opened.
                curl_multi_remove_handle(multi, easy)
                curl_easy_cleanup(easy)
            }
            connection.machine.apply(.close)
        }
        directConnecting.removeAll()
        directDropPipe()
        for connection in Array(directBusy.values) { directClose(connection) }
        for list in directIdle.values { for connection in list { directClose(connection) } }
        directIdle.removeAll()
        directWaiting.removeAll()
        directInUse.removeAll()
        directOpening.removeAll()
        directFreed.removeAll()
    }

    /// The loop's TLS context for direct connections, made on first use.
    func directTLS() -> Result<DirectTLSContext, HTTPTransportError> {
        if let made = directTLSContext { return made }
        let made = DirectTLSContext.make(configuration.tls)
        directTLSContext = made
        return made
    }
}
