import CCurl
import CTLS
#if canImport(Glibc)
import Glibc
#endif

/// The pool of direct connections (``DirectConnection``): which connection serves a request
/// (an idle one to its host, else a new one that curl opens, else a wait: at most
/// ``HTTPEngineConfiguration/maxConnectionsPerHost`` in use and ``CurlLoop/directOpeningPerHost``
/// opening per host), taking over a socket curl connected, giving a connection back when its
/// exchange ended cleanly or closing it, and polling their sockets beside curl's. What happens
/// on one connection during one exchange is `DirectExchange.swift` and `DirectSending.swift`.
extension CurlLoop {
    /// The most connections opening to one host at once (connecting, and over TLS handshaking);
    /// a request that finds none idle and this many opening waits for the first to be free.
    ///
    /// Why: a cold start of 64 requests at once over TLS opened 64 connections, and each waited
    /// for its own handshake while the server signed 64 of them (RSA) and the loop did 64 in
    /// turn. The p99 of 5,000 PUTs at 64 in flight, which that first batch sets, was 29-58 ms
    /// (median 45 of 11 runs) against the CRT's 21-33 ms (median 24; it opens 25). With at most
    /// 16 opening, the first requests finish on the first connections while later ones open:
    /// 25-58 ms, median 29 of 8 runs (8 opening: 22-104 ms over 4 runs).
    static let directOpeningPerHost = 16

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
            connection.machine.apply(.close)
            directCount(connection, inUse: false)
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

    func directDropIdle(_ connection: DirectConnection) {
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
