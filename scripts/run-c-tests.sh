#!/usr/bin/env bash
# Runs the compiled C tests (C and C++ builds) under valgrind, and prints one closing line:
# "N passed, N failed". Called by `make test-c` inside scripts/with-testserver.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
# Every memory error fails, and so does every definite or indirect leak. "Possibly lost" blocks
# are not counted: oairun's runtime threads are still running when a program exits, and the
# hash tables of their live tasks (Rust's hashbrown keeps a pointer into the middle of each
# table) are reported as possibly lost, more or fewer depending on timing. A block that C
# dropped without freeing, or that Rust forgot, has no pointer at all: definitely lost.
valgrind_cmd=(valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite,indirect
              --show-possibly-lost=no --error-exitcode=99)
if ! command -v valgrind >/dev/null; then
    echo "run-c-tests: valgrind is not installed (apt-get install valgrind)" >&2
    exit 2
fi
passed=0
failed=0
for t in "$@"; do
    for bin in "target/ctests/$t" "target/ctests/$t.cpp"; do
        if "${valgrind_cmd[@]}" "$bin"; then
            echo "PASS $bin (valgrind clean)"
            passed=$((passed + 1))
        else
            echo "FAIL $bin (exit $?)"
            failed=$((failed + 1))
        fi
    done
done
echo "C tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
