"""The benchmark's driver, run by bench/run inside its virtual environment with the release
test server up (OPENAI_BASE_URL, OPENAI_API_KEY set by scripts/with-testserver.sh).

Runs every measurement of issue 5 (and the Responses stream of issue 9) several times, each in
a fresh process, prints a table of medians, ratios and targets, and writes it to
bench/results.md and into README.md's Performance section (between its markers). Settings
(environment): BENCH_N (deltas of the throughput streams, one per endpoint, default 100000), BENCH_ROUNDS (repetitions of the
fast consumers, default 7; the official SDK runs ceil(ROUNDS/2) times), BENCH_LATENCY_N
(default 2000), BENCH_SCALE (streams, default 1000), BENCH_SCALE_EVENTS (default 1000).
"""

import datetime
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "bench")
LIB = os.path.join(ROOT, "target", "release", "liboairun.so")
CONSUME_PY = os.path.join(ROOT, "bench", "py", "consume.py")
RESULTS = os.path.join(ROOT, "bench", "results.md")
README = os.path.join(ROOT, "README.md")
# README's Performance section shows the latest table between these two lines.
README_BEGIN, README_END = "<!-- bench results: begin -->", "<!-- bench results: end -->"

N = int(os.environ.get("BENCH_N", "100000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))
SDK_ROUNDS = max(1, math.ceil(ROUNDS / 2))
LATENCY_N = int(os.environ.get("BENCH_LATENCY_N", "2000"))
SCALE = int(os.environ.get("BENCH_SCALE", "1000"))
SCALE_EVENTS = int(os.environ.get("BENCH_SCALE_EVENTS", "1000"))
MEMORY_SMALL, MEMORY_LARGE = 10_000, 1_000_000

BASE_URL = os.environ["OPENAI_BASE_URL"]
API_KEY = os.environ["OPENAI_API_KEY"]


def log(message):
    print(message, file=sys.stderr, flush=True)


def run_json(argv, what):
    """Runs one measurement process and returns the JSON line it prints; fails loudly."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"bench: {what} failed (exit {done.returncode}):\n{done.stderr}{done.stdout}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result.get("ok") is False:
        raise SystemExit(f"bench: {what} reported a wrong result: {result}\n{done.stderr}")
    return result


# The two endpoints of the throughput measurement, in the table's order.
ENDPOINTS = ("assistants", "responses")


def curl_once(n, endpoint="assistants"):
    if endpoint == "assistants":
        body = json.dumps({"tool_outputs": [{"tool_call_id": "call_001", "output": "70 degrees and sunny."}],
                           "stream": True})
        url = f"{BASE_URL}/threads/long_{n}/runs/run_bench/submit_tool_outputs"
    else:
        body = json.dumps({"model": f"long_{n}",
                           "input": [{"type": "function_call_output", "call_id": "call_001",
                                      "output": "70 degrees and sunny."}],
                           "stream": True})
        url = f"{BASE_URL}/responses"
    done = subprocess.run(
        ["curl", "-sN", "-X", "POST", url, "-H", f"Authorization: Bearer {API_KEY}",
         "-H", "Content-Type: application/json", "-H", "Accept: text/event-stream",
         "-d", body, "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}"],
        capture_output=True, text=True, timeout=600)
    code, size, seconds = done.stdout.split()
    if done.returncode != 0 or code != "200":
        raise SystemExit(f"bench: curl failed: exit {done.returncode}, HTTP {code}, {done.stderr}")
    return {"seconds": float(seconds), "bytes": int(size)}


def c_stream(mode, n, endpoint="assistants"):
    return run_json([os.path.join(BIN, "stream_consume"), mode, str(n), endpoint],
                    f"C consumer {mode} {n} {endpoint}")


def py_stream(client, mode, n, endpoint="assistants"):
    return run_json([sys.executable, CONSUME_PY, client, mode, str(n), endpoint],
                    f"Python {client} {mode} {n} {endpoint}")


def median(results, key):
    return statistics.median(r[key] for r in results)


def throughput():
    """{endpoint: {consumer: [run, ...]}} for both endpoints' N-delta streams."""
    consumers = {}
    for endpoint in ENDPOINTS:
        consumers[endpoint] = {
            "curl": (ROUNDS, lambda e=endpoint: curl_once(N, e)),
            "c": (ROUNDS, lambda e=endpoint: c_stream("throughput", N, e)),
            "python": (ROUNDS, lambda e=endpoint: py_stream("oairun", "throughput", N, e)),
            "sdk": (SDK_ROUNDS, lambda e=endpoint: py_stream("openai", "throughput", N, e)),
        }
    runs = {endpoint: {name: [] for name in consumers[endpoint]} for endpoint in ENDPOINTS}
    # Rounds interleave the consumers and the endpoints, so a burst of load elsewhere on the
    # machine spreads over all of them instead of landing on one.
    for round_ in range(ROUNDS):
        for endpoint in ENDPOINTS:
            for name, (repeat, measure) in consumers[endpoint].items():
                if round_ < repeat:
                    result = measure()
                    runs[endpoint][name].append(result)
                    log(f"throughput round {round_ + 1}: {endpoint} {name} {result['seconds']:.4f} s")
    return runs


def latency():
    runs = {"floor": [], "c": [], "python": [], "sdk": []}
    for round_ in range(3):
        runs["floor"].append(run_json([os.path.join(BIN, "latency_floor"), str(LATENCY_N)],
                                      "latency floor"))
        runs["c"].append(c_stream("latency", LATENCY_N))
        runs["python"].append(py_stream("oairun", "latency", LATENCY_N))
        runs["sdk"].append(py_stream("openai", "latency", LATENCY_N))
        log(f"latency round {round_ + 1}: " + ", ".join(
            f"{k} p50 {v[-1]['p50_us']:.0f} us p99 {v[-1]['p99_us']:.0f} us" for k, v in runs.items()))
    return runs


def memory():
    runs = {MEMORY_SMALL: [], MEMORY_LARGE: []}
    for round_ in range(3):
        for n in runs:
            runs[n].append(c_stream("memory", n))
            log(f"memory round {round_ + 1}: {n} events, max RSS {runs[n][-1]['peak_rss_kib']} KiB")
    return runs


def scale():
    runs = []
    for round_ in range(3):
        result = run_json([os.path.join(BIN, "scale"), str(SCALE), str(SCALE_EVENTS)], "scale")
        runs.append(result)
        log(f"scale round {round_ + 1}: {result}")
    return runs


def startup():
    stripped = os.path.join(BIN, "liboairun.stripped.so")
    subprocess.run(["strip", "-o", stripped, LIB], check=True)
    runs = []
    for _ in range(ROUNDS * 2 + 1):
        runs.append(run_json([os.path.join(BIN, "startup"), stripped], "startup"))
    log(f"startup: {runs[-1]}")
    return {"runs": runs, "stripped_bytes": os.path.getsize(stripped),
            "unstripped_bytes": os.path.getsize(LIB)}


def verdict(met):
    return "**met**" if met else "**NOT met**"


def fmt_s(seconds):
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


# Per endpoint: its name in the table, its delta event, how many events surround the deltas
# in its long_N stream (head and tail), and the C function that streams it.
THROUGHPUT_ENDPOINTS = {
    "assistants": ("Assistants", "thread.message.delta", 6, "oairun_submit_tool_outputs_stream"),
    "responses": ("Responses", "response.output_text.delta", 8, "oairun_create_response_stream"),
}


def table(t, lat, mem, sc, st):
    rows = []

    def row(*cells):
        rows.append("| " + " | ".join(cells) + " |")

    wires = []
    for endpoint in ENDPOINTS:
        name, event, framing, _ = THROUGHPUT_ENDPOINTS[endpoint]
        wire = t[endpoint]["curl"][0]["bytes"]
        wires.append(f"{name}, `{event}`: {wire / 1e6:.1f} MB on the wire, "
                     f"{wire / (N + framing):.0f} bytes per event on average")
    rows.append(f"### Throughput: one stream of {N:,} text deltas per endpoint")
    rows.append("")
    rows.append("; ".join(wires) + ". Each consumer reassembles the text from the deltas and "
                "checks it; \"vs curl\" and \"SDK time / this\" compare with the same endpoint's "
                "curl and SDK.")
    rows.append("")
    row("endpoint", "consumer", "median", "runs", "events/s", "vs curl", "SDK time / this",
        "target", "verdict")
    row(*["---"] * 9)
    for endpoint in ENDPOINTS:
        name, _, _, c_function = THROUGHPUT_ENDPOINTS[endpoint]
        runs = t[endpoint]
        curl = median(runs["curl"], "seconds")
        sdk = median(runs["sdk"], "seconds")
        c = median(runs["c"], "seconds")
        py = median(runs["python"], "seconds")
        row(name, "curl -sN (floor, raw bytes to /dev/null)", fmt_s(curl), str(len(runs["curl"])),
            f"{N / curl:,.0f}", "1.00x", f"{sdk / curl:.1f}x", "", "")
        row(name, f"C, `{c_function}`", fmt_s(c), str(len(runs["c"])), f"{N / c:,.0f}",
            f"{c / curl:.2f}x", f"{sdk / c:.1f}x", "≥50x faster than SDK, ≤3x curl",
            verdict(sdk / c >= 50 and c / curl <= 3))
        row(name, "Python, oairun binding (`stream=True`)", fmt_s(py), str(len(runs["python"])),
            f"{N / py:,.0f}", f"{py / curl:.2f}x", f"{sdk / py:.1f}x", "≥5x faster than SDK",
            verdict(sdk / py >= 5))
        row(name, "Python, official `openai` SDK", fmt_s(sdk), str(len(runs["sdk"])),
            f"{N / sdk:,.0f}", f"{sdk / curl:.2f}x", "1.0x", "", "")
    rows.append("")

    interval_ms = median(lat["c"], "seconds") / LATENCY_N * 1e3
    rows.append(f"### Delivery latency: server write → consumer, one event per ms asked "
                f"({interval_ms:.2f} ms apart as written: the server's timer ticks in whole ms), "
                f"{LATENCY_N:,} events, median of {len(lat['c'])} runs")
    rows.append("")
    row("consumer", "p50", "p99", "max", "target", "verdict")
    row(*["---"] * 6)
    for key, label in (("floor", "floor: plain blocking recv(), no library"),
                       ("c", "C callback entry"), ("python", "Python, oairun binding (loop body)"),
                       ("sdk", "Python, official SDK (loop body)")):
        p50, p99, mx = (median(lat[key], k) for k in ("p50_us", "p99_us", "max_us"))
        target = "p50 < 50 µs, p99 < 500 µs" if key == "c" else "(reported)"
        v = verdict(p50 < 50 and p99 < 500) if key == "c" else ""
        if key == "c" and not (p50 < 50 and p99 < 500):
            v += " (see README, Performance)"
        row(label, f"{p50:.0f} µs", f"{p99:.0f} µs", f"{mx:.0f} µs", target, v)
    rows.append("")

    small = median(mem[MEMORY_SMALL], "peak_rss_kib")
    large = median(mem[MEMORY_LARGE], "peak_rss_kib")
    diff = large - small
    rows.append("### Memory: peak RSS of the C consumer (text checked as it arrives, not kept)")
    rows.append("")
    row("stream", "peak RSS (median of 3)", "target", "verdict")
    row(*["---"] * 4)
    row(f"{MEMORY_SMALL:,} events", f"{small / 1024:.2f} MiB", "", "")
    row(f"{MEMORY_LARGE:,} events", f"{large / 1024:.2f} MiB",
        f"difference {diff / 1024:+.2f} MiB, ≤ 2 MiB", verdict(diff <= 2048))
    rows.append("")

    completed = min(r["completed"] for r in sc)
    lib_threads = max(r["library_threads"] for r in sc)
    rows.append(f"### Scale: {SCALE:,} concurrent streams of {SCALE_EVENTS:,} events, one client, "
                f"started with the non-blocking API (callbacks on oairun's threads); {len(sc)} runs")
    rows.append("")
    row("measure", "value", "target", "verdict")
    row(*["---"] * 4)
    row("streams complete with the right text (worst run)", f"{completed:,} / {SCALE:,}",
        "all", verdict(completed == SCALE))
    row("wall time (median)", fmt_s(median(sc, "seconds")), "", "")
    row("peak RSS (median)", f"{median(sc, 'peak_rss_kib') / 1024:.1f} MiB", "(reported)", "")
    row("oairun's own threads at peak (worst run; program's "
        f"{sc[0]['own_threads']:,} excluded)", str(lib_threads), "< 64", verdict(lib_threads < 64))
    rows.append("")

    runs = st["runs"]
    total = median(runs, "client_new_and_first_submit_ms")
    rows.append(f"### Start-up: fresh process, stripped library, median of {len(runs)} runs")
    rows.append("")
    row("measure", "value", "target", "verdict")
    row(*["---"] * 4)
    row("`oairun_client_new` + first submission (sync, loopback)", f"{total:.2f} ms", "< 5 ms",
        verdict(total < 5))
    row("of which `oairun_client_new`", f"{median(runs, 'client_new_ms'):.2f} ms", "", "")
    row("of which the first submission", f"{median(runs, 'first_submit_ms'):.2f} ms", "", "")
    row("`dlopen` of the stripped `liboairun.so`", f"{median(runs, 'dlopen_ms'):.2f} ms",
        "(reported)", "")
    row("`liboairun.so` size, stripped", f"{st['stripped_bytes'] / 1024:,.0f} KiB "
        f"(unstripped {st['unstripped_bytes'] / 1024:,.0f} KiB)", "(reported)", "")
    return "\n".join(rows)


def machine():
    def cmd(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True).stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            return "unknown"

    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import openai

    return (f"{os.cpu_count()} cores ({model}), {platform.system()} {platform.release()}; "
            f"{cmd(['rustc', '--version'])}; Python {platform.python_version()}; "
            f"openai {openai.__version__}; {cmd(['curl', '--version'])}")


def update_readme(results):
    """Replaces the table between README's markers (left alone when they are missing)."""
    with open(README) as f:
        readme = f.read()
    start, end = readme.find(README_BEGIN), readme.find(README_END)
    if start < 0 or end < start:
        log("bench: README.md has no results markers; left unchanged")
        return
    readme = readme[:start + len(README_BEGIN)] + "\n" + results + "\n" + readme[end:]
    with open(README, "w") as f:
        f.write(readme)


def main():
    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = os.getloadavg()
    log(f"bench: N={N}, rounds={ROUNDS} (official SDK {SDK_ROUNDS}), server {BASE_URL}")
    for endpoint in ENDPOINTS:
        curl_once(1000, endpoint)  # warm the server and the page cache
    t = throughput()
    lat = latency()
    mem = memory()
    sc = scale()
    st = startup()
    load_after = os.getloadavg()
    body = table(t, lat, mem, sc, st)
    header = (f"Run on {started:%Y-%m-%d %H:%M} UTC with `bench/run`: {machine()}. "
              f"Load average before/after: {load_before[0]:.2f} / {load_after[0]:.2f}. "
              f"Each figure is a median over fresh processes; times are measured inside each "
              f"consumer from the submission to the end of the stream (client already created), "
              f"curl's is its `time_total`. The test server runs on the same machine and shares "
              f"its cores.")
    text = f"# oairun benchmark results\n\n{header}\n\n{body}\n"
    with open(RESULTS, "w") as f:
        f.write(text)
    raw = os.path.join(BIN, "raw.json")
    with open(raw, "w") as f:
        json.dump({"throughput": t, "latency": lat, "memory": {str(k): v for k, v in mem.items()},
                   "scale": sc, "startup": st}, f, indent=1)
    update_readme(f"{header}\n\n{body}")
    print(text)
    log(f"bench: wrote {os.path.relpath(RESULTS, ROOT)} and README.md's table "
        f"(raw runs: {os.path.relpath(raw, ROOT)})")


if __name__ == "__main__":
    if shutil.which("curl") is None:
        raise SystemExit("bench: curl is not installed")
    main()
