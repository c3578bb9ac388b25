#!/usr/bin/env bash
# Runs each cargo-fuzz target in fuzz/ for SECONDS (default 30) under AddressSanitizer: the
# SSE decoder, the stream engine under the Responses rule, and the JSON readers of tool outputs
# and tool calls (4 targets, so 2 minutes of fuzzing by default).
#
#   scripts/fuzz.sh [SECONDS]
#
# Installs cargo-fuzz (a pinned version) when it is missing. The toolchain is stable, where
# rustc accepts the sanitizer flag only with RUSTC_BOOTSTRAP=1; stable ships the ASan runtime,
# so ASan works here and gives what a plain build cannot: memory errors and, after every
# input, leaks (the C entry point's allocations) are reported as crashes.
#
# The build lives in fuzz/target, the corpus libFuzzer grows in fuzz/corpus (both ignored by
# git); the committed seeds in fuzz/seeds and crash cases in fuzz/regressions are read too.
# Exits non-zero when a target crashed, saying where the crash input is and how to keep it.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
case $seconds in
'' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

# 0.13.2 builds with rustc 1.95 from its lock file (--locked).
cargo_fuzz_version=0.13.2
if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $cargo_fuzz_version" ]; then
    echo "== installing cargo-fuzz $cargo_fuzz_version"
    cargo install cargo-fuzz --version "$cargo_fuzz_version" --locked
fi

export RUSTC_BOOTSTRAP=1
# -a: debug assertions (integer overflow checks included) in the fuzzed code.
build_flags=(--sanitizer address --debug-assertions)
targets=(sse_decoder responses_stream tool_outputs_from_json tool_calls_from_json)

echo "== building the fuzz targets"
cargo fuzz build "${build_flags[@]}"

failed=()
for target in "${targets[@]}"; do
    echo "== fuzzing $target for ${seconds} s"
    mkdir -p "fuzz/corpus/$target"
    corpora=("fuzz/corpus/$target" "fuzz/seeds/$target")
    [ -d "fuzz/regressions/$target" ] && corpora+=("fuzz/regressions/$target")
    # -max_len: the decoder, the stream rule (whose small event cap is 64 bytes) and the JSON
    # readers have nothing that only inputs over 4 KiB reach, and shorter inputs mean more of
    # them. -timeout: one input of at most 4 KiB taking 30 s is a hang, reported as a crash
    # rather than left to eat the CI time.
    if ! cargo fuzz run "${build_flags[@]}" "$target" "${corpora[@]}" -- \
        -max_total_time="$seconds" -max_len=4096 -timeout=30 -print_final_stats=1; then
        failed+=("$target")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    for target in "${failed[@]}"; do
        cat >&2 <<EOF

== $target CRASHED. The input that crashed it is in fuzz/artifacts/$target/ (the line
   "Test unit written to ..." above names the file). To reproduce, shrink and keep it:
     RUSTC_BOOTSTRAP=1 cargo fuzz run ${build_flags[*]} $target fuzz/artifacts/$target/<file>
     RUSTC_BOOTSTRAP=1 cargo fuzz tmin ${build_flags[*]} $target fuzz/artifacts/$target/<file>
     mkdir -p fuzz/regressions/$target
     cp fuzz/artifacts/$target/<file tmin names last> fuzz/regressions/$target/<what-it-shows>
   cargo test --test fuzz_regressions then replays it (without cargo-fuzz) until it is fixed,
   and for good after.
EOF
    done
    exit 1
fi
echo "== fuzzing: no crash in ${#targets[@]} targets, ${seconds} s each"
