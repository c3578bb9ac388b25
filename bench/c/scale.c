/*
 * The benchmark's scale test: STREAMS concurrent streams of EVENTS deltas each (long_EVENTS)
 * from one shared client, every stream's text checked as it arrives.
 *
 *   scale STREAMS EVENTS
 *
 * Every stream is started with the non-blocking API (oairun_submit_tool_outputs_stream_start):
 * its callbacks run on oairun's callback threads, and main waits for each with
 * oairun_stream_wait. While the streams run, a sampler thread reads /proc/self/status; the
 * program's own threads are main and the sampler, so the library's threads are the peak of
 * `Threads` minus 2. Prints one JSON line; exits non-zero unless every stream completed with
 * the right text.
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

static oairun_stream **handles;
static atomic_int sampling = 1;
static long peak_threads;
static pthread_t sampler;

static void *sample(void *arg) {
    (void)arg;
    while (atomic_load(&sampling)) {
        long t = status_field("Threads");
        if (t > peak_threads) peak_threads = t;
        usleep(1000);
    }
    return NULL;
}

static int start_streams(struct stream *streams, size_t count) {
    if (pthread_create(&sampler, NULL, sample, NULL) != 0) return 0;
    handles = (oairun_stream **)calloc(count, sizeof *handles);
    for (size_t i = 0; i < count; i++) {
        oairun_error *err = NULL;
        struct stream *s = &streams[i];
        s->status = oairun_submit_tool_outputs_stream_start(
            s->client, s->thread_id, "run_scale", s->outputs, on_event, s, &handles[i], &err);
        if (s->status != OAIRUN_OK) {
            fprintf(stderr, "scale: start: %s\n", oairun_error_message(err));
            oairun_error_free(err);
            return 0;
        }
    }
    return 1;
}

static void wait_streams(struct stream *streams, size_t count) {
    for (size_t i = 0; i < count; i++) {
        oairun_error *err = NULL;
        streams[i].status = oairun_stream_wait(handles[i], &err);
        if (streams[i].status != OAIRUN_OK) {
            fprintf(stderr, "scale: %s: %s\n", oairun_status_str(streams[i].status),
                    oairun_error_message(err));
            oairun_error_free(err);
        }
        oairun_stream_free(handles[i]);
    }
    free(handles);
    atomic_store(&sampling, 0);
    pthread_join(sampler, NULL);
}

/* The program's own threads while the streams run: main and the sampler. */
static size_t own_threads(size_t count) {
    (void)count;
    return 2;
}

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

    long base_threads = status_field("Threads");
    double start = mono_seconds();
    if (!start_streams(streams, count)) return 1;
    wait_streams(streams, count);
    double seconds = mono_seconds() - start;

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
