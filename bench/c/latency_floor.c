/*
 * The latency floor: the same slow_1_N stream as `stream_consume latency N`, read with plain
 * blocking recv() on one thread and no HTTP or SSE library (floor.h), so what it measures is
 * the machine's own cost from the server's write to a reader waking up (the scheduler,
 * loopback TCP), which no client can go below.
 *
 *   latency_floor N
 *
 * The server comes from OPENAI_BASE_URL (http://127.0.0.1:PORT/...). Each "sent_ns" stamp is
 * charged the time recv() returned with its last digit. Prints one JSON line (with every
 * latency too when BENCH_LATENCY_SAMPLES is set: see common.h, print_samples).
 */
#include "floor.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: latency_floor N\n");
        return 2;
    }
    size_t n = (size_t)strtoull(argv[1], NULL, 10);
    uint64_t *latency = (uint64_t *)calloc(n ? n : 1, sizeof *latency);
    int done = 0;
    long found = floor_read("latency_floor", n, latency, 0, &done);
    if (found < 0) return 1;
    size_t stamps = (size_t)found;
    int ok = stamps == n && done;
    if (!ok) fprintf(stderr, "latency_floor: %zu stamps (expected %zu)\n", stamps, n);
    printf("{\"ok\":%s,\"n\":%zu,\"stamps\":%zu", ok ? "true" : "false", n, stamps);
    if (stamps > 0) {
        qsort(latency, stamps, sizeof *latency, cmp_u64);
        printf(",\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f", quantile_us(latency, stamps, 0.5),
               quantile_us(latency, stamps, 0.99), quantile_us(latency, stamps, 1.0));
        print_samples(latency, stamps);
    }
    printf("}\n");
    free(latency);
    return ok ? 0 : 1;
}
