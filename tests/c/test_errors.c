/* Every way a submission can fail, as a C program sees it: the status, and what the error
 * object says. The network's faults, retries and timeouts are in test_faults.c. */
#include "check.h"

static int count_events(const oairun_event *event, void *user_data) {
    int *n = (int *)user_data;
    (*n)++;
    if (oairun_event_kind(event) == OAIRUN_KIND_ERROR) (*n) += 1000;
    return 0;
}

/* Runs one submission (streamed or not) and returns its error; the caller frees it. */
static oairun_error *submit(oairun_client *client, const char *thread, int streamed,
                            oairun_status expected, int *events) {
    oairun_tool_outputs *outputs = test_outputs();
    oairun_error *err = NULL;
    oairun_status status;
    if (streamed) {
        status = oairun_submit_tool_outputs_stream(client, thread, "run_123", outputs,
                                                   count_events, events, &err);
    } else {
        char *run_json = NULL;
        status = oairun_submit_tool_outputs(client, thread, "run_123", outputs, &run_json, &err);
        CHECK(run_json == NULL);
        oairun_string_free(run_json); /* in case it was wrongly a success */
    }
    if (status != expected) {
        fprintf(stderr, "%s (%s): status %s, expected %s: %s\n", thread,
                streamed ? "stream" : "sync", oairun_status_str(status),
                oairun_status_str(expected), err ? oairun_error_message(err) : "");
        check_failures++;
    }
    CHECK(err != NULL);
    if (err) CHECK(oairun_error_status(err) == expected);
    oairun_tool_outputs_free(outputs);
    return err;
}

static void http_errors(oairun_client *client) {
    for (int streamed = 0; streamed < 2; streamed++) {
        int events = 0;
        oairun_error *err = submit(client, "status_404", streamed, OAIRUN_HTTP_STATUS, &events);
        CHECK(events == 0);
        CHECK(oairun_error_http_status(err) == 404);
        CHECK_STR(oairun_error_api_type(err), "invalid_request_error");
        CHECK(oairun_error_api_param(err) == NULL);
        CHECK(strstr(oairun_error_message(err), "test error 404") != NULL);
        CHECK(oairun_error_request_id(err) && strncmp(oairun_error_request_id(err), "req_", 4) == 0);
        CHECK(strstr(oairun_error_message(err), "sk-test-c") == NULL);
        oairun_error_free(err);

        err = submit(client, "status_429", streamed, OAIRUN_HTTP_STATUS, &events);
        CHECK(oairun_error_http_status(err) == 429);
        CHECK_STR(oairun_error_api_code(err), "rate_limit_exceeded");
        oairun_error_free(err);

        err = submit(client, "status_400", streamed, OAIRUN_HTTP_STATUS, &events);
        CHECK_STR(oairun_error_api_param(err), "tool_outputs");
        oairun_error_free(err);

        err = submit(client, "status_502_plain", streamed, OAIRUN_HTTP_STATUS, &events);
        CHECK(oairun_error_http_status(err) == 502);
        CHECK(oairun_error_api_type(err) == NULL && oairun_error_api_code(err) == NULL);
        CHECK(strstr(oairun_error_message(err), "upstream exploded") != NULL);
        oairun_error_free(err);
    }
}

static void stream_errors(oairun_client *client) {
    int events = 0;
    oairun_error *err = submit(client, "error_event", 1, OAIRUN_STREAM_ERROR, &events);
    CHECK(events == 4 + 1000); /* four events delivered, the last the error event */
    CHECK(strstr(oairun_error_message(err), "test stream error") != NULL);
    CHECK_STR(oairun_error_api_code(err), "server_error");
    CHECK(oairun_error_http_status(err) == 200);
    oairun_error_free(err);

    /* A reset mid-stream is in test_faults.c. */
    const char *truncations[] = {"truncated", "partial_event"};
    const int delivered[] = {5, 3};
    for (int i = 0; i < 2; i++) {
        events = 0;
        err = submit(client, truncations[i], 1, OAIRUN_PROTOCOL, &events);
        CHECK(events == delivered[i]);
        CHECK(strstr(oairun_error_message(err), "without `done`") != NULL);
        oairun_error_free(err);
    }
}

static void bad_arguments(oairun_client *client) {
    oairun_error *err = NULL;
    oairun_client *c = NULL;

    /* No key anywhere. */
    unsetenv("OPENAI_API_KEY");
    oairun_client_options *options = oairun_client_options_new();
    CHECK_STATUS(oairun_client_options_set_base_url(options, test_base_url()), OAIRUN_OK);
    CHECK_STATUS(oairun_client_new(options, &c, &err), OAIRUN_INVALID_ARGUMENT);
    CHECK(c == NULL);
    CHECK(strstr(oairun_error_message(err), "OPENAI_API_KEY") != NULL);
    oairun_error_free(err);
    err = NULL;

    /* Key from the environment instead. */
    setenv("OPENAI_API_KEY", "sk-from-env", 1);
    CHECK_STATUS(oairun_client_new(options, &c, &err), OAIRUN_OK);
    oairun_client_free(c);
    c = NULL;
    unsetenv("OPENAI_API_KEY");

    /* A key HTTP cannot carry, and never echoed back. */
    CHECK_STATUS(oairun_client_options_set_api_key(options, "sk-secret\r\nX: y"), OAIRUN_OK);
    CHECK_STATUS(oairun_client_new(options, &c, &err), OAIRUN_INVALID_ARGUMENT);
    CHECK(strstr(oairun_error_message(err), "sk-secret") == NULL);
    oairun_error_free(err);
    err = NULL;

    CHECK_STATUS(oairun_client_options_set_base_url(options, "ftp://example.test/v1"),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_set_base_url(options, "not a url"), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_set_base_url(options, ""), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_add_header(options, "X-Evil", "a\r\nInjected: 1"),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_add_header(options, "Bad Name", "v"), OAIRUN_INVALID_ARGUMENT);
    /* The body's framing is oairun's: a second one would cut the body short. */
    CHECK_STATUS(oairun_client_options_add_header(options, "Content-Length", "3"),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_add_header(options, "transfer-encoding", "chunked"),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_add_header(options, "X-Empty", ""), OAIRUN_OK);
    CHECK_STATUS(oairun_client_options_set_organization(options, "org\n"), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_set_timeout_ms(options, 0), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_set_connect_timeout_ms(options, 0), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_set_read_timeout_ms(options, 0), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_set_max_response_bytes(options, 0), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_set_max_event_bytes(options, 0), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_set_max_retries(options, 0), OAIRUN_OK);
    oairun_client_options_free(options);

    /* Invalid UTF-8 anywhere a string goes in. */
    oairun_tool_outputs *outputs = oairun_tool_outputs_new();
    CHECK_STATUS(oairun_tool_outputs_add(outputs, "call_1", "bad \xff byte"), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_tool_outputs_add(outputs, "", "x"), OAIRUN_INVALID_ARGUMENT);
    char *run_json = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs(client, "thread_123", "run_123", outputs, &run_json, &err),
                 OAIRUN_INVALID_ARGUMENT); /* empty list */
    CHECK(strstr(oairun_error_message(err), "at least one") != NULL);
    oairun_error_free(err);
    err = NULL;
    CHECK_STATUS(oairun_tool_outputs_add(outputs, "call_1", "fine"), OAIRUN_OK);
    CHECK_STATUS(oairun_submit_tool_outputs(client, "thread_\xc3", "run_123", outputs, &run_json, NULL),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_submit_tool_outputs(client, "thread_123", "", outputs, &run_json, NULL),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_submit_tool_outputs(client, "..", "run_123", outputs, &run_json, NULL),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK(run_json == NULL);
    oairun_tool_outputs_free(outputs);

    const char *bad_json[] = {"{}", "[1]", "[{\"tool_call_id\":\"a\"}]", "[", "[{\"tool_call_id\":\"a\",\"output\":\"b\",\"x\":1}]"};
    for (size_t i = 0; i < sizeof bad_json / sizeof *bad_json; i++) {
        oairun_tool_outputs *parsed = NULL;
        CHECK_STATUS(oairun_tool_outputs_from_json(bad_json[i], &parsed, &err), OAIRUN_INVALID_ARGUMENT);
        CHECK(parsed == NULL);
        CHECK(err != NULL && strlen(oairun_error_message(err)) > 0);
        oairun_error_free(err);
        err = NULL;
    }
}

static void insecure_http_and_caps(oairun_client *client) {
    (void)client;
    oairun_client_options *options = oairun_client_options_new();
    CHECK_STATUS(oairun_client_options_set_api_key(options, "sk-test-c"), OAIRUN_OK);
    /* Not loopback, plain http: refused unless allowed (no request is made either way). */
    CHECK_STATUS(oairun_client_options_set_base_url(options, "http://192.0.2.1/v1"), OAIRUN_OK);
    oairun_client *c = NULL;
    oairun_error *err = NULL;
    CHECK_STATUS(oairun_client_new(options, &c, &err), OAIRUN_INVALID_ARGUMENT);
    CHECK(err && strstr(oairun_error_message(err), "clear text") != NULL);
    oairun_error_free(err);
    CHECK_STATUS(oairun_client_options_allow_insecure_http(options, 1), OAIRUN_OK);
    CHECK_STATUS(oairun_client_new(options, &c, NULL), OAIRUN_OK);
    oairun_client_free(c);
    c = NULL;

    /* A 500-byte answer cap against the reference Run (974 bytes). */
    CHECK_STATUS(oairun_client_options_set_base_url(options, test_base_url()), OAIRUN_OK);
    CHECK_STATUS(oairun_client_options_set_max_response_bytes(options, 500), OAIRUN_OK);
    CHECK_STATUS(oairun_client_options_set_max_event_bytes(options, 700), OAIRUN_OK);
    CHECK_STATUS(oairun_client_new(options, &c, NULL), OAIRUN_OK);
    int events = 0;
    err = submit(c, "thread_123", 0, OAIRUN_PROTOCOL, &events);
    CHECK(err && strstr(oairun_error_message(err), "cap of 500 bytes") != NULL);
    oairun_error_free(err);
    err = submit(c, "thread_123", 1, OAIRUN_PROTOCOL, &events);
    CHECK(events == 1);
    CHECK(err && strstr(oairun_error_message(err), "cap of 700 bytes") != NULL);
    oairun_error_free(err);
    oairun_client_free(c);
    oairun_client_options_free(options);
}

int main(void) {
    oairun_client *client = test_client();
    http_errors(client);
    stream_errors(client);
    bad_arguments(client);
    insecure_http_and_caps(client);
    oairun_client_free(client);
    return check_report("test_errors");
}
