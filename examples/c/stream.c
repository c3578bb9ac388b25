/*
 * Submit tool outputs to a run and stream the answer: the assistant's text is printed as it
 * arrives, then the run's final status.
 *
 *   stream THREAD_ID RUN_ID TOOL_CALL_ID OUTPUT
 *
 * The key comes from OPENAI_API_KEY and the server from OPENAI_BASE_URL (default
 * https://api.openai.com/v1).
 */
#include <stdio.h>
#include <string.h>

#include "oairun.h"

/* Just enough JSON for this example: the string value of the first "key" after `from`,
 * unescaped into `out`. A real program would use a JSON library. */
static int json_string_after(const char *from, const char *key, char *out, size_t size) {
    char needle[64];
    snprintf(needle, sizeof needle, "\"%s\":\"", key);
    const char *p = strstr(from, needle);
    if (!p) return 0;
    p += strlen(needle);
    size_t n = 0;
    while (*p && *p != '"' && n + 5 < size) {
        if (*p != '\\') { out[n++] = *p++; continue; }
        p++;
        switch (*p) {
            case 'n': out[n++] = '\n'; break;
            case 't': out[n++] = '\t'; break;
            case 'r': out[n++] = '\r'; break;
            case 'b': out[n++] = '\b'; break;
            case 'f': out[n++] = '\f'; break;
            case 'u': {
                unsigned cp = 0;
                if (sscanf(p + 1, "%4x", &cp) != 1) return 0;
                p += 4;
                if (cp >= 0xD800 && cp < 0xDC00 && p[1] == '\\' && p[2] == 'u') {
                    unsigned lo = 0;
                    if (sscanf(p + 3, "%4x", &lo) == 1 && lo >= 0xDC00 && lo < 0xE000) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        p += 6;
                    }
                }
                if (cp < 0x80) out[n++] = (char)cp;
                else if (cp < 0x800) { out[n++] = (char)(0xC0 | cp >> 6); out[n++] = (char)(0x80 | (cp & 0x3F)); }
                else if (cp < 0x10000) { out[n++] = (char)(0xE0 | cp >> 12); out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[n++] = (char)(0x80 | (cp & 0x3F)); }
                else { out[n++] = (char)(0xF0 | cp >> 18); out[n++] = (char)(0x80 | ((cp >> 12) & 0x3F)); out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[n++] = (char)(0x80 | (cp & 0x3F)); }
                break;
            }
            default: out[n++] = *p; break; /* \" \\ \/ */
        }
        p++;
    }
    out[n] = '\0';
    return 1;
}

struct progress {
    char status[64];
    int deltas;
};

static int on_event(const oairun_event *event, void *user_data) {
    struct progress *progress = user_data;
    const char *data = oairun_event_data(event, NULL);
    oairun_kind kind = oairun_event_kind(event);
    if (kind == OAIRUN_KIND_THREAD_MESSAGE_DELTA) {
        char text[4096];
        if (json_string_after(data, "value", text, sizeof text)) {
            fputs(text, stdout);
            fflush(stdout); /* show each piece as it arrives */
            progress->deltas++;
        }
    } else if (strncmp(oairun_event_name(event), "thread.run.", 11) == 0 &&
               strncmp(oairun_event_name(event), "thread.run.step.", 16) != 0) {
        json_string_after(data, "status", progress->status, sizeof progress->status);
    }
    return 0; /* go on */
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s THREAD_ID RUN_ID TOOL_CALL_ID OUTPUT\n", argv[0]);
        return 2;
    }
    oairun_client *client = NULL;
    oairun_error *err = NULL;
    if (oairun_client_new(NULL, &client, &err) != OAIRUN_OK) {
        fprintf(stderr, "creating the client failed: %s\n", oairun_error_message(err));
        oairun_error_free(err);
        return 1;
    }
    oairun_tool_outputs *outputs = oairun_tool_outputs_new();
    if (oairun_tool_outputs_add(outputs, argv[3], argv[4]) != OAIRUN_OK) {
        fprintf(stderr, "the tool call id and output must be non-empty UTF-8\n");
        oairun_tool_outputs_free(outputs);
        oairun_client_free(client);
        return 2;
    }

    struct progress progress = {"unknown", 0};
    oairun_status status = oairun_submit_tool_outputs_stream(client, argv[1], argv[2], outputs,
                                                             on_event, &progress, &err);
    int rc = 0;
    if (progress.deltas > 0) putchar('\n');
    if (status == OAIRUN_OK) {
        printf("run status: %s\n", progress.status);
    } else {
        fprintf(stderr, "stream failed: %s (%s)\n", oairun_error_message(err),
                oairun_status_str(status));
        oairun_error_free(err);
        rc = 1;
    }
    oairun_tool_outputs_free(outputs);
    oairun_client_free(client);
    return rc;
}
