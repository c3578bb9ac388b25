"""The Client's size caps and plain-HTTP option, and the library's log lines through the
logging module (logger "oairun")."""

from __future__ import annotations

import logging

import pytest

import oairun
from oairun import _ffi, _logging
from conftest import OUTPUTS


def test_a_tiny_max_event_bytes_fails_a_stream_with_protocol_error(server):
    with oairun.Client(api_key="sk-test-py", base_url=server.base_url, max_event_bytes=64) as c:
        with pytest.raises(oairun.ProtocolError):
            list(c.responses.create(model="long_20", input="hi", stream=True))
        with pytest.raises(oairun.ProtocolError):
            c.submit_tool_outputs("run_1", thread_id="thread_1", tool_outputs=OUTPUTS, on_event=lambda e: None)
    # A cap the events fit in changes nothing.
    with oairun.Client(api_key="sk-test-py", base_url=server.base_url, max_event_bytes=1 << 20) as c:
        assert list(c.responses.create(model="long_20", input="hi", stream=True))


def test_a_tiny_max_response_bytes_fails_a_call_with_protocol_error(server):
    with oairun.Client(api_key="sk-test-py", base_url=server.base_url, max_response_bytes=100) as c:
        with pytest.raises(oairun.ProtocolError):
            c.responses.create(model="gpt-test", input="hi")
        with pytest.raises(oairun.ProtocolError):
            c.submit_tool_outputs("run_1", thread_id="thread_1", tool_outputs=OUTPUTS)
    with oairun.Client(api_key="sk-test-py", base_url=server.base_url, max_response_bytes=1 << 20) as c:
        assert c.responses.create(model="gpt-test", input="hi").status == "completed"


def test_plain_http_to_another_host_needs_allow_insecure_http():
    with pytest.raises(oairun.InvalidArgumentError):
        oairun.Client(api_key="sk-x", base_url="http://example.invalid/v1")
    with oairun.Client(api_key="sk-x", base_url="http://example.invalid/v1", allow_insecure_http=True):
        pass
    with oairun.Client(api_key="sk-x", base_url="https://example.invalid/v1", allow_insecure_http=False):
        pass


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        ({"allow_insecure_http": 1}, TypeError),
        ({"max_event_bytes": 0}, ValueError),
        ({"max_event_bytes": -1}, ValueError),
        ({"max_event_bytes": True}, TypeError),
        ({"max_response_bytes": 1.5}, TypeError),
        ({"max_response_bytes": 2**64}, ValueError),
    ],
)
def test_bad_options_are_refused(kwargs, exc):
    with pytest.raises(exc):
        oairun.Client(api_key="sk-x", **kwargs)


@pytest.fixture
def oairun_logs(caplog):
    """caplog at INFO for logger "oairun"; the library's callback is re-read afterwards."""
    caplog.set_level(logging.INFO, logger="oairun")
    yield caplog
    caplog.set_level(logging.WARNING, logger="oairun")
    oairun.disable_logging()


def test_log_lines_reach_the_logging_module(server, oairun_logs):
    with oairun.Client(api_key="sk-secret-key-123", base_url=server.base_url) as c:
        c.responses.create(model="gpt-test", input="hi")
        with pytest.raises(oairun.BadRequestError):
            c.submit_tool_outputs("run_1", thread_id="status_400", tool_outputs=OUTPUTS)
        c.submit_tool_outputs("run_1", thread_id="ratelimit_once", tool_outputs=OUTPUTS)
    records = [r for r in oairun_logs.records if r.name == "oairun"]
    messages = [r.getMessage() for r in records]
    assert any(m.startswith("POST ") and "/v1/responses" in m for m in messages), messages
    assert any(m.startswith("HTTP 200 from ") for m in messages), messages
    assert any(r.levelno == logging.ERROR and "status_400" in r.getMessage() for r in records), messages
    assert any(r.levelno == logging.WARNING and "retrying" in r.getMessage() for r in records), messages
    assert all(r.levelno >= logging.INFO for r in records)  # no DEBUG lines at INFO
    assert not any("sk-secret-key-123" in m or "secret" in m for m in messages)


def test_debug_level_and_levels_follow_the_logger(server, oairun_logs):
    oairun_logs.set_level(logging.DEBUG, logger="oairun")
    oairun.enable_logging()
    with oairun.Client(api_key="sk-secret-key-123", base_url=server.base_url) as c:
        list(c.responses.create(model="gpt-test", input="hi", stream=True))
    debug = [r.getMessage() for r in oairun_logs.records if r.name == "oairun" and r.levelno == logging.DEBUG]
    assert any("stream" in m for m in debug), debug
    # Above ERROR: nothing is installed, nothing is logged.
    oairun_logs.clear()
    oairun.enable_logging(logging.CRITICAL)
    assert _logging._installed == _ffi.LOG_OFF
    with oairun.Client(api_key="sk-x", base_url=server.base_url) as c:
        with pytest.raises(oairun.BadRequestError):
            c.submit_tool_outputs("run_1", thread_id="status_400", tool_outputs=OUTPUTS)
    assert [r for r in oairun_logs.records if r.name == "oairun"] == []


def test_levels_map_both_ways():
    assert [_logging._c_level(level) for level in (5, 10, 20, 30, 40, 50)] == [4, 4, 3, 2, 1, 0]


def test_no_handler_means_no_callback(monkeypatch):
    # With no handler anywhere, a client installs nothing (logging's last resort would print
    # the lines on stderr).
    monkeypatch.setattr(_logging.logger, "hasHandlers", lambda: False)
    _logging._install(_ffi.LOG_INFO)
    oairun.Client(api_key="sk-x").close()
    assert _logging._installed == _ffi.LOG_OFF
