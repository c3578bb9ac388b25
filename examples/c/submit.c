/*
 * Submit tool outputs to a run and print the Run object that comes back.
 *
 *   submit THREAD_ID RUN_ID TOOL_CALL_ID OUTPUT
 *
 * The key comes from OPENAI_API_KEY and the server from OPENAI_BASE_URL (default
 * https://api.openai.com/v1), so the same program works against the real API, a compatible
 * server, or oairun's loopback test server.
 */
#include <stdio.h>

#include "oairun.h"

static int fail(const char *what, oairun_error *err) {
    fprintf(stderr, "%s failed: %s (%s)\n", what, oairun_error_message(err),
            oairun_status_str(oairun_error_status(err)));
    if (oairun_error_http_status(err) != 0) {
        const char *type = oairun_error_api_type(err);
        const char *code = oairun_error_api_code(err);
        const char *request_id = oairun_error_request_id(err);
        fprintf(stderr, "  http status: %u\n  type: %s\n  code: %s\n  request id: %s\n",
                (unsigned)oairun_error_http_status(err), type ? type : "-", code ? code : "-",
                request_id ? request_id : "-");
    }
    oairun_error_free(err);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s THREAD_ID RUN_ID TOOL_CALL_ID OUTPUT\n", argv[0]);
        return 2;
    }
    oairun_client *client = NULL;
    oairun_error *err = NULL;
    if (oairun_client_new(NULL, &client, &err) != OAIRUN_OK) {
        return fail("creating the client", err);
    }

    oairun_tool_outputs *outputs = oairun_tool_outputs_new();
    int rc = 0;
    if (oairun_tool_outputs_add(outputs, argv[3], argv[4]) != OAIRUN_OK) {
        fprintf(stderr, "the tool call id and output must be non-empty UTF-8\n");
        rc = 2;
    } else {
        char *run_json = NULL;
        if (oairun_submit_tool_outputs(client, argv[1], argv[2], outputs, &run_json, &err) ==
            OAIRUN_OK) {
            printf("%s\n", run_json);
            oairun_string_free(run_json);
        } else {
            rc = fail("submit_tool_outputs", err);
        }
    }
    oairun_tool_outputs_free(outputs);
    oairun_client_free(client);
    return rc;
}
