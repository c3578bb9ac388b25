/*
 * Return a function's output to the model through the Responses API and stream its answer:
 * the text is printed as it arrives, then how the response ended.
 *
 *   responses [--model MODEL] PREVIOUS_RESPONSE_ID CALL_ID OUTPUT
 *
 * PREVIOUS_RESPONSE_ID is the response whose function call CALL_ID (`call_…`) this answers;
 * OUTPUT is what the function returned. The key comes from OPENAI_API_KEY and the server from
 * OPENAI_BASE_URL (default https://api.openai.com/v1); the model from --model, else
 * OAIRUN_MODEL, else `gpt-test` (oairun's test server, `make demo`). Servers that keep no
 * responses (Ollama, llama.cpp) cannot continue one by id: see examples/c/tool_loop.c --no-store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oairun.h"

static int on_event(const oairun_event *event, void *user_data) {
    const char **ended = (const char **)user_data;
    size_t len = 0;
    const char *text = oairun_event_text_delta(event, &len); /* NULL unless a text delta */
    if (text) {
        fwrite(text, 1, len, stdout);
        fflush(stdout); /* show each piece as it arrives */
    }
    switch (oairun_event_kind(event)) {
        case OAIRUN_KIND_RESPONSE_COMPLETED: *ended = "completed"; break;
        case OAIRUN_KIND_RESPONSE_INCOMPLETE: *ended = "incomplete (cut short)"; break;
        default: break;
    }
    return 0; /* go on */
}

int main(int argc, char **argv) {
    const char *model = getenv("OAIRUN_MODEL");
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "--model") == 0) {
        model = argv[2];
        first = 3;
    }
    if (argc - first != 3) {
        fprintf(stderr, "usage: %s [--model MODEL] PREVIOUS_RESPONSE_ID CALL_ID OUTPUT\n", argv[0]);
        return 2;
    }
    oairun_client *client = NULL;
    oairun_error *err = NULL;
    if (oairun_client_new(NULL, &client, &err) != OAIRUN_OK) {
        fprintf(stderr, "creating the client failed: %s\n", oairun_error_message(err));
        oairun_error_free(err);
        return 1;
    }

    oairun_response_request *request = oairun_response_request_new();
    oairun_response_request_set_model(request, model ? model : "gpt-test");
    if (oairun_response_request_set_previous_response_id(request, argv[first]) != OAIRUN_OK ||
        oairun_response_request_add_function_call_output(request, argv[first + 1],
                                                         argv[first + 2]) != OAIRUN_OK) {
        fprintf(stderr, "the ids must be non-empty UTF-8, the output UTF-8\n");
        oairun_response_request_free(request);
        oairun_client_free(client);
        return 2;
    }

    const char *ended = "unknown";
    oairun_status status = oairun_create_response_stream(client, request, on_event, &ended, &err);
    int rc = 0;
    putchar('\n');
    if (status == OAIRUN_OK) {
        printf("response %s\n", ended);
    } else {
        fprintf(stderr, "the response failed: %s (%s)\n", oairun_error_message(err),
                oairun_status_str((int)status));
        oairun_error_free(err);
        rc = 1;
    }
    oairun_response_request_free(request);
    oairun_client_free(client);
    return rc;
}
