/* 1,008 submissions from 16 threads sharing one client, blocking and non-blocking, sync and
 * streamed, with cancellations at random points. Every call must return a status allowed for
 * what it did, every completion callback must run exactly once, and (under valgrind and the
 * sanitizers) nothing may leak or crash. The seed is printed so that a failure can be replayed
 * with OAIRUN_STRESS_SEED. */
#include <pthread.h>
#include <time.h>

#include "check.h"

#define THREADS 16
#define PER_THREAD 63

static oairun_client *client;
static int unexpected = 0;
static int completions = 0;
static int counts[9];

static void sleep_us(long us) {
    struct timespec ts = {us / 1000000L, (us % 1000000L) * 1000L};
    nanosleep(&ts, NULL);
}

/* Counts `status`, and fails the test unless it is one `allowed` bit. */
static void expect(const char *what, oairun_status status, unsigned allowed) {
    if ((int)status < 0 || (int)status > 8 || !(allowed & (1u << (int)status))) {
        fprintf(stderr, "%s: unexpected status %d (%s)\n", what, (int)status,
                oairun_status_str((int)status));
        __atomic_add_fetch(&unexpected, 1, __ATOMIC_SEQ_CST);
        return;
    }
    __atomic_add_fetch(&counts[(int)status], 1, __ATOMIC_SEQ_CST);
}

#define BIT(s) (1u << (s))

struct stop_after {
    int left;
};

static int stop_after_n(const oairun_event *event, void *user_data) {
    (void)event;
    struct stop_after *s = (struct stop_after *)user_data;
    return --s->left <= 0;
}

static int keep_going(const oairun_event *event, void *user_data) {
    (void)event;
    (void)user_data;
    return 0;
}

static void completed(oairun_status status, const char *run_json, const oairun_error *error,
                      void *user_data) {
    int *calls = (int *)user_data;
    if ((status == OAIRUN_OK) != (run_json != NULL) || (status == OAIRUN_OK) != (error == NULL)) {
        __atomic_add_fetch(&unexpected, 1, __ATOMIC_SEQ_CST);
    }
    __atomic_add_fetch(calls, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&completions, 1, __ATOMIC_SEQ_CST);
}

static void one(unsigned *seed, oairun_tool_outputs *outputs) {
    oairun_error *err = NULL;
    oairun_stream *handle = NULL;
    int kind = rand_r(seed) % 6;
    switch (kind) {
    case 0: { /* blocking, synchronous */
        char *run_json = NULL;
        expect("sync", oairun_submit_tool_outputs(client, "thread_abc", "run_1", outputs,
                                                  &run_json, &err),
               BIT(OAIRUN_OK));
        oairun_string_free(run_json);
        break;
    }
    case 1: { /* blocking stream, cancelled by the callback at a random event */
        struct stop_after s = {1 + rand_r(seed) % 60};
        expect("stream cancelled by callback",
               oairun_submit_tool_outputs_stream(client, "long_50", "run_1", outputs,
                                                 stop_after_n, &s, &err),
               BIT(OAIRUN_OK) | BIT(OAIRUN_CANCELLED));
        break;
    }
    case 2: { /* started stream, cancelled from this thread after a random delay */
        expect("stream start",
               oairun_submit_tool_outputs_stream_start(client, "long_50", "run_1", outputs,
                                                       keep_going, NULL, &handle, &err),
               BIT(OAIRUN_OK));
        sleep_us(rand_r(seed) % 3000);
        if (rand_r(seed) % 2) oairun_stream_cancel(handle);
        expect("started stream", oairun_stream_wait(handle, NULL),
               BIT(OAIRUN_OK) | BIT(OAIRUN_CANCELLED));
        oairun_stream_free(handle);
        break;
    }
    case 3: { /* started stream on a stalling server, freed (so cancelled) while running */
        expect("stall start",
               oairun_submit_tool_outputs_stream_start(client, "stall", "run_1", outputs,
                                                       keep_going, NULL, &handle, &err),
               BIT(OAIRUN_OK));
        sleep_us(rand_r(seed) % 2000);
        if (rand_r(seed) % 2) {
            oairun_stream_cancel(handle);
            expect("stall cancelled", oairun_stream_wait(handle, NULL), BIT(OAIRUN_CANCELLED));
        }
        oairun_stream_free(handle);
        break;
    }
    case 4: { /* started call, maybe cancelled; the completion runs exactly once */
        int calls = 0;
        expect("call start",
               oairun_submit_tool_outputs_start(client, "thread_abc", "run_1", outputs,
                                                completed, &calls, &handle, &err),
               BIT(OAIRUN_OK));
        if (rand_r(seed) % 2) oairun_stream_cancel(handle);
        expect("started call", oairun_stream_wait(handle, NULL),
               BIT(OAIRUN_OK) | BIT(OAIRUN_CANCELLED));
        if (__atomic_load_n(&calls, __ATOMIC_SEQ_CST) != 1) {
            fprintf(stderr, "completion ran %d times\n", calls);
            __atomic_add_fetch(&unexpected, 1, __ATOMIC_SEQ_CST);
        }
        oairun_stream_free(handle);
        break;
    }
    default: { /* errors: an HTTP status and a broken stream */
        char *run_json = NULL;
        expect("status", oairun_submit_tool_outputs(client, "status_404", "run_1", outputs,
                                                    &run_json, &err),
               BIT(OAIRUN_HTTP_STATUS));
        oairun_error_free(err);
        err = NULL;
        expect("reset", oairun_submit_tool_outputs_stream(client, "reset", "run_1", outputs,
                                                          keep_going, NULL, &err),
               BIT(OAIRUN_PROTOCOL));
        break;
    }
    }
    oairun_error_free(err);
}

struct worker {
    unsigned seed;
};

static void *work(void *arg) {
    struct worker *w = (struct worker *)arg;
    oairun_tool_outputs *outputs = test_outputs();
    for (int i = 0; i < PER_THREAD; i++) one(&w->seed, outputs);
    oairun_tool_outputs_free(outputs);
    return NULL;
}

int main(void) {
    const char *given = getenv("OAIRUN_STRESS_SEED");
    unsigned seed = given ? (unsigned)strtoul(given, NULL, 10) : (unsigned)time(NULL);
    printf("test_stress: seed %u (replay with OAIRUN_STRESS_SEED=%u)\n", seed, seed);

    oairun_client_options *options = oairun_client_options_new();
    CHECK_STATUS(oairun_client_options_set_api_key(options, "sk-test-c"), OAIRUN_OK);
    CHECK_STATUS(oairun_client_options_set_base_url(options, test_base_url()), OAIRUN_OK);
    CHECK_STATUS(oairun_client_options_set_max_retries(options, 0), OAIRUN_OK);
    CHECK_STATUS(oairun_client_new(options, &client, NULL), OAIRUN_OK);
    oairun_client_options_free(options);

    pthread_t threads[THREADS];
    struct worker workers[THREADS];
    for (int i = 0; i < THREADS; i++) {
        workers[i].seed = seed + (unsigned)i * 7919u;
        CHECK(pthread_create(&threads[i], NULL, work, &workers[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
    oairun_client_free(client);

    int total = 0;
    for (int s = 0; s <= 8; s++) total += counts[s];
    printf("test_stress: %d statuses: %d ok, %d cancelled, %d http, %d protocol; %d completions\n",
           total, counts[OAIRUN_OK], counts[OAIRUN_CANCELLED], counts[OAIRUN_HTTP_STATUS],
           counts[OAIRUN_PROTOCOL], completions);
    CHECK(unexpected == 0);
    CHECK(total >= THREADS * PER_THREAD);
    return check_report("test_stress");
}
