/*
 * The floor and the library in one process: ROUNDS rounds, each reading a slow_1_N stream
 * with plain recv() (the floor, floor.h) and another with the library's blocking callback
 * stream, their order swapped from round to round. Both readers then share the process, its
 * thread and its place on the machine, and are measured a fraction of a second apart, so the
 * difference between them is the library's alone, without the spread between processes that
 * bench/run's comparison pools away. Not part of bench/run's verdicts; run it by hand:
 *
 *   scripts/with-testserver.sh target/bench/latency_mix ROUNDS N [SPIN_NS]
 *
 * SPIN_NS: CPU the floor burns after each read (default 0). With about as much as the
 * library spends per event, the floor's wake-up comes out as late as the library's: the
 * scheduler runs a woken thread later the more CPU it used per wake-up (README, Performance).
 *
 * As latency_split.c, this program defines recv() (linked with -rdynamic), so the library's
 * reads are stamped too: each library event's latency is split into the wake-up (server write
 * to recv() returning) and the library's part (recv() returning to the callback's entry).
 * Prints one JSON line: p50 and p99 of the floor and of the library, the p50 of each part,
 * and the library's p50s less the floor's.
 */
#include <sys/syscall.h>

#include "oairun.h"
#include "floor.h"

ssize_t recv(int fd, void *buf, size_t len, int flags);

/* When the last recv() returned (the floor's or the library's). */
static uint64_t last_return_ns;

ssize_t recv(int fd, void *buf, size_t len, int flags) {
    ssize_t n = (ssize_t)syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);
    last_return_ns = realtime_ns();
    return n;
}

struct library {
    uint64_t *whole, *wake;
    size_t n, cap;
    int bad;
};

static int on_event(const oairun_event *event, void *user_data) {
    uint64_t entry_ns = realtime_ns(); /* first thing on entry, as stream_consume's */
    struct library *l = (struct library *)user_data;
    if (oairun_event_kind(event) != OAIRUN_KIND_THREAD_MESSAGE_DELTA) return 0;
    size_t len = 0;
    const char *data = oairun_event_data(event, &len);
    uint64_t sent_ns = 0;
    if (!sent_ns_of(data, len, &sent_ns) || l->n >= l->cap) {
        l->bad = 1;
        return 0;
    }
    l->whole[l->n] = entry_ns - sent_ns;
    l->wake[l->n] = last_return_ns - sent_ns;
    l->n++;
    return 0;
}

static double sorted_quantile(uint64_t *ns, size_t n, double q) {
    qsort(ns, n, sizeof *ns, cmp_u64);
    return quantile_us(ns, n, q);
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: latency_mix ROUNDS N [SPIN_NS]\n");
        return 2;
    }
    size_t rounds = (size_t)strtoull(argv[1], NULL, 10), n = (size_t)strtoull(argv[2], NULL, 10);
    uint64_t spin_ns = argc == 4 ? strtoull(argv[3], NULL, 10) : 0;
    size_t cap = rounds * n > 0 ? rounds * n : 1;
    uint64_t *floor_ns = (uint64_t *)calloc(cap, sizeof *floor_ns);
    uint64_t *library_ns = (uint64_t *)calloc(cap, sizeof *library_ns);
    struct library l = {(uint64_t *)calloc(cap, sizeof *l.whole),
                        (uint64_t *)calloc(cap, sizeof *l.wake), 0, cap, 0};
    if (!floor_ns || !library_ns || !l.whole || !l.wake) return 3;

    oairun_client *client = NULL;
    oairun_tool_outputs *outputs = NULL;
    if (!bench_client("latency_mix", &client, &outputs)) return 1;
    char scenario[64];
    snprintf(scenario, sizeof scenario, "slow_1_%zu", n);
    size_t floors = 0;
    int ok = 1;
    for (size_t r = 0; r < rounds && ok; r++) {
        for (int half = 0; half < 2 && ok; half++) {
            if ((half == 0) == (r % 2 == 0)) {
                int done = 0;
                long found = floor_read("latency_mix", n, floor_ns + floors, spin_ns, &done);
                ok = found == (long)n && done;
                if (found > 0) floors += (size_t)found;
                continue;
            }
            size_t before = l.n;
            oairun_error *err = NULL;
            oairun_status status = oairun_submit_tool_outputs_stream(
                client, scenario, "run_bench", outputs, on_event, &l, &err);
            if (status != OAIRUN_OK) {
                fprintf(stderr, "latency_mix: %s: %s\n", oairun_status_str(status),
                        oairun_error_message(err));
                oairun_error_free(err);
            }
            ok = status == OAIRUN_OK && !l.bad && l.n - before == n;
        }
    }
    if (!ok) fprintf(stderr, "latency_mix: a stream fell short (floor %zu, library %zu)\n", floors, l.n);
    printf("{\"ok\":%s,\"rounds\":%zu,\"n\":%zu,\"spin_ns\":%llu", ok ? "true" : "false", rounds, n,
           (unsigned long long)spin_ns);
    if (floors > 0 && l.n > 0) {
        for (size_t i = 0; i < l.n; i++) library_ns[i] = l.whole[i] - l.wake[i];
        double f50 = sorted_quantile(floor_ns, floors, 0.5), f99 = quantile_us(floor_ns, floors, 0.99);
        double w50 = sorted_quantile(l.whole, l.n, 0.5), w99 = quantile_us(l.whole, l.n, 0.99);
        double k50 = sorted_quantile(l.wake, l.n, 0.5);
        double p50 = sorted_quantile(library_ns, l.n, 0.5);
        printf(",\"floor_p50_us\":%.1f,\"floor_p99_us\":%.1f,\"library_p50_us\":%.1f,"
               "\"library_p99_us\":%.1f,\"wake_p50_us\":%.1f,\"library_part_p50_us\":%.1f,"
               "\"library_over_floor_p50_us\":%.1f,\"wake_over_floor_p50_us\":%.1f",
               f50, f99, w50, w99, k50, p50, w50 - f50, k50 - f50);
    }
    printf("}\n");
    oairun_tool_outputs_free(outputs);
    oairun_client_free(client);
    free(floor_ns);
    free(library_ns);
    free(l.whole);
    free(l.wake);
    return ok ? 0 : 1;
}
