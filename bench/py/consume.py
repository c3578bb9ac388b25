"""The benchmark's Python consumers: one streamed call, the assistant text reassembled from
its text deltas and checked against the expected text.

    python consume.py oairun|openai throughput|latency N [assistants|responses]

`assistants` (the default): `oairun` uses the oairun binding
(`Client.submit_tool_outputs(..., stream=True)`), `openai` the official SDK
(`client.beta.threads.runs.submit_tool_outputs(..., stream=True)`), the text read from each
thread.message.delta. `responses`: both use `client.responses.create(model=<scenario>,
input=[one function_call_output item], stream=True)`, the text read from each
response.output_text.delta (the test server's Responses `long_N` spells the same text).
Both read the server and key from OPENAI_BASE_URL and OPENAI_API_KEY. `throughput` reads
`long_N`; `latency` (assistants only) reads `slow_1_N`, where the server writes one delta per
millisecond with its CLOCK_REALTIME write time in "sent_ns", and the time is read again as the
loop receives each event. Prints one JSON line (in latency mode with every latency too, as
"samples_ns", when BENCH_LATENCY_SAMPLES is set); exits 1 when the stream fails or the text is
wrong.
"""

import json
import math
import os
import sys
import time
import warnings

# The generator the test server documents (oairun_testserver::long_text): delta i carries
# word i % 18 of this cycle.
LONG_WORDS = [
    "The", " quick", ' "brown"', " fox", " jumps", " over", " the", " lazy", " dog",
    " \u2014", " caf\u00e9", " na\u00efve", " \u65e5\u672c", " back\\slash", " tab\there",
    " \U0001f980", ".", "\n",
]

OUTPUTS = [{"tool_call_id": "call_001", "output": "70 degrees and sunny."}]
# The same tool output as a Responses input item.
INPUT = [{"type": "function_call_output", "call_id": "call_001", "output": "70 degrees and sunny."}]


def peak_rss_kib():
    """VmHWM: unlike getrusage's ru_maxrss, not carried over exec from the parent."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))


def expected_text(n):
    return "".join(LONG_WORDS[i % len(LONG_WORDS)] for i in range(n))


def oairun_stream(thread_id):
    from oairun import Client

    client = Client()

    def events():
        stream = client.submit_tool_outputs(
            "run_bench", thread_id=thread_id, tool_outputs=OUTPUTS, stream=True
        )
        for event in stream:
            if event.event == "thread.message.delta":
                data = event.data
                yield data["delta"]["content"][0]["text"]["value"], data.get("sent_ns")

    return events


def openai_stream(thread_id):
    import openai

    warnings.simplefilter("ignore", DeprecationWarning)  # the Assistants API is deprecated
    client = openai.OpenAI()

    def events():
        stream = client.beta.threads.runs.submit_tool_outputs(
            thread_id=thread_id, run_id="run_bench", tool_outputs=OUTPUTS, stream=True
        )
        for event in stream:
            if event.event == "thread.message.delta":
                data = event.data
                for block in data.delta.content or []:
                    if block.type == "text" and block.text is not None:
                        yield block.text.value or "", getattr(data, "sent_ns", None)

    return events


def oairun_responses_stream(model):
    from oairun import Client

    client = Client()

    def events():
        stream = client.responses.create(model=model, input=INPUT, stream=True)
        for event in stream:
            if event.event == "response.output_text.delta":
                yield event.data["delta"], None

    return events


def openai_responses_stream(model):
    import openai

    client = openai.OpenAI()

    def events():
        stream = client.responses.create(model=model, input=INPUT, stream=True)
        for event in stream:
            if event.type == "response.output_text.delta":
                yield event.delta, None

    return events


STREAMS = {
    ("oairun", "assistants"): oairun_stream,
    ("openai", "assistants"): openai_stream,
    ("oairun", "responses"): oairun_responses_stream,
    ("openai", "responses"): openai_responses_stream,
}


def main():
    args = sys.argv[1:]
    endpoint = args.pop() if len(args) == 4 else "assistants"
    if (
        len(args) != 3
        or (args[0], endpoint) not in STREAMS
        or args[1] not in ("throughput", "latency")
        or (endpoint, args[1]) == ("responses", "latency")
    ):
        sys.exit("usage: consume.py oairun|openai throughput|latency N [assistants|responses]"
                 " (latency: assistants only)")
    client, mode, n = args[0], args[1], int(args[2])
    scenario = f"long_{n}" if mode == "throughput" else f"slow_1_{n}"
    events = STREAMS[client, endpoint](scenario)

    parts = []
    latencies = []
    start = time.perf_counter()
    if mode == "throughput":
        for value, _ in events():
            parts.append(value)
    else:
        for value, sent_ns in events():
            latencies.append(time.time_ns() - int(sent_ns))
            parts.append(value)
    text = "".join(parts)
    seconds = time.perf_counter() - start

    ok = len(parts) == n and text == expected_text(n)
    if not ok:
        print(f"consume.py: {len(parts)} deltas (expected {n}); text matches: "
              f"{text == expected_text(n)}", file=sys.stderr)
    result = {
        "client": client,
        "endpoint": endpoint,
        "mode": mode,
        "n": n,
        "ok": ok,
        "seconds": seconds,
        "text_bytes": len(text.encode()),
        "peak_rss_kib": peak_rss_kib(),
    }
    if latencies:
        latencies.sort()

        def quantile(q):
            rank = min(len(latencies), max(1, math.ceil(q * len(latencies))))
            return latencies[rank - 1] / 1000.0

        result.update(p50_us=quantile(0.50), p99_us=quantile(0.99), max_us=latencies[-1] / 1000.0)
        if os.environ.get("BENCH_LATENCY_SAMPLES"):
            result["samples_ns"] = latencies  # for bench.py to pool over many runs
    print(json.dumps(result))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
