/* Tool calls and text deltas without a JSON parser: oairun_tool_calls_from_json on a Run and
 * a Response, oairun_event_tool_calls and oairun_event_text_delta on the events of both
 * endpoints' streams. */
#include <unistd.h>

#include "check.h"

/* A Run waiting for two calls, the second with arguments that JSON must escape. */
static const char *RUN_REQUIRING_ACTION =
    "{\"id\":\"run_1\",\"object\":\"thread.run\",\"status\":\"requires_action\","
    "\"required_action\":{\"type\":\"submit_tool_outputs\",\"submit_tool_outputs\":{\"tool_calls\":["
    "{\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
    "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
    "{\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"get_time\","
    "\"arguments\":\"{\\\"tz\\\":\\\"T\\u014dky\\u014d \\\\\\\"x\\\\\\\"\\\\n\\\"}\"}}]}}}";

static void check_call(const oairun_tool_calls *calls, size_t i, const char *id, const char *name,
                       const char *arguments) {
    const oairun_tool_call *call = oairun_tool_calls_get(calls, i);
    CHECK(call != NULL);
    if (!call) return;
    CHECK_STR(oairun_tool_call_id(call), id);
    CHECK_STR(oairun_tool_call_name(call), name);
    CHECK_STR(oairun_tool_call_arguments(call), arguments);
}

static void from_json(void) {
    oairun_tool_calls *calls = NULL;
    oairun_error *err = NULL;

    /* The reference Run is queued: no calls. */
    char *run = read_fixture("run.json", NULL);
    CHECK_STATUS(oairun_tool_calls_from_json(run, &calls, &err), OAIRUN_OK);
    CHECK(calls != NULL);
    CHECK(oairun_tool_calls_count(calls) == 0);
    CHECK(oairun_tool_calls_get(calls, 0) == NULL);
    oairun_tool_calls_free(calls);
    free(run);

    calls = NULL;
    CHECK_STATUS(oairun_tool_calls_from_json(RUN_REQUIRING_ACTION, &calls, &err), OAIRUN_OK);
    CHECK(oairun_tool_calls_count(calls) == 2);
    check_call(calls, 0, "call_a", "get_weather", "{\"city\":\"Paris\"}");
    check_call(calls, 1, "call_b", "get_time",
               "{\"tz\":\"T\xC5\x8Dky\xC5\x8D \\\"x\\\"\\n\"}");
    CHECK(oairun_tool_calls_get(calls, 2) == NULL);
    CHECK(oairun_tool_calls_get(calls, (size_t)-1) == NULL);
    oairun_tool_calls_free(calls);

    /* A Response with a function call, and one with text only. */
    char *response = read_fixture("responses/function_call.json", NULL);
    calls = NULL;
    CHECK_STATUS(oairun_tool_calls_from_json(response, &calls, &err), OAIRUN_OK);
    CHECK(oairun_tool_calls_count(calls) == 1);
    check_call(calls, 0, "call_fixed_get_weather", "get_weather", "{\"location\":\"Paris, France\"}");
    oairun_tool_calls_free(calls);
    free(response);
    response = read_fixture("responses/text.json", NULL);
    calls = NULL;
    CHECK_STATUS(oairun_tool_calls_from_json(response, &calls, NULL), OAIRUN_OK);
    CHECK(oairun_tool_calls_count(calls) == 0);
    oairun_tool_calls_free(calls);
    free(response);

    /* Not JSON, not an object, a call missing a field: INVALID_ARGUMENT, *out untouched. */
    const char *bad[4] = {"not json", "[1,2]",
                          "{\"output\":[{\"type\":\"function_call\",\"name\":\"f\",\"arguments\":\"{}\"}]}",
                          "{\"required_action\":{\"submit_tool_outputs\":{\"tool_calls\":[{\"id\":\"c\"}]}}}"};
    const char *why[4] = {"not valid JSON", "object", "output[0].call_id", "function.name"};
    for (int i = 0; i < 4; i++) {
        calls = NULL;
        err = NULL;
        CHECK_STATUS(oairun_tool_calls_from_json(bad[i], &calls, &err), OAIRUN_INVALID_ARGUMENT);
        CHECK(calls == NULL);
        CHECK(err != NULL && strstr(oairun_error_message(err), why[i]) != NULL);
        oairun_error_free(err);
    }
    CHECK_STATUS(oairun_tool_calls_from_json("\xFF{}", &calls, NULL), OAIRUN_INVALID_ARGUMENT);

    /* NULLs. */
    CHECK_STATUS(oairun_tool_calls_from_json(NULL, &calls, NULL), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_tool_calls_from_json("{}", NULL, NULL), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_event_tool_calls(NULL, &calls, NULL), OAIRUN_INVALID_ARGUMENT);
    CHECK(calls == NULL);
    CHECK(oairun_tool_calls_count(NULL) == 0);
    CHECK(oairun_tool_calls_get(NULL, 0) == NULL);
    CHECK(oairun_tool_call_id(NULL) == NULL);
    CHECK(oairun_tool_call_name(NULL) == NULL);
    CHECK(oairun_tool_call_arguments(NULL) == NULL);
    oairun_tool_calls_free(NULL);
}

/* What a stream's callback saw. */
struct seen {
    int events;
    int with_calls;            /* events that carried calls */
    oairun_tool_calls *calls;  /* the last non-empty list, kept past the callback */
    char text[4096];
    size_t text_len;
    int deltas;
};

static int collect(const oairun_event *event, void *user_data) {
    struct seen *s = (struct seen *)user_data;
    s->events++;
    oairun_tool_calls *calls = NULL;
    CHECK_STATUS(oairun_event_tool_calls(event, &calls, NULL), OAIRUN_OK);
    CHECK(calls != NULL);
    if (oairun_tool_calls_count(calls) > 0) {
        s->with_calls++;
        oairun_tool_calls_free(s->calls);
        s->calls = calls;
    } else {
        oairun_tool_calls_free(calls);
    }
    CHECK_STATUS(oairun_event_tool_calls(event, NULL, NULL), OAIRUN_INVALID_ARGUMENT);
    size_t len = 1234;
    const char *text = oairun_event_text_delta(event, &len);
    oairun_kind kind = oairun_event_kind(event);
    int is_delta = kind == OAIRUN_KIND_THREAD_MESSAGE_DELTA || kind == OAIRUN_KIND_RESPONSE_OUTPUT_TEXT_DELTA;
    CHECK((text != NULL) == is_delta);
    if (text) {
        CHECK(len == strlen(text));
        CHECK(oairun_event_text_delta(event, NULL) == text);
        if (s->text_len + len < sizeof s->text) {
            memcpy(s->text + s->text_len, text, len + 1);
            s->text_len += len;
        }
        s->deltas++;
    } else {
        CHECK(len == 0);
    }
    return 0;
}

static oairun_response_request *request_for(const char *model) {
    oairun_response_request *r = oairun_response_request_new();
    CHECK_STATUS(oairun_response_request_set_model(r, model), OAIRUN_OK);
    CHECK_STATUS(oairun_response_request_add_input_json(r, "{\"role\":\"user\",\"content\":\"Hi\"}", NULL),
                 OAIRUN_OK);
    return r;
}

static void from_events(oairun_client *client) {
    struct seen s;

    /* Responses: the calls of response.completed, and no text. */
    memset(&s, 0, sizeof s);
    oairun_response_request *r = request_for("function_call");
    CHECK_STATUS(oairun_create_response_stream(client, r, collect, &s, NULL), OAIRUN_OK);
    CHECK(s.with_calls == 1);
    CHECK(oairun_tool_calls_count(s.calls) == 1);
    check_call(s.calls, 0, "call_fixed_get_weather", "get_weather", "{\"location\":\"Paris, France\"}");
    CHECK(s.deltas == 0);
    oairun_tool_calls_free(s.calls);
    oairun_response_request_free(r);

    /* Responses: text deltas (non-ASCII included) and no calls. */
    memset(&s, 0, sizeof s);
    r = request_for("gpt-test");
    CHECK_STATUS(oairun_create_response_stream(client, r, collect, &s, NULL), OAIRUN_OK);
    CHECK(s.with_calls == 0);
    CHECK(s.deltas == 6);
    CHECK_STR(s.text, "It's 15\xC2\xB0" "C and clear in Paris.");
    oairun_response_request_free(r);

    /* Assistants: the reference stream's text. */
    memset(&s, 0, sizeof s);
    oairun_tool_outputs *outputs = test_outputs();
    CHECK_STATUS(oairun_submit_tool_outputs_stream(client, "thread_123", "run_123", outputs, collect, &s, NULL),
                 OAIRUN_OK);
    CHECK(s.with_calls == 0);
    CHECK_STR(s.text, "The current weather sunny.");

    /* Assistants: a run of the scripted model stops at requires_action with two calls. */
    memset(&s, 0, sizeof s);
    char run[64];
#ifdef __cplusplus
    snprintf(run, sizeof run, "run_calls_cpp_%ld", (long)getpid());
#else
    snprintf(run, sizeof run, "run_calls_c_%ld", (long)getpid());
#endif
    CHECK_STATUS(oairun_submit_tool_outputs_stream(client, "tool_loop", run, outputs, collect, &s, NULL),
                 OAIRUN_OK);
    CHECK(s.with_calls == 1);
    CHECK(oairun_tool_calls_count(s.calls) == 2);
    const oairun_tool_call *call = oairun_tool_calls_get(s.calls, 0);
    CHECK(call && strncmp(oairun_tool_call_id(call), "call_", 5) == 0);
    CHECK(call && strcmp(oairun_tool_call_id(call), "call_001") != 0);
    CHECK_STR(oairun_tool_call_name(call), "get_weather");
    CHECK_STR(oairun_tool_call_arguments(call), "{\"city\":\"Paris\"}");
    call = oairun_tool_calls_get(s.calls, 1);
    CHECK_STR(oairun_tool_call_name(call), "get_time");
    CHECK_STR(oairun_tool_call_arguments(call), "{\"timezone\":\"Europe/Paris\"}");
    oairun_tool_calls_free(s.calls);
    oairun_tool_outputs_free(outputs);
}

int main(void) {
    from_json();
    oairun_client *client = test_client();
    from_events(client);
    oairun_client_free(client);
    return check_report("test_tool_calls");
}
