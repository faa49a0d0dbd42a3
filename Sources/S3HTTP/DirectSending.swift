import CTLS
#if canImport(Glibc)
import Glibc
#endif

/// Writing a request on a direct connection (``DirectConnection``): its head, then its body
/// straight from the part buffer that holds it, then, over TLS, whatever records are still
/// gathered.
///
/// Why here and not through curl, for the parts of a multipart upload: curl copies each body
/// into its upload buffer before sending it, and over TLS OpenSSL under curl gives the socket
/// one record (16 KiB) per `send`. On loopback each `send` is a segment and a wake-up of the
/// server: `strace` of a 256 MiB upload counted 16,385 writes of 16,405 bytes through curl,
/// 4,100 of 65,561 from rustls (obstore), and the servers behind ours spent 3.66 CPU-s against
/// 2.64 s for obstore's on 1 GiB. Here the records are gathered (`S3_TLS_WRITE_GATHER`, four
/// records) and the body is read from the buffer itself.
extension CurlLoop {
    /// Writes what is left of the request on `connection`; true when it is all written (the
    /// phase moved on to reading the head), false to wait for the socket or when it failed.
    func directSendRequest(_ connection: DirectConnection, _ t: Transfer) -> Bool {
        let headCount = connection.output.count
        let total = headCount + (connection.body?.count ?? 0)
        while connection.sent < total {
            let n: Int
            if connection.sent < headCount {
                n = connection.output.withUnsafeBytes { out in
                    directSend(connection, out.baseAddress! + connection.sent, headCount - connection.sent, more: total > headCount)
                }
            } else {
                let body = connection.body!
                let offset = connection.sent - headCount
                n = directSend(connection, body.base + offset, body.count - offset)
            }
            if n > 0 {
                connection.sent += n
                t.loopLastActivity = monotonicNanoseconds()
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return false }
            directBroken(connection, t, "sending the request failed: " + directIOError(connection, errno))
            return false
        }
        if let tls = connection.tls {
            // The last records may still be gathered: the server sees them only once flushed.
            let r = directTLSOutcome(connection, Int(s3_tls_flush(tls)))
            if r < 0 {
                if errno == EAGAIN { return false }
                directBroken(connection, t, "sending the request failed: " + directIOError(connection, errno))
                return false
            }
        }
        connection.machine.apply(.requestSent)
        return true
    }
}
