/*
 * A small agent: the model may call a weather tool and a clock tool, as often as it needs, and
 * oairun_response_tool_loop runs the loop (stream a turn, run the calls it asked for, send every
 * output back, again) until the model answers. The answer is printed as it streams, then the
 * final Response's text.
 *
 *   tool_loop [--model MODEL] [--no-store] [QUESTION]
 *
 * The key comes from OPENAI_API_KEY and the server from OPENAI_BASE_URL (default
 * https://api.openai.com/v1). The model is --model, else OAIRUN_MODEL, else `tool_loop`: the
 * scripted model of oairun's test server (`make demo`), which asks for the weather and the
 * time in Paris, then the weather in Tokyo, then answers with the outputs it received. Give a
 * real model (e.g. --model gpt-5-mini) for a real server. --no-store sends `"store": false`:
 * nothing is kept on the server and every request carries the whole conversation, as servers
 * without stored responses (Ollama, llama.cpp) need.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oairun.h"

static const char *TOOLS =
    "[{\"type\":\"function\",\"name\":\"get_weather\","
    "\"description\":\"The current weather in a city.\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"
    "\"required\":[\"city\"],\"additionalProperties\":false},\"strict\":true},"
    "{\"type\":\"function\",\"name\":\"get_time\","
    "\"description\":\"The current local time in an IANA time zone, e.g. Europe/Paris.\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"timezone\":{\"type\":\"string\"}},"
    "\"required\":[\"timezone\"],\"additionalProperties\":false},\"strict\":true}]";

/* Just enough JSON for this example: the string value of the first "key" after `from`,
 * unescaped into `out` (\uXXXX outside ASCII becomes '?'). A real program would use a JSON
 * library. */
static int json_string_after(const char *from, const char *key, char *out, size_t size) {
    char needle[64];
    snprintf(needle, sizeof needle, "\"%s\":\"", key);
    const char *p = strstr(from, needle);
    if (!p) return 0;
    p += strlen(needle);
    size_t n = 0;
    while (*p && *p != '"' && n + 1 < size) {
        if (*p != '\\') { out[n++] = *p++; continue; }
        p++;
        switch (*p) {
            case 'n': out[n++] = '\n'; break;
            case 't': out[n++] = '\t'; break;
            case 'u': out[n++] = '?'; p += 4; break;
            case '\0': p--; break;
            default: out[n++] = *p; break; /* \" \\ \/ */
        }
        p++;
    }
    out[n] = '\0';
    return 1;
}

/* The weather tool: canned answers, as a real one would ask a weather service. */
static void get_weather(const char *arguments, char *out, size_t size) {
    char city[128] = "";
    if (!json_string_after(arguments, "city", city, sizeof city)) {
        snprintf(out, size, "error: no \"city\" in the arguments %s", arguments);
        return;
    }
    const char *weather = "18\xC2\xB0" "C, cloudy";
    if (strstr(city, "Paris")) weather = "15\xC2\xB0" "C, clear";
    else if (strstr(city, "Tokyo")) weather = "22\xC2\xB0" "C, light rain";
    else if (strstr(city, "Berlin")) weather = "9\xC2\xB0" "C, windy";
    snprintf(out, size, "%s: %s", city, weather);
}

/* The clock tool: the local time in an IANA time zone (through TZ, which this single-threaded
 * program may change). */
static void get_time(const char *arguments, char *out, size_t size) {
    char zone[128] = "UTC";
    json_string_after(arguments, "timezone", zone, sizeof zone);
    const char *saved = getenv("TZ");
    char before[128] = "";
    if (saved) snprintf(before, sizeof before, "%s", saved);
    setenv("TZ", zone, 1);
    tzset();
    time_t now = time(NULL);
    struct tm local;
    localtime_r(&now, &local);
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M %Z", &local);
    if (saved) setenv("TZ", before, 1);
    else unsetenv("TZ");
    tzset();
    snprintf(out, size, "%s (%s)", when, zone);
}

struct progress {
    int calls;
    int streaming; /* text printed on the current line */
};

/* Runs one call the model asked for; oairun calls it on this thread, between requests. */
static int run_tool(const oairun_tool_call *call, oairun_tool_result *result, void *user_data) {
    struct progress *progress = user_data;
    const char *name = oairun_tool_call_name(call);
    const char *arguments = oairun_tool_call_arguments(call);
    char output[512];
    if (strcmp(name, "get_weather") == 0) get_weather(arguments, output, sizeof output);
    else if (strcmp(name, "get_time") == 0) get_time(arguments, output, sizeof output);
    else snprintf(output, sizeof output, "error: there is no tool named %s", name);
    if (progress->streaming) putchar('\n');
    progress->streaming = 0;
    printf("[tool] %s(%s) -> %s\n", name, arguments, output);
    progress->calls++;
    /* The output goes back to the model; a tool's failure is news for the model too. */
    return oairun_tool_result_set_output(result, output) == OAIRUN_OK ? 0 : 1;
}

/* Sees every event of every turn: prints the answer's text as it arrives. */
static int on_event(const oairun_event *event, void *user_data) {
    struct progress *progress = user_data;
    size_t len = 0;
    const char *text = oairun_event_text_delta(event, &len);
    if (text) {
        fwrite(text, 1, len, stdout);
        fflush(stdout); /* show each piece as it arrives */
        progress->streaming = 1;
    }
    return 0; /* go on */
}

int main(int argc, char **argv) {
    const char *model = getenv("OAIRUN_MODEL");
    if (!model || !*model) model = "tool_loop";
    const char *question = "What's the weather in Paris and in Tokyo, and what time is it in Paris?";
    int no_store = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) model = argv[++i];
        else if (strcmp(argv[i], "--no-store") == 0) no_store = 1;
        else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: %s [--model MODEL] [--no-store] [QUESTION]\n", argv[0]);
            return 2;
        } else question = argv[i];
    }

    oairun_client *client = NULL;
    oairun_error *err = NULL;
    if (oairun_client_new(NULL, &client, &err) != OAIRUN_OK) {
        fprintf(stderr, "creating the client failed: %s\n", oairun_error_message(err));
        oairun_error_free(err);
        return 1;
    }

    /* The question as a user message item; a JSON string needs `"`, `\` and newlines
     * escaped (a real program would use a JSON library). */
    char item[2048];
    size_t n = (size_t)snprintf(item, sizeof item, "{\"role\":\"user\",\"content\":\"");
    for (const char *p = question; *p && n + 8 < sizeof item; p++) {
        if (*p == '\n') { item[n++] = '\\'; item[n++] = 'n'; continue; }
        if (*p == '"' || *p == '\\') item[n++] = '\\';
        item[n++] = *p;
    }
    snprintf(item + n, sizeof item - n, "\"}");

    /* The first request: model, instructions, tools and the question. Every later turn
     * reuses its fields and adds the tools' outputs. */
    oairun_response_request *request = oairun_response_request_new();
    oairun_response_request_set_model(request, model);
    oairun_response_request_set_instructions(
        request, "Answer briefly. Use the tools for weather and time; never guess them.");
    oairun_response_request_set_tools_json(request, TOOLS, NULL);
    if (no_store) oairun_response_request_set_field_json(request, "store", "false", NULL);
    if (oairun_response_request_add_input_json(request, item, &err) != OAIRUN_OK) {
        fprintf(stderr, "the question is not usable: %s\n", oairun_error_message(err));
        oairun_error_free(err);
        oairun_response_request_free(request);
        oairun_client_free(client);
        return 2;
    }

    printf("Q: %s (model %s)\n", question, model);
    struct progress progress = {0, 0};
    char *final_json = NULL;
    oairun_status status = oairun_response_tool_loop(client, request, run_tool, on_event, &progress,
                                                     5, &final_json, &err);
    if (progress.streaming) putchar('\n');
    int rc = 0;
    if (status == OAIRUN_OK) {
        char text[8192] = "", id[128] = "";
        const char *part = strstr(final_json, "\"type\":\"output_text\"");
        if (part) json_string_after(part, "text", text, sizeof text);
        json_string_after(final_json, "id", id, sizeof id);
        printf("final answer: %s\n(%d tool calls; final response %s)\n", text, progress.calls, id);
        oairun_string_free(final_json);
    } else {
        fprintf(stderr, "the loop failed: %s (%s)\n", oairun_error_message(err),
                oairun_status_str(status));
        oairun_error_free(err);
        rc = 1;
    }
    oairun_response_request_free(request);
    oairun_client_free(client);
    return rc;
}
