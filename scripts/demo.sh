#!/usr/bin/env bash
# The demo: the C, C++ and Python examples (synchronous, streamed, and the tool-call loop) against
# the loopback test server, the way a user runs them against the real API. Run through
# `make demo`, which builds them first.
set -euo pipefail
cd "$(dirname "$0")/.."

run() {
    printf '\n$'
    printf ' %q' "$@"
    printf '\n'
    "$@"
}

echo "oairun demo: the test server is at $OPENAI_BASE_URL (loopback; no real key needed)"
echo
echo "== C, synchronous: submit the output of call_001 and print the Run object"
run target/examples/c/submit thread_123 run_123 call_001 "70 degrees and sunny."
echo
echo "== C, streamed: the assistant's text as it arrives, then the run's final status"
run target/examples/c/stream thread_123 run_123 call_001 "70 degrees and sunny."
echo
echo "== C, streamed from a slower server (60 deltas, 25 ms apart): the text appears piece by piece"
run target/examples/c/stream slow_25_60 run_123 call_001 "70 degrees and sunny."
echo
echo "== C, an error answer: what a failure looks like"
run target/examples/c/submit status_404 run_123 call_001 "70 degrees and sunny." || true
echo
echo "== C, the Responses API: return a function's output to the model (previous_response_id +"
echo "   a function_call_output item) and print its answer as it streams"
run target/examples/c/responses resp_fixed_function_call call_fixed_get_weather '{"temp_c":15,"sky":"clear"}'
echo
echo "== C, the pull API: the same stream, its events taken on this thread in batches (with a"
echo "   time limit) instead of through a callback"
run target/examples/c/reader resp_fixed_function_call call_fixed_get_weather '{"temp_c":15,"sky":"clear"}'
echo
echo "== C, the tool-call loop (Responses): the model calls a weather and a clock tool until it"
echo "   can answer; the test server's scripted model \`tool_loop\` answers with the outputs it got"
echo "   (against a real server: OPENAI_BASE_URL, OPENAI_API_KEY and --model or OAIRUN_MODEL)"
run target/examples/c/tool_loop --model tool_loop
echo
echo "== C, the same loop with \"store\": false: every request replays the whole conversation"
run target/examples/c/tool_loop --model tool_loop --no-store
echo
echo "== C++ (bindings/cpp/oairun.hpp), streamed: a question through the Responses API, the answer as it arrives"
run target/examples/cpp/stream
echo
echo "== C++, the tool-call loop: the same agent, a lambda per role"
run target/examples/cpp/tool_loop --model tool_loop
echo
echo "== C++, pulled instead of called back: an event loop polls the reader's descriptor and takes"
echo "   the events that are there (oairun::Reader, OAIRUN_READER_BACKGROUND)"
run target/examples/cpp/reader
echo
echo "== Python, synchronous: the same submission through the ctypes binding"
run python3 examples/python/submit.py thread_123 run_123 call_001 "70 degrees and sunny."
echo
echo "== Python, streamed"
run python3 examples/python/stream.py slow_25_60 run_123 call_001 "70 degrees and sunny."
echo
echo "== Python, the Responses API: run the function a first response asks for, send its output back"
echo "   (previous_response_id + a function_call_output item) and print the answer as it streams"
run python3 examples/python/responses.py
echo
echo "== Python, the tool-call loop (Responses): client.responses.run_tools runs the weather and"
echo "   clock tools (plain Python functions) until the model answers, printing it as it streams"
run python3 examples/python/tool_loop.py --model tool_loop
