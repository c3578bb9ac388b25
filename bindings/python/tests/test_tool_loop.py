"""The tool-call loops (``client.responses.run_tools``, ``client.beta.threads.runs.run_tools``)
against the test server's scripted models (testserver/src/scenarios.md, "Scripted tool-calling
models"), and the tool calls and text of events."""

from __future__ import annotations

import ctypes
import json
from ctypes import byref, c_void_p

import pytest

import oairun
from oairun import _ffi
from oairun._exceptions import from_error


def test_max_turns_status_maps_to_its_exception():
    assert _ffi.lib.oairun_status_str(_ffi.MAX_TURNS) == b"maximum turns reached"
    info = _ffi.take_error(_ffi.MAX_TURNS, c_void_p())
    exc = from_error(info)
    assert type(exc) is oairun.MaxTurnsError
    assert isinstance(exc, oairun.OairunError) and exc.status == 9


def test_tool_calls_from_json_declared():
    run = {
        "id": "run_1",
        "object": "thread.run",
        "required_action": {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {
                "tool_calls": [
                    {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{\"x\":\"é\"}"}},
                    {"id": "call_b", "type": "function", "function": {"name": "g", "arguments": ""}},
                ]
            },
        },
    }
    calls, error = c_void_p(), c_void_p()
    status = _ffi.lib.oairun_tool_calls_from_json(json.dumps(run).encode(), byref(calls), byref(error))
    assert status == _ffi.OK
    assert _ffi.take_tool_calls(calls) == [("call_a", "f", '{"x":"é"}'), ("call_b", "g", "")]
    status = _ffi.lib.oairun_tool_calls_from_json(b"[1]", byref(calls), byref(error))
    assert status == _ffi.INVALID_ARGUMENT
    assert _ffi.take_error(status, error).message
