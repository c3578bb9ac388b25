/*
 * Where a blocking stream's delivery latency goes: the same slow_1_N stream as
 * `stream_consume latency N` (callback or pull API), with each event's latency split in two:
 *
 *   wake:    server write -> oairun's recv() returning (the machine's part, as the floor's);
 *   library: recv() returning -> the callback's entry, or oairun_reader_next_batch's return.
 *
 * This program defines recv() itself and is linked with -rdynamic, so the library's calls to
 * recv() come here (the executable's symbols come first in the dynamic linker's search): it
 * makes the system call and stamps CLOCK_REALTIME as it returns. Not part of bench/run's
 * verdicts; run it by hand beside latency_floor, interleaved, to see which part moves:
 *
 *   scripts/with-testserver.sh target/bench/latency_split N [callback|pull]
 *
 * Prints one JSON line: the p50 and p99 of the whole latency and of each part, in us.
 */
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "oairun.h"
#include "common.h"

ssize_t recv(int fd, void *buf, size_t len, int flags);

/* When the library's last recv() returned. */
static uint64_t last_return_ns;
static size_t recv_calls;

ssize_t recv(int fd, void *buf, size_t len, int flags) {
    ssize_t n = (ssize_t)syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);
    last_return_ns = realtime_ns();
    recv_calls++;
    return n;
}

struct split {
    uint64_t *whole, *wake, *library;
    size_t n, cap;
    int bad;
};

static void take(struct split *s, const oairun_event *event, uint64_t entry_ns) {
    if (oairun_event_kind(event) != OAIRUN_KIND_THREAD_MESSAGE_DELTA) return;
    size_t len = 0;
    const char *data = oairun_event_data(event, &len);
    uint64_t sent_ns = 0;
    if (!sent_ns_of(data, len, &sent_ns) || s->n >= s->cap) {
        s->bad = 1;
        return;
    }
    s->whole[s->n] = entry_ns - sent_ns;
    s->wake[s->n] = last_return_ns - sent_ns;
    s->library[s->n] = entry_ns - last_return_ns;
    s->n++;
}

static int on_event(const oairun_event *event, void *user_data) {
    uint64_t entry_ns = realtime_ns(); /* first thing on entry, as stream_consume's */
    take((struct split *)user_data, event, entry_ns);
    return 0;
}

static void print_part(const char *name, uint64_t *ns, size_t n) {
    qsort(ns, n, sizeof *ns, cmp_u64);
    printf(",\"%s_p50_us\":%.1f,\"%s_p99_us\":%.1f", name, quantile_us(ns, n, 0.5), name,
           quantile_us(ns, n, 0.99));
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "callback") != 0 &&
                                 strcmp(argv[2], "pull") != 0)) {
        fprintf(stderr, "usage: latency_split N [callback|pull]\n");
        return 2;
    }
    size_t n = (size_t)strtoull(argv[1], NULL, 10);
    int pull = argc == 3 && strcmp(argv[2], "pull") == 0;
    struct split s = {0};
    s.cap = n ? n : 1;
    s.whole = (uint64_t *)calloc(s.cap, sizeof *s.whole);
    s.wake = (uint64_t *)calloc(s.cap, sizeof *s.wake);
    s.library = (uint64_t *)calloc(s.cap, sizeof *s.library);
    if (!s.whole || !s.wake || !s.library) return 3;

    oairun_client *client = NULL;
    oairun_tool_outputs *outputs = NULL;
    if (!bench_client("latency_split", &client, &outputs)) return 1;
    char scenario[64];
    snprintf(scenario, sizeof scenario, "slow_1_%zu", n);
    oairun_error *err = NULL;
    oairun_status status;
    if (pull) {
        oairun_reader *reader = NULL;
        status = oairun_submit_tool_outputs_stream_open(client, scenario, "run_bench", outputs, 0,
                                                        &reader, &err);
        const oairun_event *events[64];
        while (status == OAIRUN_OK) {
            size_t count = 0;
            status = oairun_reader_next_batch(reader, -1, events, 64, &count, &err);
            uint64_t entry_ns = realtime_ns(); /* first thing on return */
            if (status != OAIRUN_OK || count == 0) break;
            for (size_t i = 0; i < count; i++) take(&s, events[i], entry_ns);
        }
        oairun_reader_free(reader);
    } else {
        status = oairun_submit_tool_outputs_stream(client, scenario, "run_bench", outputs,
                                                   on_event, &s, &err);
    }
    int ok = status == OAIRUN_OK && !s.bad && s.n == n && recv_calls > 0;
    if (status != OAIRUN_OK) {
        fprintf(stderr, "latency_split: %s: %s\n", oairun_status_str(status),
                oairun_error_message(err));
        oairun_error_free(err);
    } else if (!ok) {
        fprintf(stderr, "latency_split: %zu deltas (expected %zu), %zu recv() calls seen\n", s.n,
                n, recv_calls);
    }
    printf("{\"ok\":%s,\"api\":\"%s\",\"n\":%zu,\"recv_calls\":%zu", ok ? "true" : "false",
           pull ? "pull" : "callback", s.n, recv_calls);
    if (s.n > 0) {
        print_part("whole", s.whole, s.n);
        print_part("wake", s.wake, s.n);
        print_part("library", s.library, s.n);
    }
    printf("}\n");
    oairun_tool_outputs_free(outputs);
    oairun_client_free(client);
    free(s.whole);
    free(s.wake);
    free(s.library);
    return ok ? 0 : 1;
}
