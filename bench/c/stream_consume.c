/*
 * The benchmark's C consumer: one streamed call, the assistant text reassembled from its
 * text deltas and checked against the expected text (common.h).
 *
 *   stream_consume MODE N [ENDPOINT]
 *
 * ENDPOINT `assistants` (the default): oairun_submit_tool_outputs_stream to thread MODE's
 * scenario, the text read from each thread.message.delta with common.h's delta_text.
 * ENDPOINT `responses`: oairun_create_response_stream with `model` the scenario and one
 * function_call_output input item, the text of each response.output_text.delta read with
 * oairun_event_text_delta (the test server's Responses `long_N` spells the same text).
 *
 *   throughput N   long_N: keeps the whole text, compares it at the end
 *   memory N       long_N: checks each delta as it comes, keeps nothing, so the peak RSS is the
 *                  library's and the program's fixed cost
 *   latency N      slow_1_N (assistants only): the server writes one delta per millisecond with
 *                  its CLOCK_REALTIME write time in "sent_ns"; the callback reads the same clock
 *                  on entry
 *
 * The server and key come from OPENAI_BASE_URL and OPENAI_API_KEY. Prints one JSON line of
 * measurements on stdout; exits non-zero when the stream fails or the text is wrong.
 */

#include "oairun.h"
#include "common.h"

enum mode { THROUGHPUT, MEMORY, LATENCY };
enum endpoint { ASSISTANTS, RESPONSES };

struct consumer {
    enum mode mode;
    enum endpoint endpoint;
    size_t deltas;        /* text delta events seen */
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
    if (c->endpoint == RESPONSES) {
        if (oairun_event_kind(event) != OAIRUN_KIND_RESPONSE_OUTPUT_TEXT_DELTA) return 0;
        c->deltas++;
        size_t text_len = 0;
        const char *text = oairun_event_text_delta(event, &text_len);
        if (!text) {
            c->bad_delta = 1;
            return 0;
        }
        if (c->mode == THROUGHPUT) buf_put(&c->text, text, text_len);
        else expect_feed(&c->check, text, text_len);
        return 0;
    }
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
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: stream_consume throughput|memory|latency N [assistants|responses]\n");
        return 2;
    }
    struct consumer c;
    memset(&c, 0, sizeof c);
    if (strcmp(argv[1], "throughput") == 0) c.mode = THROUGHPUT;
    else if (strcmp(argv[1], "memory") == 0) c.mode = MEMORY;
    else if (strcmp(argv[1], "latency") == 0) c.mode = LATENCY;
    else { fprintf(stderr, "stream_consume: unknown mode %s\n", argv[1]); return 2; }
    const char *endpoint = argc == 4 ? argv[3] : "assistants";
    if (strcmp(endpoint, "assistants") == 0) c.endpoint = ASSISTANTS;
    else if (strcmp(endpoint, "responses") == 0) c.endpoint = RESPONSES;
    else { fprintf(stderr, "stream_consume: unknown endpoint %s\n", endpoint); return 2; }
    if (c.endpoint == RESPONSES && c.mode == LATENCY) {
        fprintf(stderr, "stream_consume: the Responses test server has no slow scenario\n");
        return 2;
    }
    size_t n = (size_t)strtoull(argv[2], NULL, 10);
    char scenario[64];
    snprintf(scenario, sizeof scenario, c.mode == LATENCY ? "slow_1_%zu" : "long_%zu", n);
    c.check.total_words = n;
    if (c.mode == LATENCY) {
        c.latency_cap = n;
        c.latency_ns = (uint64_t *)calloc(n ? n : 1, sizeof *c.latency_ns);
    }

    oairun_client *client = NULL;
    oairun_tool_outputs *outputs = NULL;
    if (!bench_client("stream_consume", &client, &outputs)) return 1;
    oairun_error *err = NULL;
    /* The Responses request: the scenario as the model, the same one tool output as the
     * Assistants submission, as a function_call_output item. Built before the clock starts. */
    oairun_response_request *request = NULL;
    if (c.endpoint == RESPONSES) {
        request = oairun_response_request_new();
        if (!request || oairun_response_request_set_model(request, scenario) != OAIRUN_OK ||
            oairun_response_request_add_function_call_output(request, "call_001",
                                                             "70 degrees and sunny.") != OAIRUN_OK) {
            fprintf(stderr, "stream_consume: could not build the Responses request\n");
            return 1;
        }
    }

    double start = mono_seconds();
    oairun_status status =
        c.endpoint == RESPONSES
            ? oairun_create_response_stream(client, request, on_event, &c, &err)
            : oairun_submit_tool_outputs_stream(client, scenario, "run_bench", outputs, on_event,
                                                &c, &err);
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
    printf("{\"endpoint\":\"%s\",\"mode\":\"%s\",\"n\":%zu,\"ok\":%s,\"seconds\":%.6f,\"events\":%zu,"
           "\"data_bytes\":%zu,\"text_bytes\":%zu,\"peak_rss_kib\":%ld",
           endpoint, argv[1], n, ok ? "true" : "false", seconds, c.events, c.data_bytes,
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
    oairun_response_request_free(request);
    oairun_tool_outputs_free(outputs);
    oairun_client_free(client);
    return ok ? 0 : 1;
}
