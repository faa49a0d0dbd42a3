// CRC-32 (ISO-HDLC, zlib's) and CRC-64/NVME, as S3's x-amz-checksum-crc32 and
// x-amz-checksum-crc64nvme use them, and the combination of CRCs of adjacent blocks for all
// three of S3's CRCs (CRC-32C included).
//
// Both CRCs are "reflected": the register shifts right and the first byte of the message is
// its highest-degree coefficient. Two paths compute them:
//  - slicing-by-8 tables (any CPU);
//  - carry-less multiplication (x86_64 with PCLMULQDQ): the message is folded 64 bytes at a
//    time in four 128-bit lanes. Folding a lane D bytes forward multiplies it by x^(8D) modulo
//    the polynomial P; a lane is two 64-bit halves H (first) and L, so the fold is
//    clmul(H, x^(64+8D-1) mod P) xor clmul(L, x^(8D-1) mod P) (the -1: a carry-less product of
//    two bit-reflected 64-bit values comes out one place off in a 128-bit reflected value).
//    What is left is one 16-byte lane congruent to the message modulo P, whose CRC (from a
//    zero register) is the message's; it and the last bytes go through the table.
// The constants are computed from the polynomial at start-up rather than written out, so the
// same code serves both widths.
#include "CCryptoShim.h"
#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

typedef struct {
    int width;                 // 32 or 64
    uint64_t poly_reflected;   // the polynomial, bit-reflected, without the x^width term
    uint64_t poly_normal;      // the same, in normal order
    uint64_t table[8][256];
    uint64_t fold64[2];        // x^(64+512-1), x^(512-1) mod P, reflected into 64 bits
    uint64_t fold16[2];        // x^(64+128-1), x^(128-1) mod P
} crc_model;

static crc_model crc32_model = {.width = 32, .poly_reflected = 0xEDB88320u, .poly_normal = 0x04C11DB7u};
static crc_model crc32c_model = {.width = 32, .poly_reflected = 0x82F63B78u, .poly_normal = 0x1EDC6F41u};
static crc_model crc64_model = {.width = 64, .poly_reflected = 0x9A6C9329AC4BC9B5ull, .poly_normal = 0xAD93D23594C93659ull};
static pthread_once_t models_once = PTHREAD_ONCE_INIT;

static inline uint64_t width_mask(int width) { return width == 64 ? ~0ull : ((1ull << width) - 1); }

// x^k mod P in normal order (bit j is the coefficient of x^j).
static uint64_t xpow_mod_normal(const crc_model *m, unsigned k) {
    uint64_t r = 1, top = 1ull << (m->width - 1), mask = width_mask(m->width);
    for (unsigned i = 0; i < k; i++) {
        int carry = (r & top) != 0;
        r = (r << 1) & mask;
        if (carry) r ^= m->poly_normal;
    }
    return r;
}

// A polynomial of degree < 64 in normal order, as a bit-reflected 64-bit value (bit i is the
// coefficient of x^(63-i)), the layout PCLMULQDQ works on here.
static uint64_t reflect64(uint64_t normal) {
    uint64_t r = 0;
    for (int j = 0; j < 64; j++)
        if (normal & (1ull << j)) r |= 1ull << (63 - j);
    return r;
}

static void build_model(crc_model *m) {
    for (uint64_t i = 0; i < 256; i++) {
        uint64_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (m->poly_reflected & (0ull - (c & 1)));
        m->table[0][i] = c;
    }
    for (int i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++) m->table[t][i] = (m->table[t - 1][i] >> 8) ^ m->table[0][m->table[t - 1][i] & 0xff];
    m->fold64[0] = reflect64(xpow_mod_normal(m, 64 + 512 - 1));
    m->fold64[1] = reflect64(xpow_mod_normal(m, 512 - 1));
    m->fold16[0] = reflect64(xpow_mod_normal(m, 64 + 128 - 1));
    m->fold16[1] = reflect64(xpow_mod_normal(m, 128 - 1));
}

static void build_models(void) {
    build_model(&crc32_model);
    build_model(&crc32c_model);
    build_model(&crc64_model);
}

// The raw register (no inversions) carried over `len` bytes with the tables.
static uint64_t raw_table(const crc_model *m, uint64_t r, const uint8_t *p, size_t len) {
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);  // little-endian hosts only (x86_64, aarch64)
        w ^= r;
        r = m->table[7][w & 0xff] ^ m->table[6][(w >> 8) & 0xff] ^ m->table[5][(w >> 16) & 0xff] ^
            m->table[4][(w >> 24) & 0xff] ^ m->table[3][(w >> 32) & 0xff] ^ m->table[2][(w >> 40) & 0xff] ^
            m->table[1][(w >> 48) & 0xff] ^ m->table[0][w >> 56];
        p += 8;
        len -= 8;
    }
    while (len--) r = (r >> 8) ^ m->table[0][(r ^ *p++) & 0xff];
    return r;
}

#if defined(__x86_64__)
__attribute__((target("pclmul,sse4.1")))
static inline __m128i fold(__m128i v, __m128i k) {
    return _mm_xor_si128(_mm_clmulepi64_si128(v, k, 0x00), _mm_clmulepi64_si128(v, k, 0x11));
}

__attribute__((target("pclmul,sse4.1")))
static uint64_t raw_clmul(const crc_model *m, uint64_t r, const uint8_t *p, size_t len) {
    const __m128i k64 = _mm_set_epi64x((long long)m->fold64[1], (long long)m->fold64[0]);
    const __m128i k16 = _mm_set_epi64x((long long)m->fold16[1], (long long)m->fold16[0]);
    __m128i x0 = _mm_loadu_si128((const __m128i *)p);
    __m128i x1 = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 32));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 48));
    x0 = _mm_xor_si128(x0, _mm_set_epi64x(0, (long long)r));  // the register joins the first bytes
    p += 64;
    len -= 64;
    while (len >= 64) {
        x0 = _mm_xor_si128(fold(x0, k64), _mm_loadu_si128((const __m128i *)p));
        x1 = _mm_xor_si128(fold(x1, k64), _mm_loadu_si128((const __m128i *)(p + 16)));
        x2 = _mm_xor_si128(fold(x2, k64), _mm_loadu_si128((const __m128i *)(p + 32)));
        x3 = _mm_xor_si128(fold(x3, k64), _mm_loadu_si128((const __m128i *)(p + 48)));
        p += 64;
        len -= 64;
    }
    x1 = _mm_xor_si128(fold(x0, k16), x1);
    x2 = _mm_xor_si128(fold(x1, k16), x2);
    x3 = _mm_xor_si128(fold(x2, k16), x3);
    while (len >= 16) {
        x3 = _mm_xor_si128(fold(x3, k16), _mm_loadu_si128((const __m128i *)p));
        p += 16;
        len -= 16;
    }
    uint8_t rest[16];
    _mm_storeu_si128((__m128i *)rest, x3);
    return raw_table(m, raw_table(m, 0, rest, 16), p, len);
}
#endif

int s3_crc_clmul_available(void) {
#if defined(__x86_64__)
    return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1") ? 1 : 0;
#else
    return 0;
#endif
}

static uint64_t crc_compute(const crc_model *m, uint64_t crc, const void *data, size_t len, int allow_clmul) {
    pthread_once(&models_once, build_models);
    uint64_t mask = width_mask(m->width);
    uint64_t r = ~crc & mask;
#if defined(__x86_64__)
    static int clmul = -1;
    if (clmul < 0) clmul = s3_crc_clmul_available();
    if (allow_clmul && clmul && len >= 128) return ~raw_clmul(m, r, data, len) & mask;
#else
    (void)allow_clmul;
#endif
    return ~raw_table(m, r, data, len) & mask;
}

uint32_t s3_crc32(uint32_t crc, const void *data, size_t len) { return (uint32_t)crc_compute(&crc32_model, crc, data, len, 1); }
uint32_t s3_crc32_portable(uint32_t crc, const void *data, size_t len) { return (uint32_t)crc_compute(&crc32_model, crc, data, len, 0); }
uint32_t s3_crc32c_portable(uint32_t crc, const void *data, size_t len) { return (uint32_t)crc_compute(&crc32c_model, crc, data, len, 0); }
uint64_t s3_crc64nvme(uint64_t crc, const void *data, size_t len) { return crc_compute(&crc64_model, crc, data, len, 1); }
uint64_t s3_crc64nvme_portable(uint64_t crc, const void *data, size_t len) { return crc_compute(&crc64_model, crc, data, len, 0); }

// a * b modulo P, both bit-reflected in `width` bits (the top bit is x^0).
static uint64_t multmodp(const crc_model *m, uint64_t a, uint64_t b) {
    uint64_t top = 1ull << (m->width - 1), p = 0;
    for (uint64_t bit = top; bit; bit >>= 1) {
        if (a & bit) p ^= b;
        b = (b & 1) ? (b >> 1) ^ m->poly_reflected : b >> 1;
    }
    return p;
}

// CRC(A || B) from CRC(A), CRC(B) and B's length: the register after A, carried over len2
// zero bytes (times x^(8 len2) mod P), plus CRC(B). The inversions at both ends cancel.
uint64_t s3_crc_combine(int kind, uint64_t crc1, uint64_t crc2, uint64_t len2) {
    pthread_once(&models_once, build_models);
    const crc_model *m = kind == 0 ? &crc32_model : kind == 1 ? &crc32c_model : &crc64_model;
    uint64_t top = 1ull << (m->width - 1);
    uint64_t power = top;              // x^0
    uint64_t square = top >> 8;        // x^8: one byte
    for (uint64_t n = len2; n; n >>= 1) {
        if (n & 1) power = multmodp(m, power, square);
        square = multmodp(m, square, square);
    }
    return multmodp(m, power, crc1) ^ crc2;
}
