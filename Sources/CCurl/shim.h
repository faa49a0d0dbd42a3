// Typed wrappers for libcurl's variadic and macro-only API, which Swift cannot call directly.
// Policy lives in S3HTTP; this header only adapts types.
#ifndef S3_CCURL_SHIM_H
#define S3_CCURL_SHIM_H

#include <curl/curl.h>
#include <signal.h>

typedef size_t (*s3_curl_data_callback)(char *buffer, size_t size, size_t nitems, void *userdata);
typedef int (*s3_curl_seek_callback)(void *userdata, curl_off_t offset, int origin);

static inline CURLcode s3_curl_easy_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode s3_curl_easy_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode s3_curl_easy_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode s3_curl_easy_setopt_ptr(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode s3_curl_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode s3_curl_easy_setopt_data_callback(CURL *h, CURLoption o, s3_curl_data_callback v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode s3_curl_easy_setopt_seek_callback(CURL *h, CURLoption o, s3_curl_seek_callback v) { return curl_easy_setopt(h, o, v); }

static inline CURLcode s3_curl_easy_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode s3_curl_easy_getinfo_off(CURL *h, CURLINFO i, curl_off_t *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode s3_curl_easy_getinfo_double(CURL *h, CURLINFO i, double *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode s3_curl_easy_getinfo_ptr(CURL *h, CURLINFO i, void **v) { return curl_easy_getinfo(h, i, v); }

static inline CURLMcode s3_curl_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }

static inline CURLcode s3_curl_global_init_all(void) { return curl_global_init(CURL_GLOBAL_ALL); }
static inline CURLcode s3_curl_easy_pause_cont(CURL *h) { return curl_easy_pause(h, CURLPAUSE_CONT); }

static inline size_t s3_curl_writefunc_pause(void) { return CURL_WRITEFUNC_PAUSE; }
static inline size_t s3_curl_readfunc_pause(void) { return CURL_READFUNC_PAUSE; }
static inline size_t s3_curl_readfunc_abort(void) { return CURL_READFUNC_ABORT; }
static inline int s3_curl_seekfunc_ok(void) { return CURL_SEEKFUNC_OK; }
static inline int s3_curl_seekfunc_fail(void) { return CURL_SEEKFUNC_FAIL; }
static inline int s3_curl_seekfunc_cantseek(void) { return CURL_SEEKFUNC_CANTSEEK; }

/// Ignore SIGPIPE process-wide: a peer closing a socket must not kill the process.
static inline void s3_ignore_sigpipe(void) { signal(SIGPIPE, SIG_IGN); }

#endif
