"""The benchmark's driver, run by bench/run inside its virtual environment with the release
test server up (OPENAI_BASE_URL, OPENAI_API_KEY set by scripts/with-testserver.sh).

Runs every measurement of issue 5 (and the Responses stream of issue 9) and of issue 12
several times, each in a fresh process, prints a table of medians, ratios and targets (issue
12's first, each with its verdict), and writes it to bench/results.md and into README.md's
Performance section (between its markers). The figures also go to bench/results.json, which
the next run reads to show every figure that moved by more than 10% (when there is none, the
figures of the tables in bench/results.md are read instead). Item 6's verdict ("no existing
figure worse by more than 10%") compares instead with the code as issue 12 found it, which
bench/run builds (BENCH_BASELINE) and this driver measures in the same run, interleaved; a
figure whose median is worse by more than 10% is measured again in adjacent pairs and judged
on the median of the pairs' ratios, and a control checks that judge every run (second_look,
judge_control).

Settings (environment): BENCH_N (deltas of the throughput streams, one per endpoint, default
100000), BENCH_ROUNDS (repetitions of the fast consumers, default 7), BENCH_SDK_ROUNDS
(repetitions of the official SDK, default 3, at most BENCH_ROUNDS), BENCH_LATENCY_N (default
2000), BENCH_LATENCY_ROUNDS (default 5: the medians of the latency runs move by several us
from run to run, the floor's too), BENCH_LATENCY_SLICES (default 4: the runs of each C latency
program per round, of BENCH_LATENCY_N / BENCH_LATENCY_SLICES events each), BENCH_SCALE
(streams, default 1000), BENCH_SCALE_EVENTS (default 1000), BENCH_SCALE_ROUNDS (default 7; 3
until 2026-11-30, whose medians moved by more than 10% from run to run),
BENCH_CONFIRM_PAIRS (default 30, made even: the pairs of item 6's second look and of its
control; the ratio of two back-to-back runs of the same C consumer spreads from 0.72 to 1.44,
and the median of 30 such ratios has a standard error near 4.5%, estimated from 20 pairs),
BENCH_STARTUP_ROUNDS (default 61: a start-up takes a few ms, and the sub-millisecond figures
of 15 runs moved by 20% between the library and the baseline with no difference between
them, which 150 interleaved pairs showed: 0.421 against 0.426 ms for `dlopen`).
"""

import datetime
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "bench")
LIB = os.path.join(ROOT, "target", "release", "liboairun.so")
CONSUME_PY = os.path.join(ROOT, "bench", "py", "consume.py")
RESULTS = os.path.join(ROOT, "bench", "results.md")
RESULTS_JSON = os.path.join(ROOT, "bench", "results.json")
README = os.path.join(ROOT, "README.md")
# README's Performance section shows the latest table between these two lines.
README_BEGIN, README_END = "<!-- bench results: begin -->", "<!-- bench results: end -->"

N = int(os.environ.get("BENCH_N", "100000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))
SDK_ROUNDS = max(1, min(ROUNDS, int(os.environ.get("BENCH_SDK_ROUNDS", "3"))))
LATENCY_N = int(os.environ.get("BENCH_LATENCY_N", "2000"))
LATENCY_ROUNDS = int(os.environ.get("BENCH_LATENCY_ROUNDS", "5"))
LATENCY_SLICES = int(os.environ.get("BENCH_LATENCY_SLICES", "4"))
LATENCY_SLICE_N = max(1, LATENCY_N // LATENCY_SLICES)  # events of each C latency run
SCALE = int(os.environ.get("BENCH_SCALE", "1000"))
SCALE_EVENTS = int(os.environ.get("BENCH_SCALE_EVENTS", "1000"))
STARTUP_ROUNDS = int(os.environ.get("BENCH_STARTUP_ROUNDS", "61"))
SCALE_ROUNDS = int(os.environ.get("BENCH_SCALE_ROUNDS", "7"))
# An even number: which process of a pair runs first alternates, and each order gets half.
CONFIRM_PAIRS = max(2, 2 * math.ceil(int(os.environ.get("BENCH_CONFIRM_PAIRS", "30")) / 2))
MEMORY_SMALL, MEMORY_LARGE = 10_000, 1_000_000
MEMORY_ROUNDS = 3

# Issue 12's targets.
LATENCY_P50_OVER_FLOOR_US = 15  # p50 at most this far above the recv() floor's p50
LATENCY_P99_OVER_FLOOR = 2.0  # p99 at most this many times the floor's p99
MAX_THREADS = 64  # the scale test's process stays below this many threads
CPU_OVER_CURL = 2.5  # the C consumer's whole-process CPU at most this many times curl's
PYTHON_OVER_SDK = 25  # the binding's whole process at least this many times faster than the SDK's
MEMORY_FLAT_KIB = 2048  # 1,000,000 events' peak RSS at most this much above 10,000 events'
STARTUP_MS = 5  # start-up under this
WORSE_LIMIT = 0.10  # no figure worse than the previous run's by more than this
# Item 6's control: this many times the events must be judged worse (see judge_control).
CONTROL_MORE = 1.2

# The variables that make oairun_client_new read and parse a bundle of root certificates
# instead of using its bundled roots (README, "Pointing it at a server"); the SDK's HTTP client
# may read them too. Every measured process runs without them (the loopback server speaks plain
# HTTP), except the start-up runs that are said to have them, when this environment sets them.
CERT_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR")
CERT_ENV = {k: os.environ.pop(k) for k in CERT_VARIABLES if k in os.environ}

BASE_URL = os.environ["OPENAI_BASE_URL"]
API_KEY = os.environ["OPENAI_API_KEY"]

# Item 6's baseline: the code as issue 12 found it, which bench/run builds in
# target/bench-baseline/ (BENCH_BASELINE); its library, C consumer and Python binding are
# measured in this run, interleaved with today's, so that "worse" compares the two under the
# same load instead of with a run made at another time. None when bench/run could not build it.
BASELINE = os.environ.get("BENCH_BASELINE_DIR") or None
BASELINE_COMMIT = os.environ.get("BENCH_BASELINE_COMMIT", "")
if BASELINE:
    BASELINE_BIN = os.path.join(BASELINE, "bench")
    BASELINE_LIB = os.path.join(BASELINE, "target", "release", "liboairun.so")
    # Today's consume.py (the same program then: bench/py has not changed) with its binding.
    BASELINE_PY_ENV = dict(os.environ, OAIRUN_LIBRARY=BASELINE_LIB,
                           PYTHONPATH=os.path.join(BASELINE, "src", "bindings", "python"))


def log(message):
    print(message, file=sys.stderr, flush=True)


def run_process(argv, what, timeout=1800, env=None):
    """Runs one process to its end; returns (stdout, stderr, usage), usage being the whole
    process's wall time (perf_counter from before the fork to after the reap) and its user
    and system CPU time, from the kernel's rusage of the reaped child (os.wait4: the counters
    /usr/bin/time prints, read in microseconds instead of its %U/%S hundredths, which are
    truncated). Fails loudly on a non-zero exit."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, rusage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"bench: {what} failed (exit {proc.returncode}):\n{stderr}{stdout}")
    usage = {"wall_s": wall, "user_s": rusage.ru_utime, "sys_s": rusage.ru_stime,
             "cpu_s": rusage.ru_utime + rusage.ru_stime}
    return stdout, stderr, usage


def run_json(argv, what, env=None):
    """Runs one measurement process and returns the JSON line it prints, with the whole
    process's usage under "process"; fails loudly."""
    stdout, stderr, usage = run_process(argv, what, env=env)
    result = json.loads(stdout.strip().splitlines()[-1])
    if result.get("ok") is False:
        raise SystemExit(f"bench: {what} reported a wrong result: {result}\n{stderr}")
    result["process"] = usage
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
    stdout, stderr, usage = run_process(
        ["curl", "-sN", "-X", "POST", url, "-H", f"Authorization: Bearer {API_KEY}",
         "-H", "Content-Type: application/json", "-H", "Accept: text/event-stream",
         "-d", body, "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}"],
        "curl", timeout=600)
    code, size, seconds = stdout.split()
    if code != "200":
        raise SystemExit(f"bench: curl failed: HTTP {code}, {stderr}")
    return {"seconds": float(seconds), "bytes": int(size), "process": usage}


def c_stream(mode, n, endpoint="assistants", api="callback", text=None, env=None):
    return run_json([os.path.join(BIN, "stream_consume"), mode, str(n), endpoint, api]
                    + ([text] if text else []), f"C consumer {mode} {n} {endpoint} {api} {text or ''}",
                    env=env)


def py_stream(client, mode, n, endpoint="assistants", env=None, who="Python"):
    return run_json([sys.executable, CONSUME_PY, client, mode, str(n), endpoint],
                    f"{who} {client} {mode} {n} {endpoint}", env=env)


def baseline_c_stream(mode, n, endpoint="assistants"):
    """The baseline's own C consumer (callback API: it has no other)."""
    return run_json([os.path.join(BASELINE_BIN, "stream_consume"), mode, str(n), endpoint],
                    f"baseline C consumer {mode} {n} {endpoint}")


def baseline_py_stream(mode, n, endpoint="assistants", samples=False):
    env = dict(BASELINE_PY_ENV, BENCH_LATENCY_SAMPLES="1") if samples else BASELINE_PY_ENV
    return py_stream("oairun", mode, n, endpoint, env=env, who="baseline Python")


# The prefix of the baseline's runs among today's, until split_baseline moves them out.
BASE = "baseline:"


def median(results, key):
    return statistics.median(r[key] for r in results)


def process_median(results, key):
    return statistics.median(r["process"][key] for r in results)


# The consumers of the throughput and latency measurements: key, label, and for the C ones
# the API.
C_APIS = (("c_callback", "callback"), ("c_pull", "pull"))


def throughput():
    """{endpoint: {consumer: [run, ...]}} for both endpoints' N-delta streams."""
    consumers = {}
    for endpoint in ENDPOINTS:
        consumers[endpoint] = {
            "curl": (ROUNDS, lambda e=endpoint: curl_once(N, e)),
            "c_callback": (ROUNDS, lambda e=endpoint: c_stream("throughput", N, e, "callback")),
            "c_pull": (ROUNDS, lambda e=endpoint: c_stream("throughput", N, e, "pull")),
            "python": (ROUNDS, lambda e=endpoint: py_stream("oairun", "throughput", N, e)),
            "sdk": (SDK_ROUNDS, lambda e=endpoint: py_stream("openai", "throughput", N, e)),
        }
    # The Assistants pull consumer again, reading the text as the callback one does (common.h),
    # so that the two APIs compare with the same text extraction.
    consumers["assistants"]["c_pull_own"] = (
        ROUNDS, lambda: c_stream("throughput", N, "assistants", "pull", "own"))
    if BASELINE:
        for endpoint in ENDPOINTS:
            consumers[endpoint][BASE + "c_callback"] = (
                ROUNDS, lambda e=endpoint: baseline_c_stream("throughput", N, e))
            consumers[endpoint][BASE + "python"] = (
                ROUNDS, lambda e=endpoint: baseline_py_stream("throughput", N, e))
    runs = {endpoint: {name: [] for name in consumers[endpoint]} for endpoint in ENDPOINTS}
    # Rounds interleave the consumers and the endpoints, so a burst of load elsewhere on the
    # machine spreads over all of them instead of landing on one.
    for round_ in range(ROUNDS):
        for endpoint in ENDPOINTS:
            for name, (repeat, measure) in consumers[endpoint].items():
                if round_ < repeat:
                    result = measure()
                    runs[endpoint][name].append(result)
                    p = result["process"]
                    log(f"throughput round {round_ + 1}: {endpoint} {name} {result['seconds']:.4f} s "
                        f"(process: wall {p['wall_s']:.4f} s, CPU {p['cpu_s']:.4f} s)")
    return runs


def latency():
    """{consumer: [run, ...]}, and {consumer: pooled quantiles} of the consumers that give their
    samples (every one but the baseline's C consumer, which predates BENCH_LATENCY_SAMPLES).

    Each round runs the C group (the recv() floor, the C callback and pull consumers, the
    baseline's C consumer) in LATENCY_SLICES short runs of LATENCY_N / LATENCY_SLICES events
    each, their order turned by one place from slice to slice, then the Python ones with
    LATENCY_N events. Issue 12's item 2 is judged on the quantiles of all the samples of each
    program pooled over the run: the machine's speed moves within seconds, and one run of
    each, seconds apart, compared a program measured in a fast spell with one measured in a
    slow one (see README, Performance)."""
    env = dict(os.environ, BENCH_LATENCY_SAMPLES="1")
    group = [("floor", lambda: run_json([os.path.join(BIN, "latency_floor"), str(LATENCY_SLICE_N)],
                                        "latency floor", env=env))]
    group += [(key, lambda a=api: c_stream("latency", LATENCY_SLICE_N, "assistants", a, env=env))
              for key, api in C_APIS]
    if BASELINE:
        group.append((BASE + "c_callback", lambda: baseline_c_stream("latency", LATENCY_SLICE_N)))
    python = [("python", lambda: py_stream("oairun", "latency", LATENCY_N, env=env)),
              ("sdk", lambda: py_stream("openai", "latency", LATENCY_N, env=env))]
    if BASELINE:
        python.append((BASE + "python", lambda: baseline_py_stream("latency", LATENCY_N,
                                                                   samples=True)))
    runs = {key: [] for key, _ in group + python}
    samples = {key: [] for key in runs}
    turn = 0
    for round_ in range(LATENCY_ROUNDS):
        slices = []
        for _ in range(LATENCY_SLICES):
            slices.append(group[turn % len(group):] + group[:turn % len(group)])
            turn += 1
        for key, measure in [m for order in slices for m in order] + python:
            result = measure()
            samples[key].extend(result.pop("samples_ns", ()))
            runs[key].append(result)
        log(f"latency round {round_ + 1}: " + ", ".join(
            f"{k} p50 {v[-1]['p50_us']:.0f} us p99 {v[-1]['p99_us']:.0f} us" for k, v in runs.items()))
    pooled = {key: pooled_quantiles(values) for key, values in samples.items() if values}
    return runs, pooled


def pooled_quantiles(samples_ns):
    """p50, p99 and max (nearest rank, as the programs compute theirs) of the samples, in µs."""
    values = sorted(samples_ns)

    def quantile(q):
        return values[min(len(values), max(1, math.ceil(q * len(values)))) - 1] / 1000.0

    return {"p50_us": quantile(0.50), "p99_us": quantile(0.99), "max_us": values[-1] / 1000.0,
            "samples": len(values)}


def memory():
    """{api: {events: [run, ...]}} for the C consumer's callback and pull forms."""
    apis = [(api, lambda n, a=api: c_stream("memory", n, "assistants", a)) for _, api in C_APIS]
    if BASELINE:
        apis.append((BASE + "callback", lambda n: baseline_c_stream("memory", n)))
    runs = {api: {MEMORY_SMALL: [], MEMORY_LARGE: []} for api, _ in apis}
    for round_ in range(MEMORY_ROUNDS):
        for api, measure in apis:
            for n in runs[api]:
                runs[api][n].append(measure(n))
                log(f"memory round {round_ + 1}: {api} {n} events, max RSS "
                    f"{runs[api][n][-1]['peak_rss_kib']} KiB")
    return runs


def scale_run(baseline=False):
    """One run of the scale test, today's or the baseline's."""
    bin_dir, who = (BASELINE_BIN, "baseline scale") if baseline else (BIN, "scale")
    return run_json([os.path.join(bin_dir, "scale"), str(SCALE), str(SCALE_EVENTS)], who)


def scale():
    """[run, ...], and the baseline's (empty without one), interleaved."""
    runs, baseline = [], []
    for round_ in range(SCALE_ROUNDS):
        result = scale_run()
        runs.append(result)
        log(f"scale round {round_ + 1}: {result}")
        if BASELINE:
            baseline.append(scale_run(baseline=True))
            log(f"scale round {round_ + 1}, baseline: {baseline[-1]}")
    return runs, baseline


def stripped_library(baseline=False):
    """Where startup() puts today's (or the baseline's) library, stripped, which start-up
    loads."""
    return os.path.join(BASELINE_BIN if baseline else BIN, "liboairun.stripped.so")


def startup_run(baseline=False, env=None, who=None):
    """One start-up run, today's or the baseline's, of the stripped library startup() made."""
    bin_dir = BASELINE_BIN if baseline else BIN
    return run_json([os.path.join(bin_dir, "startup"), stripped_library(baseline)],
                    who or ("baseline startup" if baseline else "startup"), env=env)


def startup():
    """Start-up with the bundled roots (CERT_VARIABLES removed from the environment) and, when
    this environment sets any of them, also with them as set: the runs interleave."""
    stripped = stripped_library()
    subprocess.run(["strip", "-o", stripped, LIB], check=True)
    cert_env = CERT_ENV
    runs, runs_cert_env, baseline = [], [], []
    if BASELINE:
        base_stripped = stripped_library(baseline=True)
        subprocess.run(["strip", "-o", base_stripped, BASELINE_LIB], check=True)
    for _ in range(STARTUP_ROUNDS):
        runs.append(startup_run())
        if cert_env:
            runs_cert_env.append(startup_run(env=dict(os.environ, **cert_env),
                                             who=f"startup with {', '.join(cert_env)}"))
        if BASELINE:
            baseline.append(startup_run(baseline=True))
    log(f"startup: {runs[-1]}" + (f"; with {', '.join(cert_env)}: {runs_cert_env[-1]}"
                                   if cert_env else "")
        + (f"; baseline: {baseline[-1]}" if baseline else ""))
    result = {"runs": runs, "runs_cert_env": runs_cert_env, "cert_env": cert_env,
              "stripped_bytes": os.path.getsize(stripped), "unstripped_bytes": os.path.getsize(LIB)}
    if BASELINE:
        result[BASE] = {"runs": baseline, "runs_cert_env": [], "cert_env": {},
                        "stripped_bytes": os.path.getsize(base_stripped),
                        "unstripped_bytes": os.path.getsize(BASELINE_LIB)}
    return result


def split_baseline(res):
    """Moves the baseline's runs out of a run's results into results of the same shape (None
    without a baseline), which `figures` reads as it reads today's."""
    base = {"throughput": {}, "latency": {}, "memory": {}, "scale": res.pop("scale_baseline"),
            "latency_pooled": {},
            "startup": res["startup"].pop(BASE, None)}

    def take(runs):
        return {k[len(BASE):]: runs.pop(k) for k in list(runs) if k.startswith(BASE)}

    for endpoint, runs in res["throughput"].items():
        base["throughput"][endpoint] = take(runs)
    base["latency"] = take(res["latency"])
    base["latency_pooled"] = take(res["latency_pooled"])
    base["memory"] = take(res["memory"])
    return base if base["startup"] is not None else None


# --- Figures: the measurements compared from run to run ------------------------------------

# Units of the figures: how each is shown. Every figure is better lower.
UNITS = {
    "s": lambda v: fmt_s(v),
    "us": lambda v: f"{v:.0f} µs",
    "ms": lambda v: f"{v:.2f} ms",
    "kib": lambda v: f"{v / 1024:.2f} MiB",
    "size_kib": lambda v: f"{v:,.0f} KiB",
    "count": lambda v: f"{v:.0f}",
}

CONSUMER_LABELS = {
    "curl": "curl",
    "c_callback": "C callback",
    "c_pull": "C pull",
    "c_pull_own": "C pull, common.h's text extractor",
    "python": "Python binding",
    "sdk": "Python SDK",
    "floor": "recv() floor",
}
ENDPOINT_LABELS = {"assistants": "Assistants", "responses": "Responses"}


def figures(res):
    """Every primary figure of a run (medians; not the ratios derived from them, nor maxima,
    which are single samples), by a key that stays the same from run to run."""
    out = {}

    def fig(key, label, value, unit, **params):
        out[key] = {"label": label, "value": value, "unit": unit, "params": params}

    t = res["throughput"]
    for endpoint in ENDPOINTS:
        for consumer, runs in t[endpoint].items():
            name = f"{ENDPOINT_LABELS[endpoint]}, {CONSUMER_LABELS[consumer]}"
            fig(f"throughput.{endpoint}.{consumer}.seconds", f"throughput: {name}, time",
                median(runs, "seconds"), "s", n=N)
            fig(f"process.{endpoint}.{consumer}.wall_s", f"whole process: {name}, wall",
                process_median(runs, "wall_s"), "s", n=N)
            fig(f"process.{endpoint}.{consumer}.cpu_s", f"whole process: {name}, CPU",
                process_median(runs, "cpu_s"), "s", n=N)
    for consumer, runs in res["latency"].items():
        n = runs[0]["n"]
        for q in ("p50", "p99"):
            fig(f"latency.{consumer}.{q}_us", f"latency: {CONSUMER_LABELS[consumer]}, {q}",
                median(runs, f"{q}_us"), "us", n=n)
    for consumer, pooled in res.get("latency_pooled", {}).items():
        for q in ("p50", "p99"):
            fig(f"latency.{consumer}.pooled_{q}_us",
                f"latency: {CONSUMER_LABELS[consumer]}, {q} of all runs' samples",
                pooled[f"{q}_us"], "us", samples=pooled["samples"])
    for api, by_n in res["memory"].items():
        for n, runs in by_n.items():
            fig(f"memory.{api}.{n}.peak_rss_kib", f"memory: C {api}, {int(n):,} events, peak RSS",
                median(runs, "peak_rss_kib"), "kib")
    sc = res["scale"]
    params = {"streams": SCALE, "events": SCALE_EVENTS}
    fig("scale.seconds", "scale: wall time", median(sc, "seconds"), "s", **params)
    fig("scale.peak_rss_kib", "scale: peak RSS", median(sc, "peak_rss_kib"), "kib", **params)
    fig("scale.library_threads", "scale: oairun's threads at peak (worst run)",
        max(r["library_threads"] for r in sc), "count", **params)
    fig("scale.peak_threads", "scale: process threads at peak (worst run)",
        max(r["peak_threads"] for r in sc), "count", **params)
    st = res["startup"]
    for key, label in (("total_ms", "`dlopen` + client + first submission"),
                       ("client_new_and_first_submit_ms", "client + first submission"),
                       ("client_new_ms", "`oairun_client_new`"),
                       ("first_submit_ms", "first submission"),
                       ("dlopen_ms", "`dlopen`")):
        fig(f"startup.{key}", f"start-up: {label}", median(st["runs"], key), "ms")
    if st["runs_cert_env"]:
        for key, label in (("total_ms", "`dlopen` + client + first submission"),
                           ("client_new_ms", "`oairun_client_new`")):
            fig(f"startup_cert_env.{key}",
                f"start-up with {' and '.join(st['cert_env'])}: {label}",
                median(st["runs_cert_env"], key), "ms")
    fig("startup.stripped_kib", "`liboairun.so` size, stripped", st["stripped_bytes"] / 1024,
        "size_kib")
    return out


def parse_old_results(text):
    """The figures of a bench/results.md written before bench/results.json existed (its
    tables' medians, as rounded there), by the keys `figures` gives; with the run's date and
    load."""
    out = {}
    meta = {"source": "bench/results.md (parsed: no bench/results.json yet)"}
    m = re.search(r"Run on (\S+ \S+) UTC", text)
    if m:
        meta["date"] = m.group(1)
    m = re.search(r"Load average before/after: (\d+\.\d+) / (\d+\.\d+)", text)
    if m:
        meta["load_before"], meta["load_after"] = float(m.group(1)), float(m.group(2))

    def value(cell):
        m = re.match(r"([\d,.]+) (ms|s|µs|MiB|KiB)\b", cell.strip())
        if not m:
            return None
        v, unit = float(m.group(1).replace(",", "")), m.group(2)
        return {"ms": v, "s": v, "µs": v, "MiB": v * 1024, "KiB": v}[unit], unit

    def seconds(cell):
        v, unit = value(cell)
        return v / 1000 if unit == "ms" else v

    def fig(key, v, unit, **params):
        out[key] = {"value": v, "unit": unit, "params": params}

    section, params = None, {}
    for line in text.splitlines():
        if line.startswith("### "):
            section = line[4:].split(":")[0].strip().lower()
            nums = [int(x.replace(",", "")) for x in re.findall(r"(\d[\d,]*) (?:text deltas|events|concurrent)", line)]
            params = {}
            if section == "throughput" and nums:
                params = {"n": nums[0]}
            elif section == "delivery latency" and nums:
                params = {"n": nums[-1]}
            elif section == "scale" and len(nums) >= 2:
                params = {"streams": nums[0], "events": nums[1]}
            continue
        if not line.startswith("| ") or line.startswith("| ---"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        try:
            if section == "throughput" and cells[0] in ("Assistants", "Responses"):
                endpoint = cells[0].lower()
                label = cells[1]
                consumer = ("curl" if label.startswith("curl") else
                            "c_callback" if label.startswith("C,") else
                            "python" if label.startswith("Python, oairun") else
                            "sdk" if label.startswith("Python, official") else None)
                if consumer:
                    fig(f"throughput.{endpoint}.{consumer}.seconds", seconds(cells[2]), "s", **params)
            elif section == "delivery latency":
                label = cells[0]
                consumer = ("floor" if label.startswith("floor") else
                            "c_callback" if label.startswith("C callback") else
                            "python" if label.startswith("Python, oairun") else
                            "sdk" if label.startswith("Python, official") else None)
                if consumer:
                    fig(f"latency.{consumer}.p50_us", value(cells[1])[0], "us", **params)
                    fig(f"latency.{consumer}.p99_us", value(cells[2])[0], "us", **params)
            elif section.startswith("memory"):
                m = re.match(r"([\d,]+) events", cells[0])
                if m:
                    n = int(m.group(1).replace(",", ""))
                    fig(f"memory.callback.{n}.peak_rss_kib", value(cells[1])[0], "kib")
            elif section == "scale":
                if cells[0].startswith("wall time"):
                    fig("scale.seconds", seconds(cells[1]), "s", **params)
                elif cells[0].startswith("peak RSS"):
                    fig("scale.peak_rss_kib", value(cells[1])[0], "kib", **params)
                elif cells[0].startswith("oairun's own threads"):
                    fig("scale.library_threads", float(cells[1]), "count", **params)
            elif section.startswith("start-up"):
                key = ("client_new_and_first_submit_ms" if cells[0].startswith("`oairun_client_new` + first") else
                       "client_new_ms" if cells[0].startswith("of which `oairun_client_new`") else
                       "first_submit_ms" if cells[0].startswith("of which the first submission") else
                       "dlopen_ms" if cells[0].startswith("`dlopen`") else None)
                if key:
                    fig(f"startup.{key}", value(cells[1])[0], "ms")
                elif cells[0].startswith("`liboairun.so` size"):
                    fig("startup.stripped_kib", value(cells[1])[0], "size_kib")
        except (TypeError, ValueError, IndexError):
            continue  # a cell this parser does not understand: that figure is not compared
    return {"run": meta, "figures": out}


def previous_results():
    """The previous run's figures: bench/results.json, else bench/results.md's tables; None
    when neither can be read. Read before this run writes either."""
    try:
        with open(RESULTS_JSON) as f:
            previous = json.load(f)
        previous["run"]["source"] = "bench/results.json"
        return previous
    except (OSError, ValueError, KeyError):
        pass
    try:
        with open(RESULTS) as f:
            previous = parse_old_results(f.read())
        return previous if previous["figures"] else None
    except OSError:
        return None


def compare(now, previous):
    """[(key, label, previous value, value now, change or None, note)] for every figure of
    this run, and the keys of those worse by more than WORSE_LIMIT."""
    rows, worse = [], []
    before = previous["figures"] if previous else {}
    for key, fig in now.items():
        old = before.get(key)
        if old is None:
            rows.append((key, fig, None, None, "new"))
        elif old.get("params", {}) != fig["params"]:
            rows.append((key, fig, old["value"], None, "not compared: other settings "
                         f"({old.get('params')} then, {fig['params']} now)"))
        elif old["value"] <= 0:
            rows.append((key, fig, old["value"], None, ""))
        else:
            change = fig["value"] / old["value"] - 1
            note = ""
            if change > WORSE_LIMIT:
                note = f"**worse by more than {WORSE_LIMIT:.0%}**"
                worse.append(key)
            rows.append((key, fig, old["value"], change, note))
    return rows, worse


# --- Item 6's second look: a flagged figure measured again in adjacent pairs ------------------

def remeasure(key):
    """(measurement, today's, the baseline's, the figure's value in one result) for a figure
    of item 6's comparison: the measurement (a name shared by the figures one process gives)
    made by one fresh process, as the run made it. None for a figure that is no measurement to
    repeat: the library's size, and the scale test's thread counts (maxima over its runs)."""
    parts = key.split(".")
    kind = parts[0]
    if kind in ("throughput", "process"):
        endpoint, consumer, field = parts[1:]
        if consumer == "c_callback":
            today = lambda: c_stream("throughput", N, endpoint, "callback")
            base = lambda: baseline_c_stream("throughput", N, endpoint)
        elif consumer == "python":
            today = lambda: py_stream("oairun", "throughput", N, endpoint)
            base = lambda: baseline_py_stream("throughput", N, endpoint)
        else:
            return None
        value = ((lambda r: r["seconds"]) if kind == "throughput"
                 else (lambda r: r["process"][field]))
        return f"throughput {endpoint} {consumer}", today, base, value
    if kind == "latency":
        consumer, field = parts[1:]
        quantile = field.replace("pooled_", "")  # one run's own p50_us / p99_us
        if consumer == "c_callback":
            today = lambda: c_stream("latency", LATENCY_SLICE_N, "assistants", "callback")
            base = lambda: baseline_c_stream("latency", LATENCY_SLICE_N)
        elif consumer == "python":
            today = lambda: py_stream("oairun", "latency", LATENCY_N)
            base = lambda: baseline_py_stream("latency", LATENCY_N)
        else:
            return None
        return f"latency {consumer}", today, base, lambda r: r[quantile]
    if kind == "memory":
        api, n = parts[1], int(parts[2])
        if api != "callback":
            return None
        return (f"memory {api} {n}", lambda: c_stream("memory", n, "assistants", "callback"),
                lambda: baseline_c_stream("memory", n), lambda r: r["peak_rss_kib"])
    if kind == "scale" and parts[1] in ("seconds", "peak_rss_kib"):
        return ("scale", scale_run, lambda: scale_run(baseline=True), lambda r: r[parts[1]])
    if kind == "startup" and parts[1] != "stripped_kib":
        return ("startup", startup_run, lambda: startup_run(baseline=True),
                lambda r: r[parts[1]])
    return None


def startup_pairs():
    """The second look's pairs for start-up: as many as its runs, made even."""
    return max(CONFIRM_PAIRS, 2 * math.ceil(STARTUP_ROUNDS / 2))


def measure_pairs(today, base, pairs):
    """[(today's result, the baseline's result)] of `pairs` pairs of fresh processes, the two of
    a pair run back to back, which of them first alternating from pair to pair."""
    out = []
    for i in range(pairs):
        if i % 2 == 0:
            t = today()
            b = base()
        else:
            b = base()
            t = today()
        out.append((t, b))
    return out


def paired_change(pairs):
    """The median over pairs of today's value / the baseline's, less 1: how much worse today's
    figure is when both are measured in the same seconds. A pair whose two processes ran in
    different speeds of the machine gives a ratio far off to either side, which the median
    passes over, as it does not the median of each side's values."""
    return statistics.median(t / b for t, b in pairs) - 1


def second_look(base_worse):
    """{key: (change in pairs, number of pairs)} for each figure the run's medians found worse
    than the baseline's by more than WORSE_LIMIT and that can be measured again (see
    `remeasure`); figures of one measurement share its pairs. Start-up takes
    startup_pairs() pairs (a process takes a few ms), the rest CONFIRM_PAIRS."""
    measured, out = {}, {}
    for key in base_worse:
        how = remeasure(key)
        if how is None:
            continue
        name, today, base, value = how
        if name not in measured:
            pairs = startup_pairs() if name == "startup" else CONFIRM_PAIRS
            log(f"item 6: {key} is worse by the medians; measuring {name} again in {pairs} pairs")
            measured[name] = measure_pairs(today, base, pairs)
        pairs = [(value(t), value(b)) for t, b in measured[name]]
        out[key] = (paired_change(pairs), len(pairs))
        log(f"item 6: {key}, today / baseline in {len(pairs)} pairs: {out[key][0]:+.1%}")
    return out


def judge_control():
    """The second look's own check, each run: pairs of today's C callback consumer with
    CONTROL_MORE times the events of the throughput stream against the same consumer with N
    must come out worse by more than WORSE_LIMIT, and the consumer against itself must not;
    else the judge could not tell a regression from noise, and item 6 is not met.
    (change, pairs) of both."""
    more = int(N * CONTROL_MORE)

    def consumer(n):
        return lambda: c_stream("throughput", n, "assistants", "callback")

    heavier = measure_pairs(consumer(more), consumer(N), CONFIRM_PAIRS)
    same = measure_pairs(consumer(N), consumer(N), CONFIRM_PAIRS)
    out = {name: (paired_change([(t["seconds"], b["seconds"]) for t, b in pairs]), len(pairs))
           for name, pairs in (("heavier", heavier), ("same", same))}
    log(f"item 6's control: {more:,} against {N:,} events {out['heavier'][0]:+.1%}, "
        f"the same against itself {out['same'][0]:+.1%}")
    return out


# --- The table --------------------------------------------------------------------------------

def verdict(met, reason=""):
    return "**met**" if met else "**NOT met**" + (f" ({reason})" if reason else "")


def fmt_s(seconds):
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


# Per endpoint: its name in the table, its delta event, how many events surround the deltas
# in its long_N stream (head and tail), and the C functions that stream it (callback, open).
THROUGHPUT_ENDPOINTS = {
    "assistants": ("Assistants", "thread.message.delta", 6, "oairun_submit_tool_outputs_stream",
                   "oairun_submit_tool_outputs_stream_open"),
    "responses": ("Responses", "response.output_text.delta", 8, "oairun_create_response_stream",
                  "oairun_create_response_stream_open"),
}


def table(res, figs, compared, worse, previous, against_base):
    t, lat, mem, sc, st = (res[k] for k in ("throughput", "latency", "memory", "scale", "startup"))
    rows = []
    summary = []  # issue 12's items: (item, measure, figure, target, verdict)

    def row(*cells):
        rows.append("| " + " | ".join(cells) + " |")

    # Throughput, in-process times (issue 5's targets).
    wires = []
    for endpoint in ENDPOINTS:
        name, event, framing, _, _ = THROUGHPUT_ENDPOINTS[endpoint]
        wire = t[endpoint]["curl"][0]["bytes"]
        wires.append(f"{name}, `{event}`: {wire / 1e6:.1f} MB on the wire, "
                     f"{wire / (N + framing):.0f} bytes per event on average")
    rows.append(f"### Throughput: one stream of {N:,} text deltas per endpoint")
    rows.append("")
    rows.append("; ".join(wires) + ". Each consumer reassembles the text from the deltas and "
                "checks it; \"vs curl\" and \"SDK time / this\" compare with the same endpoint's "
                "curl and SDK. Times are measured inside each consumer from the submission to the "
                "end of the stream (client already created); curl's is its `time_total`. The C "
                "callback consumer reads the Assistants text with a few lines of its own C "
                "(`bench/c/common.h`) and the Responses text with `oairun_event_text_delta`; the "
                "C pull consumer (flags 0: the socket read on its thread, events taken with "
                "`oairun_reader_next_batch`, up to 64 a call) reads both with "
                "`oairun_event_text_delta`, so on Assistants it also pays for that call's JSON "
                "parse; the row \"C pull, common.h's text extractor\" is the same pull consumer "
                "reading the Assistants text as the callback one does, to compare the two APIs "
                "alone.")
    rows.append("")
    row("endpoint", "consumer", "median", "runs", "events/s", "vs curl", "SDK time / this",
        "target (issue 5)", "verdict")
    row(*["---"] * 9)
    for endpoint in ENDPOINTS:
        name, _, _, c_callback, c_open = THROUGHPUT_ENDPOINTS[endpoint]
        runs = t[endpoint]
        curl = median(runs["curl"], "seconds")
        sdk = median(runs["sdk"], "seconds")
        py = median(runs["python"], "seconds")
        row(name, "curl -sN (floor, raw bytes to /dev/null)", fmt_s(curl), str(len(runs["curl"])),
            f"{N / curl:,.0f}", "1.00x", f"{sdk / curl:.1f}x", "", "")
        for key, label in (("c_callback", f"C callback, `{c_callback}`"),
                           ("c_pull", f"C pull, `{c_open}` + `oairun_reader_next_batch`")):
            c = median(runs[key], "seconds")
            row(name, label, fmt_s(c), str(len(runs[key])), f"{N / c:,.0f}", f"{c / curl:.2f}x",
                f"{sdk / c:.1f}x", "≥50x faster than SDK, ≤3x curl",
                verdict(sdk / c >= 50 and c / curl <= 3))
        if "c_pull_own" in runs:
            c = median(runs["c_pull_own"], "seconds")
            row(name, "C pull, common.h's text extractor (as the callback row)", fmt_s(c),
                str(len(runs["c_pull_own"])), f"{N / c:,.0f}", f"{c / curl:.2f}x",
                f"{sdk / c:.1f}x", "(reported)", "")
        row(name, "Python, oairun binding (`stream=True`)", fmt_s(py), str(len(runs["python"])),
            f"{N / py:,.0f}", f"{py / curl:.2f}x", f"{sdk / py:.1f}x", "≥5x faster than SDK",
            verdict(sdk / py >= 5))
        row(name, "Python, official `openai` SDK", fmt_s(sdk), str(len(runs["sdk"])),
            f"{N / sdk:,.0f}", f"{sdk / curl:.2f}x", "1.0x", "", "")
        cb, pl = median(runs["c_callback"], "seconds"), median(runs["c_pull"], "seconds")
        figure = f"pull {fmt_s(pl)}, callback {fmt_s(cb)} (pull/callback {pl / cb:.2f}x)"
        if "c_pull_own" in runs:
            own = median(runs["c_pull_own"], "seconds")
            figure += (f"; pull with the callback's text extractor {fmt_s(own)} "
                       f"({own / cb:.2f}x)")
        summary.append(("1", f"{name}: C pull consumer, text checked, beside the callback one",
                        figure, "exists; streams with the right text", verdict(True)))
    rows.append("")

    # Whole processes (issue 12, items 3 and 4).
    rows.append(f"### Whole process: the same runs, from fork to exit")
    rows.append("")
    rows.append("Wall time of each process from the driver's fork to its exit (start-up, imports, "
                "connection and teardown included); CPU is the process's user + system time from "
                "the kernel's accounting of the reaped child (`os.wait4`: what "
                "`/usr/bin/time -f '%U %S'` prints, but in microseconds instead of its truncated "
                "hundredths, which on curl's few tens of ms would be off by 10–20%). The test "
                "server's CPU is not counted.")
    rows.append("")
    row("endpoint", "consumer", "wall (median)", "CPU user+sys (median)", "user / sys",
        "CPU / curl's", "SDK wall / this", "target (issue 12)", "verdict")
    row(*["---"] * 9)
    for endpoint in ENDPOINTS:
        name = THROUGHPUT_ENDPOINTS[endpoint][0]
        runs = t[endpoint]
        curl_cpu = process_median(runs["curl"], "cpu_s")
        sdk_wall = process_median(runs["sdk"], "wall_s")
        for key, label in (("curl", "curl -sN ... -o /dev/null"), ("c_callback", "C callback"),
                           ("c_pull", "C pull"),
                           ("c_pull_own", "C pull, common.h's text extractor"),
                           ("python", "Python, oairun binding"),
                           ("sdk", "Python, official `openai` SDK")):
            if key not in runs:
                continue
            wall = process_median(runs[key], "wall_s")
            cpu = process_median(runs[key], "cpu_s")
            user, sys_ = process_median(runs[key], "user_s"), process_median(runs[key], "sys_s")
            target, v = "", ""
            if key == "c_pull_own":
                target = "(reported)"
            elif key.startswith("c_"):
                ratio = cpu / curl_cpu
                target = f"CPU ≤ {CPU_OVER_CURL}x curl's"
                v = verdict(ratio <= CPU_OVER_CURL, f"{ratio:.2f}x")
                summary.append(("3", f"{name}: {CONSUMER_LABELS[key]} whole-process CPU vs curl's",
                                f"{fmt_s(cpu)} vs {fmt_s(curl_cpu)}: {ratio:.2f}x",
                                f"≤ {CPU_OVER_CURL}x", v))
            elif key == "python":
                ratio = sdk_wall / wall
                target = f"SDK wall ≥ {PYTHON_OVER_SDK}x this"
                v = verdict(ratio >= PYTHON_OVER_SDK, f"{ratio:.1f}x")
                summary.append(("4", f"{name}: Python whole process, SDK wall / binding wall",
                                f"{fmt_s(sdk_wall)} / {fmt_s(wall)}: {ratio:.1f}x",
                                f"≥ {PYTHON_OVER_SDK}x", v))
            row(name, label, fmt_s(wall), fmt_s(cpu), f"{fmt_s(user)} / {fmt_s(sys_)}",
                f"{cpu / curl_cpu:.2f}x", f"{sdk_wall / wall:.1f}x", target, v)
    rows.append("")

    # Delivery latency.
    pooled = res["latency_pooled"]
    slice_n = lat["c_callback"][0]["n"]
    interval_ms = median(lat["c_callback"], "seconds") / slice_n * 1e3

    def quantiles(key):
        """p50, p99, max of the pooled samples; the runs' medians when there are none."""
        if key in pooled:
            return tuple(pooled[key][k] for k in ("p50_us", "p99_us", "max_us"))
        return tuple(median(lat[key], k) for k in ("p50_us", "p99_us", "max_us"))

    floor50, floor99, _ = quantiles("floor")
    runs_floor50 = median(lat["floor"], "p50_us")
    rows.append(f"### Delivery latency: server write → consumer, one event per ms asked "
                f"({interval_ms:.2f} ms apart as written: the server's timer ticks in whole ms)")
    rows.append("")
    rows.append(f"{len(lat['floor'])} runs of {slice_n:,} events for each C program "
                f"({LATENCY_ROUNDS} rounds of {LATENCY_SLICES} runs each, the programs' order "
                f"turned by one place from run to run), {len(lat['python'])} runs of "
                f"{lat['python'][0]['n']:,} events for each Python one. p50, p99 and max are "
                f"those of all the samples of a program's runs pooled; the column \"runs' p50s\" "
                f"gives the statistic used before 2026-11-30 beside them: the median of the runs' "
                f"p50s, less the floor's. The floor, a plain blocking `recv()` with no library, is "
                f"measured in the same run, interleaved with the consumers. The callback consumer "
                f"reads the clock on entry to its callback; the pull consumer as "
                f"`oairun_reader_next_batch` returns.")
    rows.append("")
    row("consumer", "p50", "p99", "max", "p50 − floor's", "p99 / floor's", "runs' p50s − floor's",
        "target (issue 12)", "verdict")
    row(*["---"] * 9)
    old_target = []
    for key, label in (("floor", "floor: plain blocking recv(), no library"),
                       ("c_callback", "C callback entry"),
                       ("c_pull", "C pull (`oairun_reader_next_batch` return)"),
                       ("python", "Python, oairun binding (loop body)"),
                       ("sdk", "Python, official SDK (loop body)")):
        p50, p99, mx = quantiles(key)
        runs50 = median(lat[key], "p50_us") - runs_floor50
        target, v = "(reported)", ""
        if key.startswith("c_"):
            ok50 = p50 - floor50 <= LATENCY_P50_OVER_FLOOR_US
            ok99 = p99 <= LATENCY_P99_OVER_FLOOR * floor99
            target = (f"p50 ≤ floor's + {LATENCY_P50_OVER_FLOOR_US} µs, "
                      f"p99 ≤ {LATENCY_P99_OVER_FLOOR:g}x floor's")
            reasons = [r for r, ok in ((f"p50 {p50 - floor50:+.0f} µs", ok50),
                                       (f"p99 {p99 / floor99:.2f}x", ok99)) if not ok]
            v = verdict(ok50 and ok99, ", ".join(reasons))
            summary.append(("2", f"C latency, {CONSUMER_LABELS[key]}: p50 over the recv() floor's",
                            f"{p50:.0f} µs vs {floor50:.0f} µs: {p50 - floor50:+.0f} µs "
                            f"(runs' p50s: {runs50:+.0f} µs)",
                            f"≤ +{LATENCY_P50_OVER_FLOOR_US} µs", verdict(ok50)))
            summary.append(("2", f"C latency, {CONSUMER_LABELS[key]}: p99 over the recv() floor's",
                            f"{p99:.0f} µs vs {floor99:.0f} µs: {p99 / floor99:.2f}x",
                            f"≤ {LATENCY_P99_OVER_FLOOR:g}x", verdict(ok99)))
            old_target.append(f"{CONSUMER_LABELS[key]} "
                              f"{verdict(p50 < 50 and p99 < 500)}")
        row(label, f"{p50:.0f} µs", f"{p99:.0f} µs", f"{mx:.0f} µs",
            f"{p50 - floor50:+.0f} µs", f"{p99 / floor99:.2f}x",
            "" if key == "floor" else f"{runs50:+.0f} µs", target, v)
    rows.append("")
    rows.append("Issue 5's absolute target (p50 < 50 µs, p99 < 500 µs, whatever the floor): "
                + "; ".join(old_target) + ".")
    rows.append("")

    # Memory.
    rows.append("### Memory: peak RSS of the C consumer (text checked as it arrives, not kept)")
    rows.append("")
    row("consumer", "stream", f"peak RSS (median of {MEMORY_ROUNDS})", "target", "verdict")
    row(*["---"] * 5)
    for _, api in C_APIS:
        small = median(mem[api][MEMORY_SMALL], "peak_rss_kib")
        large = median(mem[api][MEMORY_LARGE], "peak_rss_kib")
        diff = large - small
        label = f"C {api}"
        row(label, f"{MEMORY_SMALL:,} events", f"{small / 1024:.2f} MiB", "", "")
        row(label, f"{MEMORY_LARGE:,} events", f"{large / 1024:.2f} MiB",
            f"difference {diff / 1024:+.2f} MiB, ≤ {MEMORY_FLAT_KIB / 1024:g} MiB",
            verdict(diff <= MEMORY_FLAT_KIB))
        summary.append(("6", f"memory flat, C {api}: peak RSS {MEMORY_LARGE:,} events − {MEMORY_SMALL:,}",
                        f"{diff / 1024:+.2f} MiB", f"≤ {MEMORY_FLAT_KIB / 1024:g} MiB",
                        verdict(diff <= MEMORY_FLAT_KIB)))
    rows.append("")

    # Scale.
    completed = min(r["completed"] for r in sc)
    lib_threads = max(r["library_threads"] for r in sc)
    peak_threads = max(r["peak_threads"] for r in sc)
    rows.append(f"### Scale: {SCALE:,} concurrent streams of {SCALE_EVENTS:,} events, one client, "
                f"started with the non-blocking API (callbacks on oairun's threads); {len(sc)} runs")
    rows.append("")
    rows.append("The process's threads are sampled every millisecond (`Threads:` of "
                "`/proc/self/status`) while the streams run; the program's own are main and the "
                "sampler.")
    rows.append("")
    row("measure", "value", "target", "verdict")
    row(*["---"] * 4)
    row("streams complete with the right text (worst run)", f"{completed:,} / {SCALE:,}",
        "all", verdict(completed == SCALE))
    row("wall time (median)", fmt_s(median(sc, "seconds")), "", "")
    row("peak RSS (median)", f"{median(sc, 'peak_rss_kib') / 1024:.1f} MiB", "(reported)", "")
    row("the process's threads at peak (worst run)", str(peak_threads), f"< {MAX_THREADS}",
        verdict(peak_threads < MAX_THREADS))
    row(f"of which oairun's (the program's {sc[0]['own_threads']:,} excluded)", str(lib_threads),
        "", "")
    summary.append(("2", f"scale: {SCALE:,} streams started with the _start forms, all complete, "
                    "process's peak threads (worst run)",
                    f"{completed:,} / {SCALE:,} complete; {peak_threads} threads",
                    f"all complete, < {MAX_THREADS} threads",
                    verdict(completed == SCALE and peak_threads < MAX_THREADS)))
    rows.append("")

    # Start-up.
    runs = st["runs"]
    total = median(runs, "total_ms")
    rows.append(f"### Start-up: fresh process, stripped library, median of {len(runs)} runs")
    rows.append("")
    rows.append("Start-up is everything from loading the library to the first answer, in one "
                "process: `dlopen`, the symbol look-ups, `oairun_client_new` and the first "
                "(synchronous) submission to the loopback server, which starts oairun's runtime "
                "and opens the connection. Earlier tables judged `oairun_client_new` + the first "
                "submission alone; that figure is still shown.")
    rows.append("")
    rows.append("The program runs without `SSL_CERT_FILE` and `SSL_CERT_DIR` (as every measured "
                "process here), so that oairun uses its bundled roots.")
    with_env = st["runs_cert_env"]
    if with_env:
        names = " and ".join(f"`{k}`" for k in st["cert_env"])
        rows.append(f"This run's environment sets {names} "
                    f"({', '.join(f'{k}={v}' for k, v in st['cert_env'].items())}), with which "
                    f"`oairun_client_new` reads and parses those root certificates instead "
                    f"(README, \"Pointing it at a server\"): the last rows are the same program "
                    f"with them, the runs interleaved.")
    rows.append("")
    row("measure", "value", "target", "verdict")
    row(*["---"] * 4)
    row("start-up: `dlopen` → first answer (sync, loopback; bundled roots)", f"{total:.2f} ms",
        f"< {STARTUP_MS} ms", verdict(total < STARTUP_MS))
    row("of which `dlopen` of the stripped `liboairun.so`", f"{median(runs, 'dlopen_ms'):.2f} ms",
        "", "")
    row("of which `oairun_client_new` + first submission",
        f"{median(runs, 'client_new_and_first_submit_ms'):.2f} ms", "", "")
    row("of which `oairun_client_new`", f"{median(runs, 'client_new_ms'):.2f} ms", "", "")
    row("of which the first submission", f"{median(runs, 'first_submit_ms'):.2f} ms", "", "")
    row("`liboairun.so` size, stripped", f"{st['stripped_bytes'] / 1024:,.0f} KiB "
        f"(unstripped {st['unstripped_bytes'] / 1024:,.0f} KiB)", "(reported)", "")
    summary.append(("6", "start-up: `dlopen` + `oairun_client_new` + first submission "
                    "(bundled roots)", f"{total:.2f} ms", f"< {STARTUP_MS} ms",
                    verdict(total < STARTUP_MS)))
    if with_env:
        names = " and ".join(st["cert_env"])
        total_env = median(with_env, "total_ms")
        row(f"start-up with {names} as set here: `dlopen` → first answer", f"{total_env:.2f} ms",
            f"< {STARTUP_MS} ms", verdict(total_env < STARTUP_MS))
        row("of which `oairun_client_new`", f"{median(with_env, 'client_new_ms'):.2f} ms", "", "")
        summary.append(("6", f"start-up: the same with {names} as set here", f"{total_env:.2f} ms",
                        f"< {STARTUP_MS} ms", verdict(total_env < STARTUP_MS)))
    rows.append("")

    # Against the baseline: item 6.
    limit = f"{WORSE_LIMIT:.0%}"
    if against_base:
        base_rows, base_worse, base_figs, second, control = against_base
        short = BASELINE_COMMIT[:7]
        rows.append(f"### Item 6: today's figures against the code as issue 12 found it "
                    f"(`{short}`), measured in this run")
        rows.append("")
        rows.append(f"Commit `{short}`'s library, C consumer (its `stream_consume.c`, callback "
                    f"API) and Python binding, built by `bench/run` in `target/bench-baseline/`, "
                    f"measured as the tables above measure today's, each of its processes run "
                    f"beside today's same measurement (same rounds, same server), so that load "
                    f"on this shared machine falls on both. Every figure both give is compared; "
                    f"\"worse\" means higher (every figure here is better lower). curl, the SDK "
                    f"and the recv() floor are the same programs for both and are not compared; "
                    f"the pull consumers did not exist then.")
        rows.append("")
        rows.append(f"A figure whose median is worse by more than {limit} is measured again "
                    f"(\"second look\"): {CONFIRM_PAIRS} pairs of fresh processes (start-up "
                    f"{startup_pairs()}), today's and `{short}`'s same "
                    f"measurement back to back, which first alternating; it is worse if the "
                    f"median over the pairs of today's value / `{short}`'s is above "
                    f"{1 + WORSE_LIMIT:.2f}. This VM runs a process at either of two speeds, "
                    f"up to 1.5x apart, for seconds at a time, and a median of 7 runs lands on "
                    f"whichever speed most of them had; the two processes of a pair mostly share "
                    f"one, and the median of the pairs' ratios passes over those that do not. The "
                    f"library's size and the thread counts (maxima) are not measured again: their "
                    f"first verdict stands. The judge's own check, every run: today's C callback "
                    f"consumer with {CONTROL_MORE:.1f}x the events against itself with "
                    f"{N:,} must be judged worse, and against itself with the same stream must "
                    f"not.")
        rows.append("")
        row("figure", f"`{short}`", "now", "change", "second look: today / "
            f"`{short}` in pairs", "")
        row(*["---"] * 6)
        confirmed = []
        for key, fig, old, change, note in base_rows:
            fmt = UNITS[fig["unit"]]
            look = ""
            if key in base_worse:
                if key in second:
                    again, pairs = second[key]
                    look = f"{again:+.1%} ({pairs} pairs)"
                    if again > WORSE_LIMIT:
                        confirmed.append(key)
                        note = f"**worse by more than {limit}, confirmed**"
                    else:
                        note = f"worse by the medians, not in pairs"
                else:
                    look = "not measured again"
                    confirmed.append(key)
            row(fig["label"], fmt(old), fmt(fig["value"]),
                f"{change:+.0%}" if change is not None else "—", look, note)
        rows.append("")
        heavier, same = control["heavier"], control["same"]
        control_ok = heavier[0] > WORSE_LIMIT and same[0] <= WORSE_LIMIT
        rows.append(f"The judge's check: {CONTROL_MORE:.1f}x the events against {N:,}, "
                    f"{heavier[0]:+.1%} in {heavier[1]} pairs (must be above "
                    f"+{WORSE_LIMIT:.0%}); the same stream against itself, {same[0]:+.1%} in "
                    f"{same[1]} pairs (must not be): "
                    + ("passed." if control_ok else "**failed**: item 6 cannot be judged."))
        rows.append("")
        names = "; ".join(f"{figs[k]['label']} {UNITS[figs[k]['unit']](base_figs[k]['value'])} → "
                          f"{UNITS[figs[k]['unit']](figs[k]['value'])}" for k in confirmed)
        figure = (f"{len(confirmed)} of {len(base_rows)} compared worse by > {limit}"
                  + (f": {names}" if confirmed else "")
                  + f" ({len(base_worse)} by the medians, then measured again in pairs; "
                  f"the judge's check {'passed' if control_ok else 'FAILED'})")
        summary.append(("6", f"no existing figure worse by more than {limit} than the code's "
                        f"as the issue found it (`{short}`, measured in this run, interleaved)",
                        figure, f"none worse by > {limit}",
                        verdict(not confirmed and control_ok,
                                "" if control_ok else "the judge's check failed")))
    else:
        summary.append(("6", f"no existing figure worse by more than {limit} than the code's "
                        "as the issue found it", "not measured: bench/run built no baseline "
                        "(BENCH_BASELINE=none, or a checkout without history)",
                        f"none worse by > {limit}", "**not measured**"))

    # Against the previous run.
    if previous:
        meta = previous["run"]
        when = meta.get("date", "an unknown date")
        load = (f", load average {meta['load_before']:.2f} / {meta['load_after']:.2f}"
                if "load_before" in meta else "")
        source = f"the run of {when} UTC{load}, read from {meta.get('source', '?')}"
    else:
        source = "none (no bench/results.json or bench/results.md could be read)"
    rows.append(f"### Against the previous run: {source}")
    rows.append("")
    rows.append(f"Every primary figure of the tables above (medians; not the ratios derived from "
                f"them, nor maxima, which are single samples), this run against the previous one; "
                f"\"worse\" means higher (every figure here is better lower). **Caveat:** on this "
                f"2-core VM, shared with other jobs, the same code's figures move by tens of "
                f"percent from run to run (compare the load averages), so a flag here says "
                f"\"look again\", not \"regressed\"; figures only this run has are marked new. "
                f"Item 6's verdict is the table above's, measured in one run.")
    rows.append("")
    row("figure", "previous", "now", "change", "")
    row(*["---"] * 5)
    for key, fig, old, change, note in compared:
        fmt = UNITS[fig["unit"]]
        row(fig["label"], fmt(old) if old is not None else "—", fmt(fig["value"]),
            f"{change:+.0%}" if change is not None else "—", note)
    rows.append("")
    head = ["### Issue 12: each target and its verdict", "",
            "Details, and issue 5's targets, in the tables below.", ""]
    head.append("| item | measure | figure | target | verdict |")
    head.append("| --- | --- | --- | --- | --- |")
    order = {"1": 0, "2": 1, "3": 2, "4": 3, "6": 4}
    for item, measure, figure, target, v in sorted(summary, key=lambda s: order[s[0]]):
        head.append(f"| {item} | {measure} | {figure} | {target} | {v} |")
    head.append("")
    return "\n".join(head + rows).rstrip("\n")


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
    previous = previous_results()
    load_before = os.getloadavg()
    log(f"bench: N={N}, rounds={ROUNDS} (official SDK {SDK_ROUNDS}), server {BASE_URL}; "
        f"previous figures: {previous['run']['source'] if previous else 'none'}")
    for endpoint in ENDPOINTS:
        curl_once(1000, endpoint)  # warm the server and the page cache
    res = {"throughput": throughput()}
    res["latency"], res["latency_pooled"] = latency()
    res["memory"] = memory()
    res["scale"], res["scale_baseline"] = scale()
    res["startup"] = startup()
    load_after = os.getloadavg()
    base = split_baseline(res)
    figs = figures(res)
    compared, worse = compare(figs, previous)
    against_base = None
    if base:
        base_figs = figures(base)
        rows, base_worse = compare(figs, {"figures": base_figs})
        second = second_look(base_worse)
        control = judge_control()
        against_base = ([r for r in rows if r[2] is not None], base_worse, base_figs, second,
                        control)
    body = table(res, figs, compared, worse, previous, against_base)
    header = (f"Run on {started:%Y-%m-%d %H:%M} UTC with `bench/run`: {machine()}. "
              f"Load average before/after: {load_before[0]:.2f} / {load_after[0]:.2f}. "
              f"Each figure is a median over fresh processes, run without `SSL_CERT_FILE` and "
              f"`SSL_CERT_DIR` (the loopback server speaks plain HTTP) unless said otherwise. The "
              f"test server runs on the same machine and shares its cores.")
    text = f"# oairun benchmark results\n\n{header}\n\n{body}\n"
    with open(RESULTS, "w") as f:
        f.write(text)
    settings = {"n": N, "rounds": ROUNDS, "sdk_rounds": SDK_ROUNDS, "latency_n": LATENCY_N,
                "latency_slices": LATENCY_SLICES, "scale_rounds": SCALE_ROUNDS,
                "confirm_pairs": CONFIRM_PAIRS,
                "scale": SCALE, "scale_events": SCALE_EVENTS, "startup_rounds": STARTUP_ROUNDS}
    with open(RESULTS_JSON, "w") as f:
        json.dump({"run": {"date": f"{started:%Y-%m-%d %H:%M}", "machine": machine(),
                           "load_before": load_before[0], "load_after": load_after[0],
                           "settings": settings, "cert_env": CERT_ENV},
                   "figures": figs}, f, indent=1, ensure_ascii=False)
        f.write("\n")
    raw = os.path.join(BIN, "raw.json")

    def raw_runs(r):
        return {"throughput": r["throughput"], "latency": r["latency"],
                "memory": {api: {str(n): v for n, v in by_n.items()}
                           for api, by_n in r["memory"].items()},
                "scale": r["scale"], "startup": r["startup"]}

    with open(raw, "w") as f:
        json.dump({"settings": settings, **raw_runs(res),
                   "baseline": ({"commit": BASELINE_COMMIT, **raw_runs(base)} if base else None),
                   "item6": ({"worse_by_medians": against_base[1],
                              "second_look": against_base[3], "control": against_base[4]}
                             if against_base else None)},
                  f, indent=1)
    update_readme(f"{header}\n\n{body}")
    print(text)
    log(f"bench: wrote {os.path.relpath(RESULTS, ROOT)}, {os.path.relpath(RESULTS_JSON, ROOT)} "
        f"and README.md's table (raw runs: {os.path.relpath(raw, ROOT)}); "
        f"{len(worse)} figure(s) worse than the previous run's by more than {WORSE_LIMIT:.0%}, "
        + (f"{len(against_base[1])} worse than the baseline's by the medians (the second "
           f"look is in the table)" if against_base else "no baseline"))


if __name__ == "__main__":
    if shutil.which("curl") is None:
        raise SystemExit("bench: curl is not installed")
    main()
