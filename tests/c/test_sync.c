/* The synchronous submission, as a C program uses it. */
#include "check.h"

static void reference_run_is_byte_identical(oairun_client *client) {
    oairun_tool_outputs *outputs = test_outputs();
    char *run_json = NULL;
    oairun_error *err = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs(client, "thread_123", "run_123", outputs, &run_json,
                                            &err),
                 OAIRUN_OK);
    CHECK(err == NULL);
    size_t len = 0;
    char *expected = read_fixture("run.json", &len);
    CHECK(run_json != NULL && strlen(run_json) == len && memcmp(run_json, expected, len) == 0);
    free(expected);
    oairun_string_free(run_json);
    oairun_tool_outputs_free(outputs);
}

static void outputs_arrive_intact(oairun_client *client) {
    /* The echo scenario answers with the body it parsed, re-serialised as JSON. */
    oairun_tool_outputs *outputs = oairun_tool_outputs_new();
    CHECK_STATUS(oairun_tool_outputs_add(outputs, "call_1",
                                         "quote \" backslash \\ newline \n tab \t caf\xc3\xa9"),
                 OAIRUN_OK);
    CHECK_STATUS(oairun_tool_outputs_add(outputs, "call_2", ""), OAIRUN_OK);
    char *run_json = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs(client, "echo", "run_1", outputs, &run_json, NULL),
                 OAIRUN_OK);
    CHECK(run_json && strstr(run_json,
                             "\"output\":\"quote \\\" backslash \\\\ newline \\n tab \\t caf\xc3\xa9\""));
    CHECK(run_json && strstr(run_json, "\"tool_call_id\":\"call_2\""));
    CHECK(run_json && strstr(run_json, "\"stream\":false"));
    oairun_string_free(run_json);
    oairun_tool_outputs_free(outputs);
}

static void from_json_builds_the_same_list(oairun_client *client) {
    oairun_tool_outputs *outputs = NULL;
    oairun_error *err = NULL;
    CHECK_STATUS(oairun_tool_outputs_from_json(
                     "[{\"tool_call_id\":\"call_a\",\"output\":\"A\"},"
                     "{\"tool_call_id\":\"call_b\",\"output\":\"B \\u00e9\"}]",
                     &outputs, &err),
                 OAIRUN_OK);
    char *run_json = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs(client, "echo", "run_1", outputs, &run_json, NULL),
                 OAIRUN_OK);
    CHECK(run_json && strstr(run_json, "\"tool_call_id\":\"call_b\""));
    CHECK(run_json && strstr(run_json, "\"output\":\"B \xc3\xa9\""));
    oairun_string_free(run_json);
    oairun_tool_outputs_free(outputs);
}

static void version_and_status_strings(void) {
    CHECK(oairun_version() != NULL && strlen(oairun_version()) > 0);
    CHECK_STR(oairun_status_str(OAIRUN_OK), "ok");
    CHECK_STR(oairun_status_str(OAIRUN_HTTP_STATUS), "HTTP error status");
    CHECK_STR(oairun_status_str(OAIRUN_INTERNAL), "internal error");
    CHECK_STR(oairun_status_str(1000), "unknown status");
    CHECK_STR(oairun_status_str(-1), "unknown status");
}

int main(void) {
    oairun_client *client = test_client();
    reference_run_is_byte_identical(client);
    outputs_arrive_intact(client);
    from_json_builds_the_same_list(client);
    version_and_status_strings();
    oairun_client_free(client);
    return check_report("test_sync");
}
