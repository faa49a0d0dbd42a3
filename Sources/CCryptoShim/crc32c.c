// CRC-32C (Castagnoli), as S3's x-amz-checksum-crc32c uses it: the SSE 4.2 crc32 instruction
// where the CPU has it (checked once at run time), else crc.c's slicing-by-8 tables.
//
// The instruction has a latency of three cycles, so one chain runs at a third of its
// throughput. Long inputs are cut into three adjacent blocks of BLOCK bytes whose CRCs run as
// three independent chains; the CRC register update is linear, so the first block's result
// is carried past the next block's length with `advance` (a table built from the effect of
// BLOCK zero bytes on each of the 32 register bits) and combined with XOR.
#include "CCryptoShim.h"
#include <pthread.h>
#include <string.h>

#define BLOCK 8192

static uint32_t advance_table[4][256];  // register after BLOCK zero bytes, by byte of the register
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_table(void) {
    uint32_t table[256];
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
        table[i] = c;
    }
    uint32_t bit[32];
    for (int j = 0; j < 32; j++) {
        uint32_t r = 1u << j;
        for (int n = 0; n < BLOCK; n++) r = (r >> 8) ^ table[r & 0xff];
        bit[j] = r;
    }
    for (int k = 0; k < 4; k++)
        for (uint32_t v = 0; v < 256; v++) {
            uint32_t r = 0;
            for (int j = 0; j < 8; j++)
                if (v & (1u << j)) r ^= bit[8 * k + j];
            advance_table[k][v] = r;
        }
}

// The register `r` carried past BLOCK more bytes of zeros.
static inline uint32_t advance(uint32_t r) {
    return advance_table[0][r & 0xff] ^ advance_table[1][(r >> 8) & 0xff] ^ advance_table[2][(r >> 16) & 0xff] ^
           advance_table[3][r >> 24];
}

// The slicing-by-8 path (s3_crc32c_portable) is crc.c's, shared with CRC-32 and CRC-64/NVME.

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const void *data, size_t len) {
    const uint8_t *p = data;
    uint64_t c = ~crc;
    if (len >= 3 * BLOCK) pthread_once(&table_once, build_table);
    while (len >= 3 * BLOCK) {
        uint64_t c1 = 0, c2 = 0;
        for (const uint8_t *end = p + BLOCK; p < end; p += 8) {
            uint64_t w0, w1, w2;
            memcpy(&w0, p, 8);
            memcpy(&w1, p + BLOCK, 8);
            memcpy(&w2, p + 2 * BLOCK, 8);
            c = __builtin_ia32_crc32di(c, w0);
            c1 = __builtin_ia32_crc32di(c1, w1);
            c2 = __builtin_ia32_crc32di(c2, w2);
        }
        c = advance(advance((uint32_t)c) ^ (uint32_t)c1) ^ (uint32_t)c2;
        p += 2 * BLOCK;
        len -= 3 * BLOCK;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = __builtin_ia32_crc32di(c, w);
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len--) c32 = __builtin_ia32_crc32qi(c32, *p++);
    return ~c32;
}
#endif

int s3_crc32c_hardware(void) {
#if defined(__x86_64__)
    return __builtin_cpu_supports("sse4.2") ? 1 : 0;
#else
    return 0;
#endif
}

uint32_t s3_crc32c(uint32_t crc, const void *data, size_t len) {
#if defined(__x86_64__)
    static int hw = -1;
    if (hw < 0) hw = s3_crc32c_hardware();
    if (hw) return crc32c_sse42(crc, data, len);
#endif
    return s3_crc32c_portable(crc, data, len);
}
