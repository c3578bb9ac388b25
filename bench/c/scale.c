/*
 * The benchmark's scale test: STREAMS concurrent streams of EVENTS deltas each (long_EVENTS)
 * from one shared client, every stream's text checked as it arrives.
 *
 *   scale STREAMS EVENTS
 *
 * For now each stream is one program thread blocked in oairun_submit_tool_outputs_stream.
 * When the non-blocking API lands, only start_streams() and wait_streams() change: start each
 * stream with oairun_submit_tool_outputs_stream_start, then oairun_stream_wait and
 * oairun_stream_free each one; the program then has no threads of its own but main.
 *
 * While the streams run, the main thread samples /proc/self/status. The program's own threads
 * (main plus one per stream) all live until every stream is over, so the library's threads are
 * the peak of `Threads` minus that constant. Prints one JSON line; exits non-zero unless every
 * stream completed with the right text.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "oairun.h"
#include "common.h"

struct stream {
    const oairun_client *client;
    const oairun_tool_outputs *outputs;
    const char *thread_id;
    struct buf scratch;
    struct expect check;
    oairun_status status;
    int bad_delta;
};

static atomic_size_t finished;
static pthread_barrier_t all_started, all_sampled;

static int on_event(const oairun_event *event, void *user_data) {
    struct stream *s = (struct stream *)user_data;
    if (oairun_event_kind(event) != OAIRUN_KIND_THREAD_MESSAGE_DELTA) return 0;
    size_t len = 0;
    const char *data = oairun_event_data(event, &len);
    s->scratch.len = 0;
    if (!delta_text(data, len, &s->scratch)) s->bad_delta = 1;
    expect_feed(&s->check, s->scratch.data, s->scratch.len);
    return 0;
}

static void run_stream(struct stream *s) {
    oairun_error *err = NULL;
    s->status = oairun_submit_tool_outputs_stream(s->client, s->thread_id, "run_scale",
                                                  s->outputs, on_event, s, &err);
    if (s->status != OAIRUN_OK) {
        fprintf(stderr, "scale: %s: %s\n", oairun_status_str(s->status),
                oairun_error_message(err));
        oairun_error_free(err);
    }
    atomic_fetch_add(&finished, 1);
}

static void *stream_thread(void *arg) {
    pthread_barrier_wait(&all_started);
    run_stream((struct stream *)arg);
    /* Stay alive until main has taken its last sample, so the program's thread count is
     * constant while it samples. */
    pthread_barrier_wait(&all_sampled);
    return NULL;
}

static pthread_t *threads;

static int start_streams(struct stream *streams, size_t count) {
    threads = (pthread_t *)calloc(count, sizeof *threads);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    /* The callback and oairun's blocking wait need little stack; 1,000 default 8 MiB stacks
     * would cost address space, not RSS, but there is no reason to reserve it. */
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (size_t i = 0; i < count; i++) {
        if (pthread_create(&threads[i], &attr, stream_thread, &streams[i]) != 0) {
            perror("pthread_create");
            return 0;
        }
    }
    pthread_attr_destroy(&attr);
    pthread_barrier_wait(&all_started);
    return 1;
}

static void wait_streams(size_t count) {
    pthread_barrier_wait(&all_sampled);
    for (size_t i = 0; i < count; i++) pthread_join(threads[i], NULL);
    free(threads);
}

/* The program's own threads while the streams run: main and one per stream. */
static size_t own_threads(size_t count) { return 1 + count; }

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: scale STREAMS EVENTS\n");
        return 2;
    }
    size_t count = (size_t)strtoull(argv[1], NULL, 10);
    size_t events = (size_t)strtoull(argv[2], NULL, 10);
    char thread_id[64];
    snprintf(thread_id, sizeof thread_id, "long_%zu", events);

    oairun_client *client = NULL;
    oairun_tool_outputs *outputs = NULL;
    if (!bench_client("scale", &client, &outputs)) return 1;
    struct stream *streams = (struct stream *)calloc(count, sizeof *streams);
    for (size_t i = 0; i < count; i++) {
        streams[i].client = client;
        streams[i].outputs = outputs;
        streams[i].thread_id = thread_id;
        streams[i].check.total_words = events;
    }
    pthread_barrier_init(&all_started, NULL, (unsigned)count + 1);
    pthread_barrier_init(&all_sampled, NULL, (unsigned)count + 1);

    long base_threads = status_field("Threads");
    double start = mono_seconds();
    if (!start_streams(streams, count)) return 1;
    long peak_threads = 0;
    for (;;) {
        int last = atomic_load(&finished) == count;
        long t = status_field("Threads");
        if (t > peak_threads) peak_threads = t;
        if (last) break;
        usleep(1000);
    }
    double seconds = mono_seconds() - start;
    wait_streams(count);

    size_t completed = 0;
    for (size_t i = 0; i < count; i++) {
        struct stream *s = &streams[i];
        if (s->status == OAIRUN_OK && !s->bad_delta && expect_complete(&s->check)) completed++;
        buf_free(&s->scratch);
    }
    long library_threads = peak_threads - (long)own_threads(count);
    printf("{\"streams\":%zu,\"events\":%zu,\"completed\":%zu,\"seconds\":%.6f,"
           "\"threads_before\":%ld,\"peak_threads\":%ld,\"own_threads\":%zu,"
           "\"library_threads\":%ld,\"peak_rss_kib\":%ld}\n",
           count, events, completed, seconds, base_threads, peak_threads, own_threads(count),
           library_threads, max_rss_kib());

    free(streams);
    oairun_tool_outputs_free(outputs);
    oairun_client_free(client);
    return completed == count ? 0 : 1;
}
