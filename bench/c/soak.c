/*
 * The soak test (issue 13, item 4; `make soak`, not in CI): SUBMISSIONS submissions from
 * THREADS threads sharing one client, mixing every kind of call of both APIs, while a sampler
 * thread watches the process's memory and file descriptors.
 *
 *   soak [SUBMISSIONS [THREADS]]        (default 100000 16)
 *
 * Talks only to the loopback test server whose URL is in OPENAI_BASE_URL
 * (scripts/with-testserver.sh). The shared client has max_retries 0, so that `status_500`
 * answers at once and any connection failure shows up as a mismatch instead of being mended
 * by a retry. Submission i is of kind hash(i) % KINDS (the table below), each with the one
 * status its scenario asks for; any other status is a mismatch and fails the run.
 *
 * Started-and-cancelled streams (`stall`, which sends its first events and then nothing) are
 * cancelled with oairun_stream_cancel either at once (even i) or once their first event has
 * arrived (odd i, bounded wait of 5 s), then waited for (OAIRUN_CANCELLED) and freed.
 *
 * Every 0.5 s the sampler records VmRSS (/proc/self/status), the heap in use (mallinfo2:
 * what malloc handed out and has not had back, which tells a leak from an allocator keeping
 * freed memory) and the number of open file descriptors (/proc/self/fd), and every 2 s asks
 * the test server to forget what it recorded (POST /_test/reset), so that the server's
 * request record stays small.
 *
 * Targets (exit 1 when one is missed):
 * - no mismatch;
 * - RSS flat after warm-up: the largest sample after the first 10 % of submissions minus the
 *   RSS when the 10 % were done is at most 4 MiB;
 * - descriptors back to their start: the start is counted after a warm-up client has made
 *   two submissions of every kind and been freed (so the runtime's own descriptors, which
 *   appear at the first submission and stay for the process's life, are in it: on Linux two
 *   epoll instances and an eventfd; the count before any oairun call is printed too); the
 *   end is counted 1 s after the soak client was freed.
 * A watchdog ends the run with exit 1 after SOAK_MAX_SECONDS (default 1200).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "oairun.h"
#include "common.h"

enum api { ASSISTANTS, RESPONSES };
enum mode { SYNC, STREAM, CANCEL };

struct kind {
    const char *label;
    enum api api;
    enum mode mode;
    const char *scenario; /* thread id (Assistants) or model (Responses) */
    oairun_status expected;
};

static const struct kind KINDS[] = {
    {"Assistants sync", ASSISTANTS, SYNC, "thread_soak", OAIRUN_OK},
    {"Assistants stream", ASSISTANTS, STREAM, "thread_soak", OAIRUN_OK},
    {"Assistants stall, cancelled", ASSISTANTS, CANCEL, "stall", OAIRUN_CANCELLED},
    {"Assistants status_404 sync", ASSISTANTS, SYNC, "status_404", OAIRUN_HTTP_STATUS},
    {"Assistants status_404 stream", ASSISTANTS, STREAM, "status_404", OAIRUN_HTTP_STATUS},
    {"Assistants truncated stream", ASSISTANTS, STREAM, "truncated", OAIRUN_PROTOCOL},
    {"Assistants error_event stream", ASSISTANTS, STREAM, "error_event", OAIRUN_STREAM_ERROR},
    {"Responses sync", RESPONSES, SYNC, "gpt-test", OAIRUN_OK},
    {"Responses stream", RESPONSES, STREAM, "gpt-test", OAIRUN_OK},
    {"Responses stall, cancelled", RESPONSES, CANCEL, "stall", OAIRUN_CANCELLED},
    {"Responses error_nested stream", RESPONSES, STREAM, "error_nested", OAIRUN_STREAM_ERROR},
    {"Responses cut stream", RESPONSES, STREAM, "cut", OAIRUN_PROTOCOL},
    {"Responses failed stream", RESPONSES, STREAM, "failed", OAIRUN_STREAM_ERROR},
    {"Responses status_500 sync", RESPONSES, SYNC, "status_500", OAIRUN_HTTP_STATUS},
    {"Responses status_500 stream", RESPONSES, STREAM, "status_500", OAIRUN_HTTP_STATUS},
};
#define KIND_COUNT (sizeof KINDS / sizeof KINDS[0])

/* The status's constant name without OAIRUN_, for the table. */
static const char *status_name(oairun_status s) {
    static const char *const names[] = {"OK", "INVALID_ARGUMENT", "CONNECT", "TIMEOUT",
                                        "HTTP_STATUS", "STREAM_ERROR", "PROTOCOL", "CANCELLED",
                                        "INTERNAL", "MAX_TURNS"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

#define MAX_SAMPLES 8192
#define RSS_SLACK_KIB 4096
#define MAX_REPORTED_MISMATCHES 20

struct sample {
    double t;   /* seconds since the soak client was created */
    long done;  /* submissions finished */
    long rss_kib;
    long heap_kib; /* bytes malloc has handed out and not had back (mallinfo2), in KiB */
    long fds;
};

static oairun_client *client;
static oairun_tool_outputs *outputs;
static long total, warm_count;
static atomic_long next_index, done_count;
static atomic_long per_kind[KIND_COUNT], per_kind_mismatch[KIND_COUNT];
static atomic_long mismatches, cancelled_mid_stream, events_seen, resets, resets_asked;
static atomic_long warm_rss = -1, warm_heap = -1;
static atomic_int sampling = 1;
static struct sample samples[MAX_SAMPLES];
static size_t sample_count;
static double soak_start;
static int server_port = -1;

/* Open descriptors of this process (the directory's own is not counted). */
static long count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') n++;
    }
    closedir(d);
    return n - 1;
}

/* What malloc has handed out and not had back, every arena (glibc's mallinfo2), in KiB: it
 * tells growing RSS from a growing heap apart (RSS grows too when the allocator's free
 * memory fragments). oairun uses the system allocator. */
static long heap_in_use_kib(void) {
    struct mallinfo2 m = mallinfo2();
    return (long)((m.uordblks + m.hblkhd) / 1024);
}

/* POST /_test/reset to the test server over a plain socket; 1 when it answered 204. */
static int server_reset(void) {
    if (server_port <= 0) return 0;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)server_port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    struct timeval limit = {5, 0};
    int ok = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit) == 0 &&
        connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
        static const char request[] = "POST /_test/reset HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                      "Content-Length: 0\r\nConnection: close\r\n\r\n";
        if (send(fd, request, sizeof request - 1, 0) == (ssize_t)(sizeof request - 1)) {
            char answer[1024];
            size_t len = 0;
            ssize_t got;
            /* The answer is 204 with no body; the server may keep the connection open. */
            while (len < sizeof answer - 1 &&
                   (got = recv(fd, answer + len, sizeof answer - 1 - len, 0)) > 0) {
                len += (size_t)got;
                answer[len] = '\0';
                if (strstr(answer, "\r\n\r\n")) break;
            }
            answer[len] = '\0';
            ok = strncmp(answer, "HTTP/1.1 204", 12) == 0;
        }
    }
    close(fd);
    return ok;
}

static void *sampler(void *arg) {
    (void)arg;
    unsigned tick = 0;
    while (atomic_load(&sampling)) {
        if (sample_count < MAX_SAMPLES) {
            struct sample *s = &samples[sample_count];
            s->t = mono_seconds() - soak_start;
            s->done = atomic_load(&done_count);
            s->rss_kib = status_field("VmRSS");
            s->heap_kib = heap_in_use_kib();
            s->fds = count_fds();
            sample_count++;
        }
        if (++tick % 4 == 0) {
            atomic_fetch_add(&resets_asked, 1);
            if (server_reset()) atomic_fetch_add(&resets, 1);
        }
        for (int i = 0; i < 50 && atomic_load(&sampling); i++) usleep(10000);
    }
    return NULL;
}

/* A stalled stream's state: the first event's arrival, for a cancel mid-stream. */
struct stall {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int got_event;
};

static int on_event(const oairun_event *event, void *user_data) {
    (void)event;
    (void)user_data;
    atomic_fetch_add_explicit(&events_seen, 1, memory_order_relaxed);
    return 0;
}

static int on_stall_event(const oairun_event *event, void *user_data) {
    (void)event;
    struct stall *s = (struct stall *)user_data;
    pthread_mutex_lock(&s->lock);
    s->got_event = 1;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static uint64_t mix(uint64_t x) { /* splitmix64 */
    x += 0x9E3779B97F4A7C15u;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9u;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBu;
    return x ^ (x >> 31);
}

static oairun_response_request *new_request(const char *model) {
    oairun_response_request *r = oairun_response_request_new();
    if (!r || oairun_response_request_set_model(r, model) != OAIRUN_OK ||
        oairun_response_request_add_function_call_output(r, "call_soak", "70 degrees and sunny.") !=
            OAIRUN_OK) {
        fprintf(stderr, "soak: cannot build a Responses request\n");
        exit(3);
    }
    return r;
}

/* Runs submission `i` on client `c`; returns its status. */
static oairun_status submit(const oairun_client *c, const struct kind *k, long i,
                            struct stall *stall, oairun_error **err) {
    char run_id[32];
    snprintf(run_id, sizeof run_id, "run_%ld", i);
    oairun_response_request *request = k->api == RESPONSES ? new_request(k->scenario) : NULL;
    oairun_status status;
    if (k->mode == SYNC) {
        char *json = NULL;
        status = k->api == ASSISTANTS
                     ? oairun_submit_tool_outputs(c, k->scenario, run_id, outputs, &json, err)
                     : oairun_create_response(c, request, &json, err);
        if ((status == OAIRUN_OK) != (json != NULL)) status = OAIRUN_INTERNAL;
        oairun_string_free(json);
    } else if (k->mode == STREAM) {
        status = k->api == ASSISTANTS
                     ? oairun_submit_tool_outputs_stream(c, k->scenario, run_id, outputs,
                                                         on_event, NULL, err)
                     : oairun_create_response_stream(c, request, on_event, NULL, err);
    } else {
        oairun_stream *handle = NULL;
        stall->got_event = 0;
        status = k->api == ASSISTANTS
                     ? oairun_submit_tool_outputs_stream_start(c, k->scenario, run_id, outputs,
                                                               on_stall_event, stall, &handle,
                                                               err)
                     : oairun_create_response_stream_start(c, request, on_stall_event, stall,
                                                           &handle, err);
        if (status == OAIRUN_OK) {
            if (i % 2) { /* cancel mid-stream: once the first event is in (at most 5 s) */
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_sec += 5;
                pthread_mutex_lock(&stall->lock);
                while (!stall->got_event &&
                       pthread_cond_timedwait(&stall->cond, &stall->lock, &until) == 0) {
                }
                if (stall->got_event) atomic_fetch_add(&cancelled_mid_stream, 1);
                pthread_mutex_unlock(&stall->lock);
            }
            oairun_stream_cancel(handle);
            status = oairun_stream_wait(handle, err);
            oairun_stream_free(handle);
        }
    }
    oairun_response_request_free(request);
    return status;
}

static void *worker(void *arg) {
    (void)arg;
    struct stall stall;
    pthread_mutex_init(&stall.lock, NULL);
    pthread_cond_init(&stall.cond, NULL);
    for (;;) {
        long i = atomic_fetch_add(&next_index, 1);
        if (i >= total) break;
        size_t kind = (size_t)(mix((uint64_t)i) % KIND_COUNT);
        const struct kind *k = &KINDS[kind];
        oairun_error *err = NULL;
        oairun_status status = submit(client, k, i, &stall, &err);
        atomic_fetch_add(&per_kind[kind], 1);
        if (status != k->expected) {
            atomic_fetch_add(&per_kind_mismatch[kind], 1);
            if (atomic_fetch_add(&mismatches, 1) < MAX_REPORTED_MISMATCHES) {
                fprintf(stderr, "soak: #%ld %s: %s, expected %s: %s\n", i, k->label,
                        oairun_status_str(status), oairun_status_str(k->expected),
                        err ? oairun_error_message(err) : "(no error)");
            }
        }
        oairun_error_free(err);
        if (atomic_fetch_add(&done_count, 1) + 1 == warm_count) {
            atomic_store(&warm_rss, status_field("VmRSS"));
            atomic_store(&warm_heap, heap_in_use_kib());
        }
    }
    pthread_cond_destroy(&stall.cond);
    pthread_mutex_destroy(&stall.lock);
    return NULL;
}

static oairun_client *new_client(void) {
    oairun_client_options *options = oairun_client_options_new();
    oairun_client_options_set_max_retries(options, 0);
    oairun_client_options_set_timeout_ms(options, 30000);
    oairun_client_options_set_read_timeout_ms(options, 30000);
    oairun_client *c = NULL;
    oairun_error *err = NULL;
    if (oairun_client_new(options, &c, &err) != OAIRUN_OK) {
        fprintf(stderr, "soak: %s\n", oairun_error_message(err));
        exit(3);
    }
    oairun_client_options_free(options);
    return c;
}

static void watchdog(int sig) {
    (void)sig;
    static const char msg[] = "soak: FAILED: the time limit (SOAK_MAX_SECONDS) ran out\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(1);
}

static void print_kib(const char *what, long kib) {
    printf("  %-38s %8ld KiB (%.1f MiB)\n", what, kib, (double)kib / 1024.0);
}

int main(int argc, char **argv) {
    total = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    long threads = argc > 2 ? strtol(argv[2], NULL, 10) : 16;
    if (argc > 3 || total < 1 || threads < 1 || threads > 1024) {
        fprintf(stderr, "usage: soak [SUBMISSIONS [THREADS]]\n");
        return 2;
    }
    warm_count = total / 10 > 0 ? total / 10 : 1;
    const char *limit = getenv("SOAK_MAX_SECONDS");
    signal(SIGALRM, watchdog);
    alarm(limit ? (unsigned)strtoul(limit, NULL, 10) : 1200u);

    const char *url = getenv("OPENAI_BASE_URL");
    const char *prefix = "http://127.0.0.1:";
    if (!url || strncmp(url, prefix, strlen(prefix)) != 0) {
        fprintf(stderr, "soak: OPENAI_BASE_URL must be the loopback test server "
                        "(run through scripts/with-testserver.sh)\n");
        return 2;
    }
    server_port = atoi(url + strlen(prefix));

    long fds_before = count_fds(), rss_before = status_field("VmRSS");
    long heap_before = heap_in_use_kib();

    /* Warm-up: a client of its own makes two submissions of every kind, then is freed, so that
     * what oairun keeps for the process's life (its runtime's threads, epoll and eventfd
     * descriptors) exists before the start is counted. */
    outputs = oairun_tool_outputs_new();
    oairun_tool_outputs_add(outputs, "call_001", "70 degrees and sunny.");
    {
        oairun_client *c = new_client();
        struct stall stall;
        pthread_mutex_init(&stall.lock, NULL);
        pthread_cond_init(&stall.cond, NULL);
        for (size_t k = 0; k < KIND_COUNT; k++) {
            for (long j = 0; j < 2; j++) {
                oairun_error *err = NULL;
                oairun_status status = submit(c, &KINDS[k], j, &stall, &err);
                if (status != KINDS[k].expected) {
                    fprintf(stderr, "soak: warm-up %s: %s, expected %s: %s\n", KINDS[k].label,
                            oairun_status_str(status), oairun_status_str(KINDS[k].expected),
                            err ? oairun_error_message(err) : "(no error)");
                    return 1;
                }
                oairun_error_free(err);
            }
        }
        pthread_cond_destroy(&stall.cond);
        pthread_mutex_destroy(&stall.lock);
        oairun_client_free(c);
        sleep(1);
    }
    server_reset();
    long fds_start = count_fds(), rss_start = status_field("VmRSS");
    long heap_start = heap_in_use_kib();

    client = new_client();
    soak_start = mono_seconds();
    pthread_t sampler_thread;
    pthread_t *workers = (pthread_t *)calloc((size_t)threads, sizeof *workers);
    if (!workers || pthread_create(&sampler_thread, NULL, sampler, NULL) != 0) return 3;
    for (long t = 0; t < threads; t++) {
        if (pthread_create(&workers[t], NULL, worker, NULL) != 0) {
            fprintf(stderr, "soak: cannot start thread %ld\n", t);
            return 3;
        }
    }
    for (long t = 0; t < threads; t++) pthread_join(workers[t], NULL);
    double seconds = mono_seconds() - soak_start;
    long rss_done = status_field("VmRSS"), fds_done = count_fds(), heap_done = heap_in_use_kib();
    atomic_store(&sampling, 0);
    pthread_join(sampler_thread, NULL);
    free(workers);

    oairun_client_free(client);
    oairun_tool_outputs_free(outputs);
    sleep(1);
    long fds_end = count_fds(), rss_end = status_field("VmRSS"), heap_end = heap_in_use_kib();
    server_reset();

    /* RSS: the largest sample once warm-up was over (the final reading included). */
    long rss_warm = atomic_load(&warm_rss);
    long rss_max = rss_done, rss_max_all = rss_done, fds_max = fds_done, heap_max = heap_done;
    double rss_max_t = seconds;
    for (size_t s = 0; s < sample_count; s++) {
        if (samples[s].rss_kib > rss_max_all) rss_max_all = samples[s].rss_kib;
        if (samples[s].fds > fds_max) fds_max = samples[s].fds;
        if (samples[s].done >= warm_count && samples[s].heap_kib > heap_max) {
            heap_max = samples[s].heap_kib;
        }
        if (samples[s].done >= warm_count && samples[s].rss_kib > rss_max) {
            rss_max = samples[s].rss_kib;
            rss_max_t = samples[s].t;
        }
    }
    long growth = rss_max - rss_warm;
    long bad = atomic_load(&mismatches);
    int rss_ok = rss_warm > 0 && growth <= RSS_SLACK_KIB;
    int fds_ok = fds_end == fds_start;
    int ok = bad == 0 && rss_ok && fds_ok && atomic_load(&done_count) == total;

    printf("soak: %ld submissions, %ld threads, one client (max_retries 0), %.1f s "
           "(%.0f submissions/s)\n", total, threads, seconds, (double)total / seconds);
    printf("  %-32s %8s %13s %10s\n", "kind", "count", "expected", "mismatches");
    for (size_t k = 0; k < KIND_COUNT; k++) {
        printf("  %-32s %8ld %13s %10ld\n", KINDS[k].label, atomic_load(&per_kind[k]),
               status_name(KINDS[k].expected), atomic_load(&per_kind_mismatch[k]));
    }
    printf("  %-32s %8ld %13s %10ld\n", "total", atomic_load(&done_count), "", bad);
    printf("  cancelled mid-stream (after the first event): %ld; events delivered to "
           "streams: %ld; server resets: %ld of %ld asked\n", atomic_load(&cancelled_mid_stream),
           atomic_load(&events_seen), atomic_load(&resets), atomic_load(&resets_asked));
    printf("RSS (%zu samples, every 0.5 s):\n", sample_count);
    print_kib("before any oairun call", rss_before);
    print_kib("start (after the warm-up client)", rss_start);
    print_kib("at warm-up end (10 % submitted)", rss_warm);
    printf("  %-38s %8ld KiB (%.1f MiB) at %.1f s\n", "max after warm-up", rss_max,
           (double)rss_max / 1024.0, rss_max_t);
    print_kib("max over the whole run", rss_max_all);
    print_kib("when the submissions were done", rss_done);
    print_kib("end (client freed, +1 s)", rss_end);
    printf("  growth after warm-up: %ld KiB (target <= %d KiB): %s\n", growth, RSS_SLACK_KIB,
           rss_ok ? "ok" : "MISSED");
    printf("Heap in use (malloc, every arena): before any oairun call %ld KiB, start %ld, "
           "at warm-up end %ld, max after warm-up %ld, when done %ld, end %ld\n",
           heap_before, heap_start, atomic_load(&warm_heap), heap_max, heap_done, heap_end);
    printf("Trace (seconds: RSS MiB / heap MiB / fds):");
    size_t step = sample_count > 12 ? sample_count / 12 : 1;
    for (size_t s = 0; s < sample_count; s += step) {
        printf(" %.0f:%.1f/%.1f/%ld", samples[s].t, (double)samples[s].rss_kib / 1024.0,
               (double)samples[s].heap_kib / 1024.0, samples[s].fds);
    }
    printf("\n");
    printf("File descriptors:\n");
    printf("  before any oairun call %ld; start (after the warm-up client was freed, +1 s) %ld "
           "(the runtime's own: %ld)\n", fds_before, fds_start, fds_start - fds_before);
    printf("  max during the run %ld; when the submissions were done %ld; "
           "end (client freed, +1 s) %ld: %s\n", fds_max, fds_done, fds_end,
           fds_ok ? "ok" : "MISSED");
    printf("soak: %s\n", ok ? "every target met" : "FAILED");
    return ok ? 0 : 1;
}
