/* Every NULL argument of every function: a status function returns OAIRUN_INVALID_ARGUMENT
 * (and, where it takes `err`, says which argument), a getter returns its "none" value, a free
 * function does nothing. None of it may crash. */
#include "check.h"

static int never_called(const oairun_event *event, void *user_data) {
    (void)event;
    (void)user_data;
    fprintf(stderr, "callback called for an invalid submission\n");
    check_failures++;
    return 0;
}

static void never_completed(oairun_status status, const char *run_json, const oairun_error *error,
                            void *user_data) {
    (void)status;
    (void)run_json;
    (void)error;
    (void)user_data;
    fprintf(stderr, "completion called for an invalid submission\n");
    check_failures++;
}

static void check_err_names(oairun_error *err, const char *argument) {
    CHECK(err != NULL);
    if (!err) return;
    CHECK(oairun_error_status(err) == OAIRUN_INVALID_ARGUMENT);
    if (!strstr(oairun_error_message(err), argument)) {
        fprintf(stderr, "message \"%s\" does not name %s\n", oairun_error_message(err), argument);
        check_failures++;
    }
    oairun_error_free(err);
}

int main(void) {
    oairun_client *client = test_client();
    oairun_tool_outputs *outputs = test_outputs();
    oairun_client_options *options = oairun_client_options_new();
    oairun_error *err = NULL;
    char *run_json = NULL;

    /* Options setters. */
    CHECK_STATUS(oairun_client_options_set_api_key(NULL, "k"), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_set_api_key(options, NULL), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_set_base_url(NULL, "http://127.0.0.1/v1"), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_set_base_url(options, NULL), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_set_organization(NULL, "org"), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_set_organization(options, NULL), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_set_project(NULL, "proj"), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_set_project(options, NULL), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_add_header(NULL, "X-A", "b"), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_add_header(options, NULL, "b"), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_add_header(options, "X-A", NULL), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_set_timeout_ms(NULL, 1000), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_set_max_retries(NULL, 1), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_set_connect_timeout_ms(NULL, 1000), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_set_read_timeout_ms(NULL, 1000), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_allow_insecure_http(NULL, 1), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_set_max_response_bytes(NULL, 1000), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_set_max_event_bytes(NULL, 1000), OAIRUN_INVALID_ARGUMENT);
    /* Empty strings where a value is required. */
    CHECK_STATUS(oairun_client_options_set_api_key(options, ""), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_set_organization(options, ""), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_set_project(options, ""), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_add_header(options, "", "v"), OAIRUN_INVALID_ARGUMENT);

    /* Client creation: NULL options is allowed (environment), NULL out is not. */
    CHECK_STATUS(oairun_client_new(options, NULL, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "out");
    err = NULL;
    CHECK_STATUS(oairun_client_new(options, NULL, NULL), OAIRUN_INVALID_ARGUMENT);

    /* Tool outputs. */
    CHECK_STATUS(oairun_tool_outputs_add(NULL, "call_1", "x"), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_tool_outputs_add(outputs, NULL, "x"), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_tool_outputs_add(outputs, "call_1", NULL), OAIRUN_INVALID_ARGUMENT);
    oairun_tool_outputs *parsed = NULL;
    CHECK_STATUS(oairun_tool_outputs_from_json(NULL, &parsed, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "json_array");
    err = NULL;
    CHECK_STATUS(oairun_tool_outputs_from_json("[]", NULL, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "out");
    err = NULL;
    CHECK(parsed == NULL);

    /* The synchronous submission: each pointer in turn. */
    CHECK_STATUS(oairun_submit_tool_outputs(NULL, "t", "r", outputs, &run_json, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "client");
    err = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs(client, NULL, "r", outputs, &run_json, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "thread_id");
    err = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs(client, "t", NULL, outputs, &run_json, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "run_id");
    err = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs(client, "t", "r", NULL, &run_json, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "outputs");
    err = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs(client, "t", "r", outputs, NULL, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "run_json");
    err = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs(NULL, NULL, NULL, NULL, NULL, NULL), OAIRUN_INVALID_ARGUMENT);
    CHECK(run_json == NULL);

    /* The streamed submission: each pointer in turn, the callback included. */
    CHECK_STATUS(oairun_submit_tool_outputs_stream(NULL, "t", "r", outputs, never_called, NULL, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "client");
    err = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs_stream(client, NULL, "r", outputs, never_called, NULL, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "thread_id");
    err = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs_stream(client, "t", NULL, outputs, never_called, NULL, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "run_id");
    err = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs_stream(client, "t", "r", NULL, never_called, NULL, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "outputs");
    err = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs_stream(client, "t", "r", outputs, NULL, NULL, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "cb");
    err = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs_stream(NULL, NULL, NULL, NULL, NULL, NULL, NULL), OAIRUN_INVALID_ARGUMENT);

    /* The non-blocking submissions: each pointer in turn; `out` may be NULL only for the
     * synchronous one. */
    oairun_stream *stream = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs_stream_start(NULL, "t", "r", outputs, never_called, NULL, &stream, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "client");
    err = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs_stream_start(client, NULL, "r", outputs, never_called, NULL, &stream, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "thread_id");
    err = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs_stream_start(client, "t", NULL, outputs, never_called, NULL, &stream, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "run_id");
    err = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs_stream_start(client, "t", "r", NULL, never_called, NULL, &stream, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "outputs");
    err = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs_stream_start(client, "t", "r", outputs, NULL, NULL, &stream, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "cb");
    err = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs_stream_start(client, "t", "r", outputs, never_called, NULL, NULL, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "out");
    err = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs_stream_start(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_submit_tool_outputs_start(NULL, "t", "r", outputs, never_completed, NULL, &stream, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "client");
    err = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs_start(client, NULL, "r", outputs, never_completed, NULL, &stream, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "thread_id");
    err = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs_start(client, "t", NULL, outputs, never_completed, NULL, &stream, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "run_id");
    err = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs_start(client, "t", "r", NULL, never_completed, NULL, &stream, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "outputs");
    err = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs_start(client, "t", "r", outputs, NULL, NULL, &stream, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "cb");
    err = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs_start(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), OAIRUN_INVALID_ARGUMENT);
    CHECK(stream == NULL);
    CHECK_STATUS(oairun_stream_wait(NULL, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "stream");
    err = NULL;
    CHECK_STATUS(oairun_stream_wait(NULL, NULL), OAIRUN_INVALID_ARGUMENT);
    oairun_stream_cancel(NULL);

    /* The readers (the pull API): opening, each pointer in turn, in both modes; `out` is
     * never written. */
    oairun_response_request *request = oairun_response_request_new();
    CHECK_STATUS(oairun_response_request_set_model(request, "gpt-test"), OAIRUN_OK);
    CHECK_STATUS(oairun_response_request_add_function_call_output(request, "call_1", "x"), OAIRUN_OK);
    oairun_reader *reader = NULL;
    for (uint32_t flags = 0; flags <= OAIRUN_READER_BACKGROUND; flags++) {
        CHECK_STATUS(oairun_create_response_stream_open(NULL, request, flags, &reader, &err), OAIRUN_INVALID_ARGUMENT);
        check_err_names(err, "client");
        err = NULL;
        CHECK_STATUS(oairun_create_response_stream_open(client, NULL, flags, &reader, &err), OAIRUN_INVALID_ARGUMENT);
        check_err_names(err, "request");
        err = NULL;
        CHECK_STATUS(oairun_create_response_stream_open(client, request, flags, NULL, &err), OAIRUN_INVALID_ARGUMENT);
        check_err_names(err, "out");
        err = NULL;
        CHECK_STATUS(oairun_create_response_stream_open(NULL, NULL, flags, NULL, NULL), OAIRUN_INVALID_ARGUMENT);
        CHECK_STATUS(oairun_submit_tool_outputs_stream_open(NULL, "t", "r", outputs, flags, &reader, &err), OAIRUN_INVALID_ARGUMENT);
        check_err_names(err, "client");
        err = NULL;
        CHECK_STATUS(oairun_submit_tool_outputs_stream_open(client, NULL, "r", outputs, flags, &reader, &err), OAIRUN_INVALID_ARGUMENT);
        check_err_names(err, "thread_id");
        err = NULL;
        CHECK_STATUS(oairun_submit_tool_outputs_stream_open(client, "t", NULL, outputs, flags, &reader, &err), OAIRUN_INVALID_ARGUMENT);
        check_err_names(err, "run_id");
        err = NULL;
        CHECK_STATUS(oairun_submit_tool_outputs_stream_open(client, "t", "r", NULL, flags, &reader, &err), OAIRUN_INVALID_ARGUMENT);
        check_err_names(err, "outputs");
        err = NULL;
        CHECK_STATUS(oairun_submit_tool_outputs_stream_open(client, "t", "r", outputs, flags, NULL, &err), OAIRUN_INVALID_ARGUMENT);
        check_err_names(err, "out");
        err = NULL;
        CHECK_STATUS(oairun_submit_tool_outputs_stream_open(NULL, NULL, NULL, NULL, flags, NULL, NULL), OAIRUN_INVALID_ARGUMENT);
    }
    CHECK(reader == NULL);

    /* Taking from a NULL reader, and into NULL. A reader opened without
     * OAIRUN_READER_BACKGROUND sends nothing before its first call. */
    CHECK_STATUS(oairun_create_response_stream_open(client, request, 0, &reader, NULL), OAIRUN_OK);
    const oairun_event *event = NULL;
    const oairun_event *batch[1] = {NULL};
    size_t count = 5;
    int fd = -7;
    CHECK_STATUS(oairun_reader_next(NULL, 0, &event, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "reader");
    err = NULL;
    CHECK_STATUS(oairun_reader_next(reader, 0, NULL, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "event");
    err = NULL;
    CHECK_STATUS(oairun_reader_next(NULL, 0, NULL, NULL), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_reader_next_batch(NULL, 0, batch, 1, &count, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "reader");
    err = NULL;
    CHECK(count == 0);
    CHECK_STATUS(oairun_reader_next_batch(reader, 0, NULL, 1, &count, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "events");
    err = NULL;
    CHECK_STATUS(oairun_reader_next_batch(reader, 0, batch, 1, NULL, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "count");
    err = NULL;
    CHECK_STATUS(oairun_reader_next_batch(NULL, 0, NULL, 0, NULL, NULL), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_reader_fd(NULL, &fd, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "reader");
    err = NULL;
    CHECK_STATUS(oairun_reader_fd(reader, NULL, &err), OAIRUN_INVALID_ARGUMENT);
    check_err_names(err, "fd");
    err = NULL;
    CHECK_STATUS(oairun_reader_fd(NULL, NULL, NULL), OAIRUN_INVALID_ARGUMENT);
    CHECK(event == NULL && batch[0] == NULL && fd == -7);
    oairun_reader_cancel(NULL);
    oairun_reader_free(reader);
    oairun_response_request_free(request);

    /* Getters on NULL. */
    size_t len = 99;
    CHECK(oairun_event_name(NULL) == NULL);
    CHECK(oairun_event_data(NULL, &len) == NULL && len == 0);
    CHECK(oairun_event_data(NULL, NULL) == NULL);
    CHECK(oairun_event_id(NULL) == NULL);
    CHECK(oairun_event_kind(NULL) == OAIRUN_KIND_UNKNOWN);
    CHECK(oairun_error_status(NULL) == OAIRUN_INVALID_ARGUMENT);
    CHECK(oairun_error_message(NULL) != NULL);
    CHECK(oairun_error_http_status(NULL) == 0);
    CHECK(oairun_error_request_id(NULL) == NULL);
    CHECK(oairun_error_api_type(NULL) == NULL);
    CHECK(oairun_error_api_code(NULL) == NULL);
    CHECK(oairun_error_api_param(NULL) == NULL);

    /* oairun_events_copy: every NULL it refuses, each named; a NULL events[i] too. Nothing
     * else is written, *needed is set to 0. */
    {
        const oairun_event *none[1] = {NULL};
        oairun_kind kinds[1];
        memset(kinds, 0x5A, sizeof kinds); /* (no valid kind: compared as bytes) */
        const unsigned char *kind_bytes = (const unsigned char *)kinds;
        oairun_event_span spans[1];
        char buffer[8] = "untouch";
        size_t needed = 99;
        CHECK_STATUS(oairun_events_copy(NULL, 1, kinds, spans, buffer, sizeof buffer, &needed, &err),
                     OAIRUN_INVALID_ARGUMENT);
        check_err_names(err, "events");
        err = NULL;
        CHECK(needed == 0);
        needed = 99;
        CHECK_STATUS(oairun_events_copy(none, 1, kinds, spans, buffer, sizeof buffer, &needed, &err),
                     OAIRUN_INVALID_ARGUMENT);
        check_err_names(err, "events[0]");
        err = NULL;
        CHECK(needed == 0);
        CHECK_STATUS(oairun_events_copy(none, 0, NULL, spans, buffer, sizeof buffer, NULL, &err),
                     OAIRUN_INVALID_ARGUMENT);
        check_err_names(err, "needed");
        err = NULL;
        CHECK_STATUS(oairun_events_copy(none, 1, NULL, spans, buffer, sizeof buffer, &needed, &err),
                     OAIRUN_INVALID_ARGUMENT);
        CHECK(err != NULL);
        oairun_error_free(err); /* (events[0] or kinds: either is named first) */
        err = NULL;
        CHECK_STATUS(oairun_events_copy(NULL, 0, NULL, NULL, NULL, 8, &needed, &err),
                     OAIRUN_INVALID_ARGUMENT);
        check_err_names(err, "buffer");
        err = NULL;
        CHECK_STATUS(oairun_events_copy(NULL, 1, NULL, NULL, NULL, 1, NULL, NULL),
                     OAIRUN_INVALID_ARGUMENT);
        CHECK(kind_bytes[0] == 0x5A && kind_bytes[sizeof kinds - 1] == 0x5A);
        CHECK(strcmp(buffer, "untouch") == 0);
        needed = 99;
        CHECK_STATUS(oairun_events_copy(NULL, 0, NULL, NULL, NULL, 0, &needed, NULL), OAIRUN_OK);
        CHECK(needed == 0);
    }

    /* The Python binding's parser: no table, a table of another size, or one lacking its
     * functions is refused with NULL (nothing of CPython is called); with no table ever
     * accepted, the parse, event and data functions give NULL, whatever their arguments. */
    {
        CHECK(oairun_py_parser(NULL) == NULL);
        oairun_py_api api;
        memset(&api, 0, sizeof api);
        CHECK(oairun_py_parser(&api) == NULL);
        api.size = sizeof api;
        CHECK(oairun_py_parser(&api) == NULL);
        int not_an_object = 0;
        CHECK(oairun_py_parse(NULL, NULL) == NULL);
        CHECK(oairun_py_parse(NULL, &not_an_object) == NULL);
        /* Its event maker likewise: no parser, so no events, however many are said. */
        CHECK(oairun_py_events(NULL, NULL, 0) == NULL);
        CHECK(oairun_py_events(NULL, NULL, 3) == NULL);
        CHECK(oairun_py_events(&not_an_object, NULL, 0) == NULL);
        /* And the getter of an event's data. */
        CHECK(oairun_py_data(NULL) == NULL);
        CHECK(oairun_py_data(&not_an_object) == NULL);
        CHECK(oairun_py_data_get(NULL, NULL) == NULL);
        CHECK(oairun_py_data_get(NULL, &not_an_object) == NULL);
        CHECK(oairun_py_data_get(&not_an_object, &not_an_object) == NULL);
    }

    /* Free functions on NULL. */
    oairun_client_options_free(NULL);
    oairun_client_free(NULL);
    oairun_tool_outputs_free(NULL);
    oairun_string_free(NULL);
    oairun_error_free(NULL);
    oairun_stream_free(NULL);
    oairun_reader_free(NULL);

    /* Nothing above reached the server. */
    oairun_client_options_free(options);
    oairun_tool_outputs_free(outputs);
    oairun_client_free(client);
    return check_report("test_null_args");
}
