/* The non-blocking API, as a C program uses it: callbacks on oairun's threads, cancel from
 * another thread while the server stalls, completion callbacks, wait, free. */
#include <pthread.h>
#include <time.h>

#include "check.h"

/* Promptness is checked against 100 ms natively and under the sanitizers; valgrind runs
 * threads one at a time, slicing their time coarsely, so there the bound is 1 s. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif
static double prompt_ms(void) { return RUNNING_ON_VALGRIND ? 1000.0 : 100.0; }

static int load(const int *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static void store(int *p, int v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
static int bump(int *p) { return __atomic_add_fetch(p, 1, __ATOMIC_SEQ_CST); }

/* Waits up to 10 s for *p to reach at least `want`. */
static int wait_for(const int *p, int want) {
    for (int i = 0; i < 2000 && load(p) < want; i++) sleep_ms(5);
    return load(p) >= want;
}

struct counter {
    int events;
    int on_caller_thread;
    int after_cancel; /* callbacks that started after cancel returned */
    int cancelled;
    int stop_at;      /* 0: never */
    pthread_t caller;
    oairun_kind last_kind;
};

static int count(const oairun_event *event, void *user_data) {
    struct counter *c = (struct counter *)user_data;
    if (load(&c->cancelled)) bump(&c->after_cancel);
    if (pthread_equal(pthread_self(), c->caller)) bump(&c->on_caller_thread);
    c->last_kind = oairun_event_kind(event);
    int n = bump(&c->events);
    return c->stop_at && n >= c->stop_at;
}

static oairun_stream *start(oairun_client *client, const char *thread, struct counter *c) {
    oairun_tool_outputs *outputs = test_outputs();
    oairun_stream *stream = NULL;
    oairun_error *err = NULL;
    c->caller = pthread_self();
    CHECK_STATUS(oairun_submit_tool_outputs_stream_start(client, thread, "run_123", outputs,
                                                          count, c, &stream, &err),
                 OAIRUN_OK);
    oairun_error_free(err);
    oairun_tool_outputs_free(outputs); /* copied by the start */
    CHECK(stream != NULL);
    return stream;
}

static void stream_runs_on_an_oairun_thread(oairun_client *client) {
    struct counter c;
    memset(&c, 0, sizeof c);
    oairun_stream *stream = start(client, "thread_abc", &c);
    oairun_error *err = NULL;
    CHECK_STATUS(oairun_stream_wait(stream, &err), OAIRUN_OK);
    CHECK(err == NULL);
    CHECK_STATUS(oairun_stream_wait(stream, NULL), OAIRUN_OK); /* again: same outcome */
    size_t len = 0;
    char *sse = read_fixture("stream.sse", &len);
    int expected = 0;
    for (char *p = sse; (p = strstr(p, "\nevent: ")) != NULL; p++) expected++;
    if (strncmp(sse, "event: ", 7) == 0) expected++;
    free(sse);
    CHECK(c.events == expected);
    CHECK(c.last_kind == OAIRUN_KIND_DONE);
    CHECK(c.on_caller_thread == 0);
    oairun_stream_free(stream);
}

struct canceller {
    oairun_stream *stream;
    double called_at;
};

static void *cancel_it(void *arg) {
    struct canceller *k = (struct canceller *)arg;
    k->called_at = now_ms(); /* read after pthread_join */
    oairun_stream_cancel(k->stream);
    return NULL;
}

static void cancel_from_another_thread_during_a_stall(oairun_client *client) {
    struct counter c;
    memset(&c, 0, sizeof c);
    /* Two events, then the server says nothing for 30 s. */
    oairun_stream *stream = start(client, "stall", &c);
    CHECK(wait_for(&c.events, 2));
    struct canceller k = {stream, 0};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, cancel_it, &k) == 0);
    oairun_error *err = NULL;
    CHECK_STATUS(oairun_stream_wait(stream, &err), OAIRUN_CANCELLED);
    double ended = now_ms();
    pthread_join(t, NULL);
    double began = k.called_at;
    store(&c.cancelled, 1);
    CHECK(err != NULL && oairun_error_status(err) == OAIRUN_CANCELLED);
    oairun_error_free(err);
    printf("cancel during a stall: wait returned %.1f ms after the other thread's cancel call\n",
           ended - began);
    CHECK(ended - began < prompt_ms());
    /* Again, and NULL: nothing happens. */
    oairun_stream_cancel(stream);
    oairun_stream_cancel(stream);
    oairun_stream_cancel(NULL);
    CHECK_STATUS(oairun_stream_wait(stream, NULL), OAIRUN_CANCELLED);
    sleep_ms(20);
    CHECK(load(&c.events) == 2);
    CHECK(load(&c.after_cancel) == 0);
    oairun_stream_free(stream);
}

static void no_callback_after_cancel_returns(oairun_client *client) {
    struct counter c;
    memset(&c, 0, sizeof c);
    /* One delta every 2 ms. */
    oairun_stream *stream = start(client, "slow_2_300", &c);
    CHECK(wait_for(&c.events, 10));
    oairun_stream_cancel(stream);
    store(&c.cancelled, 1);
    CHECK_STATUS(oairun_stream_wait(stream, NULL), OAIRUN_CANCELLED);
    sleep_ms(30);
    CHECK(load(&c.after_cancel) == 0);
    oairun_stream_free(stream);
}

static void callback_cancels_and_free_cancels(oairun_client *client) {
    struct counter c;
    memset(&c, 0, sizeof c);
    c.stop_at = 3;
    oairun_stream *stream = start(client, "thread_abc", &c);
    oairun_error *err = NULL;
    CHECK_STATUS(oairun_stream_wait(stream, &err), OAIRUN_CANCELLED);
    CHECK(err != NULL && strstr(oairun_error_message(err), "callback") != NULL);
    oairun_error_free(err);
    CHECK(c.events == 3);
    oairun_stream_free(stream);

    /* Freeing a running stream cancels it; the callbacks stop. */
    struct counter d;
    memset(&d, 0, sizeof d);
    stream = start(client, "slow_2_300", &d);
    CHECK(wait_for(&d.events, 5));
    oairun_stream_free(stream);
    store(&d.cancelled, 1);
    sleep_ms(30);
    CHECK(load(&d.after_cancel) == 0);
}

static void errors_come_from_wait(oairun_client *client) {
    struct {
        const char *thread;
        oairun_status status;
        int http_status;
    } cases[] = {
        {"status_404", OAIRUN_HTTP_STATUS, 404},
        {"error_event", OAIRUN_STREAM_ERROR, 200},
        {"truncated", OAIRUN_PROTOCOL, 200},
        {"wrong_content_type", OAIRUN_PROTOCOL, 200},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct counter c;
        memset(&c, 0, sizeof c);
        oairun_stream *stream = start(client, cases[i].thread, &c);
        oairun_error *err = NULL;
        CHECK_STATUS(oairun_stream_wait(stream, &err), cases[i].status);
        CHECK(err != NULL && oairun_error_http_status(err) == cases[i].http_status);
        oairun_error_free(err);
        oairun_stream_free(stream);
    }
}

/* A completion callback's record. */
struct completion {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int calls;
    oairun_status status;
    int http_status;
    char *run_json;
    pthread_t thread;
};

static void completion_init(struct completion *c) {
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
}

static void completion_destroy(struct completion *c) {
    free(c->run_json);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
}

static void completed(oairun_status status, const char *run_json, const oairun_error *error,
                      void *user_data) {
    struct completion *c = (struct completion *)user_data;
    pthread_mutex_lock(&c->lock);
    c->calls++;
    c->status = status;
    c->thread = pthread_self();
    CHECK((status == OAIRUN_OK) == (run_json != NULL));
    CHECK((status == OAIRUN_OK) == (error == NULL));
    if (run_json) c->run_json = strdup(run_json);
    if (error) {
        CHECK(oairun_error_status(error) == status);
        c->http_status = oairun_error_http_status(error);
    }
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void await_completion(struct completion *c) {
    pthread_mutex_lock(&c->lock);
    while (c->calls == 0) pthread_cond_wait(&c->cond, &c->lock);
    pthread_mutex_unlock(&c->lock);
}

static void synchronous_start(oairun_client *client) {
    oairun_tool_outputs *outputs = test_outputs();
    char *fixture = read_fixture("run.json", NULL);

    /* With a handle: the callback, then wait. */
    struct completion c;
    completion_init(&c);
    oairun_stream *call = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs_start(client, "thread_abc", "run_123", outputs,
                                                   completed, &c, &call, NULL),
                 OAIRUN_OK);
    CHECK_STATUS(oairun_stream_wait(call, NULL), OAIRUN_OK);
    CHECK(c.calls == 1); /* wait returns after the callback */
    CHECK(c.status == OAIRUN_OK);
    CHECK(c.run_json && strcmp(c.run_json, fixture) == 0);
    CHECK(!pthread_equal(c.thread, pthread_self()));
    oairun_stream_free(call);
    completion_destroy(&c);

    /* Without a handle: it runs to the end on its own. */
    completion_init(&c);
    CHECK_STATUS(oairun_submit_tool_outputs_start(client, "status_404", "run_123", outputs,
                                                   completed, &c, NULL, NULL),
                 OAIRUN_OK);
    await_completion(&c);
    CHECK(c.status == OAIRUN_HTTP_STATUS && c.http_status == 404 && c.run_json == NULL);
    completion_destroy(&c);

    /* Cancelled while the server has not answered: the callback runs once, cancelled. */
    completion_init(&c);
    CHECK_STATUS(oairun_submit_tool_outputs_start(client, "stall_headers", "run_123", outputs,
                                                   completed, &c, &call, NULL),
                 OAIRUN_OK);
    sleep_ms(30);
    double began = now_ms();
    oairun_stream_cancel(call);
    CHECK_STATUS(oairun_stream_wait(call, NULL), OAIRUN_CANCELLED);
    double took = now_ms() - began;
    printf("cancel while waiting for headers: %.1f ms\n", took);
    CHECK(took < prompt_ms());
    CHECK(c.calls == 1 && c.status == OAIRUN_CANCELLED);
    oairun_stream_free(call);
    completion_destroy(&c);

    free(fixture);
    oairun_tool_outputs_free(outputs);
}

/* A callback that waits for a running submission is refused, not deadlocked. */
struct nested {
    oairun_client *client;
    oairun_status waited;
    int done;
};

static int wait_inside(const oairun_event *event, void *user_data) {
    struct nested *n = (struct nested *)user_data;
    if (oairun_event_kind(event) == OAIRUN_KIND_THREAD_RUN_QUEUED) {
        struct counter c;
        memset(&c, 0, sizeof c);
        oairun_stream *other = start(n->client, "stall", &c);
        n->waited = oairun_stream_wait(other, NULL);
        oairun_stream_free(other);
        n->done = 1;
    }
    return 0;
}

static void wait_from_a_callback_is_refused(oairun_client *client) {
    struct nested n = {client, OAIRUN_OK, 0};
    oairun_tool_outputs *outputs = test_outputs();
    oairun_stream *stream = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs_stream_start(client, "thread_abc", "run_1", outputs,
                                                          wait_inside, &n, &stream, NULL),
                 OAIRUN_OK);
    CHECK_STATUS(oairun_stream_wait(stream, NULL), OAIRUN_OK);
    CHECK(n.done == 1);
    CHECK_STATUS(n.waited, OAIRUN_INVALID_ARGUMENT);
    oairun_stream_free(stream);
    oairun_tool_outputs_free(outputs);
}

/* The client may be freed while a started submission runs. */
static void client_freed_while_running(void) {
    oairun_client *client = test_client();
    struct counter c;
    memset(&c, 0, sizeof c);
    oairun_stream *stream = start(client, "long_100", &c);
    oairun_client_free(client);
    CHECK_STATUS(oairun_stream_wait(stream, NULL), OAIRUN_OK);
    CHECK(c.last_kind == OAIRUN_KIND_DONE);
    oairun_stream_free(stream);
}

int main(void) {
    oairun_client *client = test_client();
    stream_runs_on_an_oairun_thread(client);
    cancel_from_another_thread_during_a_stall(client);
    no_callback_after_cancel_returns(client);
    callback_cancels_and_free_cancels(client);
    errors_come_from_wait(client);
    synchronous_start(client);
    wait_from_a_callback_is_refused(client);
    client_freed_while_running();
    oairun_client_free(client);
    return check_report("test_nonblocking");
}
