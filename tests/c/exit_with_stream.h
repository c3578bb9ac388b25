/* For the tests of a process that ends while a started stream still runs (test_exit_return.c,
 * test_exit_call.c): starts a stream on the test server's `stall` scenario (two events, then
 * nothing for 30 s while the client stays) and waits until its first event has arrived, so the
 * process ends with oairun's threads in the middle of a submission. */
#ifndef OAIRUN_TEST_EXIT_WITH_STREAM_H
#define OAIRUN_TEST_EXIT_WITH_STREAM_H

#include <time.h>

#include "check.h"

/* Reachable from here when the process ends: the tests leave them unfreed on purpose, and the
 * leak checkers do not count what a global still points to. Not static, so the compiler keeps
 * the stores to them. */
oairun_client *exit_client;
oairun_stream *exit_stream;
static int exit_events;

static int exit_on_event(const oairun_event *event, void *user_data) {
    (void)event;
    (void)user_data;
    __atomic_add_fetch(&exit_events, 1, __ATOMIC_SEQ_CST);
    return 0;
}

/* Returns once the stream has delivered an event (checked; gives up after 10 s). */
static void start_stalled_stream(void) {
    exit_client = test_client();
    oairun_tool_outputs *outputs = test_outputs();
    oairun_error *err = NULL;
    CHECK_STATUS(oairun_submit_tool_outputs_stream_start(exit_client, "stall", "run_123", outputs,
                                                         exit_on_event, NULL, &exit_stream, &err),
                 OAIRUN_OK);
    CHECK(exit_stream != NULL);
    oairun_tool_outputs_free(outputs); /* borrowed for the call only */
    struct timespec five_ms = {0, 5000000L};
    for (int i = 0; i < 2000 && __atomic_load_n(&exit_events, __ATOMIC_SEQ_CST) == 0; i++)
        nanosleep(&five_ms, NULL);
    CHECK(__atomic_load_n(&exit_events, __ATOMIC_SEQ_CST) > 0);
}

#endif
