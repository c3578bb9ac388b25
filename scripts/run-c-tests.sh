#!/usr/bin/env bash
# Runs the compiled C tests: the plain builds (C and C++; see OAIRUN_VALGRIND_SECOND_BUILD below)
# under valgrind, the sanitized builds (*.san, *.cpp.san: ASan with LeakSanitizer, and UBSan) on
# their own, as the two do not mix.
# Prints one closing line: "N passed, N failed". Called by `make test-c` inside
# scripts/with-testserver.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
# Every memory error fails, and so does every definite or indirect leak. "Possibly lost" blocks
# are not counted: oairun's runtime threads are still running when a program exits, and the
# hash tables of their live tasks (Rust's hashbrown keeps a pointer into the middle of each
# table) are reported as possibly lost, more or fewer depending on timing. A block that C
# dropped without freeing, or that Rust forgot, has no pointer at all: definitely lost.
# tests/c/valgrind.supp excuses two places in ring's AES-GCM, which Memcheck cannot follow (the
# file says why); --num-callers is deep enough for its patterns to see rustls under tokio.
valgrind_cmd=(valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite,indirect
              --show-possibly-lost=no --error-exitcode=99
              --suppressions=tests/c/valgrind.supp --num-callers=40)
if ! command -v valgrind >/dev/null; then
    echo "run-c-tests: valgrind is not installed (apt-get install valgrind)" >&2
    exit 2
fi
# Every sanitizer finding fails the program; what the environment adds comes last and wins.
# liboairun.so is not instrumented (Rust code), but its allocations go through the malloc that
# ASan replaces: a block C never freed, or freed twice, or used after oairun_x_free, is found
# whichever side allocated it. LeakSanitizer needs no suppressions: the shared runtime's
# threads and tasks are still running at exit, but what they hold is reachable from their
# stacks or from the library's statics, which LeakSanitizer scans (interior pointers count).
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

passed=0
failed=0
# run BINARY WHAT COMMAND...: runs COMMAND, counting BINARY as passed ("WHAT clean") or failed.
run() {
    local bin=$1 what=$2
    shift 2
    if "$@"; then
        echo "PASS $bin ($what clean)"
        passed=$((passed + 1))
    else
        echo "FAIL $bin (exit $?)"
        failed=$((failed + 1))
    fi
}
# OAIRUN_VALGRIND_SECOND_BUILD=0 (make test-c): the second build (a C test compiled as C++) runs
# under the sanitizers only. It runs the same program against the same library as the first,
# which valgrind checks already; valgrind is what takes the time.
for t in "$@"; do
    plain=("target/ctests/$t")
    [ "${OAIRUN_VALGRIND_SECOND_BUILD:-1}" != 0 ] && plain+=("target/ctests/$t.cpp")
    for bin in "${plain[@]}"; do
        run "$bin" valgrind "${valgrind_cmd[@]}" "$bin"
    done
    for bin in "target/ctests/$t.san" "target/ctests/$t.cpp.san"; do
        # A build that lost its sanitizers would pass silently: check they are linked.
        needed=$(readelf -d "$bin" 2>/dev/null)
        if grep -q 'libasan\.so' <<<"$needed" && grep -q 'libubsan\.so' <<<"$needed"; then
            run "$bin" "ASan, LSan, UBSan" "$bin"
        else
            echo "FAIL $bin (not linked to libasan and libubsan)"
            failed=$((failed + 1))
        fi
    done
done
echo "C tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
