import CCurl
import CTLS
#if canImport(Glibc)
import Glibc
#endif

/// TLS on a direct connection (see ``DirectConnection``): OpenSSL's libssl through the `CTLS`
/// shim, on the socket curl connected. curl is not in the way of the bytes: each read takes what
/// the socket holds (read-ahead, up to 64 KiB: several records a system call) and decrypts
/// straight into the caller's buffer.
///
/// Why not curl's own TLS for these: curl 7.88 reads one record per `SSL_read` and then polls
/// again (it asks `SSL_pending`, which counts only the current record), so every record costs
/// two `recv`s (header, body) and a `poll`; behind nginx proxying with `proxy_buffering off`
/// the records are 4 KiB, 262,144 of them per GiB. Measured on 1 GiB from nginx in front of
/// bench-s3-server over TLS 1.3: 529,822 `recv`s and 261,931 `poll`s through curl. Read-ahead
/// cannot be turned on under curl for the same reason: bytes read ahead would sit in OpenSSL's
/// buffer while curl waits on a socket with nothing more to say.
///
/// Trust and checks are curl's: the configured CA bundle, else the one this libcurl was built to
/// trust; certificate and host-name (or IP address) verification unless turned off; SNI for a
/// name. A session is kept per host and offered to its next connection (resumption).
///
/// Loop thread only.
final class DirectTLSContext {
    let context: OpaquePointer
    /// The last resumable session per connection key (`https://host:port`).
    private var sessions: [String: OpaquePointer] = [:]

    /// A context for `tls`, or the reason none can be made (an unreadable CA bundle).
    static func make(_ tls: HTTPEngineConfiguration.TLS) -> Result<DirectTLSContext, HTTPTransportError> {
        let (file, directory) = tls.trustLocations
        var error = [CChar](repeating: 0, count: 512)
        let made = error.withUnsafeMutableBufferPointer { e in
            s3_tls_context_new(file, directory, tls.dangerouslyDisableCertificateVerification ? 0 : 1, e.baseAddress, e.count)
        }
        guard let made else {
            let text = error.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            return .failure(HTTPTransportError(kind: .tls, host: "", curlCode: 0, message: text))
        }
        return .success(DirectTLSContext(made))
    }

    private init(_ context: OpaquePointer) { self.context = context }

    /// A client connection on `fd` to the host of `key`, offering the host's last session.
    func connection(fd: Int32, key: String) -> OpaquePointer? {
        let host = DirectHTTP.hostName(ofAuthority: DirectHTTP.endpoint(ofKey: key).authority)
        return s3_tls_new(context, fd, host, sessions[key])
    }

    /// Keeps the session of `tls` for the next connection to `key`, when it can resume one.
    func keepSession(of tls: OpaquePointer, key: String) {
        guard let session = s3_tls_session_get(tls) else { return }
        if let old = sessions.updateValue(session, forKey: key) { s3_tls_session_free(old) }
    }

    deinit {
        for session in sessions.values { s3_tls_session_free(session) }
        s3_tls_context_free(context)
    }
}

/// What one TLS step asked for, when it moved no bytes.
enum DirectTLSWait: Equatable {
    case none, read, write
}

/// The text of a TLS connection's last failure.
func directTLSError(_ tls: OpaquePointer) -> String {
    var buffer = [CChar](repeating: 0, count: 320)
    buffer.withUnsafeMutableBufferPointer { s3_tls_error(tls, $0.baseAddress, $0.count) }
    return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}
