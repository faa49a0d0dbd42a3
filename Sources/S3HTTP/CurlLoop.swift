import CCurl
import Foundation
import Synchronization

/// The event loop: one libcurl multi handle driven by one dedicated thread.
///
/// Thread model, in short:
/// - Only the loop thread calls libcurl (except `curl_multi_wakeup`, which is thread-safe).
/// - Other threads talk to it with ``Message``s: they append to `inbox` under its mutex and
///   wake the loop. That small enum is the whole protocol.
/// - Live transfers sit in `transfers`, keyed by ID; curl carries the `Transfer` as the
///   callbacks' userdata and as `CURLOPT_PRIVATE`.
/// - Readers are resumed once per loop pass (after `curl_multi_perform`), not per callback.
/// - `shutdown` fails every live transfer, cleans up curl, and ends the thread.
final class CurlLoop: @unchecked Sendable {
    enum Message {
        case add(Transfer)
        case cancel(UInt64)
        case unpause(UInt64)
        case shutdown
    }

    private let multi: UnsafeMutableRawPointer
    private let inbox = Mutex<[Message]>([])
    private let configuration: HTTPEngineConfiguration
    private let stopped = DispatchSemaphore(value: 0)
    private let isShutDown = Atomic<Bool>(false)
    /// Transfers whose handle is in the multi (written on the loop thread, read anywhere).
    let liveCount = Atomic<Int>(0)

    // Loop-thread-only state.
    private var transfers: [UInt64: Transfer] = [:]
    private var idleHandles: [UnsafeMutableRawPointer] = []
    private var dirty: [Transfer] = []

    private static let globalInit: Bool = {
        s3_ignore_sigpipe()
        return s3_curl_global_init_all() == CURLE_OK
    }()

    init(configuration: HTTPEngineConfiguration) {
        precondition(Self.globalInit, "curl_global_init failed")
        guard let m = curl_multi_init() else { fatalError("curl_multi_init failed") }
        multi = m
        self.configuration = configuration
        _ = s3_curl_multi_setopt_long(m, CURLMOPT_MAX_HOST_CONNECTIONS, configuration.maxConnectionsPerHost)
        _ = s3_curl_multi_setopt_long(m, CURLMOPT_MAXCONNECTS, configuration.connectionCacheSize)
        _ = s3_curl_multi_setopt_long(m, CURLMOPT_PIPELINING, 0)
        let thread = Thread { [self] in run() }
        thread.name = "s3-curl-loop"
        thread.start()
    }

    /// Queues a message and wakes the loop. Safe from any thread.
    func post(_ message: Message) {
        let accepted = inbox.withLock { box -> Bool in
            if isShutDown.load(ordering: .acquiring) { return false }
            box.append(message)
            return true
        }
        if accepted {
            curl_multi_wakeup(multi)
        } else if case .add(let t) = message {
            t.loopComplete(.failure(HTTPTransportError(kind: .shutdown, host: t.host, curlCode: 0, message: "the HTTP engine was shut down")), status: 0)
        }
    }

    /// Stops the loop; with `wait`, returns once the thread has ended.
    func shutdown(wait: Bool) {
        post(.shutdown)
        if wait { stopped.wait() }
    }

    func markDirty(_ t: Transfer) { dirty.append(t) }

    private func run() {
        var running: Int32 = 0
        loop: while true {
            let messages = inbox.withLock { box -> [Message] in
                let m = box
                box.removeAll(keepingCapacity: true)
                return m
            }
            for message in messages {
                switch message {
                case .add(let t): add(t)
                case .cancel(let id): if let t = transfers[id] { finish(t, .failure(CancellationError())) }
                case .unpause(let id):
                    if let t = transfers[id], let easy = t.loopEasy {
                        t.loopClearPause()
                        _ = s3_curl_easy_pause_cont(easy)
                    }
                case .shutdown:
                    break loop
                }
            }
            curl_multi_perform(multi, &running)
            var left: Int32 = 0
            while let msg = curl_multi_info_read(multi, &left) {
                guard msg.pointee.msg == CURLMSG_DONE, let easy = msg.pointee.easy_handle else { continue }
                let code = msg.pointee.data.result
                var priv: UnsafeMutableRawPointer?
                _ = s3_curl_easy_getinfo_ptr(easy, CURLINFO_PRIVATE, &priv)
                guard let priv else { continue }
                let t = Unmanaged<Transfer>.fromOpaque(priv).takeUnretainedValue()
                if code == CURLE_OK {
                    var status = 0
                    _ = s3_curl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
                    if let mismatch = t.loopLengthMismatch(status: status) {
                        finish(t, .failure(mismatch))
                    } else {
                        finish(t, .success(()))
                    }
                } else {
                    finish(t, .failure(error(for: t, code: code)))
                }
            }
            if !dirty.isEmpty {
                let list = dirty
                dirty.removeAll(keepingCapacity: true)
                for t in list { t.loopFlush() }
            }
            checkStalls()
            // A flush may have unpaused a transfer whose callback then buffered more: run
            // another pass at once rather than waiting on the sockets.
            curl_multi_poll(multi, nil, 0, dirty.isEmpty ? pollTimeoutMilliseconds : 0, nil)
        }
        isShutDown.store(true, ordering: .releasing)
        // Anything posted after the flag was read is drained here.
        let late = inbox.withLock { box -> [Message] in
            let m = box
            box.removeAll()
            return m
        }
        let shutdownError = { (t: Transfer) in
            HTTPTransportError(kind: .shutdown, host: t.host, curlCode: 0, message: "the HTTP engine was shut down")
        }
        for case .add(let t) in late { t.loopComplete(.failure(shutdownError(t)), status: 0) }
        for t in transfers.values { finish(t, .failure(shutdownError(t))) }
        for h in idleHandles { curl_easy_cleanup(h) }
        idleHandles.removeAll()
        curl_multi_cleanup(multi)
        stopped.signal()
    }

    private var lastStallCheck: UInt64 = 0
    private var stallNanoseconds: UInt64 { UInt64(max(configuration.stallTimeoutSeconds, 1)) * 1_000_000_000 }
    private var pollTimeoutMilliseconds: Int32 { Int32(min(1000, max(configuration.stallTimeoutSeconds, 1) * 250)) }

    /// Fails transfers that moved no byte for the stall timeout, unless we paused them.
    private func checkStalls() {
        let now = monotonicNanoseconds()
        guard now - lastStallCheck >= 50_000_000, !transfers.isEmpty else { return }
        lastStallCheck = now
        let limit = stallNanoseconds
        for t in transfers.values where now > t.loopLastActivity && now - t.loopLastActivity > limit {
            if t.isPausedByUs {
                t.loopLastActivity = now
                continue
            }
            finish(t, .failure(HTTPTransportError(
                kind: .stalled, host: t.host, curlCode: 28,
                message: "no data moved for \(configuration.stallTimeoutSeconds) s")))
        }
    }

    private func error(for t: Transfer, code: CURLcode) -> any Error {
        let raw = Int32(bitPattern: code.rawValue)
        var kind = HTTPTransportError.kind(curlCode: raw)
        if t.state.withLock({ $0.cancelled }) || raw == 42 || (raw == 23 && t.state.withLock({ $0.cancelled })) {
            return CancellationError()
        }
        if raw == 23 && t.loopOverflow, let buffer = t.loopDirect {
            return HTTPTransportError(kind: .bodyTooLarge, host: t.host, curlCode: raw,
                                      message: "the response body is larger than its buffer of \(buffer.capacity) bytes")
        }
        var message = String(cString: curl_easy_strerror(code))
        if let buf = t.loopErrorBuffer, buf.pointee != 0 { message = String(cString: buf) }
        if kind == .stalled, let easy = t.loopEasy {
            var connectTime: Double = 0
            _ = s3_curl_easy_getinfo_double(easy, CURLINFO_CONNECT_TIME, &connectTime)
            if connectTime == 0 { kind = .connectTimeout }
        }
        return HTTPTransportError(kind: kind, host: t.host, curlCode: raw, message: message)
    }

    private func add(_ t: Transfer) {
        if t.state.withLock({ $0.cancelled }) {
            t.loopComplete(.failure(CancellationError()), status: 0)
            return
        }
        let easy: UnsafeMutableRawPointer
        if let h = idleHandles.popLast() {
            curl_easy_reset(h)
            easy = h
        } else {
            guard let h = curl_easy_init() else {
                t.loopComplete(.failure(HTTPTransportError(kind: .other, host: t.host, curlCode: 0, message: "curl_easy_init failed")), status: 0)
                return
            }
            easy = h
        }
        t.loopEasy = easy
        let me = Unmanaged.passUnretained(t).toOpaque()
        let c = configuration
        let r = t.request
        var ok = s3_curl_easy_setopt_string(easy, CURLOPT_URL, r.url) == CURLE_OK
        _ = s3_curl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        // Send the path as given: S3 keys may contain "." and ".." segments.
        _ = s3_curl_easy_setopt_long(easy, CURLOPT_PATH_AS_IS, 1)
        _ = s3_curl_easy_setopt_long(easy, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1))
        _ = s3_curl_easy_setopt_ptr(easy, CURLOPT_PRIVATE, me)
        _ = s3_curl_easy_setopt_data_callback(easy, CURLOPT_WRITEFUNCTION, curlWriteCallback)
        _ = s3_curl_easy_setopt_ptr(easy, CURLOPT_WRITEDATA, me)
        _ = s3_curl_easy_setopt_data_callback(easy, CURLOPT_HEADERFUNCTION, curlHeaderCallback)
        _ = s3_curl_easy_setopt_ptr(easy, CURLOPT_HEADERDATA, me)
        _ = s3_curl_easy_setopt_long(easy, CURLOPT_BUFFERSIZE, c.receiveBufferSize)
        _ = s3_curl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, c.connectTimeoutMilliseconds)
        // Stalls are detected by the loop (checkStalls), not by CURLOPT_LOW_SPEED_*: curl's
        // check averages over seconds and would also fire on transfers we paused on purpose.
        t.loopLastActivity = monotonicNanoseconds()
        _ = s3_curl_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1)
        if c.tls.dangerouslyDisableCertificateVerification {
            _ = s3_curl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 0)
            _ = s3_curl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 0)
        }
        if let ca = c.tls.caBundlePath { _ = s3_curl_easy_setopt_string(easy, CURLOPT_CAINFO, ca) }
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(to: 0)
        t.loopErrorBuffer = errorBuffer
        _ = s3_curl_easy_setopt_ptr(easy, CURLOPT_ERRORBUFFER, errorBuffer)

        let method = r.method.uppercased()
        let sendsBody: Bool
        switch r.body {
        case .none: sendsBody = !(method == "GET" || method == "HEAD" || method == "DELETE" || method == "OPTIONS")
        default: sendsBody = true
        }
        var headers = r.headers
        headers.set("Expect", "")  // never wait for 100-continue
        if sendsBody {
            if !headers.contains("Content-Type") { headers.add("Content-Type", "application/octet-stream") }
            _ = s3_curl_easy_setopt_long(easy, CURLOPT_UPLOAD, 1)
            _ = s3_curl_easy_setopt_long(easy, CURLOPT_UPLOAD_BUFFERSIZE, min(c.uploadBufferSize, 2 << 20))
            _ = s3_curl_easy_setopt_data_callback(easy, CURLOPT_READFUNCTION, curlReadCallback)
            _ = s3_curl_easy_setopt_ptr(easy, CURLOPT_READDATA, me)
            _ = s3_curl_easy_setopt_seek_callback(easy, CURLOPT_SEEKFUNCTION, curlSeekCallback)
            _ = s3_curl_easy_setopt_ptr(easy, CURLOPT_SEEKDATA, me)
            if let length = r.body.length {
                _ = s3_curl_easy_setopt_off(easy, CURLOPT_INFILESIZE_LARGE, curl_off_t(length))
            }
            if method != "PUT" { _ = s3_curl_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, method) }
        } else if method == "HEAD" {
            _ = s3_curl_easy_setopt_long(easy, CURLOPT_NOBODY, 1)
        } else if method != "GET" {
            _ = s3_curl_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, method)
        }
        var list: UnsafeMutablePointer<curl_slist>?
        for (name, value) in headers {
            // "Name;" sends a header with an empty value; "Name:" (empty) removes curl's own.
            let line = value.isEmpty ? (name == "Expect" ? "Expect:" : name + ";") : name + ": " + value
            guard let next = curl_slist_append(list, line) else { ok = false; break }
            list = next
        }
        t.loopHeaderList = list
        _ = s3_curl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, list)

        transfers[t.id] = t
        liveCount.store(transfers.count, ordering: .relaxed)
        if !ok || curl_multi_add_handle(multi, easy) != CURLM_OK {
            finish(t, .failure(HTTPTransportError(kind: .other, host: t.host, curlCode: 0, message: "could not start the request")))
        }
    }

    /// Removes the transfer's handle from the multi (idempotent), recycles it, and completes it.
    private func finish(_ t: Transfer, _ result: Result<Void, any Error>) {
        guard transfers.removeValue(forKey: t.id) != nil else { return }
        liveCount.store(transfers.count, ordering: .relaxed)
        var status = 0
        if let easy = t.loopEasy {
            _ = s3_curl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
            curl_multi_remove_handle(multi, easy)
        }
        t.loopComplete(result, status: status)
        if let list = t.loopHeaderList { curl_slist_free_all(list) }
        t.loopHeaderList = nil
        if let easy = t.loopEasy {
            // A handle whose transfer failed may hold a broken connection state: recycle only
            // the ones that ended normally.
            if case .success = result, idleHandles.count < 64 {
                idleHandles.append(easy)
            } else {
                curl_easy_cleanup(easy)
            }
        }
        t.loopEasy = nil
        t.loopErrorBuffer?.deallocate()
        t.loopErrorBuffer = nil
    }
}
