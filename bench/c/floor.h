/*
 * The recv() floor's reader, shared by latency_floor.c (the floor bench/run measures) and
 * latency_mix.c (a diagnostic): the slow_1_N stream of the test server at OPENAI_BASE_URL
 * (http://127.0.0.1:PORT/...), asked for over a connection of its own and read with plain
 * blocking recv() on the calling thread, with no HTTP or SSE library. Each "sent_ns" stamp is
 * charged the time recv() returned with its last digit.
 */
#ifndef OAIRUN_BENCH_FLOOR_H
#define OAIRUN_BENCH_FLOOR_H

#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

/* Reads slow_1_N, storing up to n latencies (ns) in latency, and burning spin_ns of CPU after
 * each read (0: none; latency_mix uses it to mimic a client's work per event). Returns how
 * many stamps it found, or -1 (with a message) when OPENAI_BASE_URL is not a loopback URL or
 * the server cannot be reached; *done tells whether the stream's "event: done" came. */
static inline long floor_read(const char *program, size_t n, uint64_t *latency,
                              uint64_t spin_ns, int *done) {
    const char *base = getenv("OPENAI_BASE_URL");
    unsigned port = 0;
    char path[256] = "";
    if (!base || sscanf(base, "http://127.0.0.1:%u%255s", &port, path) < 1) {
        fprintf(stderr, "%s: OPENAI_BASE_URL must be http://127.0.0.1:PORT/...\n", program);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        fprintf(stderr, "%s: connect: %s\n", program, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
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
        fprintf(stderr, "%s: write: %s\n", program, strerror(errno));
        close(fd);
        return -1;
    }

    static const char stamp[] = "\"sent_ns\":";
    long stamps = 0;
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
            if ((size_t)stamps < n) latency[stamps++] = now - strtoull(digits, NULL, 10);
            scanned = (size_t)(q - in.data);
        }
        while (spin_ns && realtime_ns() - now < spin_ns) {
        }
    }
    close(fd);
    *done = memmem(in.data, in.len, "event: done", 11) != NULL;
    buf_free(&in);
    return stamps;
}

#endif
