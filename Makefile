# The two commands of README.md:
#   make demo   builds everything and runs the examples against the loopback test server
#   make test   runs every test: Rust, then C (as C and as C++, under valgrind and under
#               ASan+UBSan), then the C++ header's (the same way), then Python, then the
#               installed library as C users build with it
# Everything builds in debug mode: the library is the same code, and debug builds are quick.
# `make install` builds in release mode and installs (see README, Installing).

CARGO    ?= cargo
CC       ?= gcc
CXX      ?= g++
BUILDDIR := target/debug
OUT      := target/examples/c
CPPOUT   := target/examples/cpp
TESTOUT  := target/ctests
WARN     := -Wall -Wextra -Werror
CFLAGS   ?= -g -O1
INCLUDES := -Iinclude
CPPINCLUDES := $(INCLUDES) -Ibindings/cpp
LINK     := -L$(BUILDDIR) -loairun -Wl,-rpath,$(abspath $(BUILDDIR))
# AddressSanitizer (with LeakSanitizer) and UndefinedBehaviorSanitizer, every finding fatal.
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

C_TESTS  := $(basename $(notdir $(wildcard tests/c/test_*.c)))
CPP_TESTS := $(basename $(notdir $(wildcard tests/cpp/test_*.cpp)))

# The version, from Cargo.toml only, and the SONAME build.rs gives the shared library: a program
# linked with -loairun looks for liboairun.so.<major>, so the build folder gets that link too.
VERSION  := $(shell sed -n '/^\[package\]/,/^\[/ s/^version *= *"\(.*\)"$$/\1/p' Cargo.toml)
SONAME   := liboairun.so.$(firstword $(subst ., ,$(VERSION)))

# Where `make install` puts things (scripts/install.sh); DESTDIR stages the tree elsewhere.
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR    ?= $(PREFIX)/share
DESTDIR    ?=
INSTALL_VARS = PREFIX="$(PREFIX)" LIBDIR="$(LIBDIR)" INCLUDEDIR="$(INCLUDEDIR)" \
               DATADIR="$(DATADIR)" DESTDIR="$(DESTDIR)"

.PHONY: build release examples demo test test-rust test-c test-cpp test-python test-install install uninstall bench soak clean

build:
	$(CARGO) build --workspace
	ln -sfn liboairun.so $(BUILDDIR)/$(SONAME)

# The release library (shared and static), as installed.
release:
	$(CARGO) build --release --lib
	ln -sfn liboairun.so target/release/$(SONAME)

examples: build
	mkdir -p $(OUT)
	$(CC) $(WARN) $(CFLAGS) $(INCLUDES) examples/c/submit.c -o $(OUT)/submit $(LINK)
	$(CC) $(WARN) $(CFLAGS) $(INCLUDES) examples/c/stream.c -o $(OUT)/stream $(LINK)
	$(CC) $(WARN) $(CFLAGS) $(INCLUDES) examples/c/responses.c -o $(OUT)/responses $(LINK)
	$(CC) $(WARN) $(CFLAGS) $(INCLUDES) examples/c/tool_loop.c -o $(OUT)/tool_loop $(LINK)
	$(CC) $(WARN) $(CFLAGS) $(INCLUDES) examples/c/reader.c -o $(OUT)/reader $(LINK)
	mkdir -p $(CPPOUT)
	$(CXX) $(WARN) -std=c++17 $(CFLAGS) $(CPPINCLUDES) examples/cpp/stream.cpp -o $(CPPOUT)/stream $(LINK)
	$(CXX) $(WARN) -std=c++17 $(CFLAGS) $(CPPINCLUDES) examples/cpp/tool_loop.cpp -o $(CPPOUT)/tool_loop $(LINK)
	$(CXX) $(WARN) -std=c++17 $(CFLAGS) $(CPPINCLUDES) examples/cpp/reader.cpp -o $(CPPOUT)/reader $(LINK)

demo: examples
	scripts/with-testserver.sh scripts/demo.sh

# Checks first that everything the tests use is installed (scripts/check-prereqs.sh names what
# is missing and the command that installs it), and stops before building when it is not.
test:
	scripts/check-prereqs.sh
	$(MAKE) --no-print-directory test-rust test-c test-cpp test-python test-install

test-rust:
	$(CARGO) test --workspace

# Each C test is compiled four times, as C and as C++, plain and with the sanitizers, against
# include/oairun.h and linked to the same built shared library; the plain C build runs under
# valgrind, the sanitized ones (*.san, C and C++) on their own, all against one test server. The
# plain C++ build of a C test is the same program as the C one, so it is not run under valgrind
# again (CI's time is bounded); the C++ wrapper's own tests (test-cpp) run every build.
test-c: build
	mkdir -p $(TESTOUT)
	for t in $(C_TESTS); do \
	  $(CC) $(WARN) -std=c11 -D_DEFAULT_SOURCE $(CFLAGS) $(INCLUDES) tests/c/$$t.c -o $(TESTOUT)/$$t $(LINK) || exit 1; \
	  $(CXX) $(WARN) -x c++ -std=c++17 $(CFLAGS) $(INCLUDES) tests/c/$$t.c -o $(TESTOUT)/$$t.cpp $(LINK) || exit 1; \
	  $(CC) $(WARN) -std=c11 -D_DEFAULT_SOURCE $(CFLAGS) $(SANITIZE) $(INCLUDES) tests/c/$$t.c -o $(TESTOUT)/$$t.san $(LINK) || exit 1; \
	  $(CXX) $(WARN) -x c++ -std=c++17 $(CFLAGS) $(SANITIZE) $(INCLUDES) tests/c/$$t.c -o $(TESTOUT)/$$t.cpp.san $(LINK) || exit 1; \
	done
	OAIRUN_TEST_FIXTURES=testserver/fixtures OAIRUN_VALGRIND_SECOND_BUILD=0 \
	  scripts/with-testserver.sh scripts/run-c-tests.sh $(C_TESTS)

# The tests of the C++ header bindings/cpp/oairun.hpp, each compiled four times with warnings as
# errors: as C++17 (the plain name) and as C++20 (`.cpp`), each plain and with the sanitizers
# (`.san`), under the names scripts/run-c-tests.sh runs as it runs the C tests: the plain builds
# under valgrind, the sanitized ones on their own, against one test server.
# The binaries are files with prerequisites, rebuilt only when a source or header changed, and
# built in parallel under `make -j`.
test-cpp: build
	$(MAKE) --no-print-directory cpp-test-bins
	OAIRUN_TEST_FIXTURES=testserver/fixtures scripts/with-testserver.sh scripts/run-c-tests.sh $(CPP_TESTS)

CPP_TEST_DEPS := bindings/cpp/oairun.hpp include/oairun.h tests/cpp/check.hpp tests/c/check.h tests/c/server.h
CPP_TEST_BINS := $(foreach t,$(CPP_TESTS),$(TESTOUT)/$(t) $(TESTOUT)/$(t).cpp $(TESTOUT)/$(t).san $(TESTOUT)/$(t).cpp.san)

.PHONY: cpp-test-bins
cpp-test-bins: $(CPP_TEST_BINS)

$(addprefix $(TESTOUT)/,$(CPP_TESTS)): $(TESTOUT)/%: tests/cpp/%.cpp $(CPP_TEST_DEPS)
	@mkdir -p $(TESTOUT)
	$(CXX) $(WARN) -std=c++17 $(CFLAGS) $(CPPINCLUDES) $< -o $@ $(LINK)
$(addsuffix .cpp,$(addprefix $(TESTOUT)/,$(CPP_TESTS))): $(TESTOUT)/%.cpp: tests/cpp/%.cpp $(CPP_TEST_DEPS)
	@mkdir -p $(TESTOUT)
	$(CXX) $(WARN) -std=c++20 $(CFLAGS) $(CPPINCLUDES) $< -o $@ $(LINK)
$(addsuffix .san,$(addprefix $(TESTOUT)/,$(CPP_TESTS))): $(TESTOUT)/%.san: tests/cpp/%.cpp $(CPP_TEST_DEPS)
	@mkdir -p $(TESTOUT)
	$(CXX) $(WARN) -std=c++17 $(CFLAGS) $(SANITIZE) $(CPPINCLUDES) $< -o $@ $(LINK)
$(addsuffix .cpp.san,$(addprefix $(TESTOUT)/,$(CPP_TESTS))): $(TESTOUT)/%.cpp.san: tests/cpp/%.cpp $(CPP_TEST_DEPS)
	@mkdir -p $(TESTOUT)
	$(CXX) $(WARN) -std=c++20 $(CFLAGS) $(SANITIZE) $(CPPINCLUDES) $< -o $@ $(LINK)

# The Python binding's tests start their own test server (bindings/python/tests/conftest.py).
test-python: build
	python3 -m pytest -q -p no:cacheprovider bindings/python/tests

# Stages `make install` in a temporary folder and checks it as a C user meets it: SONAME, exported
# symbols against the header, a consumer built through pkg-config and one through CMake run
# against the test server, then `make uninstall` (scripts/test-install.sh). Builds the release
# library (about 2 minutes from cold on two cores).
test-install: build
	scripts/test-install.sh

# Installs the release build under $(DESTDIR)$(PREFIX): liboairun.so.$(VERSION) and its links,
# liboairun.a, oairun.h (and the C++ header when bindings/cpp has it), oairun.pc, and the CMake
# package oairun::oairun; uninstall (same PREFIX, DATADIR and DESTDIR) removes exactly that.
install: release
	$(INSTALL_VARS) scripts/install.sh install

uninstall:
	$(INSTALL_VARS) scripts/install.sh uninstall

# The benchmark (release build; not part of make test): see README, Performance.
bench:
	bench/run

# The soak test (release build; not part of make test): SOAK_N submissions from SOAK_THREADS
# threads on one client, both APIs, every kind of call and fault, with RSS and descriptors
# watched (bench/c/soak.c; README, Reliability).
SOAK_N       ?= 100000
SOAK_THREADS ?= 16
soak: release
	$(CARGO) build --release -p oairun-testserver
	mkdir -p target/bench
	$(CC) -O2 $(WARN) -std=gnu11 -D_GNU_SOURCE -Iinclude -Ibench/c bench/c/soak.c -o target/bench/soak \
	  -Ltarget/release -loairun -Wl,-rpath,$(abspath target/release) -lpthread -lm
	OAIRUN_TESTSERVER=target/release/oairun-testserver scripts/with-testserver.sh \
	  target/bench/soak $(SOAK_N) $(SOAK_THREADS)

clean:
	$(CARGO) clean
