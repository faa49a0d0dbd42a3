// SHA-256, HMAC-SHA256 and MD5 over OpenSSL libcrypto's EVP interface; CRC-32C (crc32c.c).
// Digests are fetched once per process; each thread reuses one EVP_MD_CTX, so a call
// allocates nothing after the first on a thread.
#ifndef S3_CCRYPTO_SHIM_H
#define S3_CCRYPTO_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// One-shot SHA-256 of `len` bytes into `out` (32 bytes). Returns 1 on success.
int s3_sha256(const void *data, size_t len, uint8_t *out);

/// One-shot HMAC-SHA256 (RFC 2104) into `out` (32 bytes). Returns 1 on success.
int s3_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len, uint8_t *out);

/// HMAC-SHA256 with a fixed key whose padded blocks are absorbed once: each MAC then costs
/// only the message's own compression rounds. Create with s3_hmac_key_new, free with
/// s3_hmac_key_free; s3_hmac_key_mac is thread-safe (the key is read-only).
typedef struct s3_hmac_key s3_hmac_key;
s3_hmac_key *s3_hmac_key_new(const void *key, size_t key_len);
int s3_hmac_key_mac(const s3_hmac_key *k, const void *data, size_t len, uint8_t *out);
void s3_hmac_key_free(s3_hmac_key *k);

/// One-shot MD5 of `len` bytes into `out` (16 bytes). Returns 1 on success.
int s3_md5(const void *data, size_t len, uint8_t *out);

/// Standard base64 (with padding, no line breaks) of `len` bytes into `out`, which must hold
/// 4 * ((len + 2) / 3) + 1 bytes (a NUL ends it); returns the length written, without the NUL.
int s3_base64(const void *data, size_t len, char *out);

/// CRC-32C (Castagnoli) of `len` bytes, continuing from `crc` (0 to start). Uses the CPU's
/// crc32 instruction where it has one.
uint32_t s3_crc32c(uint32_t crc, const void *data, size_t len);
/// The same, always with the table (for tests that compare the two).
uint32_t s3_crc32c_portable(uint32_t crc, const void *data, size_t len);
/// 1 when `s3_crc32c` uses the CPU's instruction.
int s3_crc32c_hardware(void);

/// CRC-32 (zlib's polynomial), continuing from `crc` (0 to start); carry-less multiplication
/// where the CPU has it.
uint32_t s3_crc32(uint32_t crc, const void *data, size_t len);
uint32_t s3_crc32_portable(uint32_t crc, const void *data, size_t len);
/// CRC-64/NVME, continuing from `crc` (0 to start).
uint64_t s3_crc64nvme(uint64_t crc, const void *data, size_t len);
uint64_t s3_crc64nvme_portable(uint64_t crc, const void *data, size_t len);
/// 1 when s3_crc32 and s3_crc64nvme use PCLMULQDQ.
int s3_crc_clmul_available(void);
/// The CRC of A followed by B, from crc1 = CRC(A), crc2 = CRC(B) and len2 = B's length.
/// `kind`: 0 CRC-32, 1 CRC-32C, 2 CRC-64/NVME.
uint64_t s3_crc_combine(int kind, uint64_t crc1, uint64_t crc2, uint64_t len2);

/// An incremental digest; `kind` 0 is SHA-256, 1 is MD5, 2 is SHA-1. NULL on failure.
typedef struct s3_digest s3_digest;
s3_digest *s3_digest_new(int kind);
int s3_digest_update(s3_digest *d, const void *data, size_t len);
/// Writes the digest (32, 16 or 20 bytes) and resets the state for reuse.
int s3_digest_final(s3_digest *d, uint8_t *out);
void s3_digest_free(s3_digest *d);

/// An ECDSA P-256 key pair for SigV4a (p256.c). The signing key of a SigV4a signer is derived
/// from the secret access key: each candidate the KDF yields (32 bytes, big-endian) is offered
/// to s3_p256_key_from_candidate, which returns NULL with *rejected = 1 when the candidate is
/// greater than the curve order minus 2 (then the next counter is tried), and otherwise makes
/// the key whose private scalar is candidate + 1. NULL with *rejected = 0: libcrypto failed.
/// s3_p256_key_sign is thread-safe (the key is read-only).
typedef struct s3_p256_key s3_p256_key;
s3_p256_key *s3_p256_key_from_candidate(const uint8_t candidate[32], int *rejected);
void s3_p256_key_free(s3_p256_key *k);
/// The public key, uncompressed (0x04, X, Y: 65 bytes).
int s3_p256_key_public(const s3_p256_key *k, uint8_t out[65]);
/// ECDSA over SHA-256 of `len` bytes; the DER signature into `der` (room for 72 bytes), its
/// length into *der_len. Returns 1 on success.
int s3_p256_key_sign(const s3_p256_key *k, const void *data, size_t len, uint8_t *der, size_t *der_len);
/// Verifies a DER ECDSA signature over SHA-256 of `len` bytes with an uncompressed public key
/// (65 bytes). Returns 1 when it holds, 0 when not, -1 on a malformed key.
int s3_p256_verify(const uint8_t public_key[65], const void *data, size_t len, const uint8_t *der, size_t der_len);

#ifdef __cplusplus
}
#endif
#endif
