"""The Python binding against the loopback test server."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import threading
import time

import pytest

import oairun
from oairun import _ffi
from conftest import FIXTURES, OUTPUTS, REPO, reference_events


def test_request_as_received(server, client):
    tricky = 'quote " backslash \\ newline \n tab \t café 😀 nul \0 end'
    with oairun.Client(
        api_key="sk-test-py",
        base_url=server.base_url,
        organization="org-abc",
        project="proj_xyz",
        default_headers={"X-Custom": "custom value"},
    ) as c:
        c.submit_tool_outputs(
            "run_123",
            thread_id="thread_123",
            tool_outputs=[{"tool_call_id": "call_001", "output": tricky}, {"tool_call_id": "call_002", "output": ""}],
        )
    [request] = server.requests()
    assert request["method"] == "POST"
    assert request["target"] == "/v1/threads/thread_123/runs/run_123/submit_tool_outputs"
    headers = {name.lower(): value for name, value in request["headers"]}
    assert headers["authorization"] == "Bearer sk-test-py"
    assert headers["openai-beta"] == "assistants=v2"
    assert headers["openai-organization"] == "org-abc"
    assert headers["openai-project"] == "proj_xyz"
    assert headers["x-custom"] == "custom value"
    assert headers["user-agent"].startswith("oairun/")
    assert json.loads(request["body"]) == {
        "tool_outputs": [
            {"tool_call_id": "call_001", "output": tricky},
            {"tool_call_id": "call_002", "output": ""},
        ],
        "stream": False,
    }


def test_sync_result_is_the_run(client):
    run = client.submit_tool_outputs("run_123", thread_id="thread_123", tool_outputs=OUTPUTS)
    assert run == json.loads((FIXTURES / "run.json").read_text(encoding="utf-8"))


def test_reference_stream_in_order(client):
    events = list(client.submit_tool_outputs("run_123", thread_id="thread_123", tool_outputs=OUTPUTS, stream=True))
    assert [(e.event, e.raw) for e in events] == reference_events()
    assert events[-1].data == "[DONE]"
    assert events[0].data["object"] == "thread.run.step"
    # The reference's own thread.run.queued payload has one "}" too many: reading .data says so.
    queued = next(e for e in events if e.event == "thread.run.queued")
    with pytest.raises(oairun.ProtocolError):
        queued.data


def test_on_event_form(client):
    seen = []
    assert client.submit_tool_outputs(
        "run_123", thread_id="thread_123", tool_outputs=OUTPUTS, on_event=lambda e: seen.append(e.event)
    ) is None
    assert seen == [name for name, _ in reference_events()]


@pytest.mark.parametrize(
    "status, cls, type_, code, param",
    [
        (400, oairun.BadRequestError, "invalid_request_error", None, "tool_outputs"),
        (401, oairun.AuthenticationError, "invalid_request_error", "invalid_api_key", None),
        (403, oairun.PermissionDeniedError, "invalid_request_error", None, None),
        (404, oairun.NotFoundError, "invalid_request_error", None, None),
        (409, oairun.ConflictError, "invalid_request_error", None, None),
        (418, oairun.APIStatusError, "invalid_request_error", None, None),
        (422, oairun.UnprocessableEntityError, "invalid_request_error", None, None),
        (429, oairun.RateLimitError, "requests", "rate_limit_exceeded", None),
        (500, oairun.InternalServerError, "server_error", None, None),
        (503, oairun.InternalServerError, "server_error", None, None),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_http_errors(client, status, cls, type_, code, param, stream):
    with pytest.raises(cls) as info:
        result = client.submit_tool_outputs("run_123", thread_id=f"status_{status}", tool_outputs=OUTPUTS, stream=stream)
        if stream:
            list(result)
    e = info.value
    assert type(e) is cls
    assert isinstance(e, oairun.APIStatusError)
    assert e.status == _ffi.HTTP_STATUS
    assert e.http_status == status
    assert e.status_code == status
    assert e.request_id.startswith("req_")
    assert e.type == type_
    assert e.param == param
    if code:
        assert e.code == code
    assert f"test error {status}" in e.message
    assert "sk-test-py" not in str(e)


def test_plain_error_body(client):
    with pytest.raises(oairun.InternalServerError) as info:
        client.submit_tool_outputs("run_123", thread_id="status_502_plain", tool_outputs=OUTPUTS)
    assert info.value.http_status == 502
    assert "upstream exploded" in info.value.message
    assert info.value.type is None


@pytest.mark.parametrize("thread, delivered", [("truncated", 5), ("reset", 2), ("partial_event", 3)])
def test_truncated_streams(client, thread, delivered):
    events = []
    with pytest.raises(oairun.ProtocolError) as info:
        for event in client.submit_tool_outputs("run_123", thread_id=thread, tool_outputs=OUTPUTS, stream=True):
            events.append((event.event, event.raw))
    assert events == reference_events()[:delivered]
    assert f"after {delivered} events" in info.value.message


def test_error_event(client):
    events = []
    with pytest.raises(oairun.StreamError) as info:
        for event in client.submit_tool_outputs("run_123", thread_id="error_event", tool_outputs=OUTPUTS, stream=True):
            events.append(event)
    assert events[-1].event == "error"
    assert len(events) == 4
    assert info.value.message.endswith("test stream error")
    assert info.value.code == "server_error"
    assert info.value.http_status == 200


def test_cancel_by_break(client, server):
    stream = client.submit_tool_outputs("run_123", thread_id="long_100000", tool_outputs=OUTPUTS, stream=True)
    count = 0
    for _ in stream:
        count += 1
        if count == 3:
            break
    # No close(): leaving the loop is enough, though `stream` is still referenced.
    assert stream.join(timeout=10), "the stream's thread did not end after the break"
    # Dropping an unfinished stream without close() cancels it too.
    dropped = client.submit_tool_outputs("run_123", thread_id="long_100000", tool_outputs=OUTPUTS, stream=True)
    next(dropped)
    freed = dropped._reader.freed
    del dropped
    gc.collect()
    assert freed.wait(10), "the dropped stream's reader was not freed"
    deadline = time.monotonic() + 10
    while server.answering() > 0:  # its connection dropped, as the server sees it
        assert time.monotonic() < deadline, "the dropped stream's connection was kept"
        time.sleep(0.01)
    # The client still works.
    assert client.submit_tool_outputs("run_123", thread_id="thread_123", tool_outputs=OUTPUTS)["id"] == "run_123"


def test_callback_that_raises(client):
    seen = []

    def on_event(event):
        seen.append(event.event)
        if len(seen) == 3:
            raise KeyError("from the callback")

    with pytest.raises(KeyError, match="from the callback"):
        client.submit_tool_outputs("run_123", thread_id="long_1000", tool_outputs=OUTPUTS, on_event=on_event)
    assert len(seen) == 3


def test_callback_returning_false_cancels(client):
    with pytest.raises(oairun.CancelledError):
        client.submit_tool_outputs("run_123", thread_id="long_1000", tool_outputs=OUTPUTS, on_event=lambda e: False)


def test_eight_threads_share_one_client(server, client):
    errors = []
    expected = reference_events()

    def work(t):
        try:
            for i in range(10):
                if i % 2:
                    events = list(client.submit_tool_outputs("run_123", thread_id=f"thread_{t}_{i}", tool_outputs=OUTPUTS, stream=True))
                    assert [(e.event, e.raw) for e in events] == expected
                else:
                    assert client.submit_tool_outputs("run_123", thread_id=f"thread_{t}_{i}", tool_outputs=OUTPUTS)["id"] == "run_123"
        except BaseException as exc:  # noqa: B902
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert len(server.requests()) == 80


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        (dict(thread_id=7, tool_outputs=OUTPUTS), TypeError),
        (dict(thread_id="", tool_outputs=OUTPUTS), ValueError),
        (dict(thread_id="t", tool_outputs=[]), ValueError),
        (dict(thread_id="t", tool_outputs="x"), TypeError),
        (dict(thread_id="t", tool_outputs=[{"tool_call_id": "c"}]), TypeError),
        (dict(thread_id="t", tool_outputs=[{"tool_call_id": "c", "output": "o", "x": 1}]), ValueError),
        (dict(thread_id="t", tool_outputs=[{"tool_call_id": "", "output": "o"}]), ValueError),
        (dict(thread_id="t", tool_outputs=[{"tool_call_id": "c", "output": "\ud800"}]), ValueError),
        (dict(thread_id="..", tool_outputs=OUTPUTS), ValueError),
    ],
)
def test_bad_arguments_raise_before_any_request(server, client, kwargs, exc):
    with pytest.raises(exc):
        client.submit_tool_outputs("run_123", **kwargs)
    assert server.requests() == []


def test_bad_client_arguments(server):
    with pytest.raises(ValueError):
        oairun.Client(api_key="k", base_url="ftp://example.test/v1")
    with pytest.raises(ValueError):
        oairun.Client(api_key="k", base_url=server.base_url, timeout=0)
    with pytest.raises(ValueError):
        oairun.Client(api_key="k", base_url=server.base_url, default_headers={"X": "a\r\nB: c"})
    with pytest.raises(oairun.InvalidArgumentError):
        oairun.Client(api_key="k", base_url="http://192.0.2.1/v1")
    c = oairun.Client(api_key="k", base_url=server.base_url)
    c.close()
    c.close()
    with pytest.raises(ValueError):
        c.submit_tool_outputs("r", thread_id="t", tool_outputs=OUTPUTS)


def test_library_lookup_names_all_three_places(tmp_path, monkeypatch):
    monkeypatch.delenv("OAIRUN_LIBRARY", raising=False)
    with pytest.raises(_ffi.LibraryNotFoundError) as info:
        _ffi.find_library(tmp_path / "oairun")
    message = str(info.value)
    assert "OAIRUN_LIBRARY" in message and "beside" in message and "target/debug" in message
    monkeypatch.setenv("OAIRUN_LIBRARY", str(tmp_path / "missing.so"))
    with pytest.raises(_ffi.LibraryNotFoundError, match="not a file"):
        _ffi.find_library(tmp_path / "oairun")


def test_same_events_as_the_official_sdk(server):
    openai = pytest.importorskip("openai")
    sdk = openai.OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0)
    with oairun.Client(api_key="sk-test", base_url=server.base_url) as ours:
        theirs = list(
            sdk.beta.threads.runs.submit_tool_outputs(
                run_id="run_123", thread_id="long_200", tool_outputs=OUTPUTS, stream=True
            )
        )
        mine = list(ours.submit_tool_outputs("run_123", thread_id="long_200", tool_outputs=OUTPUTS, stream=True))
    # The SDK hides `done`: it ends its iterator there.
    assert mine[-1].event == "done"
    mine = mine[:-1]
    assert [e.event for e in theirs] == [e.event for e in mine]
    for sdk_event, event in zip(theirs, mine):
        assert sdk_event.data.model_dump(exclude_unset=True) == event.data


def test_the_sdk_cannot_read_the_reference_stream_but_oairun_can(server):
    openai = pytest.importorskip("openai")
    sdk = openai.OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0)
    with pytest.raises(Exception):
        list(sdk.beta.threads.runs.submit_tool_outputs(run_id="run_123", thread_id="thread_123", tool_outputs=OUTPUTS, stream=True))
    with oairun.Client(api_key="sk-test", base_url=server.base_url) as ours:
        assert len(list(ours.submit_tool_outputs("run_123", thread_id="thread_123", tool_outputs=OUTPUTS, stream=True))) == 16


@pytest.mark.parametrize("example", ["submit.py", "stream.py"])
def test_examples(server, example):
    env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-test", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "python" / example), "thread_123", "run_123", "call_001", "70 degrees"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    if example == "submit.py":
        assert json.loads(done.stdout)["id"] == "run_123"
    else:
        assert done.stdout.splitlines() == ["The current weather sunny.", "run status: completed"]


def test_importing_oairun_leaves_typing_unimported():
    """``typing`` costs every program about 5 ms of start-up: the binding imports it for type
    checkers only (and where a tool's schema is read from its annotations), so a program that
    does not import it itself does not pay for it."""
    import os
    import subprocess
    import sys

    code = "import sys, oairun; print('typing' in sys.modules)"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    # -S: no site module, whose .pth files may import typing themselves (this machine's do).
    done = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
