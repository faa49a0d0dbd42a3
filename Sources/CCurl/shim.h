// Typed wrappers for libcurl's variadic and macro-only API, which Swift cannot call directly.
// Policy lives in S3HTTP; this header only adapts types.
#ifndef S3_CCURL_SHIM_H
#define S3_CCURL_SHIM_H

#include <curl/curl.h>
#include <signal.h>
#include <pthread.h>
#include <time.h>
#include <string.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

typedef size_t (*s3_curl_data_callback)(char *buffer, size_t size, size_t nitems, void *userdata);
typedef int (*s3_curl_seek_callback)(void *userdata, curl_off_t offset, int origin);
typedef int (*s3_curl_prereq_callback)(void *userdata, char *primary_ip, char *local_ip, int primary_port, int local_port);

static inline CURLcode s3_curl_easy_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode s3_curl_easy_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode s3_curl_easy_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode s3_curl_easy_setopt_ptr(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode s3_curl_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode s3_curl_easy_setopt_data_callback(CURL *h, CURLoption o, s3_curl_data_callback v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode s3_curl_easy_setopt_seek_callback(CURL *h, CURLoption o, s3_curl_seek_callback v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode s3_curl_easy_setopt_prereq_callback(CURL *h, CURLoption o, s3_curl_prereq_callback v) { return curl_easy_setopt(h, o, v); }
static inline int s3_curl_prereqfunc_ok(void) { return CURL_PREREQFUNC_OK; }
typedef int (*s3_curl_closesocket_callback)(void *clientp, curl_socket_t fd);
static inline CURLcode s3_curl_easy_setopt_closesocket_callback(CURL *h, s3_curl_closesocket_callback v) { return curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, v); }
static inline CURLcode s3_curl_easy_getinfo_socket(CURL *h, curl_socket_t *v) { return curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, v); }
static inline short s3_curl_wait_pollin(void) { return CURL_WAIT_POLLIN; }
static inline short s3_curl_wait_pollout(void) { return CURL_WAIT_POLLOUT; }


static inline CURLcode s3_curl_easy_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode s3_curl_easy_getinfo_off(CURL *h, CURLINFO i, curl_off_t *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode s3_curl_easy_getinfo_double(CURL *h, CURLINFO i, double *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode s3_curl_easy_getinfo_ptr(CURL *h, CURLINFO i, void **v) { return curl_easy_getinfo(h, i, v); }

static inline CURLMcode s3_curl_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }

// libcurl's memory, through these functions (curl_global_init_mem): blocks of 256 KiB or more,
// above all the receive buffer curl allocates for every transfer (CURLOPT_BUFFERSIZE, 1 MiB
// here) and frees when it ends, are mapped from the kernel and unmapped when freed; smaller
// ones come from malloc. Left to malloc, the big ones landed in glibc's arenas once its dynamic
// mmap threshold had risen (it does after the first mapped block is freed), between small
// long-lived blocks, and a process's resident memory at rest crept up by about 19 MiB per 10
// minutes of a soak with its live heap flat. Each block carries 16 bytes in front: its size and
// whether it is mapped.
// A mapped block freed while transfers run is kept (at most S3_CURL_CACHE_MAX of them) for the
// next transfer, and the loop unmaps what is kept once it has had no transfer for a second
// (s3_curl_trim_cache): mapping and unmapping 1 MiB for every request cost 0.35 of the CPU of
// 4 KiB GETs at 64 in flight (scripts/bench-curl-allocator).
#define S3_CURL_MAP_THRESHOLD ((size_t)256 * 1024)
#define S3_CURL_HEADER ((size_t)16)
// Mapped blocks alive, their bytes, and the most bytes mapped at once (a function's statics:
// Swift's importer emits no storage for a header's own static variables).
static inline long *s3_curl_mapped_counters(void) {
    static long counters[3];
    return counters;
}

#define S3_CURL_CACHE_MAX 64
// Mapped blocks kept for reuse, their count, and the lock over both (a function's statics, as
// above). Kept blocks count as mapped.
static inline pthread_mutex_t *s3_curl_cache_lock(void) {
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    return &lock;
}
static inline size_t **s3_curl_cache(void) {
    static size_t *blocks[S3_CURL_CACHE_MAX];
    return blocks;
}
static inline int *s3_curl_cache_count(void) {
    static int count;
    return &count;
}

// A kept block of exactly `total` bytes, or NULL.
static inline size_t *s3_curl_cache_take(size_t total) {
    size_t *found = NULL;
    pthread_mutex_lock(s3_curl_cache_lock());
    int *n = s3_curl_cache_count();
    size_t **blocks = s3_curl_cache();
    for (int i = *n - 1; i >= 0; i--) {
        if (blocks[i][0] == total) {
            found = blocks[i];
            blocks[i] = blocks[*n - 1];
            *n -= 1;
            break;
        }
    }
    pthread_mutex_unlock(s3_curl_cache_lock());
    return found;
}

// Keeps a freed mapped block; 0 when the cache is full (the caller unmaps it).
static inline int s3_curl_cache_keep(size_t *h) {
    int kept = 0;
    pthread_mutex_lock(s3_curl_cache_lock());
    int *n = s3_curl_cache_count();
    if (*n < S3_CURL_CACHE_MAX) {
        s3_curl_cache()[*n] = h;
        *n += 1;
        kept = 1;
    }
    pthread_mutex_unlock(s3_curl_cache_lock());
    return kept;
}

static inline void s3_curl_unmap(size_t *h) {
    size_t total = h[0];
    __atomic_sub_fetch(&s3_curl_mapped_counters()[0], 1, __ATOMIC_RELAXED);
    __atomic_sub_fetch(&s3_curl_mapped_counters()[1], (long)total, __ATOMIC_RELAXED);
    munmap(h, total);
}

// Unmaps every kept block (the loop calls it once it has been idle for a second).
static inline void s3_curl_trim_cache(void) {
    size_t *taken[S3_CURL_CACHE_MAX];
    pthread_mutex_lock(s3_curl_cache_lock());
    int n = *s3_curl_cache_count();
    memcpy(taken, s3_curl_cache(), (size_t)n * sizeof(size_t *));
    *s3_curl_cache_count() = 0;
    pthread_mutex_unlock(s3_curl_cache_lock());
    for (int i = 0; i < n; i++) s3_curl_unmap(taken[i]);
}

// `*reused` set to 1 when the block is a kept one (not zeroed, unlike a fresh mapping).
static inline void *s3_curl_alloc_reusing(size_t size, int *reused) {
    if (size > SIZE_MAX - S3_CURL_HEADER - 4096) return NULL;
    size_t total = size + S3_CURL_HEADER;
    size_t *h;
    if (size >= S3_CURL_MAP_THRESHOLD) {
        size_t *kept = s3_curl_cache_take(total);
        if (kept != NULL) {
            *reused = 1;
            return (char *)kept + S3_CURL_HEADER;
        }
        void *m = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) return NULL;
        h = (size_t *)m;
        h[0] = total;
        h[1] = 1;
        __atomic_add_fetch(&s3_curl_mapped_counters()[0], 1, __ATOMIC_RELAXED);
        long now = __atomic_add_fetch(&s3_curl_mapped_counters()[1], (long)total, __ATOMIC_RELAXED);
        long peak = __atomic_load_n(&s3_curl_mapped_counters()[2], __ATOMIC_RELAXED);
        while (now > peak && !__atomic_compare_exchange_n(&s3_curl_mapped_counters()[2], &peak, now, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {}
    } else {
        h = (size_t *)malloc(total);
        if (h == NULL) return NULL;
        h[0] = size;
        h[1] = 0;
    }
    return (char *)h + S3_CURL_HEADER;
}

static inline void *s3_curl_alloc(size_t size) {
    int reused = 0;
    return s3_curl_alloc_reusing(size, &reused);
}

static inline void s3_curl_release(void *p) {
    if (p == NULL) return;
    size_t *h = (size_t *)((char *)p - S3_CURL_HEADER);
    if (h[1]) {
        if (!s3_curl_cache_keep(h)) s3_curl_unmap(h);
    } else {
        free(h);
    }
}

static inline void *s3_curl_realloc(void *p, size_t size) {
    if (p == NULL) return s3_curl_alloc(size);
    size_t *h = (size_t *)((char *)p - S3_CURL_HEADER);
    size_t old = h[1] ? h[0] - S3_CURL_HEADER : h[0];
    if (!h[1] && size < S3_CURL_MAP_THRESHOLD) {
        size_t *n = (size_t *)realloc(h, size + S3_CURL_HEADER);
        if (n == NULL) return NULL;
        n[0] = size;
        return (char *)n + S3_CURL_HEADER;
    }
    void *q = s3_curl_alloc(size);
    if (q == NULL) return NULL;
    memcpy(q, p, old < size ? old : size);
    s3_curl_release(p);
    return q;
}

static inline void *s3_curl_zalloc(size_t count, size_t size) {
    if (size != 0 && count > SIZE_MAX / size) return NULL;
    int reused = 0;
    void *p = s3_curl_alloc_reusing(count * size, &reused);
    // A fresh mapping comes zeroed; a kept block and malloc's do not.
    if (p != NULL && (reused || count * size < S3_CURL_MAP_THRESHOLD)) memset(p, 0, count * size);
    return p;
}

static inline char *s3_curl_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = (char *)s3_curl_alloc(n);
    if (p != NULL) memcpy(p, s, n);
    return p;
}

// Installs the functions above, unless libcurl was initialised already in this process
// (FoundationNetworking, say): then it keeps the allocator it has, and this changes nothing.
static inline CURLcode s3_curl_global_init_all(void) {
    return curl_global_init_mem(CURL_GLOBAL_ALL, s3_curl_alloc, s3_curl_release, s3_curl_realloc, s3_curl_strdup, s3_curl_zalloc);
}
// libcurl's own allocator (malloc): for measuring what the functions above cost
// (S3_CURL_ALLOCATOR=malloc in the environment; see CurlLoop.globalInit).
static inline CURLcode s3_curl_global_init_malloc(void) { return curl_global_init(CURL_GLOBAL_ALL); }
static inline long s3_curl_mapped_blocks(void) { return __atomic_load_n(&s3_curl_mapped_counters()[0], __ATOMIC_RELAXED); }
static inline long s3_curl_mapped_bytes_high_water(void) { return __atomic_load_n(&s3_curl_mapped_counters()[2], __ATOMIC_RELAXED); }
static inline CURLcode s3_curl_easy_pause_cont(CURL *h) { return curl_easy_pause(h, CURLPAUSE_CONT); }

static inline size_t s3_curl_writefunc_pause(void) { return CURL_WRITEFUNC_PAUSE; }
static inline size_t s3_curl_readfunc_pause(void) { return CURL_READFUNC_PAUSE; }
static inline size_t s3_curl_readfunc_abort(void) { return CURL_READFUNC_ABORT; }
static inline int s3_curl_seekfunc_ok(void) { return CURL_SEEKFUNC_OK; }
static inline int s3_curl_seekfunc_fail(void) { return CURL_SEEKFUNC_FAIL; }
static inline int s3_curl_seekfunc_cantseek(void) { return CURL_SEEKFUNC_CANTSEEK; }

/// Ignore SIGPIPE process-wide: a peer closing a socket must not kill the process.
/* Blocks SIGPIPE for the calling thread only (the loop thread, which does all socket I/O):
   a write to a closed socket then fails with EPIPE instead of killing the process, and the
   process-wide disposition stays the application's. */
static inline int s3_block_sigpipe_on_this_thread(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    return pthread_sigmask(SIG_BLOCK, &set, NULL);
}
/* Takes a SIGPIPE left pending on this thread (blocked, so never delivered), if any. */
static inline void s3_drain_pending_sigpipe(void) {
    sigset_t set, pending;
    sigemptyset(&pending);
    if (sigpending(&pending) != 0 || !sigismember(&pending, SIGPIPE)) return;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    struct timespec zero = {0, 0};
    (void)sigtimedwait(&set, NULL, &zero);
}

/* Copies n bytes into memory nobody will read soon (a part buffer being filled from the
   network): with streaming (non-temporal) stores on x86-64, so the destination's cache lines
   are not first read from memory only to be overwritten, and the cache keeps curl's receive
   buffer. The stores are fenced before returning: whoever later learns of the bytes through a
   lock or an atomic sees them. Small copies and other CPUs use memcpy. */
#if defined(__x86_64__) && defined(__SSE2__)
#include <emmintrin.h>
#endif
static inline void s3_copy_streaming(void *dst, const void *src, size_t n) {
#if defined(__x86_64__) && defined(__SSE2__)
    if (n >= 4096) {
        unsigned char *d = (unsigned char *)dst;
        const unsigned char *s = (const unsigned char *)src;
        size_t head = (16 - ((uintptr_t)d & 15)) & 15;
        memcpy(d, s, head);
        d += head; s += head; n -= head;
        while (n >= 64) {
            __m128i a = _mm_loadu_si128((const __m128i *)(s));
            __m128i b = _mm_loadu_si128((const __m128i *)(s + 16));
            __m128i c = _mm_loadu_si128((const __m128i *)(s + 32));
            __m128i e = _mm_loadu_si128((const __m128i *)(s + 48));
            _mm_stream_si128((__m128i *)(d), a);
            _mm_stream_si128((__m128i *)(d + 16), b);
            _mm_stream_si128((__m128i *)(d + 32), c);
            _mm_stream_si128((__m128i *)(d + 48), e);
            d += 64; s += 64; n -= 64;
        }
        memcpy(d, s, n);
        _mm_sfence();
        return;
    }
#endif
    memcpy(dst, src, n);
}

// splice(2) and the pipe-size fcntl commands are GNU extensions, which Swift's Glibc module
// does not export: declared here (the same prototype as glibc's) and wrapped.
#include <sys/types.h>
#include <fcntl.h>
extern ssize_t splice(int fd_in, __off64_t *off_in, int fd_out, __off64_t *off_out, size_t len, unsigned int flags);
static inline ssize_t s3_splice(int fd_in, int64_t *off_in, int fd_out, int64_t *off_out, size_t len, int nonblocking) {
    __off64_t in = off_in ? *off_in : 0, out = off_out ? *off_out : 0;
    ssize_t n = splice(fd_in, off_in ? &in : NULL, fd_out, off_out ? &out : NULL, len, 1u /* SPLICE_F_MOVE */ | (nonblocking ? 2u /* SPLICE_F_NONBLOCK */ : 0u));
    if (off_in) *off_in = in;
    if (off_out) *off_out = out;
    return n;
}
extern int fallocate(int fd, int mode, __off64_t offset, __off64_t len);
/// Allocates `len` bytes of `fd` from offset 0 (extending its size): 0, or -1 with errno.
static inline int s3_fallocate(int fd, int64_t len) { return fallocate(fd, 0, 0, len); }
extern int pipe2(int fds[2], int flags);
/// A pipe with both ends close-on-exec and non-blocking, made in one step (no window in which
/// another thread's fork could inherit it).
static inline int s3_pipe_cloexec_nonblock(int fds[2]) { return pipe2(fds, O_CLOEXEC | O_NONBLOCK); }
/// Sets a pipe's capacity (F_SETPIPE_SZ); returns the capacity it has afterwards.
static inline int s3_pipe_set_size(int fd, int size) {
    int r = fcntl(fd, 1031 /* F_SETPIPE_SZ */, size);
    return r > 0 ? r : fcntl(fd, 1032 /* F_GETPIPE_SZ */);
}

/// The CA bundle file and directory this libcurl trusts by default (its build's settings), or
/// NULL: what the direct TLS connections trust when nothing else is configured, as curl's own do.
static inline const char *s3_curl_default_cainfo(void) {
    curl_version_info_data *d = curl_version_info(CURLVERSION_NOW);
    return d->age >= CURLVERSION_NINTH ? d->cainfo : NULL;
}
static inline const char *s3_curl_default_capath(void) {
    curl_version_info_data *d = curl_version_info(CURLVERSION_NOW);
    return d->age >= CURLVERSION_NINTH ? d->capath : NULL;
}

#endif
