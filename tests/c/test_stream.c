/* The streamed submission, as a C program uses it. */
#include "check.h"

#define MAX_EVENTS 64

struct expected_event {
    char *name;
    char *data;
};

/* The reference stream's events, read from the fixture the server sends. */
static int load_reference(struct expected_event *events, char **text) {
    *text = read_fixture("stream.sse", NULL);
    int n = 0;
    for (char *line = strtok(*text, "\n"); line && n < MAX_EVENTS; line = strtok(NULL, "\n")) {
        if (strncmp(line, "event: ", 7) == 0) {
            events[n].name = line + 7;
        } else if (strncmp(line, "data: ", 6) == 0) {
            events[n++].data = line + 6;
        }
    }
    return n;
}

struct recorder {
    const struct expected_event *expected;
    int expected_count;
    int seen;
    int mismatches;
    oairun_kind last_kind;
    oairun_client *client; /* for the nested submission */
    int nested_ok;
};

static int record(const oairun_event *event, void *user_data) {
    struct recorder *r = (struct recorder *)user_data;
    size_t len = 0;
    const char *data = oairun_event_data(event, &len);
    const char *name = oairun_event_name(event);
    CHECK(data != NULL && name != NULL && strlen(data) == len);
    if (r->expected) {
        if (r->seen >= r->expected_count || strcmp(name, r->expected[r->seen].name) != 0 ||
            strcmp(data, r->expected[r->seen].data) != 0) {
            fprintf(stderr, "event %d differs: %s\n", r->seen, name);
            r->mismatches++;
        }
    }
    r->last_kind = oairun_event_kind(event);
    r->seen++;
    if (r->client && r->last_kind == OAIRUN_KIND_THREAD_MESSAGE_CREATED) {
        /* A callback may itself submit: it runs outside any oairun lock or runtime. */
        oairun_tool_outputs *outputs = test_outputs();
        char *run_json = NULL;
        r->nested_ok = oairun_submit_tool_outputs(r->client, "thread_nested", "run_9", outputs,
                                                  &run_json, NULL) == OAIRUN_OK &&
                       run_json && strstr(run_json, "\"object\": \"thread.run\"") != NULL;
        oairun_string_free(run_json);
        oairun_tool_outputs_free(outputs);
    }
    return 0;
}

static void reference_stream_in_order(oairun_client *client) {
    struct expected_event expected[MAX_EVENTS];
    char *text = NULL;
    int count = load_reference(expected, &text);
    CHECK(count >= 15);
    struct recorder r;
    memset(&r, 0, sizeof r);
    r.expected = expected;
    r.expected_count = count;
    r.client = client;
    oairun_tool_outputs *outputs = test_outputs();
    oairun_error *err = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs_stream(client, "thread_123", "run_123", outputs,
                                                   record, &r, &err),
                 OAIRUN_OK);
    CHECK(err == NULL);
    CHECK(r.seen == count);
    CHECK(r.mismatches == 0);
    CHECK(r.last_kind == OAIRUN_KIND_DONE);
    CHECK(r.nested_ok);
    oairun_tool_outputs_free(outputs);
    free(text);
}

static int check_kinds(const oairun_event *event, void *user_data) {
    int *bad = (int *)user_data;
    const char *name = oairun_event_name(event);
    oairun_kind kind = oairun_event_kind(event);
    if ((strcmp(name, "thread.message.delta") == 0) != (kind == OAIRUN_KIND_THREAD_MESSAGE_DELTA))
        (*bad)++;
    if ((strcmp(name, "done") == 0) != (kind == OAIRUN_KIND_DONE)) (*bad)++;
    if (kind == OAIRUN_KIND_UNKNOWN) (*bad)++;
    if (oairun_event_id(event) != NULL) (*bad)++; /* the reference sets no ids */
    return 0;
}

static void kinds_follow_names(oairun_client *client) {
    int bad = 0;
    oairun_tool_outputs *outputs = test_outputs();
    CHECK_STATUS(oairun_submit_tool_outputs_stream(client, "thread_123", "run_123", outputs,
                                                   check_kinds, &bad, NULL),
                 OAIRUN_OK);
    CHECK(bad == 0);
    oairun_tool_outputs_free(outputs);
}

static int count_ids(const oairun_event *event, void *user_data) {
    int *ids = (int *)user_data;
    if (oairun_event_id(event) != NULL) (*ids)++;
    return 0;
}

static void odd_framing_decodes(oairun_client *client) {
    int ids = 0;
    oairun_tool_outputs *outputs = test_outputs();
    CHECK_STATUS(oairun_submit_tool_outputs_stream(client, "odd_framing", "run_123", outputs,
                                                   count_ids, &ids, NULL),
                 OAIRUN_OK);
    CHECK(ids > 0);
    oairun_tool_outputs_free(outputs);
}

static void long_stream_completes(oairun_client *client) {
    struct recorder r;
    memset(&r, 0, sizeof r);
    oairun_tool_outputs *outputs = test_outputs();
    CHECK_STATUS(oairun_submit_tool_outputs_stream(client, "long_5000", "run_123", outputs,
                                                   record, &r, NULL),
                 OAIRUN_OK);
    CHECK(r.seen > 5000);
    CHECK(r.last_kind == OAIRUN_KIND_DONE);
    oairun_tool_outputs_free(outputs);
}

int main(void) {
    oairun_client *client = test_client();
    reference_stream_in_order(client);
    kinds_follow_names(client);
    odd_framing_decodes(client);
    long_stream_completes(client);
    oairun_client_free(client);
    return check_report("test_stream");
}
