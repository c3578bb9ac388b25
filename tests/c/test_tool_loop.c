/* The tool-call loops from C, against the test server's scripted models (`tool_loop`,
 * `tool_loop_forever`, `tool_loop_failed`, `tool_loop_error`) for both APIs: the calls the
 * handler sees, what each request carries, the text the model builds from the outputs it
 * received, and every way a loop ends. */
#include "check.h"
#include "server.h"

#define MAX_CALLS 16

static const char *TOOLS =
    "[{\"type\":\"function\",\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\","
    "\"properties\":{\"city\":{\"type\":\"string\"}}}},{\"type\":\"function\",\"name\":"
    "\"get_time\",\"parameters\":{\"type\":\"object\",\"properties\":{\"timezone\":"
    "{\"type\":\"string\"}}}}]";
static const char *USER = "{\"role\":\"user\",\"content\":\"Weather and time in Paris, then Tokyo?\"}";
/* The output of the Assistants run's first pending call, call_001. */
static const char *FIRST_OUTPUT = "Berlin: 9\xC2\xB0" "C, \"rain\"\nlater";

/* What a loop did, shared by its handler and its event callback through user_data. */
struct loop {
    int calls;
    char ids[MAX_CALLS][64];
    char names[MAX_CALLS][32];
    char args[MAX_CALLS][128];
    char outputs[MAX_CALLS][256];
    int events;
    int completed; /* response.completed and done events seen */
    char text[8192];
    size_t text_len;
    /* Behaviours under test: -1 for none. */
    int stop_at_call;      /* the handler returns 1 at this call */
    int no_output_at_call; /* the handler returns 0 without an output at this call */
    int stop_in_turn;      /* on_event returns 1 at the 2nd event after `completed` reaches it */
    int after_stop_turn;
};

static void loop_init(struct loop *l) {
    memset(l, 0, sizeof *l);
    l->stop_at_call = -1;
    l->no_output_at_call = -1;
    l->stop_in_turn = -1;
}

static int handler(const oairun_tool_call *call, oairun_tool_result *result, void *user_data) {
    struct loop *l = (struct loop *)user_data;
    int i = l->calls++;
    if (i >= MAX_CALLS) return 1;
    snprintf(l->ids[i], sizeof l->ids[i], "%s", oairun_tool_call_id(call));
    snprintf(l->names[i], sizeof l->names[i], "%s", oairun_tool_call_name(call));
    snprintf(l->args[i], sizeof l->args[i], "%s", oairun_tool_call_arguments(call));
    if (i == l->stop_at_call) return 1;
    if (i == l->no_output_at_call) return 0;
    /* Quotes, a backslash, a newline, a tab and non-ASCII (→ ° ☀ 😀), different per call. */
    char output[256];
    snprintf(output, sizeof output,
             "%s \"%s\"\n\t\xE2\x86\x92 15\xC2\xB0" "C \xE2\x98\x80 \\ \xF0\x9F\x98\x80 #%d",
             oairun_tool_call_name(call), oairun_tool_call_arguments(call), i);
    memcpy(l->outputs[i], output, sizeof output);
    CHECK_STATUS(oairun_tool_result_set_output(result, NULL), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_tool_result_set_output(result, "replaced below"), OAIRUN_OK);
    CHECK_STATUS(oairun_tool_result_set_output(result, l->outputs[i]), OAIRUN_OK);
    return 0;
}

static int on_event(const oairun_event *event, void *user_data) {
    struct loop *l = (struct loop *)user_data;
    l->events++;
    if (l->stop_in_turn >= 0 && l->completed == l->stop_in_turn && ++l->after_stop_turn == 2)
        return 1;
    size_t len = 99;
    const char *text = oairun_event_text_delta(event, &len);
    if (text) {
        CHECK(oairun_event_text_delta(event, NULL) == text); /* kept, not recomputed */
        CHECK(strlen(text) == len);
        if (l->text_len + len < sizeof l->text) {
            memcpy(l->text + l->text_len, text, len);
            l->text_len += len;
            l->text[l->text_len] = '\0';
        }
    } else {
        CHECK(len == 0);
    }
    oairun_kind kind = oairun_event_kind(event);
    if (kind == OAIRUN_KIND_RESPONSE_COMPLETED || kind == OAIRUN_KIND_DONE) l->completed++;
    return 0;
}

/* `Outputs: <id>=<output>; ….` over the outputs from `from` on, after `prefix` ones. */
static void expected_text(char *out, size_t size, const char *first_id, const char *first_output,
                          const struct loop *l) {
    size_t n = (size_t)snprintf(out, size, "Outputs: ");
    if (first_id) n += (size_t)snprintf(out + n, size - n, "%s=%s; ", first_id, first_output);
    for (int i = 0; i < l->calls; i++)
        n += (size_t)snprintf(out + n, size - n, "%s=%s%s", l->ids[i], l->outputs[i],
                              i + 1 < l->calls ? "; " : ".");
}

/* `text` as a JSON string's contents, escaped as serde_json escapes. */
static void json_escape(char *out, size_t size, const char *text) {
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p && n + 8 < size; p++) {
        switch (*p) {
            case '"': n += (size_t)snprintf(out + n, size - n, "\\\""); break;
            case '\\': n += (size_t)snprintf(out + n, size - n, "\\\\"); break;
            case '\n': n += (size_t)snprintf(out + n, size - n, "\\n"); break;
            case '\t': n += (size_t)snprintf(out + n, size - n, "\\t"); break;
            case '\r': n += (size_t)snprintf(out + n, size - n, "\\r"); break;
            default:
                if (*p < 0x20) n += (size_t)snprintf(out + n, size - n, "\\u%04x", *p);
                else out[n++] = (char)*p;
        }
    }
    out[n] = '\0';
}

/* The function_call_output items answering calls [from, to), as the loop writes them. */
static void outputs_json(char *out, size_t size, const struct loop *l, int from, int to) {
    size_t n = 0;
    for (int i = from; i < to; i++) {
        char escaped[1024];
        json_escape(escaped, sizeof escaped, l->outputs[i]);
        n += (size_t)snprintf(out + n, size - n,
                              "%s{\"type\":\"function_call_output\",\"call_id\":\"%s\","
                              "\"output\":\"%s\"}",
                              i > from ? "," : "", l->ids[i], escaped);
    }
}

/* A Responses request for a scripted model, marked so that its requests can be found. */
static oairun_response_request *request_for(const char *model, const char *marker) {
    oairun_response_request *r = oairun_response_request_new();
    CHECK_STATUS(oairun_response_request_set_model(r, model), OAIRUN_OK);
    CHECK_STATUS(oairun_response_request_set_instructions(r, "Use the tools."), OAIRUN_OK);
    CHECK_STATUS(oairun_response_request_set_tools_json(r, TOOLS, NULL), OAIRUN_OK);
    CHECK_STATUS(oairun_response_request_add_input_json(r, USER, NULL), OAIRUN_OK);
    char metadata[256];
    snprintf(metadata, sizeof metadata, "{\"test\":\"%s\"}", marker);
    CHECK_STATUS(oairun_response_request_set_field_json(r, "metadata", metadata, NULL), OAIRUN_OK);
    return r;
}

static void check_calls_are_the_script(const struct loop *l) {
    CHECK(l->calls == 3);
    CHECK_STR(l->names[0], "get_weather");
    CHECK_STR(l->args[0], "{\"city\":\"Paris\"}");
    CHECK_STR(l->names[1], "get_time");
    CHECK_STR(l->args[1], "{\"timezone\":\"Europe/Paris\"}");
    CHECK_STR(l->names[2], "get_weather");
    CHECK_STR(l->args[2], "{\"city\":\"Tokyo\"}");
    for (int i = 0; i < l->calls; i++) {
        CHECK(strncmp(l->ids[i], "call_", 5) == 0);
        for (int j = 0; j < i; j++) CHECK(strcmp(l->ids[i], l->ids[j]) != 0);
    }
}

static void responses_loop_over_three_turns(oairun_client *client) {
    const char *marker = unique_name("responses");
    oairun_response_request *first = request_for("tool_loop", marker);
    struct loop l;
    loop_init(&l);
    char *final_json = NULL;
    oairun_error *err = NULL;
    CHECK_STATUS(oairun_response_tool_loop(client, first, handler, on_event, &l, 0, &final_json, &err),
                 OAIRUN_OK);
    CHECK(err == NULL);
    check_calls_are_the_script(&l);
    CHECK(l.completed == 3);
    static char expected[8192];
    expected_text(expected, sizeof expected, NULL, NULL, &l);
    CHECK_STR(l.text, expected);
    CHECK(final_json != NULL);
    if (final_json) {
        CHECK(strncmp(final_json, "{\"id\":\"resp_", 12) == 0);
        CHECK(strstr(final_json, "\"status\":\"completed\"") != NULL);
        static char escaped[8192];
        json_escape(escaped, sizeof escaped, expected);
        CHECK(strstr(final_json, escaped) != NULL);
        oairun_tool_calls *calls = NULL;
        CHECK_STATUS(oairun_tool_calls_from_json(final_json, &calls, NULL), OAIRUN_OK);
        CHECK(oairun_tool_calls_count(calls) == 0);
        oairun_tool_calls_free(calls);
    }

    /* Three requests: the first as given, then the outputs of each turn in one request. */
    char *bodies[4] = {NULL, NULL, NULL, NULL};
    CHECK(recorded_bodies(marker, bodies, 4) == 3);
    if (bodies[2]) {
        char want[8192];
        CHECK(strstr(bodies[0], "previous_response_id") == NULL);
        snprintf(want, sizeof want, "\"input\":[%s],", USER);
        CHECK(strstr(bodies[0], want) != NULL);
        for (int turn = 1; turn <= 2; turn++) {
            const char *b = bodies[turn];
            const char *head = "{\"model\":\"tool_loop\",\"previous_response_id\":\"resp_";
            CHECK(strncmp(b, head, strlen(head)) == 0);
            CHECK(strstr(b, "\"instructions\":\"Use the tools.\"") != NULL);
            CHECK(strstr(b, TOOLS) != NULL);
            CHECK(strstr(b, "\"stream\":true}") != NULL);
            char items[4096];
            if (turn == 1) outputs_json(items, sizeof items, &l, 0, 2);
            else outputs_json(items, sizeof items, &l, 2, 3);
            snprintf(want, sizeof want, "\"input\":[%s],", items);
            CHECK(strstr(b, want) != NULL);
            if (!strstr(b, want)) fprintf(stderr, "body %d: %s\nwanted: %s\n", turn, b, want);
        }
        /* Each names the response before it. */
        CHECK(strstr(final_json ? final_json : "", "\"previous_response_id\":\"resp_") != NULL);
    }
    for (int i = 0; i < 4; i++) free(bodies[i]);
    oairun_string_free(final_json);
    oairun_response_request_free(first);
}

/* The text of the `output` array of the `response` in a response.completed event's data. */
struct replay {
    struct loop l;
    char items[4][4096];
    int turns;
};

static int replay_on_event(const oairun_event *event, void *user_data) {
    struct replay *r = (struct replay *)user_data;
    if (oairun_event_kind(event) == OAIRUN_KIND_RESPONSE_COMPLETED && r->turns < 4) {
        const char *data = oairun_event_data(event, NULL);
        const char *start = strstr(data, "\"output\":[");
        CHECK(start != NULL);
        if (start) {
            start += 10;
            int depth = 1, in_string = 0;
            const char *p = start;
            for (; *p && depth > 0; p++) {
                if (in_string) {
                    if (*p == '\\' && p[1]) p++;
                    else if (*p == '"') in_string = 0;
                } else if (*p == '"') in_string = 1;
                else if (*p == '[' || *p == '{') depth++;
                else if (*p == ']' || *p == '}') depth--;
            }
            size_t len = (size_t)(p - 1 - start); /* without the closing bracket */
            if (len < sizeof r->items[0]) {
                memcpy(r->items[r->turns], start, len);
                r->items[r->turns][len] = '\0';
            }
        }
        r->turns++;
    }
    return on_event(event, &r->l);
}

static int replay_handler(const oairun_tool_call *call, oairun_tool_result *result, void *user_data) {
    return handler(call, result, &((struct replay *)user_data)->l);
}

static void responses_loop_with_store_false_replays(oairun_client *client) {
    const char *marker = unique_name("replay");
    oairun_response_request *first = request_for("tool_loop", marker);
    CHECK_STATUS(oairun_response_request_set_field_json(first, "store", "false", NULL), OAIRUN_OK);
    static struct replay r;
    memset(&r, 0, sizeof r);
    loop_init(&r.l);
    char *final_json = NULL;
    CHECK_STATUS(oairun_response_tool_loop(client, first, replay_handler, replay_on_event, &r, 0,
                                           &final_json, NULL),
                 OAIRUN_OK);
    check_calls_are_the_script(&r.l);
    static char expected[8192];
    expected_text(expected, sizeof expected, NULL, NULL, &r.l);
    CHECK_STR(r.l.text, expected);
    CHECK(r.turns == 3);
    CHECK(final_json && strstr(final_json, "\"store\":false") != NULL);

    /* Each request: the first input, then every output item so far (verbatim) and every
     * output so far, in order; no previous_response_id. */
    char *bodies[4] = {NULL, NULL, NULL, NULL};
    CHECK(recorded_bodies(marker, bodies, 4) == 3);
    if (bodies[2]) {
        static char want[32768];
        char out1[4096], out2[4096];
        outputs_json(out1, sizeof out1, &r.l, 0, 2);
        outputs_json(out2, sizeof out2, &r.l, 2, 3);
        snprintf(want, sizeof want, "\"input\":[%s,%s,%s],", USER, r.items[0], out1);
        CHECK(strstr(bodies[1], want) != NULL);
        snprintf(want, sizeof want, "\"input\":[%s,%s,%s,%s,%s],", USER, r.items[0], out1,
                 r.items[1], out2);
        CHECK(strstr(bodies[2], want) != NULL);
        for (int i = 0; i < 3; i++) {
            CHECK(strstr(bodies[i], "previous_response_id") == NULL);
            CHECK(strstr(bodies[i], "\"store\":false") != NULL);
        }
        CHECK(strstr(r.items[0], "\"call_id\":\"") != NULL);
    }
    for (int i = 0; i < 4; i++) free(bodies[i]);
    oairun_string_free(final_json);
    oairun_response_request_free(first);
}

static oairun_tool_outputs *first_outputs(void) {
    oairun_tool_outputs *outputs = oairun_tool_outputs_new();
    CHECK_STATUS(oairun_tool_outputs_add(outputs, "call_001", FIRST_OUTPUT), OAIRUN_OK);
    return outputs;
}

static void assistants_loop_over_three_turns(oairun_client *client) {
    const char *run = unique_name("run");
    oairun_tool_outputs *first = first_outputs();
    struct loop l;
    loop_init(&l);
    char *final_json = NULL;
    oairun_error *err = NULL;
    CHECK_STATUS(oairun_run_tool_loop(client, "tool_loop", run, first, handler, on_event, &l, 0,
                                      &final_json, &err),
                 OAIRUN_OK);
    check_calls_are_the_script(&l);
    CHECK(l.completed == 3); /* three `done`s */
    static char expected[8192];
    expected_text(expected, sizeof expected, "call_001", FIRST_OUTPUT, &l);
    CHECK_STR(l.text, expected);
    CHECK(final_json && strstr(final_json, "\"object\":\"thread.run\"") != NULL);
    CHECK(final_json && strstr(final_json, "\"status\":\"completed\"") != NULL);

    char needle[256];
    snprintf(needle, sizeof needle, "\"run_id\":\"%s\"", run);
    char *bodies[4] = {NULL, NULL, NULL, NULL};
    CHECK(recorded_bodies(needle, bodies, 4) == 3);
    if (bodies[2]) {
        char e[1024], want[4096];
        json_escape(e, sizeof e, FIRST_OUTPUT);
        snprintf(want, sizeof want,
                 "{\"tool_outputs\":[{\"tool_call_id\":\"call_001\",\"output\":\"%s\"}],\"stream\":true}", e);
        CHECK_STR(bodies[0], want);
        for (int turn = 1; turn <= 2; turn++) {
            int from = turn == 1 ? 0 : 2, to = turn == 1 ? 2 : 3;
            size_t n = (size_t)snprintf(want, sizeof want, "{\"tool_outputs\":[");
            for (int i = from; i < to; i++) {
                json_escape(e, sizeof e, l.outputs[i]);
                n += (size_t)snprintf(want + n, sizeof want - n,
                                      "%s{\"tool_call_id\":\"%s\",\"output\":\"%s\"}",
                                      i > from ? "," : "", l.ids[i], e);
            }
            snprintf(want + n, sizeof want - n, "],\"stream\":true}");
            CHECK_STR(bodies[turn], want);
        }
    }
    for (int i = 0; i < 4; i++) free(bodies[i]);
    oairun_string_free(final_json);

    /* final_json may be NULL when the caller does not want it. */
    loop_init(&l);
    CHECK_STATUS(oairun_run_tool_loop(client, "tool_loop", unique_name("run_nofinal"), first,
                                      handler, NULL, &l, 0, NULL, NULL),
                 OAIRUN_OK);
    CHECK(l.calls == 3);
    oairun_tool_outputs_free(first);
}

static void max_turns_bounds_the_requests(oairun_client *client) {
    const char *marker = unique_name("max");
    oairun_response_request *first = request_for("tool_loop_forever", marker);
    struct loop l;
    loop_init(&l);
    char *final_json = NULL;
    oairun_error *err = NULL;
    CHECK_STATUS(oairun_response_tool_loop(client, first, handler, on_event, &l, 3, &final_json, &err),
                 OAIRUN_MAX_TURNS);
    CHECK(final_json == NULL);
    CHECK_STATUS(oairun_error_status(err), OAIRUN_MAX_TURNS);
    CHECK(strstr(oairun_error_message(err), "max_turns 3") != NULL);
    CHECK_STR(oairun_status_str(OAIRUN_MAX_TURNS), "maximum turns reached");
    oairun_error_free(err);
    CHECK(recorded_count(marker) == 3);
    CHECK(l.calls == 3); /* 2 + 1: the third turn's call is never run */
    oairun_response_request_free(first);

    /* 0 means 10. */
    marker = unique_name("max_default");
    first = request_for("tool_loop_forever", marker);
    loop_init(&l);
    CHECK_STATUS(oairun_response_tool_loop(client, first, handler, NULL, &l, 0, NULL, NULL),
                 OAIRUN_MAX_TURNS);
    CHECK(recorded_count(marker) == 10);
    oairun_response_request_free(first);

    /* The Assistants loop counts the first submission. */
    const char *run = unique_name("run_max");
    oairun_tool_outputs *outputs = first_outputs();
    loop_init(&l);
    CHECK_STATUS(oairun_run_tool_loop(client, "tool_loop_forever", run, outputs, handler, on_event,
                                      &l, 2, &final_json, NULL),
                 OAIRUN_MAX_TURNS);
    CHECK(final_json == NULL);
    char needle[256];
    snprintf(needle, sizeof needle, "\"run_id\":\"%s\"", run);
    CHECK(recorded_count(needle) == 2);
    CHECK(l.calls == 2);
    oairun_tool_outputs_free(outputs);
}

static void handlers_that_stop_or_give_nothing(oairun_client *client) {
    /* No output set: INVALID_ARGUMENT naming the call, and no further request. */
    const char *marker = unique_name("no_output");
    oairun_response_request *first = request_for("tool_loop", marker);
    struct loop l;
    loop_init(&l);
    l.no_output_at_call = 1;
    char *final_json = NULL;
    oairun_error *err = NULL;
    CHECK_STATUS(oairun_response_tool_loop(client, first, handler, on_event, &l, 0, &final_json, &err),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK(final_json == NULL);
    CHECK(l.calls == 2);
    const char *message = oairun_error_message(err);
    CHECK(strstr(message, l.ids[1]) != NULL);
    CHECK(strstr(message, "get_time") != NULL);
    CHECK(strstr(message, "without setting an output") != NULL);
    oairun_error_free(err);
    CHECK(recorded_count(marker) == 1);
    oairun_response_request_free(first);

    /* Non-zero: CANCELLED at once, the rest of the turn's calls not run. */
    marker = unique_name("handler_stop");
    first = request_for("tool_loop", marker);
    loop_init(&l);
    l.stop_at_call = 0;
    err = NULL;
    CHECK_STATUS(oairun_response_tool_loop(client, first, handler, on_event, &l, 0, &final_json, &err),
                 OAIRUN_CANCELLED);
    CHECK(final_json == NULL);
    CHECK(l.calls == 1);
    CHECK(strstr(oairun_error_message(err), l.ids[0]) != NULL);
    oairun_error_free(err);
    CHECK(recorded_count(marker) == 1);
    oairun_response_request_free(first);

    /* The same in an Assistants loop, at the turn-2 call. */
    const char *run = unique_name("run_stop");
    oairun_tool_outputs *outputs = first_outputs();
    loop_init(&l);
    l.stop_at_call = 2;
    CHECK_STATUS(oairun_run_tool_loop(client, "tool_loop", run, outputs, handler, on_event, &l, 0,
                                      &final_json, NULL),
                 OAIRUN_CANCELLED);
    CHECK(final_json == NULL);
    char needle[256];
    snprintf(needle, sizeof needle, "\"run_id\":\"%s\"", run);
    CHECK(recorded_count(needle) == 2);
    oairun_tool_outputs_free(outputs);
}

static void on_event_stops_mid_turn(oairun_client *client) {
    const char *marker = unique_name("event_stop");
    oairun_response_request *first = request_for("tool_loop", marker);
    struct loop l;
    loop_init(&l);
    l.stop_in_turn = 1; /* the second event of the second turn */
    char *final_json = NULL;
    CHECK_STATUS(oairun_response_tool_loop(client, first, handler, on_event, &l, 0, &final_json, NULL),
                 OAIRUN_CANCELLED);
    CHECK(final_json == NULL);
    CHECK(l.calls == 2);
    CHECK(l.after_stop_turn == 2);
    CHECK(recorded_count(marker) == 2);
    oairun_response_request_free(first);

    const char *run = unique_name("run_event_stop");
    oairun_tool_outputs *outputs = first_outputs();
    loop_init(&l);
    l.stop_in_turn = 1;
    CHECK_STATUS(oairun_run_tool_loop(client, "tool_loop", run, outputs, handler, on_event, &l, 0,
                                      &final_json, NULL),
                 OAIRUN_CANCELLED);
    CHECK(final_json == NULL);
    CHECK(l.calls == 2);
    CHECK(l.after_stop_turn == 2);
    char needle[256];
    snprintf(needle, sizeof needle, "\"run_id\":\"%s\"", run);
    CHECK(recorded_count(needle) == 2);
    oairun_tool_outputs_free(outputs);
}

static void failures_in_the_middle_of_the_loop(oairun_client *client) {
    const char *models[2] = {"tool_loop_failed", "tool_loop_error"};
    const char *messages[2] = {"The model failed to generate a response.",
                               "The server had an error while processing your request."};
    for (int i = 0; i < 2; i++) {
        oairun_response_request *first = request_for(models[i], unique_name(models[i]));
        struct loop l;
        loop_init(&l);
        char *final_json = NULL;
        oairun_error *err = NULL;
        CHECK_STATUS(oairun_response_tool_loop(client, first, handler, on_event, &l, 0, &final_json,
                                               &err),
                     OAIRUN_STREAM_ERROR);
        CHECK(final_json == NULL);
        CHECK(l.calls == 2);
        CHECK(strstr(oairun_error_message(err), messages[i]) != NULL);
        CHECK_STR(oairun_error_api_code(err), "server_error");
        oairun_error_free(err);
        oairun_response_request_free(first);

        oairun_tool_outputs *outputs = first_outputs();
        loop_init(&l);
        err = NULL;
        CHECK_STATUS(oairun_run_tool_loop(client, models[i], unique_name("run_fail"), outputs, handler,
                                          on_event, &l, 0, &final_json, &err),
                     OAIRUN_STREAM_ERROR);
        CHECK(final_json == NULL);
        CHECK(l.calls == 2);
        CHECK(strstr(oairun_error_message(err), messages[i]) != NULL);
        CHECK_STR(oairun_error_api_code(err), "server_error");
        if (i == 0) CHECK(strstr(oairun_error_message(err), "the run ended failed") != NULL);
        oairun_error_free(err);
        oairun_tool_outputs_free(outputs);
    }

    /* response.incomplete ends its stream well, but not the loop. */
    oairun_response_request *first = request_for("incomplete", unique_name("incomplete"));
    struct loop l;
    loop_init(&l);
    oairun_error *err = NULL;
    char *final_json = NULL;
    CHECK_STATUS(oairun_response_tool_loop(client, first, handler, on_event, &l, 0, &final_json, &err),
                 OAIRUN_STREAM_ERROR);
    CHECK(final_json == NULL);
    CHECK_STR(oairun_error_api_code(err), "max_output_tokens");
    CHECK(strstr(oairun_error_message(err), "incomplete") != NULL);
    oairun_error_free(err);
    oairun_response_request_free(first);
}

static void null_arguments(oairun_client *client) {
    const char *marker = unique_name("nulls");
    const char *run = unique_name("run_nulls");
    char needle[256];
    snprintf(needle, sizeof needle, "\"run_id\":\"%s\"", run);
    oairun_response_request *first = request_for("tool_loop", marker);
    oairun_tool_outputs *outputs = first_outputs();
    struct loop l;
    loop_init(&l);
    char *final_json = NULL;
    oairun_error *err = NULL;
    CHECK_STATUS(oairun_response_tool_loop(NULL, first, handler, on_event, &l, 0, &final_json, &err),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK(err != NULL && strstr(oairun_error_message(err), "client") != NULL);
    oairun_error_free(err);
    CHECK_STATUS(oairun_response_tool_loop(client, NULL, handler, on_event, &l, 0, &final_json, NULL),
                 OAIRUN_INVALID_ARGUMENT);
    err = NULL;
    CHECK_STATUS(oairun_response_tool_loop(client, first, NULL, on_event, &l, 0, &final_json, &err),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK(err != NULL && strstr(oairun_error_message(err), "handler") != NULL);
    oairun_error_free(err);
    oairun_response_request *empty = oairun_response_request_new();
    CHECK_STATUS(oairun_response_request_set_model(empty, "tool_loop"), OAIRUN_OK);
    CHECK_STATUS(oairun_response_tool_loop(client, empty, handler, on_event, &l, 0, &final_json, NULL),
                 OAIRUN_INVALID_ARGUMENT);
    oairun_response_request_free(empty);

    CHECK_STATUS(oairun_run_tool_loop(NULL, "tool_loop", run, outputs, handler, on_event, &l, 0,
                                      &final_json, NULL),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_run_tool_loop(client, NULL, run, outputs, handler, on_event, &l, 0,
                                      &final_json, NULL),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_run_tool_loop(client, "tool_loop", NULL, outputs, handler, on_event, &l, 0,
                                      &final_json, NULL),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_run_tool_loop(client, "tool_loop", run, NULL, handler, on_event, &l, 0,
                                      &final_json, NULL),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_run_tool_loop(client, "tool_loop", run, outputs, NULL, on_event, &l, 0,
                                      &final_json, NULL),
                 OAIRUN_INVALID_ARGUMENT);
    oairun_tool_outputs *none = oairun_tool_outputs_new();
    CHECK_STATUS(oairun_run_tool_loop(client, "tool_loop", run, none, handler, on_event, &l, 0,
                                      &final_json, NULL),
                 OAIRUN_INVALID_ARGUMENT);
    oairun_tool_outputs_free(none);
    CHECK(final_json == NULL);
    CHECK(l.calls == 0 && l.events == 0);
    CHECK(recorded_count(marker) == 0);
    CHECK(recorded_count(needle) == 0);

    CHECK_STATUS(oairun_tool_result_set_output(NULL, "x"), OAIRUN_INVALID_ARGUMENT);
    CHECK(oairun_event_text_delta(NULL, NULL) == NULL);
    size_t len = 7;
    CHECK(oairun_event_text_delta(NULL, &len) == NULL && len == 0);
    oairun_tool_outputs_free(outputs);
    oairun_response_request_free(first);
}

int main(void) {
    oairun_client *client = test_client();
    responses_loop_over_three_turns(client);
    responses_loop_with_store_false_replays(client);
    assistants_loop_over_three_turns(client);
    max_turns_bounds_the_requests(client);
    handlers_that_stop_or_give_nothing(client);
    on_event_stops_mid_turn(client);
    failures_in_the_middle_of_the_loop(client);
    null_arguments(client);
    oairun_client_free(client);
    return check_report("test_tool_loop");
}
