// Throughput of the checksum primitives (one core): the CRCs of Sources/CCryptoShim and the
// combination of two CRCs. Built and run by scripts/bench-checksums.
#include "CCryptoShim.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(void) {
    size_t n = 8 << 20;  // an 8 MiB part, in cache as a part buffer would be
    unsigned char *b = malloc(n);
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(i * 2654435761u >> 13);
    uint64_t sink = 0;
    int reps = 128;  // 1 GiB
    double t;
    t = now(); for (int i = 0; i < reps; i++) sink += s3_crc32c(0, b, n);
    printf("CRC-32C\t%.3f\n", now() - t);
    t = now(); for (int i = 0; i < reps; i++) sink += s3_crc32(0, b, n);
    printf("CRC-32\t%.3f\n", now() - t);
    t = now(); for (int i = 0; i < reps; i++) sink += s3_crc64nvme(0, b, n);
    printf("CRC-64/NVME\t%.3f\n", now() - t);
    t = now(); for (int i = 0; i < 4; i++) sink += s3_crc64nvme_portable(0, b, n);
    printf("CRC-64/NVME (tables)\t%.3f\n", (now() - t) * reps / 4);
    uint8_t out[32];
    t = now(); for (int i = 0; i < reps; i++) { s3_sha256(b, n, out); sink += out[0]; }
    printf("SHA-256 (signing)\t%.3f\n", now() - t);
    t = now(); for (int i = 0; i < 10000; i++) sink += s3_crc_combine(1, sink, (uint64_t)i, 8 << 20);
    printf("combine (us)\t%.2f\n", (now() - t) / 10000 * 1e6);
    return sink == 42;
}
