#include "CTLS.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct s3_tls_context {
    SSL_CTX *ctx;
};

struct s3_tls {
    SSL *ssl;
    char error[256];
};

// OpenSSL's own error text for the last entry of this thread's queue, or `fallback`.
static void last_error(char *out, size_t len, const char *fallback) {
    unsigned long e = ERR_peek_last_error();
    if (e != 0) {
        ERR_error_string_n(e, out, len);
    } else {
        snprintf(out, len, "%s", fallback);
    }
}

s3_tls_context *s3_tls_context_new(const char *ca_file, const char *ca_path, int verify, char *error, size_t error_len) {
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        last_error(error, error_len, "SSL_CTX_new failed");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    // TLS 1.3: AES-128-GCM first (fewer rounds than AES-256 for the same AEAD; what Go and the
    // AWS CRT offer first), then OpenSSL's other two.
    SSL_CTX_set_ciphersuites(ctx, S3_TLS13_CIPHERS);
    if (verify) {
        int loaded = (ca_file || ca_path) ? SSL_CTX_load_verify_locations(ctx, ca_file, ca_path)
                                          : SSL_CTX_set_default_verify_paths(ctx);
        if (loaded != 1) {
            char why[200];
            last_error(why, sizeof why, "no reason given");
            snprintf(error, error_len, "could not load the CA certificates (%s%s%s): %s", ca_file ? ca_file : "",
                     ca_file && ca_path ? ", " : "", ca_path ? ca_path : "", why);
            SSL_CTX_free(ctx);
            return NULL;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    // Read-ahead: each read takes what the socket holds (up to the buffer), several records at a
    // time, instead of one system call for a record's header and another for its body.
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_default_read_buffer_len(ctx, 64 * 1024);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // Sessions are kept by the caller (s3_tls_session_get), not in the context's cache.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    s3_tls_context *c = calloc(1, sizeof *c);
    if (!c) {
        SSL_CTX_free(ctx);
        snprintf(error, error_len, "out of memory");
        return NULL;
    }
    c->ctx = ctx;
    return c;
}

void s3_tls_context_free(s3_tls_context *context) {
    if (!context) return;
    SSL_CTX_free(context->ctx);
    free(context);
}

void s3_tls_session_free(s3_tls_session *session) {
    if (session) SSL_SESSION_free(session);
}

s3_tls *s3_tls_new(s3_tls_context *context, int fd, const char *host, s3_tls_session *session) {
    ERR_clear_error();
    s3_tls *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->ssl = SSL_new(context->ctx);
    // Reads straight from the socket (read-ahead fills OpenSSL's own buffer). Writes go through
    // a buffer of S3_TLS_WRITE_GATHER bytes: each record (at most 16 KiB) is added to it, and the
    // socket gets one `send` per full buffer, or at s3_tls_flush. Without it every record was
    // its own system call, and on the server's side its own wake-up.
    BIO *sock = BIO_new_socket(fd, BIO_NOCLOSE);
    BIO *gather = BIO_new(BIO_f_buffer());
    if (!t->ssl || !sock || !gather || BIO_set_write_buffer_size(gather, S3_TLS_WRITE_GATHER) != 1 ||
        BIO_up_ref(sock) != 1) {
        BIO_free(gather);
        BIO_free(sock);
        if (t->ssl) SSL_free(t->ssl);
        free(t);
        return NULL;
    }
    BIO_push(gather, sock);
    // The socket BIO is held twice (read side, and under the gathering one): one reference each.
    SSL_set_bio(t->ssl, sock, gather);
    unsigned char address[16];
    int is_ip = inet_pton(AF_INET, host, address) == 1 || inet_pton(AF_INET6, host, address) == 1;
    if (is_ip) {
        // An address is checked against the certificate's IP entries, and is not sent as SNI.
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host);
    } else {
        SSL_set1_host(t->ssl, host);
        SSL_set_tlsext_host_name(t->ssl, host);
    }
    if (session) SSL_set_session(t->ssl, session);
    SSL_set_connect_state(t->ssl);
    return t;
}

void s3_tls_free(s3_tls *tls) {
    if (!tls) return;
    ERR_clear_error();
    // close_notify, best effort: the socket is non-blocking and the answer is not awaited.
    if (SSL_is_init_finished(tls->ssl)) {
        SSL_shutdown(tls->ssl);
        (void)BIO_flush(SSL_get_wbio(tls->ssl));
    }
    SSL_free(tls->ssl);
    free(tls);
}

// The outcome of an SSL call that returned `r` <= 0.
static int outcome(s3_tls *t, int r, const char *what) {
    int e = SSL_get_error(t->ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        return S3_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return S3_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        return S3_TLS_CLOSED;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0) {
            if (errno == EINTR || errno == EAGAIN) return S3_TLS_WANT_READ;
            if (r == 0 || errno == 0) {
                snprintf(t->error, sizeof t->error, "%s: the connection closed", what);
                return r == 0 && strcmp(what, "read") == 0 ? S3_TLS_CLOSED : S3_TLS_FAILED;
            }
            snprintf(t->error, sizeof t->error, "%s: %s", what, strerror(errno));
            return S3_TLS_FAILED;
        }
        /* fall through: OpenSSL said why */
    default: {
        long verify = SSL_get_verify_result(t->ssl);
        char why[200];
        last_error(why, sizeof why, "no reason given");
        if (verify != X509_V_OK) {
            snprintf(t->error, sizeof t->error, "%s: certificate verification failed: %s (%s)", what,
                     X509_verify_cert_error_string(verify), why);
        } else {
            snprintf(t->error, sizeof t->error, "%s: %s", what, why);
        }
        return S3_TLS_FAILED;
    }
    }
}

int s3_tls_handshake(s3_tls *tls) {
    ERR_clear_error();
    int r = SSL_do_handshake(tls->ssl);
    if (r == 1) return 1;
    int o = outcome(tls, r, "TLS handshake");
    return o == S3_TLS_CLOSED ? S3_TLS_FAILED : o;
}

long s3_tls_read(s3_tls *tls, void *buffer, size_t len) {
    ERR_clear_error();
    size_t got = 0;
    int r = SSL_read_ex(tls->ssl, buffer, len, &got);
    if (r == 1) return (long)got;
    return outcome(tls, 0, "read");
}

long s3_tls_write(s3_tls *tls, const void *buffer, size_t len) {
    ERR_clear_error();
    size_t put = 0;
    int r = SSL_write_ex(tls->ssl, buffer, len, &put);
    if (r == 1) return (long)put;
    int o = outcome(tls, 0, "write");
    return o == S3_TLS_CLOSED ? S3_TLS_FAILED : o;
}

int s3_tls_flush(s3_tls *tls) {
    ERR_clear_error();
    BIO *wbio = SSL_get_wbio(tls->ssl);
    errno = 0;
    if (BIO_flush(wbio) > 0) return 1;
    if (BIO_should_retry(wbio)) return S3_TLS_WANT_WRITE;
    snprintf(tls->error, sizeof tls->error, "write: %s", errno ? strerror(errno) : "the connection closed");
    return S3_TLS_FAILED;
}

int s3_tls_resumed(const s3_tls *tls) { return SSL_session_reused(tls->ssl); }

s3_tls_session *s3_tls_session_get(const s3_tls *tls) {
    SSL_SESSION *s = SSL_get1_session(tls->ssl);
    if (s && !SSL_SESSION_is_resumable(s)) {
        SSL_SESSION_free(s);
        return NULL;
    }
    return s;
}

void s3_tls_error(const s3_tls *tls, char *buffer, size_t len) {
    snprintf(buffer, len, "%s", tls->error[0] ? tls->error : "TLS failed");
}

void s3_tls_description(const s3_tls *tls, char *buffer, size_t len) {
    snprintf(buffer, len, "%s %s", SSL_get_version(tls->ssl), SSL_get_cipher_name(tls->ssl));
}
