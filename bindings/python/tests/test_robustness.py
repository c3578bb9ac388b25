"""Lifetimes, cancellation, threads and argument checks at their edges."""

from __future__ import annotations

import collections
import ctypes
import os
import threading
import time

import pytest

import oairun
from oairun import _ffi
from conftest import OUTPUTS, reference_events

BAD_PAYLOADS = {"thread.run.queued", "thread.run.in_progress", "thread.run.completed"}


def test_event_data_is_lazy_and_only_the_references_bad_payloads_fail(client):
    events = list(client.submit_tool_outputs("run_123", thread_id="thread_123", tool_outputs=OUTPUTS, stream=True))
    failing = set()
    for event in events:
        try:
            event.data
        except oairun.ProtocolError as exc:
            assert exc.status == _ffi.PROTOCOL
            failing.add(event.event)
        assert event.raw  # .raw always works
    assert failing == BAD_PAYLOADS
    assert events[-1].event == "done" and events[-1].data == "[DONE]"


def _address(pointer):
    return pointer.value if isinstance(pointer, ctypes.c_void_p) else pointer


class CallsInProgress:
    """Wraps the library's calls to see, for each client, how many calls were using it when
    it was freed (the C contract forbids any: freeing a client in use is a use-after-free).
    Keyed by the client's address, so other clients (collected meanwhile) do not count."""

    def __init__(self, monkeypatch):
        self.running = collections.Counter()
        self.frees = collections.defaultdict(list)  # address -> calls running at each free
        lib = _ffi.lib
        for name in ("oairun_submit_tool_outputs", "oairun_submit_tool_outputs_stream_open"):
            monkeypatch.setattr(lib, name, self._counted(getattr(lib, name)))
        free = lib.oairun_client_free

        def client_free(client):
            self.frees[_address(client)].append(self.running[_address(client)])
            free(client)

        monkeypatch.setattr(lib, "oairun_client_free", client_free)

    def _counted(self, function):
        def call(client, *args):
            self.running[_address(client)] += 1
            try:
                return function(client, *args)
            finally:
                self.running[_address(client)] -= 1

        return call


def test_closing_the_client_during_a_stream_frees_it_and_the_stream_goes_on(server, monkeypatch):
    """A stream is a reader, which keeps what it needs (the header: the client may be freed
    while a reader lives): closing the client frees it at once, with no call using it, and
    the stream still runs to its end."""
    calls = CallsInProgress(monkeypatch)
    client = oairun.Client(api_key="k", base_url=server.base_url, timeout=10)
    address = client._ptr.value
    stream = client.submit_tool_outputs("r", thread_id="slow_5_20", tool_outputs=OUTPUTS, stream=True)
    first = next(stream)
    assert calls.frees[address] == []
    client.close()
    assert calls.frees[address] == [0], "the client was not freed at once, or while a call used it"
    with pytest.raises(ValueError, match="closed"):
        client.submit_tool_outputs("r", thread_id="t", tool_outputs=OUTPUTS)
    rest = list(stream)
    assert first.event == "thread.run.step.created"
    assert [e.event for e in rest][-3:] == ["thread.message.completed", "thread.run.completed", "done"]
    assert 1 + len(rest) == 3 + 20 + 3
    assert stream.join(timeout=10)
    assert calls.frees[address] == [0]


def test_closing_the_client_while_another_thread_calls(server, monkeypatch):
    calls = CallsInProgress(monkeypatch)
    client = oairun.Client(api_key="k", base_url=server.base_url, timeout=0.5)
    address = client._ptr.value
    result = []

    def call():
        try:
            client.submit_tool_outputs("r", thread_id="stall_headers", tool_outputs=OUTPUTS)
        except oairun.OairunError as exc:
            result.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    time.sleep(0.1)
    client.close()
    worker.join(10)
    assert not worker.is_alive()
    assert [type(e) for e in result] == [oairun.APITimeoutError]
    assert calls.frees[address] == [0], "the client was freed while a call was using it"


def test_cancel_by_an_exception_in_the_loop(client):
    stream = client.submit_tool_outputs("run_123", thread_id="long_100000", tool_outputs=OUTPUTS, stream=True)
    with pytest.raises(RuntimeError):
        for _ in stream:
            raise RuntimeError("leaving")
    assert stream.join(timeout=10), "the stream's thread did not end after the exception"
    assert client.submit_tool_outputs("run_123", thread_id="thread_123", tool_outputs=OUTPUTS)["id"] == "run_123"


def test_close_from_another_thread_ends_the_iteration(client):
    # 1000 deltas 20 ms apart: 20 s if nothing stopped it.
    stream = client.submit_tool_outputs("run_123", thread_id="slow_20_1000", tool_outputs=OUTPUTS, stream=True)
    seen = []

    def consume():
        for event in stream:
            seen.append(event)

    consumer = threading.Thread(target=consume)
    consumer.start()
    time.sleep(0.3)
    stream.close()
    consumer.join(10)
    assert not consumer.is_alive(), "the iteration did not end after close()"
    assert stream.join(timeout=10)
    assert 3 <= len(seen) < 1006


def test_with_block_cancels(client):
    with client.submit_tool_outputs("run_123", thread_id="long_100000", tool_outputs=OUTPUTS, stream=True) as stream:
        next(stream)
    assert stream.join(timeout=10)
    assert list(stream) == []


def test_a_stalled_stream_left_early_drops_its_connection_at_once(server):
    with oairun.Client(api_key="k", base_url=server.base_url, timeout=30) as client:
        stream = client.submit_tool_outputs("r", thread_id="stall", tool_outputs=OUTPUTS, stream=True)
        start = time.monotonic()
        for _ in stream:
            break
        assert stream.join(timeout=5)
        assert time.monotonic() - start < 2  # far below the 30 s timeout
        _wait_until_not_answering(server)


def _wait_until_not_answering(server, limit=5.0):
    deadline = time.monotonic() + limit
    while server.answering() > 0:
        assert time.monotonic() < deadline, "the server still answers: the connection was kept"
        time.sleep(0.01)


def test_cancel_from_another_thread_during_a_stall(server):
    with oairun.Client(api_key="k", base_url=server.base_url, timeout=30) as client:
        stream = client.submit_tool_outputs("r", thread_id="stall", tool_outputs=OUTPUTS, stream=True)
        it = iter(stream)
        first_two = [next(it), next(it)]  # the stall scenario sends two events, then nothing
        assert len(first_two) == 2
        closed_at = []

        def close_later():
            time.sleep(0.2)
            closed_at.append(time.monotonic())
            stream.close()

        closer = threading.Thread(target=close_later)
        closer.start()
        rest = list(it)  # blocks in the stall until the other thread closes
        ended = time.monotonic()
        closer.join()
        assert rest == []
        assert ended - closed_at[0] < 0.1, ended - closed_at[0]
        assert stream.join(timeout=1)
        _wait_until_not_answering(server)


def test_stall_headers_times_out_when_streamed(server):
    with oairun.Client(api_key="k", base_url=server.base_url, timeout=0.3) as client:
        start = time.monotonic()
        with pytest.raises(oairun.APITimeoutError) as info:
            list(client.submit_tool_outputs("r", thread_id="stall_headers", tool_outputs=OUTPUTS, stream=True))
        assert time.monotonic() - start < 5
        assert isinstance(info.value, oairun.APIConnectionError)
        assert info.value.status == _ffi.TIMEOUT


class Stop(BaseException):
    """Not an Exception: the trampoline must still catch it and stop the stream."""


def test_a_callback_raising_a_base_exception(client):
    seen = []

    def on_event(event):
        seen.append(event)
        if len(seen) == 5:
            raise Stop()

    with pytest.raises(Stop):
        client.submit_tool_outputs("run_123", thread_id="long_1000", tool_outputs=OUTPUTS, on_event=on_event)
    assert len(seen) == 5


def test_on_event_gets_the_same_events_as_the_iterator(client):
    seen = []
    client.submit_tool_outputs("run_123", thread_id="odd_framing", tool_outputs=OUTPUTS, on_event=seen.append)
    iterated = list(client.submit_tool_outputs("run_123", thread_id="odd_framing", tool_outputs=OUTPUTS, stream=True))
    assert [(e.event, e.raw, e.id) for e in seen] == [(e.event, e.raw, e.id) for e in iterated]
    assert len(seen) == 16 and seen[0].id == "evt_1"
    assert [e.event for e in seen] == [name for name, _ in reference_events()]


def test_a_callback_may_submit_again(client):
    runs = []

    def on_event(event):
        if event.event == "done":
            runs.append(client.submit_tool_outputs("run_123", thread_id="thread_123", tool_outputs=OUTPUTS))

    client.submit_tool_outputs("run_123", thread_id="long_3", tool_outputs=OUTPUTS, on_event=on_event)
    assert [r["id"] for r in runs] == ["run_123"]


def test_the_gil_is_released_while_waiting(server):
    # A call blocked on a silent server for 1 s: meanwhile this thread must keep running.
    with oairun.Client(api_key="k", base_url=server.base_url, timeout=1.0) as client:
        started, finished = threading.Event(), threading.Event()

        def call():
            started.set()
            try:
                client.submit_tool_outputs("r", thread_id="stall_headers", tool_outputs=OUTPUTS)
            except oairun.APITimeoutError:
                pass
            finally:
                finished.set()

        worker = threading.Thread(target=call)
        worker.start()
        assert started.wait(5)
        first = last = time.monotonic()
        while not finished.is_set() and last - first < 10:
            last = time.monotonic()
        worker.join(10)
        # Had the call held the GIL, this loop could only have run for one switch interval.
        assert last - first > 0.5


@pytest.mark.parametrize("stream", [False, True, "on_event"])
@pytest.mark.parametrize(
    "run_id, kwargs, exc",
    [
        (123, dict(thread_id="t", tool_outputs=OUTPUTS), TypeError),
        ("", dict(thread_id="t", tool_outputs=OUTPUTS), ValueError),
        (".", dict(thread_id="t", tool_outputs=OUTPUTS), ValueError),
        ("r", dict(thread_id=None, tool_outputs=OUTPUTS), TypeError),
        ("r", dict(thread_id="a\0b", tool_outputs=OUTPUTS), ValueError),
        ("r", dict(thread_id="t", tool_outputs={"tool_call_id": "c", "output": "o"}), TypeError),
        ("r", dict(thread_id="t", tool_outputs=[("c", "o")]), TypeError),
        ("r", dict(thread_id="t", tool_outputs=[{"tool_call_id": 1, "output": "o"}]), TypeError),
        ("r", dict(thread_id="t", tool_outputs=[{"tool_call_id": "c", "output": None}]), TypeError),
        ("r", dict(thread_id="t", tool_outputs=[{"output": "o"}]), TypeError),
        ("r", dict(thread_id="t", tool_outputs=[{"tool_call_id": "c", "output": "o", "type": "x"}]), ValueError),
        ("r", dict(thread_id="t", tool_outputs=[]), ValueError),
        ("r", dict(thread_id="t", tool_outputs=OUTPUTS, stream="yes"), TypeError),
        ("r", dict(thread_id="t", tool_outputs=OUTPUTS, on_event=5), TypeError),
    ],
)
def test_bad_arguments_in_every_form(server, client, stream, run_id, kwargs, exc):
    kwargs = dict(kwargs)
    if stream == "on_event":
        kwargs.setdefault("on_event", lambda e: None)
    elif "stream" not in kwargs:
        kwargs["stream"] = stream
    with pytest.raises(exc):
        result = client.submit_tool_outputs(run_id, **kwargs)
        if kwargs.get("stream") is True:
            list(result)  # must not get here: the error is raised at the call
    assert server.requests() == []


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        (dict(api_key=1), TypeError),
        (dict(api_key=""), ValueError),
        (dict(timeout="1"), TypeError),
        (dict(timeout=-1), ValueError),
        (dict(timeout=float("inf")), ValueError),
        (dict(max_retries=1.5), TypeError),
        (dict(max_retries=-1), ValueError),
        (dict(default_headers={"X-A": 1}), TypeError),
        (dict(default_headers={"X-A": "a\0b"}), ValueError),
        (dict(default_headers={"Bad Name": "v"}), oairun.InvalidArgumentError),
        (dict(default_headers={"Content-Length": "3"}), oairun.InvalidArgumentError),
        (dict(default_headers={"Transfer-Encoding": "chunked"}), oairun.InvalidArgumentError),
        (dict(base_url="not a url"), oairun.InvalidArgumentError),
    ],
)
def test_bad_client_arguments_in_detail(server, kwargs, exc):
    kwargs = {"api_key": "k", "base_url": server.base_url, **kwargs}
    with pytest.raises(exc):
        oairun.Client(**kwargs)


def test_no_key_anywhere_is_invalid_argument(server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(oairun.InvalidArgumentError) as info:
        oairun.Client(base_url=server.base_url)
    assert isinstance(info.value, ValueError)
    assert info.value.status == _ffi.INVALID_ARGUMENT
    assert info.value.http_status is None


def test_max_retries_is_accepted(server):
    with oairun.Client(api_key="k", base_url=server.base_url, max_retries=5) as client:
        assert client.submit_tool_outputs("r", thread_id="t", tool_outputs=OUTPUTS)["id"] == "run_123"


def _touch(path, mtime):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    os.utime(path, (mtime, mtime))


def test_library_lookup_order(tmp_path, monkeypatch):
    monkeypatch.delenv("OAIRUN_LIBRARY", raising=False)
    package = tmp_path / "repo" / "bindings" / "python" / "oairun"
    package.mkdir(parents=True)
    debug = tmp_path / "repo" / "target" / "debug" / _ffi.LIBRARY_NAME
    release = tmp_path / "repo" / "target" / "release" / _ffi.LIBRARY_NAME
    _touch(debug, 1_000_000)
    assert _ffi.find_library(package) == debug
    _touch(release, 2_000_000)
    assert _ffi.find_library(package) == release  # the newer of the two
    os.utime(debug, (3_000_000, 3_000_000))
    assert _ffi.find_library(package) == debug
    beside = package / _ffi.LIBRARY_NAME
    _touch(beside, 1)
    assert _ffi.find_library(package) == beside
    chosen = tmp_path / "chosen.so"
    _touch(chosen, 1)
    monkeypatch.setenv("OAIRUN_LIBRARY", str(chosen))
    assert _ffi.find_library(package) == chosen


def test_read_timeout_alone_limits_a_stream_silence(server):
    # The overall timeout stays long; only the silence limit is short.
    with oairun.Client(api_key="k", base_url=server.base_url, timeout=30, read_timeout=0.3) as client:
        start = time.monotonic()
        with pytest.raises(oairun.APITimeoutError):
            list(client.submit_tool_outputs("r", thread_id="stall", tool_outputs=OUTPUTS, stream=True))
        assert time.monotonic() - start < 0.6 + 1.0  # 2x the setting, with 1 s of slack for a loaded machine
    with pytest.raises(ValueError):
        oairun.Client(api_key="k", base_url=server.base_url, connect_timeout=-1)
    with pytest.raises(TypeError):
        oairun.Client(api_key="k", base_url=server.base_url, read_timeout="soon")
