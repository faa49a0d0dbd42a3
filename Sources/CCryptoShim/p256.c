// ECDSA P-256 for SigV4a, through libcrypto's EVP and EC_POINT interfaces (neither deprecated
// in OpenSSL 3). The key derivation's KDF runs in Swift (S3Signing/SigV4aKey.swift); this file
// turns its output into a key pair, signs and verifies.
#include "CCryptoShim.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <stdlib.h>
#include <string.h>

struct s3_p256_key {
    EVP_PKEY *pkey;
    uint8_t public_key[65];
};

// An EVP_PKEY for prime256v1 from its public point and, when `d` is given, private scalar.
static EVP_PKEY *make_pkey(const BIGNUM *d, const uint8_t public_key[65]) {
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (bld == NULL || ctx == NULL) goto done;
    if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1) goto done;
    if (OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, public_key, 65) != 1) goto done;
    if (d != NULL && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) != 1) goto done;
    params = OSSL_PARAM_BLD_to_param(bld);
    if (params == NULL || EVP_PKEY_fromdata_init(ctx) != 1) goto done;
    if (EVP_PKEY_fromdata(ctx, &pkey, d != NULL ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) != 1) pkey = NULL;
done:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

s3_p256_key *s3_p256_key_from_candidate(const uint8_t candidate[32], int *rejected) {
    *rejected = 0;
    s3_p256_key *key = NULL;
    EC_GROUP *group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    BN_CTX *bn = BN_CTX_new();
    BIGNUM *c = BN_bin2bn(candidate, 32, NULL);
    BIGNUM *limit = BN_new();
    EC_POINT *point = NULL;
    if (group == NULL || bn == NULL || c == NULL || limit == NULL) goto done;
    // The candidate must not exceed n - 2, so that candidate + 1 lies in [1, n - 1].
    if (BN_copy(limit, EC_GROUP_get0_order(group)) == NULL || BN_sub_word(limit, 2) != 1) goto done;
    if (BN_cmp(c, limit) > 0) {
        *rejected = 1;
        goto done;
    }
    if (BN_add_word(c, 1) != 1) goto done;
    point = EC_POINT_new(group);
    if (point == NULL || EC_POINT_mul(group, point, c, NULL, NULL, bn) != 1) goto done;
    key = calloc(1, sizeof *key);
    if (key == NULL) goto done;
    if (EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, key->public_key, 65, bn) != 65 ||
        (key->pkey = make_pkey(c, key->public_key)) == NULL) {
        free(key);
        key = NULL;
    }
done:
    EC_POINT_free(point);
    BN_clear_free(c);
    BN_free(limit);
    BN_CTX_free(bn);
    EC_GROUP_free(group);
    return key;
}

void s3_p256_key_free(s3_p256_key *k) {
    if (k == NULL) return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

int s3_p256_key_public(const s3_p256_key *k, uint8_t out[65]) {
    memcpy(out, k->public_key, 65);
    return 1;
}

int s3_p256_key_sign(const s3_p256_key *k, const void *data, size_t len, uint8_t *der, size_t *der_len) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t n = 72;
    int ok = ctx != NULL && EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, k->pkey, NULL) == 1 &&
             EVP_DigestSign(ctx, der, &n, data, len) == 1;
    EVP_MD_CTX_free(ctx);
    if (ok) *der_len = n;
    return ok ? 1 : 0;
}

int s3_p256_verify(const uint8_t public_key[65], const void *data, size_t len, const uint8_t *der, size_t der_len) {
    EVP_PKEY *pkey = make_pkey(NULL, public_key);
    if (pkey == NULL) return -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int result = -1;
    if (ctx != NULL && EVP_DigestVerifyInit_ex(ctx, NULL, "SHA256", NULL, NULL, pkey, NULL) == 1) {
        result = EVP_DigestVerify(ctx, der, der_len, data, len) == 1 ? 1 : 0;
    }
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return result;
}
