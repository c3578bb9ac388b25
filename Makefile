# The two commands of README.md:
#   make demo   builds everything and runs the examples against the loopback test server
#   make test   runs every test: Rust, then C (as C and as C++, under valgrind and under
#               ASan+UBSan), then Python
# Everything builds in debug mode: the library is the same code, and debug builds are quick.

CARGO    ?= cargo
CC       ?= gcc
CXX      ?= g++
LIBDIR   := target/debug
OUT      := target/examples/c
TESTOUT  := target/ctests
WARN     := -Wall -Wextra -Werror
CFLAGS   ?= -g -O1
INCLUDES := -Iinclude
LINK     := -L$(LIBDIR) -loairun -Wl,-rpath,$(abspath $(LIBDIR))
# AddressSanitizer (with LeakSanitizer) and UndefinedBehaviorSanitizer, every finding fatal.
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

C_TESTS  := $(basename $(notdir $(wildcard tests/c/test_*.c)))

.PHONY: build examples demo test test-rust test-c test-python bench clean

build:
	$(CARGO) build --workspace

examples: build
	mkdir -p $(OUT)
	$(CC) $(WARN) $(CFLAGS) $(INCLUDES) examples/c/submit.c -o $(OUT)/submit $(LINK)
	$(CC) $(WARN) $(CFLAGS) $(INCLUDES) examples/c/stream.c -o $(OUT)/stream $(LINK)
	$(CC) $(WARN) $(CFLAGS) $(INCLUDES) examples/c/tool_loop.c -o $(OUT)/tool_loop $(LINK)

demo: examples
	scripts/with-testserver.sh scripts/demo.sh

test: test-rust test-c test-python

test-rust:
	$(CARGO) test --workspace

# Each C test is compiled four times, as C and as C++, plain and with the sanitizers, against
# include/oairun.h and linked to the same built shared library; the plain builds run under
# valgrind, the sanitized ones (*.san) on their own, all against one test server.
test-c: build
	mkdir -p $(TESTOUT)
	for t in $(C_TESTS); do \
	  $(CC) $(WARN) -std=c11 -D_DEFAULT_SOURCE $(CFLAGS) $(INCLUDES) tests/c/$$t.c -o $(TESTOUT)/$$t $(LINK) || exit 1; \
	  $(CXX) $(WARN) -x c++ -std=c++17 $(CFLAGS) $(INCLUDES) tests/c/$$t.c -o $(TESTOUT)/$$t.cpp $(LINK) || exit 1; \
	  $(CC) $(WARN) -std=c11 -D_DEFAULT_SOURCE $(CFLAGS) $(SANITIZE) $(INCLUDES) tests/c/$$t.c -o $(TESTOUT)/$$t.san $(LINK) || exit 1; \
	  $(CXX) $(WARN) -x c++ -std=c++17 $(CFLAGS) $(SANITIZE) $(INCLUDES) tests/c/$$t.c -o $(TESTOUT)/$$t.cpp.san $(LINK) || exit 1; \
	done
	OAIRUN_TEST_FIXTURES=testserver/fixtures scripts/with-testserver.sh scripts/run-c-tests.sh $(C_TESTS)

# The Python binding's tests start their own test server (bindings/python/tests/conftest.py).
test-python: build
	python3 -m pytest -q -p no:cacheprovider bindings/python/tests

# The benchmark (release build; not part of make test): see README, Performance.
bench:
	bench/run

clean:
	$(CARGO) clean
