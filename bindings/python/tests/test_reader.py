"""The synchronous streams over the library's pull API (``oairun_reader``, flags 0): waits cut
into bounded calls (``OAIRUN_AGAIN`` is never an exception, and a signal is handled while the
server is silent), the reader freed however the iteration ends, events copied at once and their
data parsed on first access only, and the C declarations against the header."""

from __future__ import annotations

import gc
import json
import os
import re
import signal
import threading
import time

import pytest

import oairun
from oairun import _events, _ffi, _reader
from conftest import OUTPUTS, REPO, reference_events
from test_responses import long_text


@pytest.fixture
def statuses(monkeypatch):
    """Every status ``oairun_reader_next_batch`` returns, in order."""
    seen = []
    next_batch = _reader._next_batch

    def recorded(*args):
        status = next_batch(*args)
        seen.append(status)
        return status

    monkeypatch.setattr(_reader, "_next_batch", recorded)
    return seen


def wait_until_not_answering(server, limit=5.0):
    deadline = time.monotonic() + limit
    while server.answering() > 0:
        assert time.monotonic() < deadline, "the server still answers: the connection was kept"
        time.sleep(0.005)


@pytest.mark.parametrize("form", ["iterator", "on_event"])
def test_a_silence_longer_than_one_call_is_not_an_error(client, statuses, form):
    # 300 ms between deltas: longer than one call's time limit (WAIT_MS), so calls end AGAIN.
    from oairun._client import WAIT_MS

    assert WAIT_MS < 300
    if form == "iterator":
        events = list(client.submit_tool_outputs("r", thread_id="slow_300_3", tool_outputs=OUTPUTS, stream=True))
    else:
        events = []
        client.submit_tool_outputs("r", thread_id="slow_300_3", tool_outputs=OUTPUTS, on_event=events.append)
    assert "".join(e.text_delta or "" for e in events) == long_text(3)
    assert events[-1].event == "done"
    assert _ffi.AGAIN in statuses, statuses
    assert set(statuses) == {_ffi.OK, _ffi.AGAIN}


class Interrupted(KeyboardInterrupt):
    pass


def test_a_signal_is_handled_while_the_server_is_silent(server):
    """A signal's Python handler runs between two calls of the reader, so Ctrl-C (here SIGUSR1,
    whose handler raises as SIGINT's does, without touching pytest's own) ends a stream within
    one call's time limit; the reader is freed and the connection dropped."""

    def interrupt(signum, frame):
        raise Interrupted()

    previous = signal.signal(signal.SIGUSR1, interrupt)
    try:
        with oairun.Client(api_key="k", base_url=server.base_url, timeout=30) as c:
            stream = c.submit_tool_outputs("r", thread_id="stall", tool_outputs=OUTPUTS, stream=True)
            seen = []
            timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGUSR1))
            with pytest.raises(Interrupted):
                for event in stream:
                    seen.append(event.event)
                    if len(seen) == 2:  # the stall scenario sends two events, then nothing
                        sent = time.monotonic() + 0.3
                        timer.start()
            interrupted = time.monotonic()
            timer.join()
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert seen == [name for name, _ in reference_events()[:2]]
    assert interrupted - sent < 1.0, f"the signal was handled {interrupted - sent:.2f} s after it came"
    assert stream.join(timeout=1), "the reader was not freed"
    wait_until_not_answering(server, limit=2)


def test_a_dropped_stream_frees_its_reader_and_connection(server, client):
    stream = client.responses.create(model="stall", input="hi", stream=True)
    assert next(stream).event == "response.created"
    freed = stream._reader.freed
    assert server.answering() == 1
    del stream
    gc.collect()
    assert freed.is_set()
    wait_until_not_answering(server, limit=2)


def test_a_stream_reads_on_the_iterating_thread(client):
    before = threading.active_count()
    counts = []
    for _ in client.submit_tool_outputs("r", thread_id="long_2000", tool_outputs=OUTPUTS, stream=True):
        counts.append(threading.active_count())
    assert set(counts) == {before}  # no thread of oairun's Python side


def test_the_request_goes_when_the_iteration_starts(server, client):
    stream = client.submit_tool_outputs("r", thread_id="thread_123", tool_outputs=OUTPUTS, stream=True)
    assert server.requests() == []  # nothing sent yet: a flags-0 reader connects on its first call
    assert len(list(stream)) == len(reference_events())
    assert len(server.requests()) == 1


@pytest.mark.parametrize("getter", ["library", "python"])
def test_event_data_is_parsed_on_first_access_only(client, monkeypatch, getter):
    """Iteration parses nothing; the first access parses, the next ones give the same object.
    With the library's getter of ``data`` (CPython), the parse happens in it, so the calls are
    not counted, but a second parse would give a new object; with the binding's own property,
    every parse is counted."""
    if getter == "python":
        monkeypatch.setattr(_events.Event, "data", _events.PY_DATA)
    elif _events._data_getter is None:
        pytest.skip("no library getter where the interpreter is not CPython")
    events = list(client.responses.create(model="long_50", input="hi", stream=True))
    assert all(e._data is _events._UNPARSED for e in events)  # iteration parses nothing
    calls = []
    scan, parse = _events.scan, _events._parse

    def counted(text, index):
        calls.append(text)
        return scan(text, index)

    def parse_counted(text):
        calls.append(text)
        return parse(text)

    monkeypatch.setattr(_events, "scan", counted)
    if parse is not None:  # the library's parser first (see test_json_parser.py), json's after
        monkeypatch.setattr(_events, "_parse", parse_counted)
    first = [e.data for e in events]
    assert all(e._data is d for e, d in zip(events, first))
    again = [e.data for e in events]
    assert len(calls) == (len(events) if getter == "python" else 0)
    assert all(a is b for a, b in zip(first, again))
    assert "".join(e.data.delta for e in events if e.event == "response.output_text.delta") == long_text(50)


def test_parsed_objects_read_by_attribute_under_any_access(client):
    response = client.responses.create(model="function_call", input="hi")
    assert response["output"][0].call_id == "call_fixed_get_weather"  # by key, then by attribute
    assert response.get("output")[0]["name"] == "get_weather"
    events = list(client.responses.create(model="gpt-test", input="hi", stream=True))
    completed = events[-1].data["response"]
    assert isinstance(completed, oairun.Response) and completed.output_text == "It's 15°C and clear in Paris."
    assert isinstance(events[-1].data, oairun.Object) and not isinstance(events[-1].data, oairun.Response)
    # A plain dict put in by hand is wrapped once read by attribute.
    made = oairun.Object({"a": {"b": [{"c": 1}]}})
    assert made.a.b[0].c == 1 and made["a"].b is made.a.b


def test_done_and_data_that_is_not_json(client):
    events = list(client.submit_tool_outputs("r", thread_id="thread_123", tool_outputs=OUTPUTS, stream=True))
    assert events[-1].data == "[DONE]"
    bad = [e for e in events if e.event == "thread.run.queued"][0]
    with pytest.raises(oairun.ProtocolError, match="not JSON"):
        bad.data
    assert oairun.Event("x", ' {"a": 1} ').data == {"a": 1}  # whitespace around: through json.loads
    assert oairun.Event("x", "[1, {\"a\": 2}]").data[1].a == 2
    with pytest.raises(oairun.ProtocolError):
        oairun.Event("x", "").data


def test_reader_constants_and_functions_match_the_header():
    header = (REPO / "include" / "oairun.h").read_text(encoding="utf-8")
    assert re.search(r"\bOAIRUN_AGAIN = (\d+)", header).group(1) == str(_ffi.AGAIN)
    assert re.search(r"#define OAIRUN_READER_BACKGROUND (\d+)", header).group(1) == str(_ffi.READER_BACKGROUND)
    names = set(re.findall(r"\b(oairun_(?:reader_\w+|\w+_stream_open|event_\w+|\w+_start))\(", header))
    assert {"oairun_reader_next_batch", "oairun_reader_fd", "oairun_create_response_stream_open"} <= names
    for name in names:
        function = getattr(_ffi.lib, name)
        assert function.argtypes is not None, f"{name} has no argtypes"
    for status in range(_ffi.AGAIN + 1):
        assert _ffi.lib.oairun_status_str(status)  # a known status, AGAIN included


def test_again_maps_to_no_exception_class():
    from oairun._exceptions import _BY_STATUS

    assert _ffi.AGAIN not in _BY_STATUS  # never raised: the iterators take it as "not yet"


# A stream the test server cannot send, byte for byte: a NUL inside data, ids set then reset
# to empty and set again, events of kinds oairun does not know and one without a name, empty
# data, non-ASCII data; then done.
ODD_BODY = (
    b'event: thread.run.created\ndata: {"id":"run_1","object":"thread.run"}\n\n'
    b'event: brand.new.kind\nid: evt_7\ndata: {"x":"caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\xa6\x80"}\n\n'
    b"event: thread.message.delta\ndata: before\0after\ndata: second line\n\n"
    b'data: {"no":"name"}\n\n'
    b"id:\nevent: another.unknown\ndata:\n\n"
    b"id: \xc3\xa9v\xc3\xa9nement\nevent: thread.message.delta\ndata: \0\n\n"
    b"event: done\ndata: [DONE]\n\n"
)
ODD_EVENTS = [
    ("thread.run.created", '{"id":"run_1","object":"thread.run"}', None),
    ("brand.new.kind", '{"x":"caf\u00e9 \u65e5 \U0001f980"}', "evt_7"),
    ("thread.message.delta", "before\0after\nsecond line", "evt_7"),
    ("message", '{"no":"name"}', "evt_7"),
    ("another.unknown", "", None),  # (an empty id resets it: none)
    ("thread.message.delta", "\0", "\u00e9v\u00e9nement"),
    ("done", "[DONE]", "\u00e9v\u00e9nement"),
]


def serve_once(body: bytes):
    """A loopback server answering one request with ``body`` as an event stream; returns its
    base URL and the thread serving it."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve():
        conn, _ = listener.accept()
        with conn, listener:
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(65536)
            head, _, rest = request.partition(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            while len(rest) < length:
                rest += conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n"
                + b"Content-Length: %d\r\n\r\n" % len(body)
                + body
            )
            conn.shutdown(socket.SHUT_WR)
            while conn.recv(65536):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/v1", thread


@pytest.mark.parametrize("maker", ["library", "binding"])
@pytest.mark.parametrize("batch", [1, 3, 256])
def test_batch_copy_handles_nul_unknown_kinds_and_ids(monkeypatch, batch, maker):
    """Data holding a NUL (copied by its length, not cut at the NUL), kinds not in the table
    and an event without a name (their names come with the event and are never kept), ids
    present, reset to empty and absent, non-ASCII text; in batches of every size. Made by the
    library (``oairun_py_events``) and by the binding (events_of, whose rarer path takes each
    string by its span: both of its paths meet in one stream)."""
    monkeypatch.setattr(_reader, "BATCH", batch)
    if maker == "binding":
        monkeypatch.setattr(_reader, "_make", None)
    elif _reader._make is None:
        pytest.skip("no library maker where the interpreter is not CPython")
    base_url, thread = serve_once(ODD_BODY)
    with oairun.Client(api_key="sk-test", base_url=base_url, max_retries=0) as odd:
        copied = list(odd.submit_tool_outputs("r", thread_id="t", tool_outputs=OUTPUTS, stream=True))
    thread.join(5)
    assert [(e.event, e.raw, e.id) for e in copied] == ODD_EVENTS
    assert 0 not in _reader._names and "brand.new.kind" not in _reader._names.values()
    assert copied[1].data == {"x": "caf\u00e9 \u65e5 \U0001f980"} and copied[6].data == "[DONE]"
    with pytest.raises(oairun.ProtocolError):  # a raw NUL in data: not JSON, as for json.loads
        copied[2].data


@pytest.mark.parametrize("form", ["next", "for"])
def test_an_event_given_is_held_by_nothing_of_the_binding(client, form):
    """Each event is made as the iteration reaches it and not kept by the batch: the program's
    reference is the only one, so a parsed event is freed as soon as the program lets go of it
    (rather than traversed by the cyclic collector until its whole batch has been given)."""
    import sys

    stream = client.submit_tool_outputs("r", thread_id="long_1000", tool_outputs=OUTPUTS, stream=True)
    with stream:
        if form == "next":
            counts = []
            for _ in range(300):
                event = next(stream)
                event.data  # parsed: the case that costs the collector
                counts.append(sys.getrefcount(event))  # `event`, and getrefcount's argument
                del event
        else:
            counts = []
            for event in stream:  # (not enumerate(), whose last tuple keeps the event)
                event.data
                counts.append(sys.getrefcount(event))
                if len(counts) == 300:
                    break
    assert counts == [2] * 300


def test_a_batch_larger_than_the_copy_buffer_grows_it(client):
    """An event bigger than the copy buffer's first size: the copy asks for the room it needs
    and is made again."""
    events = list(client.submit_tool_outputs("r", thread_id="big_1", tool_outputs=OUTPUTS, stream=True))
    assert len(events[0].raw.encode()) > _reader.ROOM
    assert isinstance(events[0].data, dict)  # the whole of it, or it would not parse
    assert [e.event for e in events[1:]] == ["done"]
