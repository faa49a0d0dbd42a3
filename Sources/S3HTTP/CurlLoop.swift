import CCurl
import CTLS
import Foundation
import Synchronization
import S3Locking

/// Keeps an engine's loop running while anyone needs it: every `HTTPEngine` and every
/// ``Transfer`` (so every response body and iterator) holds it. When the last holder lets go,
/// it asks the loop to stop, without waiting (it may be released on the loop thread itself).
final class EngineLease: Sendable {
    let loop: CurlLoop
    init(loop: CurlLoop) { self.loop = loop }
    deinit { loop.requestStop() }
}

/// The event loop: one libcurl multi handle driven by one dedicated thread.
///
/// Thread model, in short:
/// - Only the loop thread calls libcurl, except `curl_multi_wakeup`, which is thread-safe and
///   is only ever called under the `state` mutex while the loop is not yet stopped (so never
///   after `curl_multi_cleanup`).
/// - Other threads talk to it with ``Message``s through ``LoopStateMachine`` (the inbox and the
///   running → stopping → draining → stopped phases). That small enum is the whole protocol.
/// - Live transfers sit in `transfers`, keyed by ID; curl carries the `Transfer` as the
///   callbacks' userdata and as `CURLOPT_PRIVATE`.
/// - Readers are resumed once per loop pass (after `curl_multi_perform`), not per callback.
/// - The thread keeps the loop object alive until it ends; holders of an ``EngineLease`` keep
///   it running. Stopping fails every live and queued transfer with `.shutdown`.
/// - SIGPIPE is blocked on this thread only (it does all socket I/O): a write to a closed
///   socket fails with EPIPE, and the process's own signal settings are left alone.
final class CurlLoop: @unchecked Sendable {
    enum Message {
        case add(Transfer)
        case cancel(UInt64)
        case unpause(UInt64)
    }

    let multi: UnsafeMutableRawPointer
    private let state = Locked(LoopStateMachine<Message, CheckedContinuation<Void, Never>>())
    let configuration: HTTPEngineConfiguration
    /// Where curl's path takes its trust from (``HTTPEngineConfiguration/TLS/trustLocations``), once.
    let trust: (file: String?, directory: String?)
    /// Transfers whose handle is in the multi (written on the loop thread, read anywhere).
    let liveCount = Atomic<Int>(0)
    /// Direct connections opened (loop thread writes, tests read).
    let directOpened = Atomic<Int>(0)
    /// The most direct connections ever opening to one host at once (loop thread writes, tests read).
    let directOpeningPeak = Atomic<Int>(0)
    /// Direct TLS connections whose handshake resumed a session (loop thread writes, tests read).
    let directResumed = Atomic<Int>(0)

    // Loop-thread-only state.
    var transfers: [UInt64: Transfer] = [:]
    private var idleHandles: [UnsafeMutableRawPointer] = []
    private var dirty: [Transfer] = []
    // The direct path (DirectConnection.swift, DirectPool.swift, DirectExchange.swift), loop thread only.
    /// Ranged GETs over plain HTTP read straight into their part buffers (off with
    /// `HTTPEngineConfiguration.receivesDirectly`, or when curl would use a proxy).
    let directEnabled: Bool
    /// HTTPS ranged GETs take the direct path too (with ``DirectTLSContext``), unless a proxy is
    /// named for HTTPS.
    let directTLSEnabled: Bool
    /// The TLS context of direct HTTPS connections, made on first use (``directTLS()``).
    var directTLSContext: Result<DirectTLSContext, HTTPTransportError>?
    var directIdle: [String: [DirectConnection]] = [:]
    /// Per host: direct connections opening or serving a transfer, the transfers waiting for
    /// one (the host at its limit), and the hosts that got one free this pass.
    var directInUse: [String: Int] = [:]
    /// Per host: direct connections connecting or handshaking (``directOpeningPerHost``).
    var directOpening: [String: Int] = [:]
    var directWaiting: [String: [Transfer]] = [:]
    var directFreed: Set<String> = []
    var directBusy: [ObjectIdentifier: DirectConnection] = [:]
    /// Connections curl is still opening, by their handle's address.
    var directConnecting: [UInt: DirectConnection] = [:]
    var directPolled: [DirectConnection] = []
    var directWait: [curl_waitfd] = []
    var directScratch = [UInt8](repeating: 0, count: 64 << 10)
    /// What the chunked decoder made of the last read (at most a read's worth), before it is
    /// handed on: one for the loop, not one per connection kept idle afterwards.
    var directDecoded: [UInt8] = []
    /// The pipe that bodies going into a file pass through (`splice`: socket → pipe → file),
    /// made on first use; empty between calls.
    var directPipe: (read: Int32, write: Int32, size: Int)?
    /// A `splice` into a file was refused (a file system without it): such bodies are
    /// received and written instead.
    var directFileSpliceOff = false
    /// Buffers of ``ResponseFile/writeStep`` bytes in which transfers gather a file body's
    /// pieces (``Transfer/loopWriteFile(_:)``), kept for the next transfer: a fresh one would
    /// cost its page faults on every range.
    private var fileStages: [UnsafeMutableRawBufferPointer] = []

    /// When the loop last had a transfer (loop thread only).
    private var lastBusy = ContinuousClock.now

    /// libcurl initialised once per process, with the allocator of shim.h (big blocks mapped
    /// apart from malloc). `S3_CURL_ALLOCATOR=malloc` in the environment keeps libcurl's own
    /// (malloc) instead: a switch for measuring what the mapping costs
    /// (scripts/bench-curl-allocator), not a setting.
    private static let globalInit: Bool = {
        if let value = getenv("S3_CURL_ALLOCATOR"), String(cString: value) == "malloc" {
            return s3_curl_global_init_malloc() == CURLE_OK
        }
        return s3_curl_global_init_all() == CURLE_OK
    }()

    init(configuration: HTTPEngineConfiguration) {
        precondition(Self.globalInit, "curl_global_init failed")
        guard let m = curl_multi_init() else { fatalError("curl_multi_init failed") }
        multi = m
        self.configuration = configuration
        trust = configuration.tls.trustLocations
        // curl sends plain-HTTP requests through a proxy named by these; the direct path would not.
        let proxyVariables: [String] = ["http_proxy", "all_proxy", "ALL_PROXY"]
        let proxied = proxyVariables.contains { (name: String) -> Bool in
            guard let value = getenv(name) else { return false }
            return value.pointee != 0
        }
        directEnabled = configuration.receivesDirectly && !proxied
        let tlsProxied = ["https_proxy", "HTTPS_PROXY"].contains { (name: String) -> Bool in
            guard let value = getenv(name) else { return false }
            return value.pointee != 0
        }
        directTLSEnabled = directEnabled && !tlsProxied
        _ = s3_curl_multi_setopt_long(m, CURLMOPT_MAX_HOST_CONNECTIONS, configuration.maxConnectionsPerHost)
        _ = s3_curl_multi_setopt_long(m, CURLMOPT_MAXCONNECTS, configuration.connectionCacheSize)
        _ = s3_curl_multi_setopt_long(m, CURLMOPT_PIPELINING, 0)
        let thread = Thread { [self] in
            // Named from inside: set before start, Foundation on Linux keeps the name but does
            // not give it to the thread, which then shows (in top, perf, gdb) under the name of
            // the pool thread that made it.
            Thread.current.name = "s3-curl-loop"
            run()
        }
        thread.start()
    }

    /// Queues a message and wakes the loop. Safe from any thread. A transfer posted to a
    /// stopping or stopped loop fails at once with `.shutdown`.
    func post(_ message: Message) {
        let refused = state.withLock { m -> Bool in
            switch m.post(message) {
            case .wake:
                curl_multi_wakeup(multi)
                return false
            case .refuse:
                return true
            }
        }
        if refused, case .add(let t) = message { t.loopComplete(.failure(Self.shutdownError(t)), status: 0) }
    }

    /// Asks the loop to stop and returns at once (idempotent).
    func requestStop() {
        state.withLock { m in
            if case .wakeAndWait = m.requestShutdown(waiter: nil) { curl_multi_wakeup(multi) }
        }
    }

    /// Stops the loop and returns once it has stopped (idempotent; concurrent callers all wait).
    func shutdown() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { m -> CheckedContinuation<Void, Never>? in
                switch m.requestShutdown(waiter: c) {
                case .wakeAndWait:
                    curl_multi_wakeup(multi)
                    return nil
                case .wait: return nil
                case .resume(let w): return w
                }
            }
            resumeNow?.resume()
        }
    }

    static func shutdownError(_ t: Transfer) -> HTTPTransportError {
        HTTPTransportError(kind: .shutdown, host: t.host, curlCode: 0, message: "the HTTP engine was shut down")
    }

    func markDirty(_ t: Transfer) { dirty.append(t) }

    private func run() {
        _ = s3_block_sigpipe_on_this_thread()
        var running: Int32 = 0
        loop: while true {
            switch state.withLock({ $0.takeInbox() }) {
            case .stop(let messages):
                for case .add(let t) in messages { t.loopComplete(.failure(Self.shutdownError(t)), status: 0) }
                break loop
            case .handle(let messages):
                for message in messages {
                    switch message {
                    case .add(let t): add(t)
                    case .cancel(let id): if let t = transfers[id] { finish(t, .failure(CancellationError())) }
                    case .unpause(let id):
                        if let t = transfers[id], let easy = t.loopEasy {
                            t.loopClearPause()
                            _ = s3_curl_easy_pause_cont(easy)
                        } else if let t = transfers[id], let connection = t.loopDirectConnection {
                            t.loopClearPause()
                            directResume(connection)
                        }
                    }
                }
            }
            curl_multi_perform(multi, &running)
            var left: Int32 = 0
            while let msg = curl_multi_info_read(multi, &left) {
                guard msg.pointee.msg == CURLMSG_DONE, let easy = msg.pointee.easy_handle else { continue }
                let code = msg.pointee.data.result
                if directConnected(easy: easy, code: code) { continue }
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
            directStartWaiting()
            // A flush may have unpaused a transfer whose callback then buffered more: run
            // another pass at once rather than waiting on the sockets.
            directWaitDescriptors()
            // curl's big blocks kept for the next transfer go back to the system once the loop
            // has had no transfer for a second (shim.h, s3_curl_trim_cache).
            if transfers.isEmpty {
                if ContinuousClock.now - lastBusy >= .seconds(1) { s3_curl_trim_cache() }
            } else {
                lastBusy = .now
            }
            let timeout = dirty.isEmpty ? pollTimeoutMilliseconds : 0
            if directWait.isEmpty {
                curl_multi_poll(multi, nil, 0, timeout, nil)
            } else {
                directWait.withUnsafeMutableBufferPointer { fds in
                    _ = curl_multi_poll(multi, fds.baseAddress, UInt32(fds.count), timeout, nil)
                }
                directServeReady()
            }
        }
        // Draining: nothing new is accepted; fail what is live, then clean up.
        for t in Array(transfers.values) { finish(t, .failure(Self.shutdownError(t))) }
        directCloseAll()
        directTLSContext = nil
        dirty.removeAll()
        for h in idleHandles { curl_easy_cleanup(h) }
        idleHandles.removeAll()
        for stage in fileStages { stage.deallocate() }
        fileStages.removeAll()
        let (late, waiters) = state.withLock { $0.finish() }
        for case .add(let t) in late { t.loopComplete(.failure(Self.shutdownError(t)), status: 0) }
        // No wake-up can reach the multi any more: the phase is `stopped` under the same lock.
        curl_multi_cleanup(multi)
        for w in waiters { w.resume() }
    }

    private var lastStallCheck: UInt64 = 0
    private var stallNanoseconds: UInt64 { UInt64(max(configuration.stallTimeoutSeconds, 1)) * 1_000_000_000 }
    private var pollTimeoutMilliseconds: Int32 { Int32(min(1000, max(configuration.stallTimeoutSeconds, 1) * 250)) }

    /// Fails transfers that moved no byte for the stall timeout, unless we paused them. A
    /// transfer without a connection yet is not checked: curl may be holding it back behind the
    /// per-host connection limit, and connecting has its own timeout.
    private func checkStalls() {
        let now = monotonicNanoseconds()
        guard now - lastStallCheck >= 50_000_000 else { return }
        lastStallCheck = now
        if !directIdle.isEmpty { directExpireIdle(now: now) }
        guard !transfers.isEmpty else { return }
        let limit = stallNanoseconds
        for t in transfers.values where t.loopConnected && now > t.loopLastActivity && now - t.loopLastActivity > limit {
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
        let named = CurlCode(rawValue: raw)
        var kind = HTTPTransportError.kind(curlCode: raw)
        // Our callbacks stopped the transfer: say why, not what curl calls it.
        if t.isCancelled { return CancellationError() }
        if named == .abortedByCallback || named == .readError, let failure = t.uploadFailure { return failure }
        if named == .writeError, let sinkError = t.loopSinkError(curlCode: raw) { return sinkError }
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
        if t.isCancelled {
            t.loopComplete(.failure(CancellationError()), status: 0)
            return
        }
        if directStart(t) { return }
        addThroughCurl(t)
    }

    /// Starts `t` on a curl handle.
    func addThroughCurl(_ t: Transfer) {
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
        _ = s3_curl_easy_setopt_prereq_callback(easy, CURLOPT_PREREQFUNCTION, curlPrereqCallback)
        _ = s3_curl_easy_setopt_ptr(easy, CURLOPT_PREREQDATA, me)
        _ = s3_curl_easy_setopt_long(easy, CURLOPT_BUFFERSIZE, c.receiveBufferSize)
        _ = s3_curl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, min(c.connectTimeoutMilliseconds, r.timeoutMilliseconds ?? .max))
        if let limit = r.timeoutMilliseconds { _ = s3_curl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, max(1, limit)) }
        // Stalls are detected by the loop (checkStalls), not by CURLOPT_LOW_SPEED_*: curl's
        // check averages over seconds and would also fire on transfers we paused on purpose.
        t.loopLastActivity = monotonicNanoseconds()
        _ = s3_curl_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1)
        if c.tls.dangerouslyDisableCertificateVerification {
            _ = s3_curl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 0)
            _ = s3_curl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 0)
        }
        // Both set each time: curl_easy_reset brings back the built-in CA directory, which
        // would turn curl's cached certificate store off (TLS.trustLocations).
        _ = s3_curl_easy_setopt_string(easy, CURLOPT_CAINFO, trust.file)
        _ = s3_curl_easy_setopt_string(easy, CURLOPT_CAPATH, trust.directory)
        // The same TLS 1.3 suites, in the same order, as the direct connections (DirectTLSContext).
        _ = s3_curl_easy_setopt_string(easy, CURLOPT_TLS13_CIPHERS, S3_TLS13_CIPHERS)
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(to: 0)
        t.loopErrorBuffer = errorBuffer
        _ = s3_curl_easy_setopt_ptr(easy, CURLOPT_ERRORBUFFER, errorBuffer)

        let method = r.method.uppercased()
        let sendsBody: Bool
        switch r.body.storage {
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

    /// A buffer of ``ResponseFile/writeStep`` bytes for a transfer to gather a file body in.
    func takeFileStage() -> UnsafeMutableRawBufferPointer {
        fileStages.popLast() ?? UnsafeMutableRawBufferPointer.allocate(byteCount: ResponseFile.writeStep, alignment: 64)
    }

    /// Removes the transfer's handle from the multi (idempotent), recycles it, and completes it.
    /// A body going into a file has its last gathered bytes written first, unless the transfer
    /// was cancelled (its caller, already told, may be removing the file): the bytes a transfer
    /// counts as received (what a retry resumes after) are in the file, and it is only a success
    /// once its whole body is.
    func finish(_ t: Transfer, _ result: Result<Void, any Error>) {
        guard transfers.removeValue(forKey: t.id) != nil else { return }
        var result = result
        if t.loopIsCancelled {
            t.loopFileStaged = 0
        } else if !t.loopFlushFile() {
            t.loopBodyBytes = t.loopFileStageStart  // what is surely in the file
            if case .success = result {
                result = .failure(t.loopSinkError() ?? HTTPTransportError(kind: .responseWriteFailed, host: t.host, curlCode: 0,
                                                                           message: "writing the response body to its file failed"))
            }
        }
        if let stage = t.loopFileStage {
            t.loopFileStage = nil
            t.loopFileStaged = 0
            if fileStages.count < 16 { fileStages.append(stage) } else { stage.deallocate() }
        }
        liveCount.store(transfers.count, ordering: .relaxed)
        var status = t.loopStatus
        let succeeded: Bool
        if case .success = result { succeeded = true } else { succeeded = false }
        directDetach(t, success: succeeded)
        if let easy = t.loopEasy {
            _ = s3_curl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
            curl_multi_remove_handle(multi, easy)
        }
        t.loopComplete(result, status: status)
        if case .failure = result { s3_drain_pending_sigpipe() }
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

/// libcurl's large blocks (its per-transfer receive buffer above all), which this package maps
/// from the kernel instead of taking them from malloc (Sources/CCurl/shim.h says why). For tests
/// and soaks: how many are mapped now, and the most bytes mapped at once. (In this file, beside
/// the call that installs the functions: a header's static functions and their counters are
/// emitted once per object file, so a reader elsewhere would read a copy of its own.)
package enum CurlMemory {
    /// Mapped blocks alive now (0 when no transfer runs).
    package static var mappedBlocks: Int { Int(s3_curl_mapped_blocks()) }
    /// The most bytes mapped at once since the process started.
    package static var mappedBytesHighWater: Int { Int(s3_curl_mapped_bytes_high_water()) }
}
