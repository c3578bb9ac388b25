/* A program as an oairun user writes it, built against an installed oairun (through pkg-config
 * and through CMake's find_package, by scripts/test-install.sh): one synchronous submission to
 * the reference run on the test server at $OAIRUN_TEST_BASE_URL, whose Run id it checks. */
#include <oairun.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    const char *base_url = getenv("OAIRUN_TEST_BASE_URL");
    if (!base_url) {
        fprintf(stderr, "OAIRUN_TEST_BASE_URL is not set: run through scripts/test-install.sh\n");
        return 2;
    }
    /* The header and the library found at run time are the same release. */
    if (strcmp(oairun_version(), OAIRUN_VERSION_STRING) != 0) {
        fprintf(stderr, "header %s, library %s\n", OAIRUN_VERSION_STRING, oairun_version());
        return 1;
    }

    oairun_client_options *options = oairun_client_options_new();
    oairun_client_options_set_api_key(options, "sk-test-install");
    oairun_client_options_set_base_url(options, base_url);
    oairun_client *client = NULL;
    oairun_error *err = NULL;
    if (oairun_client_new(options, &client, &err) != OAIRUN_OK) {
        fprintf(stderr, "oairun_client_new: %s\n", oairun_error_message(err));
        oairun_error_free(err);
        oairun_client_options_free(options);
        return 1;
    }
    oairun_client_options_free(options);

    oairun_tool_outputs *outputs = oairun_tool_outputs_new();
    oairun_tool_outputs_add(outputs, "call_001", "70 degrees and sunny.");
    char *run_json = NULL;
    int failed = 1;
    if (oairun_submit_tool_outputs(client, "thread_123", "run_123", outputs, &run_json, &err) ==
        OAIRUN_OK) {
        failed = strstr(run_json, "\"id\": \"run_123\"") == NULL;
        printf("%s Run run_123 (oairun %s)\n", failed ? "did not get" : "got", oairun_version());
        oairun_string_free(run_json);
    } else {
        fprintf(stderr, "oairun_submit_tool_outputs: %s\n", oairun_error_message(err));
        oairun_error_free(err);
    }
    oairun_tool_outputs_free(outputs);
    oairun_client_free(client);
    return failed;
}
