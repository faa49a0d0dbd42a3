// The precomputed-key HMAC uses OpenSSL's low-level SHA256_CTX (deprecated in 3.0, present
// through 3.x): its state is a plain struct, so a MAC copies it instead of allocating a
// provider context. Everything else goes through EVP.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "CCryptoShim.h"

#include <openssl/sha.h>

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static EVP_MD *g_sha256;
static EVP_MD *g_md5;
static EVP_MD *g_sha1;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void fetch_digests(void) {
    g_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    g_md5 = EVP_MD_fetch(NULL, "MD5", NULL);
    g_sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
}

static _Thread_local EVP_MD_CTX *tl_ctx;

static EVP_MD_CTX *thread_ctx(void) {
    pthread_once(&g_once, fetch_digests);
    if (tl_ctx == NULL) tl_ctx = EVP_MD_CTX_new();
    return tl_ctx;
}

static int digest(const EVP_MD *md, const void *a, size_t alen, const void *b, size_t blen, uint8_t *out) {
    EVP_MD_CTX *ctx = thread_ctx();
    if (ctx == NULL || md == NULL) return 0;
    if (EVP_DigestInit_ex2(ctx, md, NULL) != 1) return 0;
    if (alen && EVP_DigestUpdate(ctx, a, alen) != 1) return 0;
    if (blen && EVP_DigestUpdate(ctx, b, blen) != 1) return 0;
    unsigned int n = 0;
    return EVP_DigestFinal_ex(ctx, out, &n);
}

int s3_sha256(const void *data, size_t len, uint8_t *out) {
    thread_ctx();
    return digest(g_sha256, data, len, NULL, 0, out);
}

int s3_md5(const void *data, size_t len, uint8_t *out) {
    thread_ctx();
    return digest(g_md5, data, len, NULL, 0, out);
}

int s3_base64(const void *data, size_t len, char *out) {
    return EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data, (int)len);
}

int s3_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len, uint8_t *out) {
    enum { BLOCK = 64 };
    uint8_t k[BLOCK];
    uint8_t pad[BLOCK];
    uint8_t inner[32];
    thread_ctx();
    memset(k, 0, sizeof k);
    if (key_len > BLOCK) {
        if (!digest(g_sha256, key, key_len, NULL, 0, k)) return 0;
    } else if (key_len) {
        memcpy(k, key, key_len);
    }
    for (int i = 0; i < BLOCK; i++) pad[i] = k[i] ^ 0x36;
    if (!digest(g_sha256, pad, BLOCK, data, len, inner)) return 0;
    for (int i = 0; i < BLOCK; i++) pad[i] = k[i] ^ 0x5c;
    return digest(g_sha256, pad, BLOCK, inner, sizeof inner, out);
}

struct s3_digest {
    EVP_MD_CTX *ctx;
    const EVP_MD *md;
};

s3_digest *s3_digest_new(int kind) {
    pthread_once(&g_once, fetch_digests);
    const EVP_MD *md = kind == 1 ? g_md5 : kind == 2 ? g_sha1 : g_sha256;
    if (md == NULL) return NULL;
    s3_digest *d = calloc(1, sizeof *d);
    if (d == NULL) return NULL;
    d->ctx = EVP_MD_CTX_new();
    d->md = md;
    if (d->ctx == NULL || EVP_DigestInit_ex2(d->ctx, md, NULL) != 1) {
        EVP_MD_CTX_free(d->ctx);
        free(d);
        return NULL;
    }
    return d;
}

int s3_digest_update(s3_digest *d, const void *data, size_t len) {
    return len == 0 ? 1 : EVP_DigestUpdate(d->ctx, data, len);
}

int s3_digest_final(s3_digest *d, uint8_t *out) {
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(d->ctx, out, &n) != 1) return 0;
    return EVP_DigestInit_ex2(d->ctx, d->md, NULL);
}

void s3_digest_free(s3_digest *d) {
    if (d == NULL) return;
    EVP_MD_CTX_free(d->ctx);
    free(d);
}

struct s3_hmac_key {
    SHA256_CTX inner;
    SHA256_CTX outer;
};

s3_hmac_key *s3_hmac_key_new(const void *key, size_t key_len) {
    enum { BLOCK = 64 };
    uint8_t k[BLOCK];
    uint8_t pad[BLOCK];
    memset(k, 0, sizeof k);
    if (key_len > BLOCK) {
        SHA256(key, key_len, k);
    } else if (key_len) {
        memcpy(k, key, key_len);
    }
    s3_hmac_key *h = calloc(1, sizeof *h);
    if (h == NULL) return NULL;
    for (int i = 0; i < BLOCK; i++) pad[i] = k[i] ^ 0x36;
    SHA256_Init(&h->inner);
    SHA256_Update(&h->inner, pad, BLOCK);
    for (int i = 0; i < BLOCK; i++) pad[i] = k[i] ^ 0x5c;
    SHA256_Init(&h->outer);
    SHA256_Update(&h->outer, pad, BLOCK);
    return h;
}

int s3_hmac_key_mac(const s3_hmac_key *k, const void *data, size_t len, uint8_t *out) {
    uint8_t inner[32];
    SHA256_CTX c = k->inner;
    if (SHA256_Update(&c, data, len) != 1 || SHA256_Final(inner, &c) != 1) return 0;
    c = k->outer;
    if (SHA256_Update(&c, inner, sizeof inner) != 1) return 0;
    return SHA256_Final(out, &c);
}

void s3_hmac_key_free(s3_hmac_key *k) {
    if (k == NULL) return;
    OPENSSL_cleanse(k, sizeof *k);
    free(k);
}
