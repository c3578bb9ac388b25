/* The log hook, as a C program uses it: lines arrive at their levels, never with the key,
 * and stop when the callback is turned off. */
#include <pthread.h>
#include <unistd.h>

#include "check.h"

#define KEY "sk-c-log-secret-0123456789"

struct log_record {
    pthread_mutex_t lock;
    int lines[5];
    int secrets;
    int requests;
    int answers;
    oairun_status nested;
};

static void on_log(oairun_log_level level, const char *message, void *user_data) {
    struct log_record *r = (struct log_record *)user_data;
    pthread_mutex_lock(&r->lock);
    if ((int)level >= 1 && (int)level <= 4) r->lines[level]++;
    if (strstr(message, KEY) || strstr(message, "Bearer")) r->secrets++;
    if (level == OAIRUN_LOG_INFO && strncmp(message, "POST ", 5) == 0) r->requests++;
    if (level == OAIRUN_LOG_INFO && strncmp(message, "HTTP 200 from ", 14) == 0) r->answers++;
    /* Changing the callback from inside it is refused. */
    r->nested = oairun_set_log_callback(OAIRUN_LOG_OFF, NULL, NULL);
    pthread_mutex_unlock(&r->lock);
}

static oairun_status submit(oairun_client *client, const char *thread) {
    oairun_tool_outputs *outputs = test_outputs();
    char *run_json = NULL;
    /* ratelimit_once refuses each run id once per server: one per process. */
    char run[64];
    snprintf(run, sizeof run, "run_log_%ld", (long)getpid());
    oairun_status status = oairun_submit_tool_outputs(client, thread, run, outputs, &run_json, NULL);
    oairun_string_free(run_json);
    oairun_tool_outputs_free(outputs);
    return status;
}

int main(void) {
    oairun_client_options *options = oairun_client_options_new();
    CHECK_STATUS(oairun_client_options_set_api_key(options, KEY), OAIRUN_OK);
    CHECK_STATUS(oairun_client_options_set_base_url(options, test_base_url()), OAIRUN_OK);
    oairun_client *client = NULL;
    CHECK_STATUS(oairun_client_new(options, &client, NULL), OAIRUN_OK);
    oairun_client_options_free(options);

    struct log_record r;
    memset(&r, 0, sizeof r);
    pthread_mutex_init(&r.lock, NULL);
    CHECK_STATUS(oairun_set_log_callback(5, on_log, &r), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_set_log_callback(-1, on_log, &r), OAIRUN_INVALID_ARGUMENT);
    CHECK_STATUS(oairun_set_log_callback(OAIRUN_LOG_DEBUG, on_log, &r), OAIRUN_OK);

    CHECK_STATUS(submit(client, "thread_abc"), OAIRUN_OK);
    CHECK_STATUS(submit(client, "ratelimit_once"), OAIRUN_OK); /* 429, then a retry */
    CHECK_STATUS(submit(client, "status_404"), OAIRUN_HTTP_STATUS);

    /* The callback has returned from every call once this returns. */
    CHECK_STATUS(oairun_set_log_callback(OAIRUN_LOG_OFF, on_log, &r), OAIRUN_OK);
    CHECK(r.requests == 4);
    CHECK(r.answers == 2);
    CHECK(r.lines[OAIRUN_LOG_WARN] == 1);
    CHECK(r.lines[OAIRUN_LOG_ERROR] == 1);
    CHECK(r.secrets == 0);
    CHECK_STATUS(r.nested, OAIRUN_INVALID_ARGUMENT);

    int before = r.lines[OAIRUN_LOG_INFO];
    CHECK_STATUS(submit(client, "thread_abc"), OAIRUN_OK);
    CHECK(r.lines[OAIRUN_LOG_INFO] == before);

    /* A NULL callback is off too. */
    CHECK_STATUS(oairun_set_log_callback(OAIRUN_LOG_INFO, NULL, NULL), OAIRUN_OK);
    CHECK_STATUS(submit(client, "thread_abc"), OAIRUN_OK);
    CHECK(r.lines[OAIRUN_LOG_INFO] == before);

    pthread_mutex_destroy(&r.lock);
    oairun_client_free(client);
    return check_report("test_log");
}
