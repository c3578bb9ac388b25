"""The faults a server and the network can throw at a submission, through the Python binding:
the exception's class and fields, the events delivered, and (from the test server's record) how
many attempts reached the server and when."""

from __future__ import annotations

import itertools
import socket
import time
from typing import Any, Dict, List

import pytest

import oairun
from oairun import _ffi
from conftest import OUTPUTS, reference_events

_runs = itertools.count()


def unique_run(what: str) -> str:
    """A run id no other test uses, to find this test's requests in the server's record."""
    return f"run_py_{what}_{next(_runs)}"


def attempts(server, run_id: str) -> List[Dict[str, Any]]:
    return [r for r in server.requests() if r["run_id"] == run_id]


def submit(client: oairun.Client, thread: str, run: str, form: str, events: List[oairun.Event]) -> None:
    """One submission in `form` ("sync", "stream" or "on_event"), appending the events it
    delivers to `events` as they arrive."""
    if form == "sync":
        client.submit_tool_outputs(run, thread_id=thread, tool_outputs=OUTPUTS)
    elif form == "stream":
        for event in client.submit_tool_outputs(run, thread_id=thread, tool_outputs=OUTPUTS, stream=True):
            events.append(event)
    else:
        client.submit_tool_outputs(run, thread_id=thread, tool_outputs=OUTPUTS, on_event=events.append)


def raises(cls, client, thread, run, form):
    """The exception a submission raised, which must be exactly of class `cls`, and the events
    delivered before it."""
    events: List[oairun.Event] = []
    with pytest.raises(cls) as info:
        submit(client, thread, run, form, events)
    assert type(info.value) is cls, f"{type(info.value).__name__}: {info.value}"
    return info.value, events


FORMS = ["sync", "stream", "on_event"]
STREAMED = ["stream", "on_event"]


@pytest.mark.parametrize("form", FORMS)
def test_rate_limited_once_then_success(server, client, form):
    # 429 with `retry-after-ms: 100`, then the reference answer.
    run = unique_run("ratelimit")
    events: List[oairun.Event] = []
    submit(client, "ratelimit_once", run, form, events)
    if form != "sync":
        assert len(events) == 16 and events[-1].event == "done"
    seen = attempts(server, run)
    assert len(seen) == 2
    assert seen[1]["received_us"] - seen[0]["received_us"] >= 100_000
    assert seen[0]["body"] == seen[1]["body"]


@pytest.mark.parametrize("form", FORMS)
def test_server_errors_until_retries_run_out(server, client, form):
    run = unique_run("500")
    e, events = raises(oairun.InternalServerError, client, "status_500", run, form)
    assert events == []
    assert isinstance(e, oairun.APIStatusError)
    assert e.status == _ffi.HTTP_STATUS
    assert e.http_status == e.status_code == 500
    assert e.request_id.startswith("req_")
    assert e.type == "server_error" and e.code is None and e.param is None
    assert "test error 500" in e.message
    assert e.message.endswith("(after 3 attempts)")
    assert str(e) == e.message
    assert len(attempts(server, run)) == 3


def test_no_retries_when_they_are_off(server):
    run = unique_run("500_once")
    with oairun.Client(api_key="k", base_url=server.base_url, max_retries=0) as once:
        e, _ = raises(oairun.InternalServerError, once, "status_500", run, "sync")
    assert "attempts" not in e.message
    assert len(attempts(server, run)) == 1


def free_port() -> int:
    """A loopback port nothing listens on (bound to learn it, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("form", FORMS)
def test_connection_refused(form):
    # Retries off for the streamed forms, so that the three forms do not take 1.5 s each.
    retries = 2 if form == "sync" else 0
    with oairun.Client(api_key="k", base_url=f"http://127.0.0.1:{free_port()}/v1", max_retries=retries) as c:
        e, events = raises(oairun.APIConnectionError, c, "thread_123", "run_123", form)
    assert events == []
    assert e.status == _ffi.CONNECT
    assert e.http_status is None and e.request_id is None
    assert e.type is None and e.code is None
    assert e.message.endswith("(after 3 attempts)") == (retries == 2)


@pytest.mark.parametrize("form", FORMS)
def test_closed_before_headers(server, client, form):
    run = unique_run("close")
    e, events = raises(oairun.APIConnectionError, client, "close_before_headers", run, form)
    assert events == []
    assert e.status == _ffi.CONNECT
    assert e.http_status is None and e.request_id is None
    assert e.message.endswith("(after 3 attempts)")
    # Retried, a stream too: none of its events existed yet.
    assert len(attempts(server, run)) == 3


@pytest.mark.parametrize("form", STREAMED)
def test_reset_after_two_events(server, client, form):
    run = unique_run("reset")
    e, events = raises(oairun.ProtocolError, client, "reset", run, form)
    assert [(ev.event, ev.raw) for ev in events] == reference_events()[:2]
    assert e.status == _ffi.PROTOCOL
    assert e.http_status == 200
    assert e.request_id.startswith("req_")
    assert "after 2 events without `done`" in e.message
    # Never retried once an event has been delivered.
    assert len(attempts(server, run)) == 1


@pytest.mark.parametrize("form", STREAMED)
def test_stall_mid_stream_ends_at_the_read_timeout(server, form):
    limit = 0.5
    run = unique_run("stall")
    arrived: List[float] = []
    with oairun.Client(api_key="k", base_url=server.base_url, timeout=limit) as c:
        with pytest.raises(oairun.APITimeoutError) as info:
            if form == "stream":
                for _ in c.submit_tool_outputs(run, thread_id="stall", tool_outputs=OUTPUTS, stream=True):
                    arrived.append(time.monotonic())
            else:
                c.submit_tool_outputs(
                    run, thread_id="stall", tool_outputs=OUTPUTS, on_event=lambda e: arrived.append(time.monotonic())
                )
    silence = time.monotonic() - arrived[-1]
    e = info.value
    assert len(arrived) == 2
    assert silence < 2 * limit, f"the stall ended {silence:.3f} s after the last event"
    assert isinstance(e, oairun.APIConnectionError)
    assert e.status == _ffi.TIMEOUT
    assert "no data within the timeout of 500 ms" in e.message
    assert e.http_status == 200 and e.request_id.startswith("req_")
    assert len(attempts(server, run)) == 1


def test_no_answer_at_all_times_out_each_attempt(server):
    run = unique_run("stall_headers")
    with oairun.Client(api_key="k", base_url=server.base_url, timeout=0.3) as c:
        e, _ = raises(oairun.APITimeoutError, c, "stall_headers", run, "sync")
    assert e.status == _ffi.TIMEOUT
    assert e.http_status is None
    assert e.message.endswith("(after 3 attempts)")
    assert len(attempts(server, run)) == 3


@pytest.mark.parametrize("thread, stop_at", [("long_1000", 3), ("stall", 2)])
def test_cancel_from_the_callback(server, client, thread, stop_at):
    run = unique_run("cancel")
    seen = []

    def on_event(event):
        seen.append(event.event)
        return len(seen) < stop_at  # False stops the stream

    with pytest.raises(oairun.CancelledError) as info:
        client.submit_tool_outputs(run, thread_id=thread, tool_outputs=OUTPUTS, on_event=on_event)
    assert type(info.value) is oairun.CancelledError
    assert info.value.status == _ffi.CANCELLED
    assert "asked to stop" in info.value.message
    assert len(seen) == stop_at, "a callback came after the one that stopped the stream"
    assert len(attempts(server, run)) == 1
    assert client.submit_tool_outputs("run_123", thread_id="thread_123", tool_outputs=OUTPUTS)["id"] == "run_123"


def test_answer_over_the_size_cap(server, client):
    # 50 MiB against the default 32 MiB cap.
    run = unique_run("big")
    e, _ = raises(oairun.ProtocolError, client, "big_50", run, "sync")
    assert e.status == _ffi.PROTOCOL
    assert "larger than the cap of 33554432 bytes" in e.message
    assert len(attempts(server, run)) == 1


def test_answer_that_is_not_json(server, client):
    run = unique_run("not_json")
    e, _ = raises(oairun.ProtocolError, client, "not_json", run, "sync")
    assert e.status == _ffi.PROTOCOL
    assert "not JSON" in e.message
    assert e.http_status == 200 and e.request_id.startswith("req_")
    assert len(attempts(server, run)) == 1


@pytest.mark.parametrize("form", STREAMED)
def test_stream_answer_that_is_not_an_event_stream(server, client, form):
    run = unique_run("content_type")
    e, events = raises(oairun.ProtocolError, client, "wrong_content_type", run, form)
    assert events == []
    assert e.status == _ffi.PROTOCOL
    assert '"application/json", not text/event-stream' in e.message
    assert e.http_status == 200 and e.request_id.startswith("req_")
    assert len(attempts(server, run)) == 1
