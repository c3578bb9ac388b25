/*
 * What the benchmark's C programs share: the expected assistant text of the test server's
 * long streams, a JSON string extractor for message deltas, a growable buffer, and clocks.
 *
 * The expected text is derived here, independently of the server's code, from the generator
 * the test server documents (`oairun_testserver::long_text`, testserver/src/lib.rs): delta i of
 * a `long_N` or `slow_MS_N` stream carries word i % 18 of the fixed cycle below. The Responses
 * `long_N` (`responses_long_text`) spells the same text, one word per output_text.delta.
 */
#ifndef OAIRUN_BENCH_COMMON_H
#define OAIRUN_BENCH_COMMON_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const LONG_WORDS[] = {
    "The", " quick", " \"brown\"", " fox", " jumps", " over", " the", " lazy", " dog",
    " \xE2\x80\x94",                 /* U+2014 em dash */
    " caf\xC3\xA9",                  /* café */
    " na\xC3\xAFve",                 /* naïve */
    " \xE6\x97\xA5\xE6\x9C\xAC",     /* 日本 */
    " back\\slash", " tab\there",
    " \xF0\x9F\xA6\x80",             /* U+1F980 crab */
    ".", "\n",
};
#define LONG_WORD_COUNT (sizeof LONG_WORDS / sizeof LONG_WORDS[0])

/* A byte buffer that grows as needed; aborts when memory runs out (a benchmark, not a library). */
struct buf {
    char *data;
    size_t len, cap;
};

static inline void buf_reserve(struct buf *b, size_t extra) {
    if (b->len + extra <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra) cap *= 2;
    b->data = (char *)realloc(b->data, cap);
    if (!b->data) { perror("realloc"); exit(3); }
    b->cap = cap;
}

static inline void buf_put(struct buf *b, const char *bytes, size_t n) {
    buf_reserve(b, n);
    memcpy(b->data + b->len, bytes, n);
    b->len += n;
}

static inline void buf_free(struct buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* The whole expected text of an n-delta stream. */
static inline void expected_text(size_t n, struct buf *out) {
    for (size_t i = 0; i < n; i++) {
        const char *w = LONG_WORDS[i % LONG_WORD_COUNT];
        buf_put(out, w, strlen(w));
    }
}

/* Checks text against the expected text piece by piece, without keeping it: the position is
 * the word index and the offset inside that word. */
struct expect {
    size_t word, offset, total_words;
    int mismatch;
};

static inline void expect_feed(struct expect *e, const char *bytes, size_t n) {
    for (size_t i = 0; i < n && !e->mismatch; i++) {
        if (e->word >= e->total_words) { e->mismatch = 1; break; }
        const char *w = LONG_WORDS[e->word % LONG_WORD_COUNT];
        if (bytes[i] != w[e->offset]) { e->mismatch = 1; break; }
        if (w[++e->offset] == '\0') { e->word++; e->offset = 0; }
    }
}

static inline int expect_complete(const struct expect *e) {
    return !e->mismatch && e->word == e->total_words && e->offset == 0;
}

static inline void put_utf8(struct buf *out, unsigned cp) {
    char u[4];
    size_t n;
    if (cp < 0x80) { u[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { u[0] = (char)(0xC0 | cp >> 6); u[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
    else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12); u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
    } else {
        u[0] = (char)(0xF0 | cp >> 18); u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); u[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
    }
    buf_put(out, u, n);
}

static inline int hex4(const char *p, const char *end, unsigned *cp) {
    if (end - p < 4) return 0;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    *cp = v;
    return 1;
}

/* Appends to `out` the unescaped JSON string value that follows the first `"value":"` in
 * data[0..len] (a message delta's text). Returns 1, or 0 when there is none or it is
 * malformed. Enough JSON for the delta's shape; a real program would use a JSON library. */
static inline int delta_text(const char *data, size_t len, struct buf *out) {
    static const char needle[] = "\"value\":\"";
    const char *end = data + len;
    const char *p = (const char *)memmem(data, len, needle, sizeof needle - 1);
    if (!p) return 0;
    p += sizeof needle - 1;
    while (p < end) {
        const char *run = p;
        while (p < end && *p != '"' && *p != '\\') p++;
        buf_put(out, run, (size_t)(p - run));
        if (p == end) return 0;
        if (*p == '"') return 1;
        if (++p == end) return 0;
        char c = *p++;
        switch (c) {
            case 'n': buf_put(out, "\n", 1); break;
            case 't': buf_put(out, "\t", 1); break;
            case 'r': buf_put(out, "\r", 1); break;
            case 'b': buf_put(out, "\b", 1); break;
            case 'f': buf_put(out, "\f", 1); break;
            case '"': case '\\': case '/': buf_put(out, &c, 1); break;
            case 'u': {
                unsigned cp, lo;
                if (!hex4(p, end, &cp)) return 0;
                p += 4;
                if (cp >= 0xD800 && cp < 0xDC00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
                    hex4(p + 2, end, &lo) && lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
                put_utf8(out, cp);
                break;
            }
            default: return 0;
        }
    }
    return 0;
}

static inline double mono_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline uint64_t realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A "Name: value" field of /proc/self/status as a number (kB for sizes), or -1. */
static inline long status_field(const char *name) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long value = -1;
    size_t n = strlen(name);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, name, n) == 0 && line[n] == ':') {
            value = strtol(line + n + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return value;
}

/* Peak resident set size of this program so far, in KiB: VmHWM, not getrusage's ru_maxrss,
 * which Linux carries over exec from the process that forked this one (a Python driver's
 * RSS would hide this program's). */
static inline long max_rss_kib(void) {
    return status_field("VmHWM");
}

static inline int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The q-quantile (nearest rank) of n sorted nanosecond values, in microseconds. */
static inline double quantile_us(const uint64_t *sorted, size_t n, double q) {
    size_t rank = (size_t)ceil(q * (double)n);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return (double)(int64_t)sorted[rank - 1] / 1000.0;
}

/* The server's write time of a slow_1_N delta: its "sent_ns" (CLOCK_REALTIME, ns) found in the
 * event's data into *sent. Returns 0 when the data has none. */
static inline int sent_ns_of(const char *data, size_t len, uint64_t *sent) {
    static const char stamp[] = "\"sent_ns\":";
    const char *p = (const char *)memmem(data, len, stamp, sizeof stamp - 1);
    if (!p) return 0;
    *sent = strtoull(p + sizeof stamp - 1, NULL, 10);
    return 1;
}

/* With BENCH_LATENCY_SAMPLES set in the environment, every one of the n latencies (ns), as
 * a JSON member to add to the program's output line: the driver pools the samples of many
 * short runs (bench.py, latency). Without it, nothing. */
static inline void print_samples(const uint64_t *ns, size_t n) {
    if (!getenv("BENCH_LATENCY_SAMPLES")) return;
    printf(",\"samples_ns\":[");
    for (size_t i = 0; i < n; i++) printf(i ? ",%llu" : "%llu", (unsigned long long)ns[i]);
    printf("]");
}

#ifdef OAIRUN_H
/* The client (server and key from the environment) and the one tool output every benchmark
 * submission sends; prints the error and returns 0 on failure. */
static inline int bench_client(const char *program, oairun_client **client,
                               oairun_tool_outputs **outputs) {
    oairun_error *err = NULL;
    if (oairun_client_new(NULL, client, &err) != OAIRUN_OK) {
        fprintf(stderr, "%s: %s\n", program, oairun_error_message(err));
        oairun_error_free(err);
        return 0;
    }
    *outputs = oairun_tool_outputs_new();
    oairun_tool_outputs_add(*outputs, "call_001", "70 degrees and sunny.");
    return 1;
}
#endif

#endif
