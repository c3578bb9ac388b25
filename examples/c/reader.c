/*
 * The pull API: open a Responses stream and take its events on your own thread, in batches,
 * with a time limit, instead of being called back. The text is printed as it arrives, with a
 * dot for every half second without news, then how the response ended.
 *
 *   reader [--model MODEL] PREVIOUS_RESPONSE_ID CALL_ID OUTPUT
 *
 * Arguments and environment as for examples/c/responses.c (OPENAI_API_KEY, OPENAI_BASE_URL,
 * OAIRUN_MODEL). Without OAIRUN_READER_BACKGROUND the socket is read inside
 * oairun_reader_next_batch, on this thread: no oairun thread is involved.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oairun.h"

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
    oairun_reader *reader = NULL;
    if (oairun_response_request_set_previous_response_id(request, argv[first]) != OAIRUN_OK ||
        oairun_response_request_add_function_call_output(request, argv[first + 1],
                                                         argv[first + 2]) != OAIRUN_OK ||
        oairun_create_response_stream_open(client, request, 0, &reader, &err) != OAIRUN_OK) {
        fprintf(stderr, "bad arguments: %s\n", err ? oairun_error_message(err) : "the ids must be non-empty UTF-8");
        oairun_error_free(err);
        oairun_response_request_free(request);
        oairun_client_free(client);
        return 2;
    }
    oairun_response_request_free(request); /* the reader has its own copy */

    const char *ended = "?";
    oairun_status s;
    for (;;) {
        const oairun_event *events[64];
        size_t count = 0;
        s = oairun_reader_next_batch(reader, 500, events, 64, &count, &err);
        if (s == OAIRUN_AGAIN) { /* nothing for half a second: the stream goes on */
            fputc('.', stderr);
            continue;
        }
        if (s != OAIRUN_OK || count == 0) break; /* the outcome: OK with no event when it ended well */
        for (size_t i = 0; i < count; i++) {     /* lent until the next call on the reader */
            size_t len = 0;
            const char *text = oairun_event_text_delta(events[i], &len);
            if (text) fwrite(text, 1, len, stdout);
            if (oairun_event_kind(events[i]) == OAIRUN_KIND_RESPONSE_COMPLETED) ended = "completed";
            if (oairun_event_kind(events[i]) == OAIRUN_KIND_RESPONSE_INCOMPLETE) ended = "incomplete";
        }
        fflush(stdout);
    }
    int code = 0;
    if (s == OAIRUN_OK) {
        printf("\n[response %s]\n", ended);
    } else {
        fprintf(stderr, "\nthe stream failed (%s): %s\n", oairun_status_str(s), oairun_error_message(err));
        oairun_error_free(err);
        code = 1;
    }
    oairun_reader_free(reader);
    oairun_client_free(client);
    return code;
}
