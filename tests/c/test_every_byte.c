/* A stream cut at every byte, through the C API: for byte offsets N of the Assistants reference
 * stream (thread id `cut_at_<N>` / `reset_at_<N>`) and of the Responses function_call.sse
 * stream (model `cut_at_<N>` / `reset_at_<N>`), the test server sends exactly the first N bytes
 * of the body, then ends it cleanly or resets the connection. The blocking stream call must
 * deliver exactly the events whose terminating blank line is within those N bytes (name and
 * data byte for byte, in order, none partial, none twice) and return OAIRUN_PROTOCOL (saying
 * how many events came, and whether the stream ended or broke off) before the end of the
 * terminal event, OAIRUN_OK at it; nothing may leak.
 *
 * Which offsets: the sanitizer builds (ASan+LSan+UBSan, run on their own) try every offset
 * from 0 to the body's length, both endings, both APIs (about 20,000 submissions). The plain
 * builds run under valgrind, where that would take many minutes: they try a deterministic
 * sample, every SAMPLE_STRIDE-th offset plus the 4 offsets around the end of each event (end - 2
 * ... end + 1), 0 and the length (about 700 submissions). OAIRUN_EVERY_BYTE=all or =sample chooses either in any build.
 * Offsets are shared out between THREADS threads using one client. */
#include <pthread.h>

#include "check.h"

#define THREADS 4
#define MAX_EVENTS 64
#define SAMPLE_STRIDE 41

#if defined(__SANITIZE_ADDRESS__)
#define EVERY_OFFSET_BY_DEFAULT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EVERY_OFFSET_BY_DEFAULT 1
#endif
#endif
#ifndef EVERY_OFFSET_BY_DEFAULT
#define EVERY_OFFSET_BY_DEFAULT 0
#endif

enum endpoint_kind { ASSISTANTS, RESPONSES };
enum ending { CUT, RESET };

/* One stream body and the events in it: event i is [start[i], end[i]), its name and data the
 * text after "event: " and "data: " on its two lines. */
struct body {
    const char *what;
    char *bytes;
    size_t len;
    int events;
    size_t end[MAX_EVENTS];
    char *name[MAX_EVENTS];
    char *data[MAX_EVENTS];
    size_t data_len[MAX_EVENTS];
};

static oairun_client *client;
static oairun_tool_outputs *outputs;
static int failures = 0;
static int submissions = 0;

static void fail(const struct body *body, const char *ending, size_t n, const char *detail) {
    fprintf(stderr, "%s %s_%zu: %s\n", body->what, ending, n, detail);
    __atomic_add_fetch(&failures, 1, __ATOMIC_SEQ_CST);
}

static char *copy(const char *start, size_t len) {
    char *out = (char *)malloc(len + 1);
    memcpy(out, start, len);
    out[len] = '\0';
    return out;
}

/* Splits the fixture into its events: each is "event: NAME\ndata: DATA\n\n". */
static void load(struct body *body, const char *what, const char *fixture) {
    body->what = what;
    body->bytes = read_fixture(fixture, &body->len);
    body->events = 0;
    size_t at = 0;
    while (at < body->len) {
        const char *block = body->bytes + at;
        const char *blank = strstr(block, "\n\n");
        const char *newline = strchr(block, '\n');
        if (!blank || !newline || strncmp(block, "event: ", 7) != 0 ||
            strncmp(newline + 1, "data: ", 6) != 0 || body->events == MAX_EVENTS) {
            fprintf(stderr, "%s: unexpected framing at byte %zu\n", fixture, at);
            exit(2);
        }
        int i = body->events++;
        body->name[i] = copy(block + 7, (size_t)(newline - block - 7));
        body->data_len[i] = (size_t)(blank - (newline + 7));
        body->data[i] = copy(newline + 7, body->data_len[i]);
        at = (size_t)(blank + 2 - body->bytes);
        body->end[i] = at;
    }
}

static void unload(struct body *body) {
    for (int i = 0; i < body->events; i++) {
        free(body->name[i]);
        free(body->data[i]);
    }
    free(body->bytes);
}

/* How many events end within the first n bytes. */
static int complete_within(const struct body *body, size_t n) {
    int count = 0;
    while (count < body->events && body->end[count] <= n) count++;
    return count;
}

/* What one callback sees: the events it must get, and what it got. */
struct seen {
    const struct body *body;
    int expected;
    int got;
    int wrong; /* index of the first event that differed, or -1 */
};

static int on_event(const oairun_event *event, void *user_data) {
    struct seen *seen = (struct seen *)user_data;
    int i = seen->got++;
    size_t len = 0;
    const char *data = oairun_event_data(event, &len);
    if (seen->wrong < 0 &&
        (i >= seen->expected || strcmp(oairun_event_name(event), seen->body->name[i]) != 0 ||
         len != seen->body->data_len[i] || memcmp(data, seen->body->data[i], len) != 0)) {
        seen->wrong = i;
    }
    return 0;
}

/* One submission of the first n bytes with `ending`; counts what went wrong. */
static void one(enum endpoint_kind endpoint, const struct body *body, size_t n, enum ending ending) {
    char scenario[64];
    const char *ending_name = ending == CUT ? "cut_at" : "reset_at";
    snprintf(scenario, sizeof scenario, "%s_%zu", ending_name, n);
    struct seen seen = {body, complete_within(body, n), 0, -1};
    oairun_error *err = NULL;
    oairun_status status;
    if (endpoint == ASSISTANTS) {
        status = oairun_submit_tool_outputs_stream(client, scenario, "run_every_byte", outputs,
                                                   on_event, &seen, &err);
    } else {
        oairun_response_request *request = oairun_response_request_new();
        oairun_response_request_set_model(request, scenario);
        oairun_response_request_add_function_call_output(request, "call_fixed_get_weather",
                                                         "{\"temp_c\":15}");
        status = oairun_create_response_stream(client, request, on_event, &seen, &err);
        oairun_response_request_free(request);
    }
    __atomic_add_fetch(&submissions, 1, __ATOMIC_SEQ_CST);
    char detail[512];
    if (seen.wrong >= 0 || seen.got != seen.expected) {
        snprintf(detail, sizeof detail, "delivered %d events, expected %d (first wrong: %d)",
                 seen.got, seen.expected, seen.wrong);
        fail(body, ending_name, n, detail);
    }
    /* The terminal event is the body's last. */
    if (n >= body->len) {
        if (status != OAIRUN_OK) {
            snprintf(detail, sizeof detail, "status %s (%s), expected OAIRUN_OK",
                     oairun_status_str((int)status), err ? oairun_error_message(err) : "");
            fail(body, ending_name, n, detail);
        }
    } else if (status != OAIRUN_PROTOCOL) {
        snprintf(detail, sizeof detail, "status %s (%s), expected OAIRUN_PROTOCOL",
                 oairun_status_str((int)status), err ? oairun_error_message(err) : "");
        fail(body, ending_name, n, detail);
    } else {
        char said[128];
        snprintf(said, sizeof said, "the stream %s after %d events",
                 ending == CUT ? "ended" : "broke off", seen.expected);
        if (!err || !strstr(oairun_error_message(err), said) ||
            oairun_error_status(err) != OAIRUN_PROTOCOL || oairun_error_http_status(err) != 200) {
            snprintf(detail, sizeof detail, "the error does not say \"%s\": %s", said,
                     err ? oairun_error_message(err) : "(no error)");
            fail(body, ending_name, n, detail);
        }
    }
    oairun_error_free(err);
}

/* Whether offset n of `body` is tried. */
static int chosen(const struct body *body, size_t n, int every) {
    if (every || n % SAMPLE_STRIDE == 0 || n == body->len) return 1;
    for (int i = 0; i < body->events; i++) {
        if (n + 2 >= body->end[i] && n <= body->end[i] + 1) return 1;
    }
    return 0;
}

struct work {
    enum endpoint_kind endpoint;
    const struct body *body;
    int every;
    int thread;
};

static void *worker(void *arg) {
    const struct work *work = (const struct work *)arg;
    size_t k = 0;
    for (size_t n = 0; n <= work->body->len; n++) {
        if (!chosen(work->body, n, work->every)) continue;
        if (k++ % THREADS != (size_t)work->thread) continue;
        one(work->endpoint, work->body, n, CUT);
        one(work->endpoint, work->body, n, RESET);
    }
    return NULL;
}

static void every_byte(enum endpoint_kind endpoint, const struct body *body, int every) {
    pthread_t threads[THREADS];
    struct work work[THREADS];
    int before = submissions;
    for (int t = 0; t < THREADS; t++) {
        work[t].endpoint = endpoint;
        work[t].body = body;
        work[t].every = every;
        work[t].thread = t;
        CHECK(pthread_create(&threads[t], NULL, worker, &work[t]) == 0);
    }
    for (int t = 0; t < THREADS; t++) CHECK(pthread_join(threads[t], NULL) == 0);
    printf("%s: %d submissions (%s of %zu offsets, both endings)\n", body->what,
           submissions - before, every ? "every one" : "a sample", body->len + 1);
}

int main(void) {
    const char *choice = getenv("OAIRUN_EVERY_BYTE");
    int every = EVERY_OFFSET_BY_DEFAULT;
    if (choice && strcmp(choice, "all") == 0) every = 1;
    if (choice && strcmp(choice, "sample") == 0) every = 0;

    struct body assistants, responses;
    load(&assistants, "assistants", "stream.sse");
    load(&responses, "responses", "responses/function_call.sse");
    CHECK(assistants.events == 16 && assistants.end[15] == assistants.len);
    CHECK_STR(assistants.name[15], "done");
    CHECK(responses.events == 7 && responses.end[6] == responses.len);
    CHECK_STR(responses.name[6], "response.completed");

    client = test_client();
    outputs = test_outputs();
    every_byte(ASSISTANTS, &assistants, every);
    every_byte(RESPONSES, &responses, every);
    oairun_tool_outputs_free(outputs);
    oairun_client_free(client);
    unload(&assistants);
    unload(&responses);

    if (failures) {
        fprintf(stderr, "%d of %d submissions went wrong\n", failures, submissions);
        check_failures += failures;
    }
    return check_report("test_every_byte");
}
