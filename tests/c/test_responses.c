/* The Responses endpoint as a C program uses it: the request builder and its refusals, the
 * synchronous call (the Response exactly as sent), the stream of every /v1/responses scenario
 * with its end-of-stream rule and both error shapes, and the two started forms. */
#include <time.h>

#include "check.h"

#define MAX_EVENTS 64

typedef struct {
    int count;
    char names[MAX_EVENTS][64];
    oairun_kind kinds[MAX_EVENTS];
    char *data[MAX_EVENTS];
    int stop_after; /* return non-zero from this event on (0: never) */
} collected;

static int collect(const oairun_event *event, void *user_data) {
    collected *c = (collected *)user_data;
    if (c->count < MAX_EVENTS) {
        size_t len = 0;
        const char *data = oairun_event_data(event, &len);
        snprintf(c->names[c->count], sizeof c->names[0], "%s", oairun_event_name(event));
        c->kinds[c->count] = oairun_event_kind(event);
        c->data[c->count] = (char *)malloc(len + 1);
        memcpy(c->data[c->count], data, len + 1);
    }
    c->count++;
    return c->stop_after && c->count >= c->stop_after;
}

static void collected_free(collected *c) {
    for (int i = 0; i < c->count && i < MAX_EVENTS; i++) free(c->data[i]);
    memset(c, 0, sizeof *c);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A request for `model` answering the fixture's function call. */
static oairun_response_request *request_for(const char *model) {
    oairun_response_request *r = oairun_response_request_new();
    CHECK(r != NULL);
    CHECK_STATUS(oairun_response_request_set_model(r, model), OAIRUN_OK);
    CHECK_STATUS(oairun_response_request_add_function_call_output(r, "call_fixed_get_weather",
                                                                  "{\"temp_c\":15}"),
                 OAIRUN_OK);
    return r;
}

static oairun_status stream_model(oairun_client *client, const char *model, collected *c,
                                  oairun_error **err) {
    oairun_response_request *r = request_for(model);
    oairun_status s = oairun_create_response_stream(client, r, collect, c, err);
    oairun_response_request_free(r);
    return s;
}

/* The data lines of a fixture stream, in order (the caller frees each and the array). */
static int fixture_data(const char *name, char **out, int max) {
    size_t len = 0;
    char *text = read_fixture(name, &len);
    int n = 0;
    char *line = text;
    while (line && *line && n < max) {
        char *end = strchr(line, '\n');
        if (end) *end = '\0';
        if (strncmp(line, "data: ", 6) == 0) {
            out[n] = (char *)malloc(strlen(line + 6) + 1);
            strcpy(out[n], line + 6);
            n++;
        }
        line = end ? end + 1 : NULL;
    }
    free(text);
    return n;
}

static void test_stream_matches_the_fixture(oairun_client *client, const char *model,
                                            const char *fixture, oairun_kind last) {
    collected c;
    memset(&c, 0, sizeof c);
    oairun_error *err = NULL;
    CHECK_STATUS(stream_model(client, model, &c, &err), OAIRUN_OK);
    if (err) fprintf(stderr, "%s: %s\n", model, oairun_error_message(err));
    oairun_error_free(err);
    char *expected[MAX_EVENTS];
    int n = fixture_data(fixture, expected, MAX_EVENTS);
    /* done_style sends text.sse then `[DONE]`, which comes after the terminal event and is
     * never delivered. */
    CHECK(c.count == n);
    for (int i = 0; i < c.count && i < MAX_EVENTS; i++) CHECK(strcmp(c.data[i], "[DONE]") != 0);
    for (int i = 0; i < n && i < c.count; i++) {
        CHECK_STR(c.data[i], expected[i]);
        CHECK(c.kinds[i] != OAIRUN_KIND_UNKNOWN);
    }
    for (int i = 0; i < n; i++) free(expected[i]);
    CHECK(c.count > 0 && c.kinds[0] == OAIRUN_KIND_RESPONSE_CREATED);
    CHECK(c.count > 0 && c.kinds[c.count - 1] == last);
    collected_free(&c);
}

static void test_streams(oairun_client *client) {
    test_stream_matches_the_fixture(client, "gpt-test", "responses/text.sse",
                                    OAIRUN_KIND_RESPONSE_COMPLETED);
    test_stream_matches_the_fixture(client, "done_style", "responses/text.sse",
                                    OAIRUN_KIND_RESPONSE_COMPLETED);
    test_stream_matches_the_fixture(client, "function_call", "responses/function_call.sse",
                                    OAIRUN_KIND_RESPONSE_COMPLETED);
    test_stream_matches_the_fixture(client, "incomplete", "responses/incomplete.sse",
                                    OAIRUN_KIND_RESPONSE_INCOMPLETE);

    /* No `event:` lines: each event is named by its JSON type. */
    collected plain, named;
    memset(&plain, 0, sizeof plain);
    memset(&named, 0, sizeof named);
    CHECK_STATUS(stream_model(client, "no_event_lines", &plain, NULL), OAIRUN_OK);
    CHECK_STATUS(stream_model(client, "gpt-test", &named, NULL), OAIRUN_OK);
    CHECK(plain.count == named.count);
    for (int i = 0; i < plain.count && i < named.count; i++) {
        CHECK_STR(plain.names[i], named.names[i]);
        CHECK(plain.kinds[i] == named.kinds[i]);
    }
    CHECK(plain.count > 4 && plain.kinds[4] == OAIRUN_KIND_RESPONSE_OUTPUT_TEXT_DELTA);
    collected_free(&plain);
    collected_free(&named);

    /* The server keeps the connection open after response.completed: the call returns. */
    collected held;
    memset(&held, 0, sizeof held);
    double started = now_s();
    CHECK_STATUS(stream_model(client, "hold_open", &held, NULL), OAIRUN_OK);
    CHECK(now_s() - started < 5.0);
    CHECK(held.count > 0 && held.kinds[held.count - 1] == OAIRUN_KIND_RESPONSE_COMPLETED);
    collected_free(&held);

    /* Cut before the terminal event. */
    collected cut;
    memset(&cut, 0, sizeof cut);
    oairun_error *err = NULL;
    CHECK_STATUS(stream_model(client, "cut", &cut, &err), OAIRUN_PROTOCOL);
    CHECK(err && strstr(oairun_error_message(err), "response.completed") != NULL);
    CHECK(cut.count == 13);
    oairun_error_free(err);
    collected_free(&cut);
}

static void test_stream_failures(oairun_client *client) {
    collected c;
    memset(&c, 0, sizeof c);
    oairun_error *err = NULL;

    CHECK_STATUS(stream_model(client, "error_flat", &c, &err), OAIRUN_STREAM_ERROR);
    CHECK(c.count == 3 && c.kinds[2] == OAIRUN_KIND_ERROR);
    CHECK_STR(oairun_error_api_code(err), "server_error");
    CHECK(oairun_error_api_type(err) == NULL);
    CHECK(strstr(oairun_error_message(err),
                 "The server had an error while processing your request.") != NULL);
    CHECK(oairun_error_http_status(err) == 200);
    CHECK(oairun_error_request_id(err) != NULL);
    oairun_error_free(err);
    err = NULL;
    collected_free(&c);

    CHECK_STATUS(stream_model(client, "error_nested", &c, &err), OAIRUN_STREAM_ERROR);
    CHECK_STR(oairun_error_api_type(err), "too_many_requests");
    CHECK_STR(oairun_error_api_code(err), "too_many_requests");
    CHECK(strstr(oairun_error_message(err), "Too Many Requests") != NULL);
    oairun_error_free(err);
    err = NULL;
    collected_free(&c);

    CHECK_STATUS(stream_model(client, "failed", &c, &err), OAIRUN_STREAM_ERROR);
    CHECK(c.count > 0 && c.kinds[c.count - 1] == OAIRUN_KIND_RESPONSE_FAILED);
    CHECK_STR(oairun_error_api_code(err), "server_error");
    CHECK(strstr(oairun_error_message(err), "The model failed to generate a response.") != NULL);
    oairun_error_free(err);
    err = NULL;
    collected_free(&c);

    /* The callback stops the stream. */
    c.stop_after = 2;
    CHECK_STATUS(stream_model(client, "long_1000", &c, &err), OAIRUN_CANCELLED);
    CHECK(c.count == 2);
    oairun_error_free(err);
    err = NULL;
    collected_free(&c);

    /* HTTP errors, streamed and not. */
    oairun_response_request *no_model = oairun_response_request_new();
    CHECK_STATUS(oairun_response_request_add_input_json(
                     no_model, "{\"role\":\"user\",\"content\":\"hi\"}", NULL),
                 OAIRUN_OK);
    char *json = NULL;
    CHECK_STATUS(oairun_create_response(client, no_model, &json, &err), OAIRUN_HTTP_STATUS);
    CHECK(json == NULL);
    CHECK(oairun_error_http_status(err) == 400);
    CHECK_STR(oairun_error_api_param(err), "model");
    CHECK_STR(oairun_error_api_code(err), "missing_required_parameter");
    CHECK_STR(oairun_error_api_type(err), "invalid_request_error");
    oairun_error_free(err);
    err = NULL;
    oairun_response_request_free(no_model);

    oairun_response_request *gone = request_for("gpt-test");
    CHECK_STATUS(oairun_response_request_set_previous_response_id(gone, "resp_not_found"),
                 OAIRUN_OK);
    CHECK_STATUS(oairun_create_response_stream(client, gone, collect, &c, &err),
                 OAIRUN_HTTP_STATUS);
    CHECK(c.count == 0);
    CHECK_STR(oairun_error_api_code(err), "previous_response_not_found");
    CHECK_STR(oairun_error_api_param(err), "previous_response_id");
    oairun_error_free(err);
    oairun_response_request_free(gone);
}

static void test_sync(oairun_client *client) {
    const char *models[] = {"gpt-test", "function_call", "failed", "incomplete"};
    const char *fixtures[] = {"responses/text.json", "responses/function_call.json",
                              "responses/failed.json", "responses/incomplete.json"};
    for (int i = 0; i < 4; i++) {
        oairun_response_request *r = request_for(models[i]);
        char *json = NULL;
        CHECK_STATUS(oairun_create_response(client, r, &json, NULL), OAIRUN_OK);
        char *expected = read_fixture(fixtures[i], NULL);
        CHECK_STR(json, expected);
        free(expected);
        oairun_string_free(json);
        oairun_response_request_free(r);
    }
}

typedef struct {
    int calls;
    oairun_status status;
    char *json;
} completion;

static void on_done(oairun_status status, const char *json, const oairun_error *error,
                    void *user_data) {
    completion *c = (completion *)user_data;
    c->calls++;
    c->status = status;
    CHECK((status == OAIRUN_OK) == (json != NULL));
    CHECK((status == OAIRUN_OK) == (error == NULL));
    if (json) {
        c->json = (char *)malloc(strlen(json) + 1);
        strcpy(c->json, json);
    }
}

static void test_started(oairun_client *client) {
    oairun_response_request *r = request_for("function_call");
    completion done;
    memset(&done, 0, sizeof done);
    oairun_stream *call = NULL;
    CHECK_STATUS(oairun_create_response_start(client, r, on_done, &done, &call, NULL), OAIRUN_OK);
    CHECK_STATUS(oairun_stream_wait(call, NULL), OAIRUN_OK);
    oairun_stream_free(call);
    CHECK(done.calls == 1 && done.status == OAIRUN_OK);
    char *expected = read_fixture("responses/function_call.json", NULL);
    CHECK_STR(done.json, expected);
    free(expected);
    free(done.json);
    oairun_response_request_free(r);

    collected c;
    memset(&c, 0, sizeof c);
    r = request_for("hold_open");
    oairun_stream *stream = NULL;
    CHECK_STATUS(oairun_create_response_stream_start(client, r, collect, &c, &stream, NULL),
                 OAIRUN_OK);
    oairun_response_request_free(r); /* the request is copied: freeing it now is fine */
    CHECK_STATUS(oairun_stream_wait(stream, NULL), OAIRUN_OK);
    oairun_stream_free(stream);
    CHECK(c.count > 0 && c.kinds[c.count - 1] == OAIRUN_KIND_RESPONSE_COMPLETED);
    collected_free(&c);

    /* A started stream cancelled while the server stalls ends at once. */
    r = request_for("stall");
    CHECK_STATUS(oairun_create_response_stream_start(client, r, collect, &c, &stream, NULL),
                 OAIRUN_OK);
    oairun_stream_cancel(stream);
    oairun_error *err = NULL;
    CHECK_STATUS(oairun_stream_wait(stream, &err), OAIRUN_CANCELLED);
    oairun_error_free(err);
    oairun_stream_free(stream);
    oairun_response_request_free(r);
    collected_free(&c);
}

static void test_bad_input(oairun_client *client) {
    oairun_error *err = NULL;
    oairun_response_request *r = oairun_response_request_new();
    CHECK_STATUS(oairun_response_request_set_model(r, "gpt-test"), OAIRUN_OK);

    /* No input item. */
    char *json = NULL;
    CHECK_STATUS(oairun_create_response(client, r, &json, &err), OAIRUN_INVALID_ARGUMENT);
    CHECK(err && strstr(oairun_error_message(err), "no input item") != NULL);
    oairun_error_free(err);
    err = NULL;
    collected c;
    memset(&c, 0, sizeof c);
    CHECK_STATUS(oairun_create_response_stream(client, r, collect, &c, NULL),
                 OAIRUN_INVALID_ARGUMENT);
    oairun_stream *stream = NULL;
    CHECK_STATUS(oairun_create_response_stream_start(client, r, collect, &c, &stream, NULL),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_create_response_start(client, r, on_done, NULL, NULL, NULL),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK(stream == NULL && c.count == 0);

    /* Values that are not what the field takes, each refused with an error naming it. */
#define REFUSED(call, needle)                                                              \
    do {                                                                                   \
        oairun_error *e_ = NULL;                                                           \
        CHECK_STATUS(call, OAIRUN_INVALID_ARGUMENT);                                       \
        CHECK(e_ && strstr(oairun_error_message(e_), needle) != NULL);                     \
        CHECK(e_ && oairun_error_status(e_) == OAIRUN_INVALID_ARGUMENT);                   \
        oairun_error_free(e_);                                                             \
    } while (0)
    REFUSED(oairun_response_request_set_tools_json(r, "{\"type\":\"function\"}", &e_),
            "tools must be a JSON array");
    REFUSED(oairun_response_request_set_tools_json(r, "[", &e_), "not valid JSON");
    REFUSED(oairun_response_request_add_input_json(r, "\"text\"", &e_), "JSON object");
    REFUSED(oairun_response_request_set_field_json(r, "stream", "true", &e_), "\"stream\"");
    REFUSED(oairun_response_request_set_field_json(r, "input", "[]", &e_), "\"input\"");
    REFUSED(oairun_response_request_set_field_json(r, "temperature", "warm", &e_),
            "temperature");
    REFUSED(oairun_response_request_set_field_json(r, "model", "7", &e_), "JSON string");

    /* NULL anywhere, empty where a value is needed, invalid UTF-8. */
    CHECK_STATUS(oairun_response_request_set_model(NULL, "m"), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_response_request_set_model(r, NULL), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_response_request_set_model(r, ""), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_response_request_set_model(r, "\xff"), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_response_request_set_previous_response_id(r, ""),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_response_request_set_previous_response_id(NULL, "resp_1"),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_response_request_set_instructions(r, NULL), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_response_request_set_instructions(NULL, "x"), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_response_request_add_function_call_output(r, "", "x"),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_response_request_add_function_call_output(r, "call_1", NULL),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_response_request_add_input_json(NULL, "{}", NULL),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_response_request_set_tools_json(r, NULL, NULL), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_response_request_set_field_json(r, "", "1", NULL),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_response_request_set_field_json(r, "store", NULL, NULL),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_create_response(NULL, r, &json, NULL), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_create_response(client, NULL, &json, NULL), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_response_request_add_function_call_output(r, "call_1", "x"), OAIRUN_OK);
    CHECK_STATUS(oairun_create_response(client, r, NULL, NULL), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_create_response_stream(client, r, NULL, NULL, NULL),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_create_response_stream_start(client, r, collect, &c, NULL, NULL),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_create_response_start(client, r, NULL, NULL, NULL, NULL),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK(json == NULL);
    oairun_response_request_free(r);
    oairun_response_request_free(NULL);
}

int main(void) {
    oairun_client *client = test_client();
    test_sync(client);
    test_streams(client);
    test_stream_failures(client);
    test_started(client);
    test_bad_input(client);
    oairun_client_free(client);
    return check_report("test_responses");
}
