/*
 * The benchmark's C consumer: one streamed submission through
 * oairun_submit_tool_outputs_stream, the assistant text reassembled from the
 * thread.message.delta events and checked against the expected text (common.h).
 *
 *   stream_consume throughput N   long_N: keeps the whole text, compares it at the end
 *   stream_consume memory N       long_N: checks each delta as it comes, keeps nothing, so the
 *                                 peak RSS is the library's and the program's fixed cost
 *   stream_consume latency N      slow_1_N: the server writes one delta per millisecond with
 *                                 its CLOCK_REALTIME write time in "sent_ns"; the callback reads
 *                                 the same clock on entry
 *
 * The server and key come from OPENAI_BASE_URL and OPENAI_API_KEY. Prints one JSON line of
 * measurements on stdout; exits non-zero when the stream fails or the text is wrong.
 */

#include "oairun.h"
#include "common.h"

enum mode { THROUGHPUT, MEMORY, LATENCY };

struct consumer {
    enum mode mode;
    size_t deltas;        /* thread.message.delta events seen */
    size_t events;        /* every event, done included */
    size_t data_bytes;    /* the events' data, summed */
    int bad_delta;        /* a delta without a readable text value */
    struct buf text;      /* THROUGHPUT: the reassembled text */
    struct buf scratch;   /* MEMORY, LATENCY: one delta's text */
    struct expect check;  /* MEMORY, LATENCY */
    uint64_t *latency_ns; /* LATENCY: entry - sent, one per delta */
    size_t latency_cap;
    int bad_stamp;
};

static int on_event(const oairun_event *event, void *user_data) {
    struct consumer *c = (struct consumer *)user_data;
    /* First thing on entry, so the latency is the library's, not this function's. */
    uint64_t entry_ns = c->mode == LATENCY ? realtime_ns() : 0;
    size_t len = 0;
    const char *data = oairun_event_data(event, &len);
    c->events++;
    c->data_bytes += len;
    if (oairun_event_kind(event) != OAIRUN_KIND_THREAD_MESSAGE_DELTA) return 0;
    c->deltas++;
    if (c->mode == THROUGHPUT) {
        if (!delta_text(data, len, &c->text)) c->bad_delta = 1;
        return 0;
    }
    c->scratch.len = 0;
    if (!delta_text(data, len, &c->scratch)) c->bad_delta = 1;
    expect_feed(&c->check, c->scratch.data, c->scratch.len);
    if (c->mode == LATENCY) {
        static const char stamp[] = "\"sent_ns\":";
        const char *p = (const char *)memmem(data, len, stamp, sizeof stamp - 1);
        if (!p || c->deltas > c->latency_cap) {
            c->bad_stamp = 1;
            return 0;
        }
        uint64_t sent_ns = strtoull(p + sizeof stamp - 1, NULL, 10);
        c->latency_ns[c->deltas - 1] = entry_ns - sent_ns;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: stream_consume throughput|memory|latency N\n");
        return 2;
    }
    struct consumer c;
    memset(&c, 0, sizeof c);
    if (strcmp(argv[1], "throughput") == 0) c.mode = THROUGHPUT;
    else if (strcmp(argv[1], "memory") == 0) c.mode = MEMORY;
    else if (strcmp(argv[1], "latency") == 0) c.mode = LATENCY;
    else { fprintf(stderr, "stream_consume: unknown mode %s\n", argv[1]); return 2; }
    size_t n = (size_t)strtoull(argv[2], NULL, 10);
    char thread_id[64];
    snprintf(thread_id, sizeof thread_id, c.mode == LATENCY ? "slow_1_%zu" : "long_%zu", n);
    c.check.total_words = n;
    if (c.mode == LATENCY) {
        c.latency_cap = n;
        c.latency_ns = (uint64_t *)calloc(n ? n : 1, sizeof *c.latency_ns);
    }

    oairun_client *client = NULL;
    oairun_tool_outputs *outputs = NULL;
    if (!bench_client("stream_consume", &client, &outputs)) return 1;
    oairun_error *err = NULL;

    double start = mono_seconds();
    oairun_status status = oairun_submit_tool_outputs_stream(client, thread_id, "run_bench",
                                                             outputs, on_event, &c, &err);
    double seconds = mono_seconds() - start;

    int ok = 1;
    if (status != OAIRUN_OK) {
        fprintf(stderr, "stream_consume: %s: %s\n", oairun_status_str(status),
                oairun_error_message(err));
        oairun_error_free(err);
        ok = 0;
    }
    if (c.bad_delta || c.deltas != n) {
        fprintf(stderr, "stream_consume: %zu deltas (expected %zu), unreadable: %d\n", c.deltas,
                n, c.bad_delta);
        ok = 0;
    }
    if (c.mode == THROUGHPUT) {
        struct buf expected = {0};
        expected_text(n, &expected);
        if (expected.len != c.text.len || memcmp(expected.data, c.text.data, expected.len) != 0) {
            fprintf(stderr, "stream_consume: the text differs from the expected text "
                            "(%zu bytes, expected %zu)\n", c.text.len, expected.len);
            ok = 0;
        }
        buf_free(&expected);
    } else if (!expect_complete(&c.check)) {
        fprintf(stderr, "stream_consume: the text differs from the expected text at word %zu\n",
                c.check.word);
        ok = 0;
    }
    if (c.bad_stamp) {
        fprintf(stderr, "stream_consume: a delta without \"sent_ns\"\n");
        ok = 0;
    }

    long rss = max_rss_kib();
    printf("{\"mode\":\"%s\",\"n\":%zu,\"ok\":%s,\"seconds\":%.6f,\"events\":%zu,"
           "\"data_bytes\":%zu,\"text_bytes\":%zu,\"peak_rss_kib\":%ld",
           argv[1], n, ok ? "true" : "false", seconds, c.events, c.data_bytes,
           c.mode == THROUGHPUT ? c.text.len : 0, rss);
    if (c.mode == LATENCY && c.deltas > 0 && !c.bad_stamp) {
        qsort(c.latency_ns, c.deltas, sizeof *c.latency_ns, cmp_u64);
        printf(",\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f",
               quantile_us(c.latency_ns, c.deltas, 0.50), quantile_us(c.latency_ns, c.deltas, 0.99),
               quantile_us(c.latency_ns, c.deltas, 1.0));
    }
    printf("}\n");

    free(c.latency_ns);
    buf_free(&c.text);
    buf_free(&c.scratch);
    oairun_tool_outputs_free(outputs);
    oairun_client_free(client);
    return ok ? 0 : 1;
}
