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
    /// The body is chunked: its decoder (``ChunkedDecoder``).
    var chunked: ChunkedDecoder?
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
