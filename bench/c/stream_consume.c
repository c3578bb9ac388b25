/*
 * The benchmark's C consumer: one streamed call, the assistant text reassembled from its
 * text deltas and checked against the expected text (common.h).
 *
 *   stream_consume MODE N [ENDPOINT [API [TEXT]]]
 *
 * ENDPOINT `assistants` (the default): a submission to thread MODE's scenario, the text read
 * from each thread.message.delta. ENDPOINT `responses`: a response with `model` the scenario
 * and one function_call_output input item, the text of each response.output_text.delta (the
 * test server's Responses `long_N` spells the same text).
 *
 * API `callback` (the default): the blocking callback stream, oairun_submit_tool_outputs_stream
 * or oairun_create_response_stream, the callback run on this thread; the Assistants text read
 * with common.h's delta_text, the Responses text with oairun_event_text_delta.
 * API `pull`: the pull API, oairun_submit_tool_outputs_stream_open or
 * oairun_create_response_stream_open (flags 0: the socket is read on this thread, inside
 * oairun_reader_next_batch), the events taken in batches of up to 64 with
 * oairun_reader_next_batch (no time limit), the text of both endpoints read with
 * oairun_event_text_delta. API `pull-background`: the same with OAIRUN_READER_BACKGROUND
 * (oairun's threads read ahead).
 *
 * TEXT overrides how the text is read: `library` (oairun_event_text_delta) or `own` (common.h's
 * delta_text, Assistants only), for comparing the APIs with the same text extraction.
 *
 *   throughput N   long_N: keeps the whole text, compares it at the end
 *   memory N       long_N: checks each delta as it comes, keeps nothing, so the peak RSS is the
 *                  library's and the program's fixed cost
 *   latency N      slow_1_N (assistants only): the server writes one delta per millisecond with
 *                  its CLOCK_REALTIME write time in "sent_ns"; the callback reads the same clock
 *                  on entry, the pull consumer as oairun_reader_next_batch returns (every
 *                  event of a batch is charged that time)
 *
 * The time measured is from the call that sends the request (the callback stream, or the
 * open) to the end of the stream (the callback stream's return, or oairun_reader_free once
 * the reader gave the outcome).
 *
 * The server and key come from OPENAI_BASE_URL and OPENAI_API_KEY. Prints one JSON line of
 * measurements on stdout (in latency mode with every latency too when BENCH_LATENCY_SAMPLES is
 * set: see common.h, print_samples); exits non-zero when the stream fails or the text is
 * wrong.
 */

#include "oairun.h"
#include "common.h"

enum mode { THROUGHPUT, MEMORY, LATENCY };
enum endpoint { ASSISTANTS, RESPONSES };
enum api { CALLBACK, PULL, PULL_BACKGROUND };

/* Events taken by one oairun_reader_next_batch call, at most. */
#define BATCH 64

struct consumer {
    enum mode mode;
    enum endpoint endpoint;
    int library_text;     /* the text read with oairun_event_text_delta (else common.h's) */
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
    size_t batches;       /* PULL: oairun_reader_next_batch calls that gave events */
};

/* Takes one event; entry_ns is when the consumer got it (LATENCY only). */
static void consume(struct consumer *c, const oairun_event *event, uint64_t entry_ns) {
    size_t len = 0;
    const char *data = oairun_event_data(event, &len);
    c->events++;
    c->data_bytes += len;
    oairun_kind want = c->endpoint == RESPONSES ? OAIRUN_KIND_RESPONSE_OUTPUT_TEXT_DELTA
                                                : OAIRUN_KIND_THREAD_MESSAGE_DELTA;
    if (oairun_event_kind(event) != want) return;
    c->deltas++;
    if (c->library_text) {
        size_t text_len = 0;
        const char *text = oairun_event_text_delta(event, &text_len);
        if (!text) {
            c->bad_delta = 1;
            return;
        }
        if (c->mode == THROUGHPUT) buf_put(&c->text, text, text_len);
        else expect_feed(&c->check, text, text_len);
    } else if (c->mode == THROUGHPUT) {
        if (!delta_text(data, len, &c->text)) c->bad_delta = 1;
        return;
    } else {
        c->scratch.len = 0;
        if (!delta_text(data, len, &c->scratch)) c->bad_delta = 1;
        expect_feed(&c->check, c->scratch.data, c->scratch.len);
    }
    if (c->mode == LATENCY) {
        uint64_t sent_ns = 0;
        if (!sent_ns_of(data, len, &sent_ns) || c->deltas > c->latency_cap) {
            c->bad_stamp = 1;
            return;
        }
        c->latency_ns[c->deltas - 1] = entry_ns - sent_ns;
    }
}

static int on_event(const oairun_event *event, void *user_data) {
    struct consumer *c = (struct consumer *)user_data;
    /* First thing on entry, so the latency is the library's, not this function's. */
    uint64_t entry_ns = c->mode == LATENCY ? realtime_ns() : 0;
    consume(c, event, entry_ns);
    return 0;
}

/* The pull API: opens the stream, takes its events in batches until the outcome, frees the
 * reader. Returns the outcome's status. */
static oairun_status pull(struct consumer *c, const oairun_client *client, const char *scenario,
                          const oairun_tool_outputs *outputs,
                          const oairun_response_request *request, uint32_t flags,
                          oairun_error **err) {
    oairun_reader *reader = NULL;
    oairun_status status =
        c->endpoint == RESPONSES
            ? oairun_create_response_stream_open(client, request, flags, &reader, err)
            : oairun_submit_tool_outputs_stream_open(client, scenario, "run_bench", outputs,
                                                     flags, &reader, err);
    if (status != OAIRUN_OK) return status;
    const oairun_event *events[BATCH];
    for (;;) {
        size_t count = 0;
        status = oairun_reader_next_batch(reader, -1, events, BATCH, &count, err);
        /* First thing on return, as the callback's entry. */
        uint64_t entry_ns = c->mode == LATENCY ? realtime_ns() : 0;
        if (status != OAIRUN_OK || count == 0) break;
        c->batches++;
        for (size_t i = 0; i < count; i++) consume(c, events[i], entry_ns);
    }
    oairun_reader_free(reader);
    return status;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 6) {
        fprintf(stderr, "usage: stream_consume throughput|memory|latency N [assistants|responses "
                        "[callback|pull|pull-background [library|own]]]\n");
        return 2;
    }
    struct consumer c;
    memset(&c, 0, sizeof c);
    if (strcmp(argv[1], "throughput") == 0) c.mode = THROUGHPUT;
    else if (strcmp(argv[1], "memory") == 0) c.mode = MEMORY;
    else if (strcmp(argv[1], "latency") == 0) c.mode = LATENCY;
    else { fprintf(stderr, "stream_consume: unknown mode %s\n", argv[1]); return 2; }
    const char *endpoint = argc >= 4 ? argv[3] : "assistants";
    if (strcmp(endpoint, "assistants") == 0) c.endpoint = ASSISTANTS;
    else if (strcmp(endpoint, "responses") == 0) c.endpoint = RESPONSES;
    else { fprintf(stderr, "stream_consume: unknown endpoint %s\n", endpoint); return 2; }
    const char *api_name = argc >= 5 ? argv[4] : "callback";
    enum api api;
    if (strcmp(api_name, "callback") == 0) api = CALLBACK;
    else if (strcmp(api_name, "pull") == 0) api = PULL;
    else if (strcmp(api_name, "pull-background") == 0) api = PULL_BACKGROUND;
    else { fprintf(stderr, "stream_consume: unknown API %s\n", api_name); return 2; }
    c.library_text = c.endpoint == RESPONSES || api != CALLBACK;
    if (argc == 6) {
        if (strcmp(argv[5], "library") == 0) c.library_text = 1;
        else if (strcmp(argv[5], "own") == 0 && c.endpoint == ASSISTANTS) c.library_text = 0;
        else { fprintf(stderr, "stream_consume: unknown text reader %s\n", argv[5]); return 2; }
    }
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
    oairun_status status;
    if (api != CALLBACK)
        status = pull(&c, client, scenario, outputs, request,
                      api == PULL_BACKGROUND ? OAIRUN_READER_BACKGROUND : 0, &err);
    else if (c.endpoint == RESPONSES)
        status = oairun_create_response_stream(client, request, on_event, &c, &err);
    else
        status = oairun_submit_tool_outputs_stream(client, scenario, "run_bench", outputs,
                                                   on_event, &c, &err);
    double seconds = mono_seconds() - start;
    /* This process's threads once the stream is over (the client still alive). */
    long threads = status_field("Threads");

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
    printf("{\"endpoint\":\"%s\",\"api\":\"%s\",\"text\":\"%s\",\"mode\":\"%s\",\"n\":%zu,"
           "\"ok\":%s,\"seconds\":%.6f,\"events\":%zu,\"batches\":%zu,\"data_bytes\":%zu,"
           "\"text_bytes\":%zu,\"peak_rss_kib\":%ld,\"threads\":%ld",
           endpoint, api_name, c.library_text ? "library" : "own", argv[1], n,
           ok ? "true" : "false", seconds, c.events, c.batches, c.data_bytes,
           c.mode == THROUGHPUT ? c.text.len : 0, rss, threads);
    if (c.mode == LATENCY && c.deltas > 0 && !c.bad_stamp) {
        qsort(c.latency_ns, c.deltas, sizeof *c.latency_ns, cmp_u64);
        printf(",\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f",
               quantile_us(c.latency_ns, c.deltas, 0.50), quantile_us(c.latency_ns, c.deltas, 0.99),
               quantile_us(c.latency_ns, c.deltas, 1.0));
        print_samples(c.latency_ns, c.deltas);
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
