/* A process that calls exit() while a started stream still runs (nothing cancelled, waited for
 * or freed) ends normally: exit status 0, no crash, under valgrind and the sanitizers alike. The
 * runner counts any other status or a signal as a failure. */
#include "exit_with_stream.h"

static void end_here(void) {
    int failed = check_report("test_exit_call");
    fflush(stdout);
    exit(failed);
}

int main(void) {
    start_stalled_stream();
    end_here();
    return 1; /* not reached */
}
