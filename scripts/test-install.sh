#!/usr/bin/env bash
# Tests `make install` as a C user meets it (run by `make test-install`, part of `make test`):
#   1. stages `make install DESTDIR=<tmp> PREFIX=/usr/local`;
#   2. checks the SONAME, and that liboairun.so exports exactly the header's functions;
#   3. builds tests/install/consumer.c through pkg-config (tests/install/pkgconfig) and through
#      CMake find_package (tests/install/cmake: oairun::oairun and oairun::static), checks the
#      dynamic ones need liboairun.so.0 and run with the staged copy, and runs them all against
#      the test server (one synchronous submission each, Run id checked);
#   4. `make uninstall` with the same DESTDIR and PREFIX, and checks nothing is left.
# Needs the debug test server (make build) and cmake, pkg-config, readelf, nm.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
    echo "test-install: FAIL: $*" >&2
    exit 1
}

# Step 3's running part, inside scripts/with-testserver.sh: test-install.sh --run DIR BINARY...
if [ "${1:-}" = --run ]; then
    libdir=$2
    shift 2
    for bin in "$@"; do
        # The dynamic consumers must find liboairun.so.0 in the staged tree, not elsewhere.
        if readelf -d "$bin" | grep -q 'NEEDED.*liboairun'; then
            resolved=$(LD_LIBRARY_PATH=$libdir ldd "$bin" | awk '$1 == "liboairun.so.0" {print $3}')
            [ "$resolved" = "$libdir/liboairun.so.0" ] ||
                fail "$bin loads liboairun.so.0 from '$resolved', not from $libdir"
        fi
        echo "== running $bin"
        LD_LIBRARY_PATH=$libdir "$bin" || fail "$bin exited with $?"
    done
    exit 0
fi

missing=()
for tool in cmake pkg-config readelf nm ldd; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "test-install: missing ${missing[*]}: apt-get install -y cmake pkg-config binutils libc-bin" >&2
    exit 2
fi

start=$SECONDS
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
stage=$tmp/stage
prefix=/usr/local
libdir=$stage$prefix/lib

echo "== make install DESTDIR=$stage PREFIX=$prefix"
make --no-print-directory install DESTDIR="$stage" PREFIX="$prefix" >"$tmp/install.log" ||
    { cat "$tmp/install.log"; fail "make install"; }
grep '^installed' "$tmp/install.log"

echo "== SONAME and exported functions"
real=$(find "$libdir" -maxdepth 1 -name 'liboairun.so.*.*.*' -type f)
[ -n "$real" ] || fail "no liboairun.so.X.Y.Z in $libdir"
soname=$(readelf -d "$real" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = liboairun.so.0 ] || fail "$real has SONAME '$soname', expected liboairun.so.0"
[ "$(readlink "$libdir/liboairun.so.0")" = "$(basename "$real")" ] || fail "liboairun.so.0 link"
[ "$(readlink "$libdir/liboairun.so")" = "$(basename "$real")" ] || fail "liboairun.so link"
echo "SONAME $soname; links liboairun.so.0 and liboairun.so -> $(basename "$real")"

# The functions the header declares (comments removed first: they name functions too), and
# the functions the library exports.
perl -0777 -pe 's{/\*.*?\*/}{}gs; s{//[^\n]*}{}g' "$stage$prefix/include/oairun.h" |
    grep -oE '\boairun_[a-z0-9_]+[[:space:]]*\(' | sed 's/[[:space:](]//g' | sort -u >"$tmp/header"
nm -D --defined-only "$real" | awk '$2 ~ /^[TtWiI]$/ {print $3}' | sort -u >"$tmp/exported"
nm -D --defined-only "$real" | awk '$2 !~ /^[TtWiI]$/ {print}' >"$tmp/other"
if ! cmp -s "$tmp/header" "$tmp/exported"; then
    echo "declared in oairun.h but not exported (<) / exported but not declared (>):" >&2
    diff "$tmp/header" "$tmp/exported" >&2 || true
    fail "liboairun.so's exported functions differ from the header's"
fi
[ ! -s "$tmp/other" ] || { cat "$tmp/other" >&2; fail "liboairun.so exports other symbols"; }
echo "liboairun.so exports exactly the $(wc -l <"$tmp/header") functions oairun.h declares"

echo "== consumer through pkg-config"
export PKG_CONFIG_PATH=$libdir/pkgconfig
pkg-config --exists --print-errors oairun || fail "pkg-config does not find oairun.pc"
mkdir -p "$tmp/pkgconfig"
make --no-print-directory -C tests/install/pkgconfig OUT="$tmp/pkgconfig" \
    PKG_CONFIG="pkg-config --define-prefix" || fail "the pkg-config consumer does not build"

echo "== C++ consumer through pkg-config: examples/cpp/tool_loop.cpp with the installed oairun.hpp"
[ -f "$stage$prefix/include/oairun.hpp" ] || fail "oairun.hpp is not installed"
${CXX:-g++} -std=c++17 -Wall -Wextra -Werror examples/cpp/tool_loop.cpp \
    $(pkg-config --define-prefix --cflags --libs oairun) -o "$tmp/pkgconfig/cpp_consumer" ||
    fail "the C++ consumer does not build against the staged install"
readelf -d "$tmp/pkgconfig/cpp_consumer" | grep -q 'NEEDED.*liboairun\.so\.0' ||
    fail "the C++ consumer does not need liboairun.so.0"

echo "== consumer through CMake find_package"
cmake -S tests/install/cmake -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$stage$prefix" \
    -DCMAKE_BUILD_TYPE=Release >"$tmp/cmake.log" || { cat "$tmp/cmake.log"; fail "cmake configure"; }
cmake --build "$tmp/cmake" >>"$tmp/cmake.log" || { cat "$tmp/cmake.log"; fail "cmake build"; }
echo "built consumer (oairun::oairun) and consumer_static (oairun::static)"

dynamic=("$tmp/pkgconfig/consumer" "$tmp/cmake/consumer")
for bin in "${dynamic[@]}"; do
    needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(liboairun[^]]*\)\]/\1/p')
    [ "$needed" = liboairun.so.0 ] || fail "$bin needs '$needed', expected liboairun.so.0"
done
! readelf -d "$tmp/cmake/consumer_static" | grep -q 'NEEDED.*liboairun' ||
    fail "consumer_static needs liboairun.so"
echo "both dynamic consumers need liboairun.so.0; the static one no liboairun"

scripts/with-testserver.sh "$0" --run "$libdir" "${dynamic[@]}" "$tmp/cmake/consumer_static"

echo "== make uninstall DESTDIR=$stage PREFIX=$prefix"
make --no-print-directory uninstall DESTDIR="$stage" PREFIX="$prefix" >"$tmp/uninstall.log" ||
    { cat "$tmp/uninstall.log"; fail "make uninstall"; }
left=$(find "$stage" -mindepth 1)
[ -z "$left" ] || fail "make uninstall left: $left"
echo "make uninstall removed everything it installed, and the directories it created"

echo "test-install: passed in $((SECONDS - start)) s"
