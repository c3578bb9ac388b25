/* The pull API (oairun_reader), as a C program uses it, for both endpoints and both modes (the
 * stream read on the caller's thread inside oairun_reader_next, flags 0; and read ahead by
 * oairun's threads, OAIRUN_READER_BACKGROUND):
 * - the events taken by oairun_reader_next and oairun_reader_next_batch (capacity 1 and 64)
 *   are exactly those the callback form delivers, and every outcome (success, stream error,
 *   early end, HTTP status, unreachable server, read timeout, cut or reset connection, event
 *   over the cap) is the callback form's, given again by every later call;
 * - OAIRUN_AGAIN when nothing comes within the time limit, the stream going on afterwards;
 * - cancel from another thread while a call waits, before the first call, after the outcome;
 *   free mid-stream; the connection closed promptly (the server's count of answers in
 *   progress);
 * - the descriptor of a background reader, for poll();
 * - the refusals, one call at a time, a reader moved to another thread, a reader outliving its
 *   client. */
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <time.h>

#include "server.h"

/* Promptness is checked against 100 ms natively and under the sanitizers; valgrind runs
 * threads one at a time, slicing their time coarsely, so there the bound is 1 s (as in
 * test_nonblocking.c). */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif
static double prompt_ms(void) { return RUNNING_ON_VALGRIND ? 1000.0 : 100.0; }

/* How long the server may take to notice a connection was dropped (it stalls for 30 s
 * otherwise). */
#define CLOSED_WITHIN_MS 5000.0

static int load(const int *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static void store(int *p, int v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }

/* Waits up to 10 s for *p to be non-zero. */
static int wait_for(const int *p) {
    for (int i = 0; i < 2000 && !load(p); i++) sleep_ms(5);
    return load(p) != 0;
}

/* A pointer no call may write over: output arguments are preset to it. */
static const int marker = 0;
#define UNTOUCHED ((const oairun_event *)(const void *)&marker)

enum endpoint { ASSISTANTS, RESPONSES };
static const char *const endpoint_names[] = {"assistants", "responses"};

static const uint32_t modes[] = {0, OAIRUN_READER_BACKGROUND};
static const char *mode_name(uint32_t flags) { return flags ? "background" : "direct"; }

/* How a reader's events are taken. */
enum how { BY_NEXT, BY_BATCH_1, BY_BATCH_MANY };
static const char *const how_names[] = {"next", "next_batch(1)", "next_batch(64)"};
#define BATCH_MANY 64

/* ---- Events taken, copied ---- */

typedef struct {
    int count, cap;
    char **names;
    char **data;
    size_t *lens;
    oairun_kind *kinds;
    char *text; /* the text deltas, joined */
    size_t text_len;
} events;

static events no_events(void) {
    events e;
    memset(&e, 0, sizeof e);
    return e;
}

static void events_add(events *e, const oairun_event *event) {
    if (e->count == e->cap) {
        e->cap = e->cap ? 2 * e->cap : 16;
        e->names = (char **)realloc(e->names, (size_t)e->cap * sizeof *e->names);
        e->data = (char **)realloc(e->data, (size_t)e->cap * sizeof *e->data);
        e->lens = (size_t *)realloc(e->lens, (size_t)e->cap * sizeof *e->lens);
        e->kinds = (oairun_kind *)realloc(e->kinds, (size_t)e->cap * sizeof *e->kinds);
    }
    const char *name = oairun_event_name(event);
    size_t len = 0;
    const char *data = oairun_event_data(event, &len);
    CHECK(name != NULL && data != NULL);
    e->names[e->count] = strdup(name ? name : "");
    e->data[e->count] = (char *)malloc(len + 1);
    memcpy(e->data[e->count], data ? data : "", data ? len + 1 : 1);
    e->lens[e->count] = data ? len : 0;
    e->kinds[e->count] = oairun_event_kind(event);
    size_t text_len = 0;
    const char *text = oairun_event_text_delta(event, &text_len);
    if (text) {
        e->text = (char *)realloc(e->text, e->text_len + text_len + 1);
        memcpy(e->text + e->text_len, text, text_len);
        e->text_len += text_len;
        e->text[e->text_len] = '\0';
    }
    e->count++;
}

static void events_free(events *e) {
    for (int i = 0; i < e->count; i++) {
        free(e->names[i]);
        free(e->data[i]);
    }
    free(e->names);
    free(e->data);
    free(e->lens);
    free(e->kinds);
    free(e->text);
    *e = no_events();
}

/* Whether `got` holds the events of `want`: the same number, names, kinds and text, and, with
 * `data_too`, the same data byte for byte (not for the `slow_` scenarios, which stamp each
 * delta with the time it was written). */
static int same_events(const events *want, const events *got, int data_too, const char *what) {
    int ok = 1;
    if (want->count != got->count) {
        fprintf(stderr, "%s: %d events, expected %d\n", what, got->count, want->count);
        ok = 0;
    }
    for (int i = 0; i < want->count && i < got->count; i++) {
        if (strcmp(want->names[i], got->names[i]) != 0 || want->kinds[i] != got->kinds[i] ||
            (data_too && (want->lens[i] != got->lens[i] ||
                          memcmp(want->data[i], got->data[i], want->lens[i]) != 0))) {
            fprintf(stderr, "%s: event %d is %s, expected %s (or its data differs)\n", what, i,
                    got->names[i], want->names[i]);
            ok = 0;
            break;
        }
    }
    if (want->text_len != got->text_len ||
        (want->text_len && memcmp(want->text, got->text, want->text_len) != 0)) {
        fprintf(stderr, "%s: the text differs\n", what);
        ok = 0;
    }
    return ok;
}

/* ---- Errors ---- */

static int same_str(const char *a, const char *b) {
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The error's message with the request id it quotes (a new one for every request) replaced
 * by "<id>". */
static char *message_without_request_id(const oairun_error *err) {
    const char *message = oairun_error_message(err);
    const char *id = oairun_error_request_id(err);
    char *out = (char *)malloc(2 * strlen(message) + 16);
    size_t n = 0;
    for (const char *p = message; *p;) {
        if (id && *id && strncmp(p, id, strlen(id)) == 0) {
            memcpy(out + n, "<id>", 4);
            n += 4;
            p += strlen(id);
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    return out;
}

/* Whether `got` is the error `want` is (both may be NULL): status, message, HTTP status, the
 * API's fields, and a request id when `want` has one. */
static int same_error(const oairun_error *want, const oairun_error *got, const char *what) {
    if (!want || !got) {
        if (want == got) return 1;
        fprintf(stderr, "%s: error %s, expected %s\n", what,
                got ? oairun_error_message(got) : "(none)",
                want ? oairun_error_message(want) : "(none)");
        return 0;
    }
    char *a = message_without_request_id(want);
    char *b = message_without_request_id(got);
    int ok = oairun_error_status(want) == oairun_error_status(got) &&
             oairun_error_http_status(want) == oairun_error_http_status(got) &&
             (oairun_error_request_id(want) == NULL) == (oairun_error_request_id(got) == NULL) &&
             same_str(oairun_error_api_type(want), oairun_error_api_type(got)) &&
             same_str(oairun_error_api_code(want), oairun_error_api_code(got)) &&
             same_str(oairun_error_api_param(want), oairun_error_api_param(got)) &&
             strcmp(a, b) == 0;
    if (!ok) {
        fprintf(stderr, "%s: error %s \"%s\" (HTTP %d), expected %s \"%s\" (HTTP %d)\n", what,
                oairun_status_str((int)oairun_error_status(got)), b,
                (int)oairun_error_http_status(got),
                oairun_status_str((int)oairun_error_status(want)), a,
                (int)oairun_error_http_status(want));
    }
    free(a);
    free(b);
    return ok;
}

static int says(const oairun_error *err, const char *text) {
    if (err && strstr(oairun_error_message(err), text)) return 1;
    fprintf(stderr, "the error \"%s\" does not say \"%s\"\n",
            err ? oairun_error_message(err) : "(none)", text);
    return 0;
}

/* ---- Clients, requests, the test server ---- */

/* A client with these settings; -1 and 0 leave a setting at its default. */
static oairun_client *client_with(const char *base_url, int max_retries, uint64_t read_timeout_ms,
                                  uint64_t max_event_bytes) {
    oairun_client_options *options = oairun_client_options_new();
    CHECK_STATUS(oairun_client_options_set_api_key(options, "sk-test-c"), OAIRUN_OK);
    CHECK_STATUS(oairun_client_options_set_base_url(options, base_url), OAIRUN_OK);
    if (max_retries >= 0)
        CHECK_STATUS(oairun_client_options_set_max_retries(options, (uint32_t)max_retries),
                     OAIRUN_OK);
    if (read_timeout_ms)
        CHECK_STATUS(oairun_client_options_set_read_timeout_ms(options, read_timeout_ms),
                     OAIRUN_OK);
    if (max_event_bytes)
        CHECK_STATUS(oairun_client_options_set_max_event_bytes(options, max_event_bytes),
                     OAIRUN_OK);
    oairun_client *client = NULL;
    CHECK_STATUS(oairun_client_new(options, &client, NULL), OAIRUN_OK);
    oairun_client_options_free(options);
    if (!client) exit(1);
    return client;
}

/* A request for `model` answering the fixture's function call; `instructions` (may be NULL)
 * marks it in the server's record. */
static oairun_response_request *request_for(const char *model, const char *instructions) {
    oairun_response_request *r = oairun_response_request_new();
    CHECK_STATUS(oairun_response_request_set_model(r, model), OAIRUN_OK);
    if (instructions)
        CHECK_STATUS(oairun_response_request_set_instructions(r, instructions), OAIRUN_OK);
    CHECK_STATUS(oairun_response_request_add_function_call_output(r, "call_fixed_get_weather",
                                                                  "{\"temp_c\":15}"),
                 OAIRUN_OK);
    return r;
}

/* How many requests the server is answering right now (a stalled answer counts until the
 * client drops its connection). */
static int answering(void) {
    char *body = server_get("/_test/answering");
    const char *at = strstr(body, "\"answering\":");
    int n = at ? atoi(at + 12) : -1;
    free(body);
    return n;
}

/* Waits until the server answers nothing (at most CLOSED_WITHIN_MS); returns how long that
 * took, or -1. */
static double until_not_answering(void) {
    double began = now_ms();
    while (now_ms() - began < CLOSED_WITHIN_MS) {
        if (answering() == 0) return now_ms() - began;
        sleep_ms(10);
    }
    return -1;
}

/* ---- The two forms ---- */

static int collect(const oairun_event *event, void *user_data) {
    events_add((events *)user_data, event);
    return 0;
}

/* The callback form of `scenario` (a thread id, or a model) on `endpoint`: its events go to
 * `got`; returns its status, its error in *err. */
static oairun_status by_callback(oairun_client *client, enum endpoint endpoint,
                                 const char *scenario, events *got, oairun_error **err) {
    oairun_status status;
    if (endpoint == ASSISTANTS) {
        oairun_tool_outputs *outputs = test_outputs();
        status = oairun_submit_tool_outputs_stream(client, scenario, "run_reader", outputs,
                                                   collect, got, err);
        oairun_tool_outputs_free(outputs);
    } else {
        oairun_response_request *request = request_for(scenario, NULL);
        status = oairun_create_response_stream(client, request, collect, got, err);
        oairun_response_request_free(request);
    }
    return status;
}

/* Opens a reader of the same stream; `mark` (may be NULL) is the run id, or the instructions,
 * to find its request in the server's record. The outputs and the request are freed at once:
 * the open copies them. */
static oairun_reader *open_marked(oairun_client *client, enum endpoint endpoint,
                                  const char *scenario, uint32_t flags, const char *mark) {
    oairun_reader *reader = NULL;
    oairun_error *err = NULL;
    oairun_status status;
    if (endpoint == ASSISTANTS) {
        oairun_tool_outputs *outputs = test_outputs();
        status = oairun_submit_tool_outputs_stream_open(client, scenario, mark ? mark : "run_reader",
                                                        outputs, flags, &reader, &err);
        oairun_tool_outputs_free(outputs);
    } else {
        oairun_response_request *request = request_for(scenario, mark);
        status = oairun_create_response_stream_open(client, request, flags, &reader, &err);
        oairun_response_request_free(request);
    }
    if (status != OAIRUN_OK || !reader || err) {
        fprintf(stderr, "cannot open a reader of %s %s: %s\n", endpoint_names[endpoint], scenario,
                err ? oairun_error_message(err) : oairun_status_str((int)status));
        exit(1);
    }
    return reader;
}

static oairun_reader *open_reader(oairun_client *client, enum endpoint endpoint,
                                  const char *scenario, uint32_t flags) {
    return open_marked(client, endpoint, scenario, flags, NULL);
}

/* What drain saw besides the events. */
struct drained {
    int agains;
    size_t largest_batch;
};

/* Takes one answer of `reader` the way `how` says, waiting at most `timeout_ms`: the events go
 * to `got` (returns OAIRUN_OK with *taken > 0); otherwise returns the status, the error in
 * *err. Checks what every answer must hold: events only with OAIRUN_OK, an error only with a
 * failure, nothing at all with OAIRUN_AGAIN. */
static oairun_status take(const oairun_reader *reader, enum how how, int timeout_ms, events *got,
                          size_t *taken, oairun_error **err) {
    oairun_error *e = NULL;
    oairun_status status;
    size_t count = 0;
    if (how == BY_NEXT) {
        const oairun_event *event = UNTOUCHED;
        status = oairun_reader_next(reader, timeout_ms, &event, &e);
        CHECK(event != UNTOUCHED);
        if (status == OAIRUN_OK && event && event != UNTOUCHED) {
            events_add(got, event);
            count = 1;
        } else {
            CHECK(event == NULL);
        }
    } else {
        const oairun_event *batch[BATCH_MANY];
        size_t capacity = how == BY_BATCH_1 ? 1 : BATCH_MANY;
        for (size_t i = 0; i < BATCH_MANY; i++) batch[i] = UNTOUCHED;
        count = 12345;
        status = oairun_reader_next_batch(reader, timeout_ms, batch, capacity, &count, &e);
        if (status == OAIRUN_OK && count > 0) {
            CHECK(count <= capacity);
            for (size_t i = 0; i < count && i < capacity; i++) {
                CHECK(batch[i] != NULL && batch[i] != UNTOUCHED);
                if (batch[i] && batch[i] != UNTOUCHED) events_add(got, batch[i]);
            }
            if (capacity < BATCH_MANY) CHECK(batch[capacity] == UNTOUCHED);
        } else {
            CHECK(count == 0);
            CHECK(batch[0] == UNTOUCHED);
        }
    }
    *taken = count;
    if (status == OAIRUN_OK && count > 0) CHECK(e == NULL);
    if (status == OAIRUN_AGAIN) CHECK(e == NULL);
    if (status != OAIRUN_AGAIN && count == 0) {
        CHECK((status == OAIRUN_OK) == (e == NULL));
        if (e) CHECK(oairun_error_status(e) == status);
    }
    *err = e;
    return status;
}

/* Takes every event of `reader` into `got`, each call waiting at most `timeout_ms`, until the
 * outcome; returns it, its error in *err. */
static oairun_status drain(const oairun_reader *reader, enum how how, int timeout_ms, events *got,
                           struct drained *d, oairun_error **err) {
    for (int calls = 0; calls < 1000000; calls++) {
        size_t taken = 0;
        oairun_error *e = NULL;
        oairun_status status = take(reader, how, timeout_ms, got, &taken, &e);
        if (status == OAIRUN_OK && taken > 0) {
            if (d && taken > d->largest_batch) d->largest_batch = taken;
            continue;
        }
        if (status == OAIRUN_AGAIN) {
            if (d) d->agains++;
            if (timeout_ms == 0) sleep_ms(1);
            continue;
        }
        *err = e;
        return status;
    }
    fprintf(stderr, "a reader never gave its outcome\n");
    check_failures++;
    return OAIRUN_INTERNAL;
}

/* Every call after the outcome gives it again, at once: the same status, no event, and a new
 * error equal to the first. */
static void check_sticky(const oairun_reader *reader, oairun_status want, const oairun_error *first,
                         const char *what) {
    for (int i = 0; i < 4; i++) {
        oairun_error *e = NULL;
        const oairun_event *event = UNTOUCHED;
        const oairun_event *batch[4] = {UNTOUCHED, UNTOUCHED, UNTOUCHED, UNTOUCHED};
        size_t count = 9;
        double began = now_ms();
        oairun_status status;
        switch (i) {
            case 0: status = oairun_reader_next(reader, -1, &event, &e); break;
            case 1: status = oairun_reader_next(reader, 0, &event, &e); break;
            case 2: status = oairun_reader_next_batch(reader, -1, batch, 4, &count, &e); break;
            default: status = oairun_reader_next(reader, 1000, &event, NULL); break;
        }
        if (status != want) {
            fprintf(stderr, "%s: call %d after the outcome gave %s, expected %s\n", what, i,
                    oairun_status_str((int)status), oairun_status_str((int)want));
            check_failures++;
        }
        CHECK(event == (i == 2 ? UNTOUCHED : NULL));
        CHECK(count == (size_t)(i == 2 ? 0 : 9));
        CHECK(batch[0] == UNTOUCHED);
        if (i < 3) {
            CHECK(same_error(first, e, what));
            CHECK(!first || e != first);
        }
        oairun_error_free(e);
        CHECK(now_ms() - began < 900);
    }
}

/* ---- Every scenario, every way: the events and outcome of the callback form ---- */

struct scenario {
    enum endpoint endpoint;
    const char *name;
    oairun_status status;
    int http_status;  /* the error's; 0 on success */
    oairun_kind last; /* the last event's kind; OAIRUN_KIND_UNKNOWN: not checked */
};

static const struct scenario scenarios[] = {
    {ASSISTANTS, "thread_123", OAIRUN_OK, 0, OAIRUN_KIND_DONE},
    {ASSISTANTS, "long_300", OAIRUN_OK, 0, OAIRUN_KIND_DONE},
    {ASSISTANTS, "odd_framing", OAIRUN_OK, 0, OAIRUN_KIND_UNKNOWN},
    {ASSISTANTS, "error_event", OAIRUN_STREAM_ERROR, 200, OAIRUN_KIND_ERROR},
    {ASSISTANTS, "truncated", OAIRUN_PROTOCOL, 200, OAIRUN_KIND_UNKNOWN},
    {ASSISTANTS, "partial_event", OAIRUN_PROTOCOL, 200, OAIRUN_KIND_UNKNOWN},
    {ASSISTANTS, "reset", OAIRUN_PROTOCOL, 200, OAIRUN_KIND_UNKNOWN},
    {ASSISTANTS, "cut_at_3000", OAIRUN_PROTOCOL, 200, OAIRUN_KIND_UNKNOWN},
    {ASSISTANTS, "reset_at_3000", OAIRUN_PROTOCOL, 200, OAIRUN_KIND_UNKNOWN},
    {ASSISTANTS, "status_404", OAIRUN_HTTP_STATUS, 404, OAIRUN_KIND_UNKNOWN},
    {ASSISTANTS, "wrong_content_type", OAIRUN_PROTOCOL, 200, OAIRUN_KIND_UNKNOWN},
    {RESPONSES, "gpt-test", OAIRUN_OK, 0, OAIRUN_KIND_RESPONSE_COMPLETED},
    {RESPONSES, "done_style", OAIRUN_OK, 0, OAIRUN_KIND_RESPONSE_COMPLETED},
    {RESPONSES, "function_call", OAIRUN_OK, 0, OAIRUN_KIND_RESPONSE_COMPLETED},
    {RESPONSES, "incomplete", OAIRUN_OK, 0, OAIRUN_KIND_RESPONSE_INCOMPLETE},
    {RESPONSES, "hold_open", OAIRUN_OK, 0, OAIRUN_KIND_RESPONSE_COMPLETED},
    {RESPONSES, "long_2000", OAIRUN_OK, 0, OAIRUN_KIND_RESPONSE_COMPLETED},
    {RESPONSES, "error_flat", OAIRUN_STREAM_ERROR, 200, OAIRUN_KIND_ERROR},
    {RESPONSES, "error_nested", OAIRUN_STREAM_ERROR, 200, OAIRUN_KIND_ERROR},
    {RESPONSES, "failed", OAIRUN_STREAM_ERROR, 200, OAIRUN_KIND_RESPONSE_FAILED},
    {RESPONSES, "cut", OAIRUN_PROTOCOL, 200, OAIRUN_KIND_UNKNOWN},
    {RESPONSES, "cut_at_1500", OAIRUN_PROTOCOL, 200, OAIRUN_KIND_UNKNOWN},
    {RESPONSES, "reset_at_1500", OAIRUN_PROTOCOL, 200, OAIRUN_KIND_UNKNOWN},
    {RESPONSES, "status_400", OAIRUN_HTTP_STATUS, 400, OAIRUN_KIND_UNKNOWN},
};

/* Takes the stream of `scenario` from readers of both modes, every way, and compares each with
 * `want` and `want_err` (the callback form's); `data_too` as for same_events. */
static void readers_match(oairun_client *client, enum endpoint endpoint, const char *scenario,
                          const events *want, oairun_status want_status,
                          const oairun_error *want_err, int data_too) {
    for (int m = 0; m < 2; m++) {
        for (int h = 0; h < 3; h++) {
            char what[160];
            snprintf(what, sizeof what, "%s %s, %s reader, %s", endpoint_names[endpoint], scenario,
                     mode_name(modes[m]), how_names[h]);
            oairun_reader *reader = open_reader(client, endpoint, scenario, modes[m]);
            events got = no_events();
            struct drained d = {0, 0};
            oairun_error *err = NULL;
            /* Without a limit of its own, and with one long enough never to run out. */
            int timeout_ms = h == BY_BATCH_MANY ? 20000 : -1;
            oairun_status status = drain(reader, (enum how)h, timeout_ms, &got, &d, &err);
            if (status != want_status) {
                fprintf(stderr, "%s: %s, expected %s\n", what, oairun_status_str((int)status),
                        oairun_status_str((int)want_status));
                check_failures++;
            }
            CHECK(same_events(want, &got, data_too, what));
            CHECK(same_error(want_err, err, what));
            CHECK(d.agains == 0);
            /* A network read of many events is taken in one call. */
            if (h == BY_BATCH_MANY && strncmp(scenario, "long_", 5) == 0)
                CHECK(d.largest_batch > 1);
            check_sticky(reader, status, err, what);
            oairun_error_free(err);
            events_free(&got);
            oairun_reader_free(reader);
        }
    }
}

static void every_scenario_as_the_callback_form(oairun_client *client) {
    /* Every scenario natively and under the sanitizers; every third one under valgrind, which
     * runs this test's many streams tens of times slower (CI's time is bounded). */
    size_t step = RUNNING_ON_VALGRIND ? 3 : 1, taken = 0;
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i += step) {
        taken++;
        const struct scenario *s = &scenarios[i];
        events want = no_events();
        oairun_error *want_err = NULL;
        oairun_status status = by_callback(client, s->endpoint, s->name, &want, &want_err);
        /* The scenario does what this test expects of it. */
        CHECK_STATUS(status, s->status);
        if (status != s->status)
            fprintf(stderr, "  (%s %s: %s)\n", endpoint_names[s->endpoint], s->name,
                    want_err ? oairun_error_message(want_err) : "");
        CHECK((s->status == OAIRUN_OK) == (want_err == NULL));
        if (want_err) {
            CHECK(oairun_error_http_status(want_err) == s->http_status);
            CHECK(oairun_error_request_id(want_err) != NULL);
        }
        if (s->http_status >= 400) CHECK(want.count == 0);
        if (s->last != OAIRUN_KIND_UNKNOWN)
            CHECK(want.count > 0 && want.kinds[want.count - 1] == s->last);
        if (s->status == OAIRUN_PROTOCOL && strcmp(s->name, "wrong_content_type") != 0)
            CHECK(want.count > 0);
        readers_match(client, s->endpoint, s->name, &want, status, want_err, 1);
        oairun_error_free(want_err);
        events_free(&want);
    }
    printf("%zu of %zu scenarios, each taken 6 ways, as the callback form delivers them\n", taken,
           sizeof scenarios / sizeof scenarios[0]);
}

/* A failure the test server cannot script, given by both forms. */
static void as_the_callback_form(oairun_client *client, enum endpoint endpoint,
                                 const char *scenario, oairun_status expected, int events_before,
                                 const char *message) {
    events want = no_events();
    oairun_error *want_err = NULL;
    oairun_status status = by_callback(client, endpoint, scenario, &want, &want_err);
    CHECK_STATUS(status, expected);
    CHECK(want.count == events_before);
    CHECK(says(want_err, message));
    readers_match(client, endpoint, scenario, &want, status, want_err, 1);
    oairun_error_free(want_err);
    events_free(&want);
}

static void failures_without_a_scenario(void) {
    /* Nothing listens: retried as a connection failure would be, here not at all. */
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", free_port());
    oairun_client *nowhere = client_with(url, 0, 0, 0);
    as_the_callback_form(nowhere, ASSISTANTS, "thread_123", OAIRUN_CONNECT, 0, "");
    as_the_callback_form(nowhere, RESPONSES, "gpt-test", OAIRUN_CONNECT, 0, "");
    oairun_client_free(nowhere);

    /* An event over the cap: the Assistants stream's second (931 bytes of data), the
     * Responses stream's last (895). */
    oairun_client *small = client_with(test_base_url(), -1, 0, 700);
    as_the_callback_form(small, ASSISTANTS, "thread_123", OAIRUN_PROTOCOL, 1,
                         "larger than the cap of 700 bytes");
    as_the_callback_form(small, RESPONSES, "gpt-test", OAIRUN_PROTOCOL, 13,
                         "larger than the cap of 700 bytes");
    oairun_client_free(small);
}

/* ---- The read timeout ---- */

/* A stream that goes silent ends with OAIRUN_TIMEOUT at the client's read timeout, as the
 * callback form's does, whether the reader waits without a limit of its own or keeps coming
 * back with a short one (OAIRUN_AGAIN meanwhile: the read timeout counts from the last byte,
 * not from the last call). 500 ms, as test_faults.c: under valgrind 300 ms has been seen
 * to end late. */
static void read_timeout(void) {
    oairun_client *impatient = client_with(test_base_url(), -1, 500, 0);
    const struct {
        enum endpoint endpoint;
        const char *scenario;
        int events_before;
    } cases[] = {
        {ASSISTANTS, "stall", 2},
        {RESPONSES, "stall", 1},
        {ASSISTANTS, "slow_3000_2", 3}, /* 3 events, then 3 s to the first delta */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        enum endpoint endpoint = cases[c].endpoint;
        const char *scenario = cases[c].scenario;
        events want = no_events();
        oairun_error *want_err = NULL;
        CHECK_STATUS(by_callback(impatient, endpoint, scenario, &want, &want_err),
                     OAIRUN_TIMEOUT);
        CHECK(want.count == cases[c].events_before);
        CHECK(says(want_err, "no data within the timeout of 500 ms"));
        for (int m = 0; m < 2; m++) {
            for (int poll_ms = -1; poll_ms <= 50; poll_ms += 51) {
                char what[160];
                snprintf(what, sizeof what, "%s %s, %s reader, timeout_ms %d",
                         endpoint_names[endpoint], scenario, mode_name(modes[m]), poll_ms);
                oairun_reader *reader = open_reader(impatient, endpoint, scenario, modes[m]);
                events got = no_events();
                struct drained d = {0, 0};
                oairun_error *err = NULL;
                oairun_status status = drain(reader, BY_NEXT, poll_ms, &got, &d, &err);
                if (status != OAIRUN_TIMEOUT) {
                    fprintf(stderr, "%s: %s (%s)\n", what, oairun_status_str((int)status),
                            err ? oairun_error_message(err) : "");
                    check_failures++;
                }
                CHECK(same_events(&want, &got, 1, what));
                CHECK(same_error(want_err, err, what));
                if (poll_ms > 0) CHECK(d.agains >= 5); /* 500 ms of silence, 50 ms at a time */
                check_sticky(reader, status, err, what);
                oairun_error_free(err);
                events_free(&got);
                oairun_reader_free(reader);
            }
        }
        oairun_error_free(want_err);
        events_free(&want);
    }
    oairun_client_free(impatient);
}

/* ---- Time limits: OAIRUN_AGAIN ---- */

static void time_limits(oairun_client *client) {
    /* slow_300_3: 3 events at once, then a delta every 300 ms, then 3 more. Taken with no wait
     * at all, or 30 ms at most, in both modes: OAIRUN_AGAIN between the deltas, and the stream
     * then goes on to its end as the callback form delivers it (the deltas' data carry their
     * write time: names and text are compared). */
    events want = no_events();
    CHECK_STATUS(by_callback(client, ASSISTANTS, "slow_300_3", &want, NULL), OAIRUN_OK);
    CHECK(want.count == 9);
    const struct {
        enum how how;
        int timeout_ms;
    } ways[] = {{BY_NEXT, 0}, {BY_BATCH_MANY, 0}, {BY_NEXT, 30}, {BY_BATCH_1, 30}};
    for (int m = 0; m < 2; m++) {
        for (size_t w = 0; w < sizeof ways / sizeof ways[0]; w++) {
            char what[160];
            snprintf(what, sizeof what, "slow_300_3, %s reader, %s with timeout_ms %d",
                     mode_name(modes[m]), how_names[ways[w].how], ways[w].timeout_ms);
            oairun_reader *reader = open_reader(client, ASSISTANTS, "slow_300_3", modes[m]);
            events got = no_events();
            struct drained d = {0, 0};
            oairun_error *err = NULL;
            CHECK_STATUS(drain(reader, ways[w].how, ways[w].timeout_ms, &got, &d, &err),
                         OAIRUN_OK);
            CHECK(err == NULL);
            CHECK(same_events(&want, &got, 0, what));
            if (d.agains < 3) {
                fprintf(stderr, "%s: %d OAIRUN_AGAIN, expected at least 3\n", what, d.agains);
                check_failures++;
            }
            check_sticky(reader, OAIRUN_OK, NULL, what);
            oairun_error_free(err);
            events_free(&got);
            oairun_reader_free(reader);
        }
    }
    events_free(&want);

    /* A whole stream taken with no wait at all from the first call on (a reader without
     * OAIRUN_READER_BACKGROUND connects inside those calls). */
    want = no_events();
    CHECK_STATUS(by_callback(client, RESPONSES, "gpt-test", &want, NULL), OAIRUN_OK);
    for (int m = 0; m < 2; m++) {
        oairun_reader *reader = open_reader(client, RESPONSES, "gpt-test", modes[m]);
        events got = no_events();
        oairun_error *err = NULL;
        CHECK_STATUS(drain(reader, BY_NEXT, 0, &got, NULL, &err), OAIRUN_OK);
        CHECK(same_events(&want, &got, 1, mode_name(modes[m])));
        events_free(&got);
        oairun_reader_free(reader);
    }
    events_free(&want);

    /* Responses `stall`: response.created, then nothing. Each limit is kept: 0 returns at
     * once, 150 ms waits 150 ms (not less), and nothing is written but *count. */
    for (int m = 0; m < 2; m++) {
        oairun_reader *reader = open_reader(client, RESPONSES, "stall", modes[m]);
        const oairun_event *event = NULL;
        oairun_error *err = NULL;
        CHECK_STATUS(oairun_reader_next(reader, 10000, &event, &err), OAIRUN_OK);
        CHECK(event && oairun_event_kind(event) == OAIRUN_KIND_RESPONSE_CREATED);
        const int limits[] = {0, 150};
        for (int l = 0; l < 2; l++) {
            double began = now_ms();
            event = UNTOUCHED;
            CHECK_STATUS(oairun_reader_next(reader, limits[l], &event, &err), OAIRUN_AGAIN);
            double took = now_ms() - began;
            CHECK(event == NULL && err == NULL);
            const oairun_event *batch[2] = {UNTOUCHED, UNTOUCHED};
            size_t count = 5;
            CHECK_STATUS(oairun_reader_next_batch(reader, limits[l], batch, 2, &count, &err),
                         OAIRUN_AGAIN);
            double both = now_ms() - began;
            CHECK(count == 0 && batch[0] == UNTOUCHED && err == NULL);
            if (limits[l] > 0) {
                CHECK(took >= 140.0);
                CHECK(both - took >= 140.0);
            }
            if (took > 100.0 + 2 * limits[l] + (RUNNING_ON_VALGRIND ? 1000 : 0))
                fprintf(stderr, "a %d ms limit took %.0f ms\n", limits[l], took);
            CHECK(took < 5000);
        }
        oairun_reader_free(reader); /* mid-stream */
    }
}

/* ---- Cancel ---- */

struct canceller {
    const oairun_reader *reader;
    int go;            /* set when the reader's thread is about to wait */
    double called_at;  /* when cancel was called; read after pthread_join */
    int background;
    int fd_status;     /* oairun_reader_fd while the other thread waits */
};

static void *cancel_soon(void *arg) {
    struct canceller *k = (struct canceller *)arg;
    CHECK(wait_for(&k->go));
    sleep_ms(50); /* let the other thread get into oairun_reader_next */
    if (k->background) {
        int fd = -1;
        k->fd_status = oairun_reader_fd(k->reader, &fd, NULL);
        CHECK(fd >= 0);
    }
    k->called_at = now_ms();
    oairun_reader_cancel(k->reader);
    return NULL;
}

static void cancel_from_another_thread(oairun_client *client) {
    const struct {
        enum endpoint endpoint;
        int events_before; /* `stall`: these, then 30 s of nothing */
    } cases[] = {{ASSISTANTS, 2}, {RESPONSES, 1}};
    for (int c = 0; c < 2; c++) {
        for (int m = 0; m < 2; m++) {
            char what[128];
            snprintf(what, sizeof what, "cancel: %s stall, %s reader",
                     endpoint_names[cases[c].endpoint], mode_name(modes[m]));
            CHECK(until_not_answering() >= 0);
            oairun_reader *reader = open_reader(client, cases[c].endpoint, "stall", modes[m]);
            for (int i = 0; i < cases[c].events_before; i++) {
                const oairun_event *event = NULL;
                CHECK_STATUS(oairun_reader_next(reader, -1, &event, NULL), OAIRUN_OK);
                CHECK(event != NULL);
            }
            CHECK(answering() == 1);
            struct canceller k = {reader, 0, 0, modes[m] != 0, OAIRUN_OK};
            pthread_t t;
            CHECK(pthread_create(&t, NULL, cancel_soon, &k) == 0);
            store(&k.go, 1);
            const oairun_event *event = UNTOUCHED;
            oairun_error *err = NULL;
            CHECK_STATUS(oairun_reader_next(reader, -1, &event, &err), OAIRUN_CANCELLED);
            double returned = now_ms();
            pthread_join(t, NULL);
            CHECK(event == NULL);
            CHECK(err && oairun_error_status(err) == OAIRUN_CANCELLED);
            CHECK(says(err, "cancel"));
            CHECK_STATUS((oairun_status)k.fd_status, OAIRUN_OK);
            printf("%s: next returned %.1f ms after the other thread's cancel\n", what,
                   returned - k.called_at);
            CHECK(returned - k.called_at < prompt_ms());
            /* Again, and NULL: nothing changes. */
            oairun_reader_cancel(reader);
            oairun_reader_cancel(reader);
            oairun_reader_cancel(NULL);
            check_sticky(reader, OAIRUN_CANCELLED, err, what);
            oairun_error_free(err);
            /* The connection is closed: the server stops answering. */
            double closed = until_not_answering();
            printf("%s: connection closed %.0f ms later\n", what, closed);
            CHECK(closed >= 0);
            oairun_reader_free(reader);
        }
    }
}

/* Cancelled while the server has not even sent its headers (Assistants `stall_headers`: 30 s
 * of nothing): the waiting call returns, and the connection is dropped at once, in both
 * modes. */
static void cancel_before_the_answer(oairun_client *client) {
    for (int m = 0; m < 2; m++) {
        CHECK(until_not_answering() >= 0);
        oairun_reader *reader = open_reader(client, ASSISTANTS, "stall_headers", modes[m]);
        const oairun_event *event = UNTOUCHED;
        CHECK_STATUS(oairun_reader_next(reader, 200, &event, NULL), OAIRUN_AGAIN);
        CHECK(event == NULL);
        CHECK(answering() == 1);
        struct canceller k = {reader, 1, 0, 0, OAIRUN_OK};
        pthread_t t;
        CHECK(pthread_create(&t, NULL, cancel_soon, &k) == 0);
        CHECK_STATUS(oairun_reader_next(reader, -1, &event, NULL), OAIRUN_CANCELLED);
        double returned = now_ms();
        pthread_join(t, NULL);
        CHECK(returned - k.called_at < prompt_ms());
        double closed = until_not_answering();
        printf("cancel before the headers, %s reader: connection closed %.0f ms later\n",
               mode_name(modes[m]), closed);
        CHECK(closed >= 0);
        oairun_reader_free(reader);

        /* Freed instead of cancelled: the same. */
        reader = open_reader(client, ASSISTANTS, "stall_headers", modes[m]);
        CHECK_STATUS(oairun_reader_next(reader, 200, &event, NULL), OAIRUN_AGAIN);
        CHECK(answering() == 1);
        oairun_reader_free(reader);
        closed = until_not_answering();
        printf("free before the headers, %s reader: connection closed %.0f ms later\n",
               mode_name(modes[m]), closed);
        CHECK(closed >= 0);
    }
}

static void cancel_before_and_after(oairun_client *client) {
    for (int e = 0; e < 2; e++) {
        enum endpoint endpoint = (enum endpoint)e;
        const char *scenario = endpoint == ASSISTANTS ? "thread_123" : "gpt-test";
        for (int m = 0; m < 2; m++) {
            /* Before the first call: CANCELLED at once, every time; without
             * OAIRUN_READER_BACKGROUND nothing was ever sent. */
            char what[64];
            snprintf(what, sizeof what, "cancel_first_%s_%s", endpoint_names[e],
                     mode_name(modes[m]));
            const char *mark = unique_name(what);
            oairun_reader *reader = open_marked(client, endpoint, scenario, modes[m], mark);
            oairun_reader_cancel(reader);
            const oairun_event *event = UNTOUCHED;
            oairun_error *err = NULL;
            double began = now_ms();
            CHECK_STATUS(oairun_reader_next(reader, -1, &event, &err), OAIRUN_CANCELLED);
            CHECK(now_ms() - began < prompt_ms());
            CHECK(event == NULL && err && oairun_error_status(err) == OAIRUN_CANCELLED);
            check_sticky(reader, OAIRUN_CANCELLED, err, "cancelled before the first call");
            oairun_error_free(err);
            oairun_reader_free(reader);
            if (!modes[m]) CHECK(recorded_count(mark) == 0);

            /* After the outcome: the outcome stands. */
            reader = open_reader(client, endpoint, scenario, modes[m]);
            events got = no_events();
            CHECK_STATUS(drain(reader, BY_NEXT, -1, &got, NULL, &err), OAIRUN_OK);
            CHECK(got.count > 0);
            oairun_reader_cancel(reader);
            check_sticky(reader, OAIRUN_OK, NULL, "cancelled after success");
            events_free(&got);
            oairun_reader_free(reader);

            const char *failing = endpoint == ASSISTANTS ? "error_event" : "error_flat";
            reader = open_reader(client, endpoint, failing, modes[m]);
            CHECK_STATUS(drain(reader, BY_BATCH_MANY, -1, &got, NULL, &err), OAIRUN_STREAM_ERROR);
            CHECK(got.count > 0 && got.kinds[got.count - 1] == OAIRUN_KIND_ERROR);
            oairun_reader_cancel(reader);
            check_sticky(reader, OAIRUN_STREAM_ERROR, err, "cancelled after a failure");
            oairun_error_free(err);
            events_free(&got);
            oairun_reader_free(reader);
        }
    }
}

/* Without OAIRUN_READER_BACKGROUND nothing is sent before the first call; with it, at once.
 * Either way one request. */
static void when_the_request_is_sent(oairun_client *client) {
    for (int e = 0; e < 2; e++) {
        enum endpoint endpoint = (enum endpoint)e;
        const char *scenario = endpoint == ASSISTANTS ? "thread_123" : "gpt-test";
        for (int m = 0; m < 2; m++) {
            char what[64];
            snprintf(what, sizeof what, "sent_%s_%s", endpoint_names[e], mode_name(modes[m]));
            const char *mark = unique_name(what);
            oairun_reader *reader = open_marked(client, endpoint, scenario, modes[m], mark);
            if (modes[m]) {
                for (int i = 0; i < 1000 && recorded_count(mark) == 0; i++) sleep_ms(10);
                CHECK(recorded_count(mark) == 1);
            } else {
                sleep_ms(100);
                CHECK(recorded_count(mark) == 0);
            }
            events got = no_events();
            oairun_error *err = NULL;
            CHECK_STATUS(drain(reader, BY_NEXT, -1, &got, NULL, &err), OAIRUN_OK);
            CHECK(recorded_count(mark) == 1);
            events_free(&got);
            oairun_reader_free(reader);
        }
    }
}

/* Freed mid-stream: the connection is closed; freed while the background reader reads ahead;
 * freed at once. Nothing leaks (valgrind, LeakSanitizer). */
static void free_mid_stream(oairun_client *client) {
    for (int m = 0; m < 2; m++) {
        CHECK(until_not_answering() >= 0);
        oairun_reader *reader = open_reader(client, ASSISTANTS, "stall", modes[m]);
        events got = no_events();
        size_t taken = 0;
        oairun_error *err = NULL;
        for (int i = 0; i < 2; i++)
            CHECK_STATUS(take(reader, BY_BATCH_1, -1, &got, &taken, &err), OAIRUN_OK);
        CHECK(got.count == 2 && answering() == 1);
        oairun_reader_free(reader);
        double closed = until_not_answering();
        printf("free mid-stream, %s reader: connection closed %.0f ms later\n",
               mode_name(modes[m]), closed);
        CHECK(closed >= 0);
        events_free(&got);

        reader = open_reader(client, ASSISTANTS, "slow_2_300", modes[m]);
        for (int i = 0; i < 10; i++)
            CHECK_STATUS(take(reader, BY_NEXT, -1, &got, &taken, &err), OAIRUN_OK);
        sleep_ms(20); /* a background reader reads ahead meanwhile */
        oairun_reader_free(reader);
        events_free(&got);

        oairun_reader_free(open_reader(client, RESPONSES, "long_2000", modes[m]));
    }
    CHECK(until_not_answering() >= 0);
}

/* ---- The descriptor ---- */

static int readable(int fd, int timeout_ms) {
    struct pollfd p;
    p.fd = fd;
    p.events = POLLIN;
    p.revents = 0;
    return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

static void descriptor(oairun_client *client) {
    /* A reader that reads on the caller's thread has none. */
    oairun_reader *reader = open_reader(client, RESPONSES, "gpt-test", 0);
    int fd = 777;
    oairun_error *err = NULL;
    CHECK_STATUS(oairun_reader_fd(reader, &fd, &err), OAIRUN_INVALID_ARGUMENT);
    CHECK(fd == 777);
    CHECK(says(err, "OAIRUN_READER_BACKGROUND"));
    oairun_error_free(err);
    err = NULL;
    oairun_reader_free(reader);

    /* An event loop: poll, then take what is there without waiting, until OAIRUN_AGAIN.
     * slow_300_4: 3 events, a delta every 300 ms, then 3 more. Between the deltas, once
     * drained, the descriptor is not readable; it becomes readable when the next arrives, and
     * stays readable once the outcome is there. */
    events want = no_events();
    CHECK_STATUS(by_callback(client, ASSISTANTS, "slow_300_4", &want, NULL), OAIRUN_OK);
    CHECK(want.count == 10);
    for (int h = 0; h < 3; h += 2) {
        enum how how = (enum how)h;
        reader = open_reader(client, ASSISTANTS, "slow_300_4", OAIRUN_READER_BACKGROUND);
        fd = -1;
        CHECK_STATUS(oairun_reader_fd(reader, &fd, NULL), OAIRUN_OK);
        CHECK(fd >= 0);
        int again = -2;
        CHECK_STATUS(oairun_reader_fd(reader, &again, NULL), OAIRUN_OK);
        CHECK(again == fd);
        events got = no_events();
        oairun_status status = OAIRUN_AGAIN;
        int wakeups = 0, quiet_checks = 0;
        while (status == OAIRUN_AGAIN) {
            if (!readable(fd, 10000)) {
                fprintf(stderr, "the descriptor did not become readable within 10 s\n");
                check_failures++;
                break;
            }
            wakeups++;
            for (;;) {
                size_t taken = 0;
                status = take(reader, how, 0, &got, &taken, &err);
                if (status == OAIRUN_OK && taken > 0) continue;
                break;
            }
            /* Drained between two deltas (the next one 300 ms away): not readable. */
            if (status == OAIRUN_AGAIN && got.count > 3 && got.count < 3 + 4) {
                quiet_checks++;
                CHECK(!readable(fd, 0));
            }
        }
        CHECK_STATUS(status, OAIRUN_OK);
        CHECK(err == NULL);
        CHECK(same_events(&want, &got, 0, "an event loop over the descriptor"));
        CHECK(wakeups >= 5);
        CHECK(quiet_checks >= 2);
        /* The outcome is there to take, again and again. */
        CHECK(readable(fd, 0));
        check_sticky(reader, OAIRUN_OK, NULL, "after an event loop");
        CHECK(readable(fd, 0));
        events_free(&got);
        oairun_reader_free(reader);
    }
    events_free(&want);

    /* A cancel makes it readable, and what is there to take is OAIRUN_CANCELLED. */
    reader = open_reader(client, RESPONSES, "stall", OAIRUN_READER_BACKGROUND);
    CHECK_STATUS(oairun_reader_fd(reader, &fd, NULL), OAIRUN_OK);
    /* Readable for the answer's headers, then for response.created. */
    const oairun_event *event = NULL;
    for (int i = 0; i < 10 && !event; i++) {
        CHECK(readable(fd, 10000));
        oairun_status status = oairun_reader_next(reader, 0, &event, NULL);
        CHECK(status == OAIRUN_OK || status == OAIRUN_AGAIN);
    }
    CHECK(event && oairun_event_kind(event) == OAIRUN_KIND_RESPONSE_CREATED);
    CHECK_STATUS(oairun_reader_next(reader, 0, &event, NULL), OAIRUN_AGAIN);
    CHECK(!readable(fd, 50));
    oairun_reader_cancel(reader);
    CHECK(readable(fd, 0));
    CHECK_STATUS(oairun_reader_next(reader, 0, &event, NULL), OAIRUN_CANCELLED);
    CHECK(readable(fd, 0));
    oairun_reader_free(reader);

    /* Events of one read wait in the reader, not in its queue: the descriptor stays readable
     * while they do. stall_burst sends four events in one chunk, then nothing for 30 s: an
     * event loop taking one event per wake-up gets all four at once, without waiting for
     * more bytes. */
    reader = open_reader(client, RESPONSES, "stall_burst", OAIRUN_READER_BACKGROUND);
    CHECK_STATUS(oairun_reader_fd(reader, &fd, NULL), OAIRUN_OK);
    int taken_one_at_a_time = 0;
    double burst_start = now_ms();
    for (int wakeups = 0; wakeups < 20 && taken_one_at_a_time < 4; wakeups++) {
        if (!readable(fd, 5000)) break;
        oairun_status status = oairun_reader_next(reader, 0, &event, NULL);
        CHECK(status == OAIRUN_OK || status == OAIRUN_AGAIN);
        if (status == OAIRUN_OK && event) taken_one_at_a_time++;
    }
    CHECK(taken_one_at_a_time == 4);
    CHECK(now_ms() - burst_start < 4000.0);
    CHECK(event && oairun_event_kind(event) == OAIRUN_KIND_RESPONSE_CONTENT_PART_ADDED);
    /* Then nothing: drained, and no more bytes. */
    CHECK_STATUS(oairun_reader_next(reader, 0, &event, NULL), OAIRUN_AGAIN);
    CHECK(!readable(fd, 50));
    oairun_reader_free(reader);

    /* Asked for after the outcome: readable at once. */
    reader = open_reader(client, RESPONSES, "status_400", OAIRUN_READER_BACKGROUND);
    CHECK_STATUS(oairun_reader_next(reader, -1, &event, NULL), OAIRUN_HTTP_STATUS);
    CHECK_STATUS(oairun_reader_fd(reader, &fd, NULL), OAIRUN_OK);
    CHECK(readable(fd, 0));
    oairun_reader_free(reader);
}

/* ---- Refusals ---- */

#define REFUSED(call, needle)                                                              \
    do {                                                                                   \
        oairun_error *e_ = NULL;                                                           \
        CHECK_STATUS(call, OAIRUN_INVALID_ARGUMENT);                                       \
        CHECK(e_ && oairun_error_status(e_) == OAIRUN_INVALID_ARGUMENT);                   \
        CHECK(says(e_, needle));                                                           \
        oairun_error_free(e_);                                                             \
    } while (0)

static void refusals(oairun_client *client) {
    oairun_reader *const unwritten = (oairun_reader *)(void *)&check_failures;
    oairun_reader *out = unwritten;
    const char *mark = unique_name("refused");
    oairun_response_request *request = request_for("gpt-test", mark);
    oairun_response_request *no_input = oairun_response_request_new();
    CHECK_STATUS(oairun_response_request_set_model(no_input, "gpt-test"), OAIRUN_OK);
    oairun_tool_outputs *outputs = test_outputs();
    oairun_tool_outputs *none = oairun_tool_outputs_new();

    /* Opening, both endpoints, both modes: nothing is written, nothing is sent. */
    for (int m = 0; m < 2; m++) {
        uint32_t flags = modes[m];
        REFUSED(oairun_create_response_stream_open(NULL, request, flags, &out, &e_), "client");
        REFUSED(oairun_create_response_stream_open(client, NULL, flags, &out, &e_), "request");
        REFUSED(oairun_create_response_stream_open(client, request, flags, NULL, &e_), "out");
        REFUSED(oairun_create_response_stream_open(client, no_input, flags, &out, &e_),
                "no input item");
        REFUSED(oairun_create_response_stream_open(client, request, flags | 2, &out, &e_),
                "unknown flags 0x2");
        REFUSED(oairun_create_response_stream_open(client, request, flags | 0x80000000u, &out,
                                                   &e_),
                "unknown flags 0x80000000");
        CHECK_STATUS(oairun_create_response_stream_open(NULL, NULL, flags, NULL, NULL),
                     OAIRUN_INVALID_ARGUMENT);
        CHECK_STATUS(oairun_create_response_stream_open(client, request, flags, NULL, NULL),
                     OAIRUN_INVALID_ARGUMENT);

        REFUSED(oairun_submit_tool_outputs_stream_open(NULL, "thread_123", mark, outputs, flags,
                                                       &out, &e_),
                "client");
        REFUSED(oairun_submit_tool_outputs_stream_open(client, NULL, mark, outputs, flags, &out,
                                                       &e_),
                "thread_id");
        REFUSED(oairun_submit_tool_outputs_stream_open(client, "thread_123", NULL, outputs, flags,
                                                       &out, &e_),
                "run_id");
        REFUSED(oairun_submit_tool_outputs_stream_open(client, "thread_123", mark, NULL, flags,
                                                       &out, &e_),
                "outputs");
        REFUSED(oairun_submit_tool_outputs_stream_open(client, "thread_123", mark, outputs, flags,
                                                       NULL, &e_),
                "out");
        REFUSED(oairun_submit_tool_outputs_stream_open(client, "", mark, outputs, flags, &out,
                                                       &e_),
                "thread_id must not be empty");
        REFUSED(oairun_submit_tool_outputs_stream_open(client, "thread_123", "..", outputs, flags,
                                                       &out, &e_),
                "run_id must not be \"..\"");
        REFUSED(oairun_submit_tool_outputs_stream_open(client, ".", mark, outputs, flags, &out,
                                                       &e_),
                "thread_id must not be \".\"");
        REFUSED(oairun_submit_tool_outputs_stream_open(client, "thread_\xff", mark, outputs,
                                                       flags, &out, &e_),
                "not valid UTF-8");
        REFUSED(oairun_submit_tool_outputs_stream_open(client, "thread_123", mark, none, flags,
                                                       &out, &e_),
                "at least one output");
        REFUSED(oairun_submit_tool_outputs_stream_open(client, "thread_123", mark, outputs,
                                                       flags | 4, &out, &e_),
                "unknown flags 0x4");
        CHECK_STATUS(oairun_submit_tool_outputs_stream_open(NULL, NULL, NULL, NULL, flags, NULL,
                                                            NULL),
                     OAIRUN_INVALID_ARGUMENT);
        CHECK_STATUS(oairun_submit_tool_outputs_stream_open(client, "thread_123", mark, outputs,
                                                            flags, NULL, NULL),
                     OAIRUN_INVALID_ARGUMENT);
    }
    CHECK(out == unwritten);

    /* Taking, from a reader that has not begun: each refusal touches nothing (but *count). */
    oairun_reader *reader = open_marked(client, RESPONSES, "gpt-test", 0, mark);
    const oairun_event *event = UNTOUCHED;
    REFUSED(oairun_reader_next(NULL, 0, &event, &e_), "reader");
    REFUSED(oairun_reader_next(reader, 0, NULL, &e_), "event");
    REFUSED(oairun_reader_next(reader, -2, &event, &e_), "timeout_ms");
    REFUSED(oairun_reader_next(reader, INT_MIN, &event, &e_), "timeout_ms");
    CHECK_STATUS(oairun_reader_next(NULL, -1, NULL, NULL), OAIRUN_INVALID_ARGUMENT);
    CHECK(event == UNTOUCHED);
    const oairun_event *batch[2] = {UNTOUCHED, UNTOUCHED};
    size_t count = 7;
    REFUSED(oairun_reader_next_batch(NULL, 0, batch, 2, &count, &e_), "reader");
    CHECK(count == 0);
    count = 7;
    REFUSED(oairun_reader_next_batch(reader, 0, NULL, 2, &count, &e_), "events");
    CHECK(count == 0);
    count = 7;
    REFUSED(oairun_reader_next_batch(reader, 0, batch, 0, &count, &e_), "capacity");
    CHECK(count == 0);
    REFUSED(oairun_reader_next_batch(reader, 0, batch, 2, NULL, &e_), "count");
    count = 7;
    REFUSED(oairun_reader_next_batch(reader, -2, batch, 2, &count, &e_), "timeout_ms");
    CHECK(count == 0);
    CHECK_STATUS(oairun_reader_next_batch(NULL, 0, NULL, 0, NULL, NULL), OAIRUN_INVALID_ARGUMENT);
    CHECK(batch[0] == UNTOUCHED && batch[1] == UNTOUCHED);
    int fd = 99;
    REFUSED(oairun_reader_fd(NULL, &fd, &e_), "reader");
    REFUSED(oairun_reader_fd(reader, NULL, &e_), "fd");
    CHECK_STATUS(oairun_reader_fd(NULL, NULL, NULL), OAIRUN_INVALID_ARGUMENT);
    CHECK(fd == 99);
    oairun_reader_cancel(NULL);
    oairun_reader_free(NULL);

    /* None of it spent the reader: nothing was sent, and it still gives the whole stream. */
    CHECK(recorded_count(mark) == 0);
    events want = no_events(), got = no_events();
    CHECK_STATUS(by_callback(client, RESPONSES, "gpt-test", &want, NULL), OAIRUN_OK);
    oairun_error *err = NULL;
    CHECK_STATUS(drain(reader, BY_NEXT, -1, &got, NULL, &err), OAIRUN_OK);
    CHECK(same_events(&want, &got, 1, "after the refusals"));
    CHECK(recorded_count(mark) == 1);
    events_free(&want);
    events_free(&got);
    oairun_reader_free(reader);

    oairun_response_request_free(request);
    oairun_response_request_free(no_input);
    oairun_tool_outputs_free(outputs);
    oairun_tool_outputs_free(none);
}

/* Two threads on one reader: while one waits inside oairun_reader_next, the other's calls are
 * refused with OAIRUN_INVALID_ARGUMENT, touching nothing. */
struct waiter {
    const oairun_reader *reader;
    int waiting;
    int refused; /* the waiter's own calls refused while the main thread had the reader */
    oairun_status status;
};

static void *wait_in_next(void *arg) {
    struct waiter *w = (struct waiter *)arg;
    store(&w->waiting, 1);
    for (;;) {
        const oairun_event *event = NULL;
        w->status = oairun_reader_next(w->reader, -1, &event, NULL);
        if (w->status != OAIRUN_INVALID_ARGUMENT) break;
        w->refused++;
        sleep_ms(1);
    }
    return NULL;
}

static void one_call_at_a_time(oairun_client *client) {
    for (int m = 0; m < 2; m++) {
        oairun_reader *reader = open_reader(client, ASSISTANTS, "stall", modes[m]);
        for (int i = 0; i < 2; i++) {
            const oairun_event *event = NULL;
            CHECK_STATUS(oairun_reader_next(reader, -1, &event, NULL), OAIRUN_OK);
        }
        struct waiter w = {reader, 0, 0, OAIRUN_OK};
        pthread_t t;
        CHECK(pthread_create(&t, NULL, wait_in_next, &w) == 0);
        CHECK(wait_for(&w.waiting));
        /* Until the other thread is inside: OAIRUN_AGAIN (this thread had the reader). */
        int refused = 0;
        for (int i = 0; i < 2000 && !refused; i++) {
            const oairun_event *event = UNTOUCHED;
            oairun_error *err = NULL;
            oairun_status status = oairun_reader_next(reader, 0, &event, &err);
            if (status == OAIRUN_INVALID_ARGUMENT) {
                refused = 1;
                CHECK(says(err, "another call is using this reader"));
                CHECK(event == UNTOUCHED);
            } else {
                CHECK_STATUS(status, OAIRUN_AGAIN);
                sleep_ms(5);
            }
            oairun_error_free(err);
        }
        CHECK(refused);
        /* The other thread waits there still (30 s of silence): refused every time. */
        const oairun_event *batch[2] = {UNTOUCHED, UNTOUCHED};
        size_t count = 3;
        oairun_error *err = NULL;
        CHECK_STATUS(oairun_reader_next_batch(reader, -1, batch, 2, &count, &err),
                     OAIRUN_INVALID_ARGUMENT);
        CHECK(count == 0 && batch[0] == UNTOUCHED && says(err, "another call"));
        oairun_error_free(err);
        if (modes[m]) {
            int fd = -1;
            CHECK_STATUS(oairun_reader_fd(reader, &fd, NULL), OAIRUN_OK);
            CHECK(fd >= 0);
        }
        oairun_reader_cancel(reader);
        pthread_join(t, NULL);
        CHECK_STATUS(w.status, OAIRUN_CANCELLED);
        oairun_reader_free(reader);
    }
}

/* ---- Threads and lifetimes ---- */

struct elsewhere {
    const oairun_reader *reader;
    events *got;
    oairun_status status;
    oairun_error *err;
};

static void *drain_there(void *arg) {
    struct elsewhere *x = (struct elsewhere *)arg;
    x->status = drain(x->reader, BY_NEXT, -1, x->got, NULL, &x->err);
    return NULL;
}

/* A reader opened on one thread and read on another, after its first event or from the
 * start; freed on the first. */
static void moved_to_another_thread(oairun_client *client) {
    for (int e = 0; e < 2; e++) {
        enum endpoint endpoint = (enum endpoint)e;
        const char *scenario = endpoint == ASSISTANTS ? "long_100" : "function_call";
        events want = no_events();
        CHECK_STATUS(by_callback(client, endpoint, scenario, &want, NULL), OAIRUN_OK);
        for (int m = 0; m < 2; m++) {
            for (int first_here = 0; first_here < 2; first_here++) {
                oairun_reader *reader = open_reader(client, endpoint, scenario, modes[m]);
                events got = no_events();
                size_t taken = 0;
                oairun_error *err = NULL;
                if (first_here) CHECK_STATUS(take(reader, BY_NEXT, -1, &got, &taken, &err), OAIRUN_OK);
                struct elsewhere x = {reader, &got, OAIRUN_INTERNAL, NULL};
                pthread_t t;
                CHECK(pthread_create(&t, NULL, drain_there, &x) == 0);
                pthread_join(t, NULL);
                CHECK_STATUS(x.status, OAIRUN_OK);
                CHECK(x.err == NULL);
                CHECK(same_events(&want, &got, 1, "read on another thread"));
                check_sticky(reader, OAIRUN_OK, NULL, "back on the first thread");
                events_free(&got);
                oairun_reader_free(reader);
            }
        }
        events_free(&want);
    }
}

/* The client may be freed while a reader lives: the reader keeps what it needs (a reader
 * without OAIRUN_READER_BACKGROUND has not even sent its request then). */
static void client_freed_first(oairun_client *client) {
    for (int e = 0; e < 2; e++) {
        enum endpoint endpoint = (enum endpoint)e;
        const char *scenario = endpoint == ASSISTANTS ? "long_100" : "gpt-test";
        events want = no_events();
        CHECK_STATUS(by_callback(client, endpoint, scenario, &want, NULL), OAIRUN_OK);
        for (int m = 0; m < 2; m++) {
            oairun_client *gone = test_client();
            oairun_reader *reader = open_reader(gone, endpoint, scenario, modes[m]);
            oairun_client_free(gone);
            events got = no_events();
            oairun_error *err = NULL;
            CHECK_STATUS(drain(reader, BY_BATCH_MANY, -1, &got, NULL, &err), OAIRUN_OK);
            CHECK(same_events(&want, &got, 1, "after its client was freed"));
            events_free(&got);
            oairun_reader_free(reader);
        }
        events_free(&want);
    }
}

int main(void) {
    oairun_client *client = test_client();
    every_scenario_as_the_callback_form(client);
    failures_without_a_scenario();
    read_timeout();
    time_limits(client);
    cancel_from_another_thread(client);
    cancel_before_the_answer(client);
    cancel_before_and_after(client);
    when_the_request_is_sent(client);
    free_mid_stream(client);
    descriptor(client);
    refusals(client);
    one_call_at_a_time(client);
    moved_to_another_thread(client);
    client_freed_first(client);
    oairun_client_free(client);
    return check_report("test_reader");
}
