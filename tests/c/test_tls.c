/* TLS and a proxy as a C program meets them: the test server's HTTPS twin, whose certificate
 * authority was made when it started (its certificate in the file OAIRUN_TEST_CA_FILE names),
 * refused until trusted with oairun_client_options_add_root_certificate_pem, then both APIs
 * synchronous and streamed, directly and through the CONNECT proxy of
 * oairun_client_options_set_proxy; a pull reader over TLS cancelled from another thread while
 * it waits; bad PEM and bad proxy URLs; NULL arguments. */
#include <pthread.h>

#include "check.h"

static const char *env(const char *name) {
    const char *value = getenv(name);
    if (!value || !*value) {
        fprintf(stderr, "%s is not set: run the C tests through `make test`\n", name);
        exit(2);
    }
    return value;
}

/* The whole file as a string the caller frees. */
static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    size_t cap = 4096, len = 0;
    char *text = (char *)malloc(cap);
    size_t got;
    while ((got = fread(text + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (len + 1 == cap) text = (char *)realloc(text, cap *= 2);
    }
    fclose(f);
    text[len] = '\0';
    return text;
}

static int count(const oairun_event *event, void *user_data) {
    (void)event;
    (*(int *)user_data)++;
    return 0;
}

/* A client for the HTTPS server: trusting `ca_pem` unless NULL, through `proxy` unless NULL. */
static oairun_client *client_for(const char *ca_pem, const char *proxy) {
    oairun_client_options *options = oairun_client_options_new();
    CHECK_STATUS(oairun_client_options_set_api_key(options, "sk-test-c"), OAIRUN_OK);
    CHECK_STATUS(oairun_client_options_set_base_url(options, env("OAIRUN_TEST_HTTPS_BASE_URL")),
                 OAIRUN_OK);
    CHECK_STATUS(oairun_client_options_set_max_retries(options, 2), OAIRUN_OK);
    if (ca_pem) {
        CHECK_STATUS(oairun_client_options_add_root_certificate_pem(options, ca_pem, NULL),
                     OAIRUN_OK);
    }
    if (proxy) CHECK_STATUS(oairun_client_options_set_proxy(options, proxy, NULL), OAIRUN_OK);
    oairun_client *client = NULL;
    oairun_error *err = NULL;
    CHECK_STATUS(oairun_client_new(options, &client, &err), OAIRUN_OK);
    oairun_client_options_free(options);
    if (!client) {
        fprintf(stderr, "cannot create the client: %s\n", oairun_error_message(err));
        exit(1);
    }
    return client;
}

static oairun_response_request *response_request(void) {
    oairun_response_request *request = oairun_response_request_new();
    CHECK_STATUS(oairun_response_request_set_model(request, "gpt-test"), OAIRUN_OK);
    CHECK_STATUS(oairun_response_request_add_function_call_output(
                     request, "call_fixed_get_weather", "{\"temp_c\":15}"),
                 OAIRUN_OK);
    return request;
}

/* All four calls succeed with the scenarios' answers. */
static void all_four_work(oairun_client *client) {
    oairun_tool_outputs *outputs = test_outputs();
    oairun_response_request *request = response_request();
    char *json = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs(client, "thread_abc", "run_123", outputs, &json, NULL),
                 OAIRUN_OK);
    CHECK(json && strstr(json, "\"id\": \"run_123\""));
    oairun_string_free(json);
    int events = 0;
    CHECK_STATUS(oairun_submit_tool_outputs_stream(client, "thread_abc", "run_123", outputs, count,
                                                   &events, NULL),
                 OAIRUN_OK);
    CHECK(events == 16);
    json = NULL;
    CHECK_STATUS(oairun_create_response(client, request, &json, NULL), OAIRUN_OK);
    CHECK(json && strstr(json, "\"object\":\"response\""));
    oairun_string_free(json);
    events = 0;
    CHECK_STATUS(oairun_create_response_stream(client, request, count, &events, NULL), OAIRUN_OK);
    CHECK(events > 3);
    oairun_response_request_free(request);
    oairun_tool_outputs_free(outputs);
}

static void untrusted_is_refused_at_once(void) {
    oairun_client *client = client_for(NULL, NULL);
    oairun_tool_outputs *outputs = test_outputs();
    for (int streamed = 0; streamed < 2; streamed++) {
        oairun_error *err = NULL;
        char *json = NULL;
        int events = 0;
        oairun_status status =
            streamed ? oairun_submit_tool_outputs_stream(client, "thread_abc", "run_123", outputs,
                                                         count, &events, &err)
                     : oairun_submit_tool_outputs(client, "thread_abc", "run_123", outputs, &json,
                                                  &err);
        CHECK_STATUS(status, OAIRUN_CONNECT);
        CHECK(json == NULL && events == 0);
        CHECK(err != NULL);
        if (err) {
            const char *message = oairun_error_message(err);
            CHECK(strstr(message, "unknown issuer") != NULL);
            CHECK(strstr(message, "attempts") == NULL); /* not retried */
            CHECK(oairun_error_http_status(err) == 0);
        }
        oairun_error_free(err);
    }
    oairun_tool_outputs_free(outputs);
    oairun_client_free(client);
}

static void bad_arguments(const char *ca_pem) {
    oairun_client_options *options = oairun_client_options_new();
    oairun_error *err = NULL;
    CHECK_STATUS(oairun_client_options_add_root_certificate_pem(options, "not PEM", &err),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK(err && strstr(oairun_error_message(err), "no usable certificate"));
    oairun_error_free(err);
    err = NULL;
    const char *truncated = "-----BEGIN CERTIFICATE-----\nMIIB\n";
    CHECK_STATUS(oairun_client_options_add_root_certificate_pem(options, truncated, &err),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK(err && strstr(oairun_error_message(err), "missing section end marker"));
    oairun_error_free(err);
    CHECK_STATUS(oairun_client_options_add_root_certificate_pem(options, NULL, NULL),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_add_root_certificate_pem(NULL, ca_pem, NULL),
                 OAIRUN_INVALID_ARGUMENT);

    err = NULL;
    CHECK_STATUS(oairun_client_options_set_proxy(options, "socks5://u:hush@127.0.0.1:1", &err),
                 OAIRUN_INVALID_ARGUMENT);
    CHECK(err && strstr(oairun_error_message(err), "http://"));
    CHECK(err && !strstr(oairun_error_message(err), "hush")); /* the password is never shown */
    oairun_error_free(err);
    CHECK_STATUS(oairun_client_options_set_proxy(options, "", NULL), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_set_proxy(options, NULL, NULL), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_client_options_set_proxy(NULL, "http://127.0.0.1:1", NULL),
                 OAIRUN_INVALID_ARGUMENT);
    oairun_client_options_free(options);
}

static void *cancel_later(void *reader) {
    sleep_ms(100); /* the other thread is waiting in oairun_reader_next by then */
    oairun_reader_cancel((const oairun_reader *)reader);
    return NULL;
}

/* A reader that reads on its caller's thread, over TLS, waiting through the server's stall (2
 * events, then 30 s of nothing): a cancel call from another thread ends the wait at once.
 * Without it the call would return, after the stall, with the stream's end (not CANCELLED). */
static void a_waiting_reader_is_cancelled_over_tls(oairun_client *client) {
    oairun_tool_outputs *outputs = test_outputs();
    oairun_reader *reader = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs_stream_open(client, "stall", "run_123", outputs, 0,
                                                        &reader, NULL),
                 OAIRUN_OK);
    for (int i = 0; i < 2; i++) {
        const oairun_event *event = NULL;
        CHECK_STATUS(oairun_reader_next(reader, -1, &event, NULL), OAIRUN_OK);
    }
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, cancel_later, reader) == 0);
    double began = now_ms();
    const oairun_event *event = NULL;
    oairun_error *err = NULL;
    CHECK_STATUS(oairun_reader_next(reader, -1, &event, &err), OAIRUN_CANCELLED);
    double waited = now_ms() - began;
    pthread_join(thread, NULL);
    printf("TLS reader: next returned %.0f ms after it began waiting (cancelled at 100 ms)\n",
           waited);
    CHECK(waited < 10000);
    CHECK(event == NULL && err != NULL);
    oairun_error_free(err);
    oairun_reader_free(reader);
    oairun_tool_outputs_free(outputs);
}

int main(void) {
    char *ca_pem = read_file(env("OAIRUN_TEST_CA_FILE"));
    untrusted_is_refused_at_once();

    oairun_client *client = client_for(ca_pem, NULL);
    all_four_work(client);
    a_waiting_reader_is_cancelled_over_tls(client);
    oairun_client_free(client);

    client = client_for(ca_pem, env("OAIRUN_TEST_PROXY_URL"));
    all_four_work(client);
    oairun_client_free(client);

    bad_arguments(ca_pem);
    free(ca_pem);
    return check_report("test_tls");
}
