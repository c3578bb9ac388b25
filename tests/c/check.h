/* A few helpers shared by the C tests: checks that report where they failed, and the
 * environment the test runner provides. Written to compile as C and as C++. */
#ifndef OAIRUN_TEST_CHECK_H
#define OAIRUN_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oairun.h"

static int check_failures = 0;

#if defined(__GNUC__)
#define CHECK_MAYBE_UNUSED __attribute__((unused))
#else
#define CHECK_MAYBE_UNUSED
#endif

/* Milliseconds on the monotonic clock. */
CHECK_MAYBE_UNUSED static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

CHECK_MAYBE_UNUSED static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            check_failures++;                                                       \
        }                                                                           \
    } while (0)

#define CHECK_STATUS(got, want)                                                            \
    do {                                                                                   \
        oairun_status got_ = (got);                                                        \
        if (got_ != (want)) {                                                              \
            fprintf(stderr, "%s:%d: status %d (%s), expected %s\n", __FILE__, __LINE__,   \
                    (int)got_, oairun_status_str((int)got_), #want);                       \
            check_failures++;                                                              \
        }                                                                                  \
    } while (0)

#define CHECK_STR(got, want)                                                               \
    do {                                                                                   \
        const char *got_ = (got);                                                          \
        const char *want_ = (want);                                                        \
        if (!got_ || strcmp(got_, want_) != 0) {                                           \
            fprintf(stderr, "%s:%d: got \"%s\", expected \"%s\"\n", __FILE__, __LINE__,   \
                    got_ ? got_ : "(NULL)", want_);                                        \
            check_failures++;                                                              \
        }                                                                                  \
    } while (0)

/* The loopback test server's base URL, given by the test runner. */
static const char *test_base_url(void) {
    const char *url = getenv("OAIRUN_TEST_BASE_URL");
    if (!url) {
        fprintf(stderr, "OAIRUN_TEST_BASE_URL is not set: run the C tests through `make test`\n");
        exit(2);
    }
    return url;
}

/* A client for the test server, with a test key. */
CHECK_MAYBE_UNUSED static oairun_client *test_client(void) {
    oairun_client_options *options = oairun_client_options_new();
    CHECK_STATUS(oairun_client_options_set_api_key(options, "sk-test-c"), OAIRUN_OK);
    CHECK_STATUS(oairun_client_options_set_base_url(options, test_base_url()), OAIRUN_OK);
    oairun_client *client = NULL;
    oairun_error *err = NULL;
    CHECK_STATUS(oairun_client_new(options, &client, &err), OAIRUN_OK);
    oairun_client_options_free(options);
    if (!client) {
        fprintf(stderr, "cannot create the test client: %s\n", oairun_error_message(err));
        exit(1);
    }
    return client;
}

/* One output, as the reference does. */
CHECK_MAYBE_UNUSED static oairun_tool_outputs *test_outputs(void) {
    oairun_tool_outputs *outputs = oairun_tool_outputs_new();
    CHECK_STATUS(oairun_tool_outputs_add(outputs, "call_001", "70 degrees and sunny."), OAIRUN_OK);
    return outputs;
}

/* Reads a fixture file from OAIRUN_TEST_FIXTURES; the caller frees it. */
CHECK_MAYBE_UNUSED static char *read_fixture(const char *name, size_t *len) {
    const char *dir = getenv("OAIRUN_TEST_FIXTURES");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "testserver/fixtures", name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open fixture %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = (char *)malloc((size_t)size + 1);
    if (!text || fread(text, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "cannot read fixture %s\n", path);
        exit(2);
    }
    fclose(f);
    text[size] = '\0';
    if (len) *len = (size_t)size;
    return text;
}

static int check_report(const char *name) {
    if (check_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

#endif
