/*
 * The latency floor: the same slow_1_N stream as `stream_consume latency N`, read with plain
 * blocking recv() on one thread and no HTTP or SSE library, so what it measures is the
 * machine's own cost from the server's write to a reader waking up (the scheduler, loopback
 * TCP), which no client can go below.
 *
 *   latency_floor N
 *
 * The server comes from OPENAI_BASE_URL (http://127.0.0.1:PORT/...). Each "sent_ns" stamp is
 * charged the time recv() returned with its last digit. Prints one JSON line (with every
 * latency too when BENCH_LATENCY_SAMPLES is set: see common.h, print_samples).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: latency_floor N\n");
        return 2;
    }
    size_t n = (size_t)strtoull(argv[1], NULL, 10);
    const char *base = getenv("OPENAI_BASE_URL");
    unsigned port = 0;
    char path[256] = "";
    if (!base || sscanf(base, "http://127.0.0.1:%u%255s", &port, path) < 1) {
        fprintf(stderr, "latency_floor: OPENAI_BASE_URL must be http://127.0.0.1:PORT/...\n");
        return 2;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        perror("latency_floor: connect");
        return 1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    static const char body[] =
        "{\"tool_outputs\":[{\"tool_call_id\":\"call_001\",\"output\":\"70 degrees and sunny.\"}],"
        "\"stream\":true}";
    char request[1024];
    int len = snprintf(request, sizeof request,
                       "POST %s/threads/slow_1_%zu/runs/run_bench/submit_tool_outputs HTTP/1.1\r\n"
                       "Host: 127.0.0.1:%u\r\nContent-Type: application/json\r\n"
                       "Accept: text/event-stream\r\nConnection: close\r\n"
                       "Content-Length: %zu\r\n\r\n%s",
                       path, n, port, sizeof body - 1, body);
    if (write(fd, request, (size_t)len) != len) {
        perror("latency_floor: write");
        return 1;
    }

    static const char stamp[] = "\"sent_ns\":";
    uint64_t *latency = (uint64_t *)calloc(n ? n : 1, sizeof *latency);
    size_t stamps = 0;
    struct buf in = {0};
    size_t scanned = 0;
    for (;;) {
        buf_reserve(&in, 65536);
        ssize_t got = recv(fd, in.data + in.len, in.cap - in.len, 0);
        uint64_t now = realtime_ns();
        if (got <= 0) break;
        in.len += (size_t)got;
        /* Every stamp whose number is complete (a non-digit follows it) in what has arrived. */
        for (;;) {
            const char *p = (const char *)memmem(in.data + scanned, in.len - scanned, stamp,
                                                 sizeof stamp - 1);
            if (!p) break;
            const char *digits = p + sizeof stamp - 1, *q = digits;
            while (q < in.data + in.len && *q >= '0' && *q <= '9') q++;
            if (q == in.data + in.len) break; /* the number may go on in the next read */
            if (stamps < n) latency[stamps++] = now - strtoull(digits, NULL, 10);
            scanned = (size_t)(q - in.data);
        }
    }
    close(fd);
    int ok = stamps == n && memmem(in.data, in.len, "event: done", 11) != NULL;
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
    buf_free(&in);
    return ok ? 0 : 1;
}
