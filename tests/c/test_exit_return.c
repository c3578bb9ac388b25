/* A process that returns from main while a started stream still runs (nothing cancelled,
 * waited for or freed) ends normally: exit status 0, no crash, under valgrind and the
 * sanitizers alike. The runner counts any other status or a signal as a failure. */
#include "exit_with_stream.h"

int main(void) {
    start_stalled_stream();
    return check_report("test_exit_return");
}
