// A small TLS client over OpenSSL's libssl for the transport's direct connections (S3HTTP's
// DirectConnection): non-blocking handshake, read and write on a socket someone else connected,
// certificate and host-name verification, session resumption. OpenSSL's macros and variadic
// controls stay on this side; Swift sees opaque pointers and plain functions.
#ifndef S3_CTLS_H
#define S3_CTLS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// What a handshake, read or write step did, when it did not move bytes.
enum {
    S3_TLS_WANT_READ = -1,   ///< wait until the socket is readable, then call again
    S3_TLS_WANT_WRITE = -2,  ///< wait until the socket is writable, then call again
    S3_TLS_FAILED = -3,      ///< failed: s3_tls_error says why
    S3_TLS_CLOSED = 0        ///< the peer closed the connection (read)
};

/// Bytes of records gathered for one `send` (four full records, as rustls writes them).
#define S3_TLS_WRITE_GATHER (64 * 1024 + 4 * 256)

/// The TLS 1.3 cipher suites offered, in order (curl's path is given the same list).
#define S3_TLS13_CIPHERS "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

/// Settings shared by connections: trust, verification, buffers. Thread-safe once made.
typedef struct s3_tls_context s3_tls_context;
/// Trusts `ca_file` and/or `ca_path` (PEM bundle, hashed directory; either may be NULL, both
/// NULL: OpenSSL's default paths); `verify` 0 turns certificate and host-name checks off.
/// NULL on failure, with the reason in `error` (`error_len` bytes).
s3_tls_context *s3_tls_context_new(const char *ca_file, const char *ca_path, int verify, char *error, size_t error_len);
void s3_tls_context_free(s3_tls_context *context);

/// A saved session, to resume the next connection to the same server with.
typedef struct ssl_session_st s3_tls_session;
void s3_tls_session_free(s3_tls_session *session);

/// One client connection on the connected socket `fd` (not owned: never closed here) to
/// `host` (a name: checked against the certificate and sent as SNI; an IP address: checked
/// against its IP entries). `session` (may be NULL) is offered for resumption.
typedef struct s3_tls s3_tls;
s3_tls *s3_tls_new(s3_tls_context *context, int fd, const char *host, s3_tls_session *session);
/// Sends close_notify without waiting for the answer, and frees the connection.
void s3_tls_free(s3_tls *tls);

/// 1 when the handshake is done, else S3_TLS_WANT_READ / _WANT_WRITE / _FAILED.
int s3_tls_handshake(s3_tls *tls);
/// Bytes read (> 0), S3_TLS_CLOSED, or S3_TLS_WANT_READ / _WANT_WRITE / _FAILED. With read-ahead,
/// bytes may wait inside after a read that filled `len`: call again until it wants to read.
long s3_tls_read(s3_tls *tls, void *buffer, size_t len);
/// Bytes taken (> 0), or S3_TLS_WANT_READ / _WANT_WRITE / _FAILED. The records are gathered
/// (up to S3_TLS_WRITE_GATHER bytes a `send`): after the last write of a message, call
/// s3_tls_flush until it returns 1.
long s3_tls_write(s3_tls *tls, const void *buffer, size_t len);
/// Sends what the writes gathered: 1 when all is sent, else S3_TLS_WANT_WRITE / _FAILED.
int s3_tls_flush(s3_tls *tls);
/// 1 when this connection resumed a session.
int s3_tls_resumed(const s3_tls *tls);
/// The connection's session when it can resume another (caller frees), else NULL.
s3_tls_session *s3_tls_session_get(const s3_tls *tls);
/// The last failure's text (verification result, or OpenSSL's error), NUL-terminated.
void s3_tls_error(const s3_tls *tls, char *buffer, size_t len);
/// The negotiated protocol and cipher, e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384".
void s3_tls_description(const s3_tls *tls, char *buffer, size_t len);

#ifdef __cplusplus
}
#endif

#endif
