import CTLS
#if canImport(Glibc)
import Glibc
#endif

/// Writing a request on a direct connection (``DirectConnection``): its head, then its body
/// straight from the array or part buffer that holds it, then, over TLS, whatever records are
/// still gathered.
///
/// Why here and not through curl, for the parts of a multipart upload (measured first): curl copies each body
/// into its upload buffer before sending it, and over TLS OpenSSL under curl gives the socket
/// one record (16 KiB) per `send`. On loopback each `send` is a segment and a wake-up of the
/// server: `strace` of a 256 MiB upload counted 16,385 writes of 16,405 bytes through curl,
/// 4,100 of 65,561 from rustls (obstore), and the servers behind ours spent 3.66 CPU-s against
/// 2.64 s for obstore's on 1 GiB. Here the records are gathered (`S3_TLS_WRITE_GATHER`, four
/// records) and the body is read from the buffer itself.
extension CurlLoop {
    /// Writes what is left of the request on `connection`; true when it is all written, or the
    /// server answered before it was (the phase moved on to reading the head), false to wait
    /// for the socket or when it failed.
    func directSendRequest(_ connection: DirectConnection, _ t: Transfer) -> Bool {
        let headCount = connection.output.count
        let total = headCount + DirectHTTP.bodyCount(of: t.request)
        while connection.sent < total {
            let n: Int
            if connection.sent < headCount {
                n = connection.output.withUnsafeBytes { out in
                    directSend(connection, out.baseAddress! + connection.sent, headCount - connection.sent, more: total > headCount)
                }
            } else {
                let offset = connection.sent - headCount
                n = DirectHTTP.withBody(of: t.request) { body in directSend(connection, body.baseAddress! + offset, body.count - offset) }
            }
            if n > 0 {
                connection.sent += n
                t.loopLastActivity = monotonicNanoseconds()
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return directAnsweredEarly(connection) }
            directBroken(connection, t, "sending the request failed: " + directIOError(connection, errno))
            return false
        }
        if let tls = connection.tls {
            // The last records may still be gathered: the server sees them only once flushed.
            let r = directTLSOutcome(connection, Int(s3_tls_flush(tls)))
            if r < 0 {
                if errno == EAGAIN { return directAnsweredEarly(connection) }
                directBroken(connection, t, "sending the request failed: " + directIOError(connection, errno))
                return false
            }
        }
        connection.machine.apply(.requestSent)
        return true
    }

    /// The socket takes no more of the request for now: has the server answered already? A
    /// server may refuse a request (403, 413, ...) without reading its body, and then wait, or
    /// close only later; writing on would wait for nothing. If it has, the rest of the request is
    /// not sent, the answer is read, and the connection is closed after it (`cutShort`), as curl
    /// stops sending on an error answer. True when it moved on to reading the head.
    ///
    /// Over TLS, readable bytes may be no answer at all (TLS 1.3 sends session tickets after the
    /// handshake): a read tells, and the bytes of an answer it returns wait in `headBytes`.
    func directAnsweredEarly(_ connection: DirectConnection) -> Bool {
        var p = pollfd(fd: connection.fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, 0) == 1, p.revents != 0 else { return false }
        if connection.tls != nil {
            let (n, savedErrno) = directReadMoreHead(connection)
            if n < 0 && (savedErrno == EAGAIN || savedErrno == EINTR) {
                connection.machine.tlsWait = .write  // still writing: a ticket was all there was
                return false
            }
            if n > 0 {
                connection.receivedAny = true
                connection.unparsedHead = true
            }
            // n <= 0 otherwise (closed, failed): the head reader meets it again and says so.
        }
        connection.cutShort = true
        connection.machine.apply(.requestSent)
        return true
    }
}
