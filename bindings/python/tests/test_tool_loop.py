"""The tool-call loops (``client.responses.run_tools``, ``client.beta.threads.runs.run_tools``)
against the test server's scripted models (testserver/src/scenarios.md, "Scripted tool-calling
models"), and the tool calls and text of events."""

from __future__ import annotations

import ctypes
import json
import pickle
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


# ---------------------------------------------------------------------------------------------
# The scripted model: turn 1 asks get_weather Paris and get_time Europe/Paris in parallel, turn
# 2 get_weather Tokyo, turn 3 answers "Outputs: <call_id>=<output>; ...." with every output.

WEATHER = {"Paris": 'Paris: 15°C, "clear"\nwind: \\ none', "Tokyo": "東京: 22°C, light rain 🌧"}
FIRST = "Berlin: 9°C, windy"  # the Assistants run's first output (call_001)
INSTRUCTIONS = "Use the tools."


def get_weather(city: str) -> str:
    """The current weather in a city.

    More text that is not in the description."""
    return WEATHER[city]


def get_time(timezone: str, precise: bool = False):
    # Not a str: sent as its JSON.
    return {"timezone": timezone, "time": "12:00", "precise": precise, "note": "naïve ✓"}


TOOLS = {"get_weather": get_weather, "get_time": get_time}


def expected_output(call) -> str:
    args = json.loads(call.arguments)
    if call.name == "get_weather":
        return WEATHER[args["city"]]
    return json.dumps(get_time(**args), ensure_ascii=False)


class Recorder:
    """An on_event that keeps every event, the calls each turn asked for, and the text."""

    def __init__(self, stop_at=None):
        self.events = []
        self.calls = []
        self.text = ""
        self.stop_at = stop_at

    def __call__(self, event):
        self.events.append(event)
        self.calls.extend(event.tool_calls)
        if event.text_delta is not None:
            self.text += event.text_delta
        if self.stop_at is not None and event.event == self.stop_at:
            return False
        return None


def loop_text(pairs) -> str:
    return "Outputs: " + "; ".join(f"{call_id}={output}" for call_id, output in pairs) + "."


def bodies(server, target):
    return [json.loads(r["body"]) for r in server.requests() if r["target"].endswith(target)]


def responses_bodies(server):
    return bodies(server, "/v1/responses")


def check_script(calls):
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"timezone": "Europe/Paris"}),
        ("get_weather", {"city": "Tokyo"}),
    ]
    assert len({c.id for c in calls}) == 3 and all(c.id.startswith("call_") for c in calls)


def test_responses_loop_over_three_turns(client, server):
    seen = Recorder()
    response = client.responses.run_tools(
        model="tool_loop", input="Weather?", instructions=INSTRUCTIONS, tools=TOOLS, on_event=seen,
        temperature=0.5,
    )
    assert isinstance(response, oairun.Response)
    assert response.status == "completed" and response.id.startswith("resp_")
    check_script(seen.calls)
    expected = loop_text([(c.id, expected_output(c)) for c in seen.calls])
    assert response.output_text == expected
    assert seen.text == expected  # text_delta of every response.output_text.delta
    assert [e.event for e in seen.events].count("response.completed") == 3

    # Three requests: the first as given; each later one the first's fields, the response
    # before it, and every output of the turn in one request, in the model's order.
    first, second, third = responses_bodies(server)
    assert "previous_response_id" not in first
    assert first["input"] == [{"role": "user", "content": "Weather?"}]
    assert first["stream"] is True and first["temperature"] == 0.5
    completed = [e.data.response for e in seen.events if e.event == "response.completed"]
    for body, previous, calls in ((second, completed[0], seen.calls[:2]), (third, completed[1], seen.calls[2:])):
        assert body["model"] == "tool_loop" and body["instructions"] == INSTRUCTIONS
        assert body["tools"] == first["tools"] and body["temperature"] == 0.5
        assert body["previous_response_id"] == previous.id
        assert body["input"] == [
            {"type": "function_call_output", "call_id": c.id, "output": expected_output(c)} for c in calls
        ]
    # The tools offered: built from the callables' signatures and docstrings.
    assert first["tools"] == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "The current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
                "additionalProperties": False,
            },
        },
        {
            "type": "function",
            "name": "get_time",
            "parameters": {
                "type": "object",
                "properties": {"timezone": {"type": "string"}, "precise": {"type": "boolean"}},
                "required": ["timezone"],
                "additionalProperties": False,
            },
        },
    ]


def test_responses_loop_with_store_false_replays_the_conversation(client, server):
    seen = Recorder()
    definitions = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]
    response = client.responses.run_tools(
        model="tool_loop", input="Weather?", tools=TOOLS, on_event=seen, store=False,
        tool_definitions=definitions,
    )
    check_script(seen.calls)
    assert response.output_text == loop_text([(c.id, expected_output(c)) for c in seen.calls])
    assert response.store is False
    first, second, third = responses_bodies(server)
    user = {"role": "user", "content": "Weather?"}
    items = [list(dict.__getitem__(e.data.response, "output")) for e in seen.events if e.event == "response.completed"]
    outputs = [{"type": "function_call_output", "call_id": c.id, "output": expected_output(c)} for c in seen.calls]
    assert first["input"] == [user]
    assert second["input"] == [user, *items[0], *outputs[:2]]
    assert third["input"] == [user, *items[0], *outputs[:2], *items[1], outputs[2]]
    for body in (first, second, third):
        assert "previous_response_id" not in body
        assert body["store"] is False
        assert body["tools"] == definitions


def test_assistants_loop_over_three_submissions(client, server):
    seen = Recorder()
    run = client.beta.threads.runs.run_tools(
        "run_loop", thread_id="tool_loop", tool_outputs=[{"tool_call_id": "call_001", "output": FIRST}],
        tools=TOOLS, on_event=seen,
    )
    assert isinstance(run, oairun.Object)
    assert run.status == "completed" and run.id == "run_loop"
    check_script(seen.calls)
    expected = loop_text([("call_001", FIRST)] + [(c.id, expected_output(c)) for c in seen.calls])
    assert seen.text == expected  # the text of the thread.message.delta events
    assert [e.event for e in seen.events].count("done") == 3
    assert [e.event for e in seen.events if e.event != "thread.message.delta"][-3:] == [
        "thread.message.completed", "thread.run.completed", "done"
    ]
    # The first outputs, then every output of a turn in one submission, in the model's order.
    submitted = bodies(server, "/threads/tool_loop/runs/run_loop/submit_tool_outputs")
    assert [b["tool_outputs"] for b in submitted] == [
        [{"tool_call_id": "call_001", "output": FIRST}],
        [{"tool_call_id": c.id, "output": expected_output(c)} for c in seen.calls[:2]],
        [{"tool_call_id": seen.calls[2].id, "output": expected_output(seen.calls[2])}],
    ]
    assert all(b["stream"] is True for b in submitted)


def test_loops_without_on_event(client):
    response = client.responses.run_tools(model="tool_loop", input="hi", tools=TOOLS)
    assert response.output_text.startswith("Outputs: call_")
    run = client.beta.threads.runs.run_tools(
        "run_quiet", thread_id="tool_loop", tool_outputs=[{"tool_call_id": "call_001", "output": FIRST}], tools=TOOLS
    )
    assert run.status == "completed"


@pytest.mark.parametrize("api", ["responses", "assistants"])
def test_max_turns_stops_after_exactly_that_many_requests(client, server, api):
    calls = []

    def weather(city):
        calls.append(city)
        return "sunny"

    tools = {"get_weather": weather, "get_time": lambda timezone: "noon"}
    with pytest.raises(oairun.MaxTurnsError) as caught:
        if api == "responses":
            client.responses.run_tools(model="tool_loop_forever", input="hi", tools=tools, max_turns=3)
        else:
            client.beta.threads.runs.run_tools(
                "run_forever", thread_id="tool_loop_forever", tools=tools, max_turns=3,
                tool_outputs=[{"tool_call_id": "call_001", "output": FIRST}],
            )
    assert caught.value.status == _ffi.MAX_TURNS
    target = "/v1/responses" if api == "responses" else "/submit_tool_outputs"
    assert len(bodies(server, target)) == 3
    # Turn 1's two calls and turn 2's, then nothing for the turn that would be the 4th request.
    assert calls == ["Paris", "Tokyo"]


class Boom(Exception):
    pass


@pytest.mark.parametrize("api", ["responses", "assistants"])
def test_a_tools_exception_stops_the_loop_and_reaches_the_caller(client, server, api):
    raised = []

    def get_time(timezone):
        raised.append(Boom(f"no clock for {timezone}"))
        raise raised[0]

    tools = {"get_weather": get_weather, "get_time": get_time}
    with pytest.raises(Boom) as caught:
        if api == "responses":
            client.responses.run_tools(model="tool_loop", input="hi", tools=tools)
        else:
            client.beta.threads.runs.run_tools(
                "run_boom", thread_id="tool_loop", tools=tools,
                tool_outputs=[{"tool_call_id": "call_001", "output": FIRST}],
            )
    assert caught.value is raised[0]
    target = "/v1/responses" if api == "responses" else "/submit_tool_outputs"
    assert len(bodies(server, target)) == 1  # no further request


def test_keyboard_interrupt_in_a_tool_reaches_the_caller(client):
    def get_weather(city):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        client.responses.run_tools(model="tool_loop", input="hi", tools={"get_weather": get_weather, "get_time": get_time})


@pytest.mark.parametrize("api", ["responses", "assistants"])
def test_on_event_false_mid_turn_cancels(client, server, api):
    stop_at = "response.function_call_arguments.delta" if api == "responses" else "thread.run.in_progress"
    seen = Recorder(stop_at=stop_at)
    ran = []
    tools = {"get_weather": lambda city: ran.append(city) or "x", "get_time": lambda timezone: "y"}
    with pytest.raises(oairun.CancelledError):
        if api == "responses":
            client.responses.run_tools(model="tool_loop", input="hi", tools=tools, on_event=seen)
        else:
            client.beta.threads.runs.run_tools(
                "run_cancel", thread_id="tool_loop", tools=tools, on_event=seen,
                tool_outputs=[{"tool_call_id": "call_001", "output": FIRST}],
            )
    assert seen.events[-1].event == stop_at
    assert ran == []


def test_on_event_exception_reaches_the_caller(client):
    def on_event(event):
        if event.event == "response.completed":
            raise Boom("seen")

    with pytest.raises(Boom, match="seen"):
        client.responses.run_tools(model="tool_loop", input="hi", tools=TOOLS, on_event=on_event)


@pytest.mark.parametrize("model", ["tool_loop_failed", "tool_loop_error"])
@pytest.mark.parametrize("api", ["responses", "assistants"])
def test_failed_or_error_turn_mid_loop_raises_stream_error(client, server, api, model):
    seen = Recorder()
    with pytest.raises(oairun.StreamError) as caught:
        if api == "responses":
            client.responses.run_tools(model=model, input="hi", tools=TOOLS, on_event=seen)
        else:
            client.beta.threads.runs.run_tools(
                "run_fail", thread_id=model, tools=TOOLS, on_event=seen,
                tool_outputs=[{"tool_call_id": "call_001", "output": FIRST}],
            )
    assert caught.value.code == "server_error"
    assert len(seen.calls) == 2  # turn 1 ran, turn 2 failed
    last = seen.events[-1].event if api == "responses" else [e.event for e in seen.events if e.event != "done"][-1]
    assert last in ("response.failed", "error", "thread.run.failed")


def test_unknown_tool_name_stops_with_tool_call_error(client, server):
    with pytest.raises(oairun.ToolCallError) as caught:
        client.responses.run_tools(model="tool_loop", input="hi", tools={"get_weather": get_weather})
    error = caught.value
    assert error.name == "get_time" and error.call_id.startswith("call_")
    assert json.loads(error.arguments) == {"timezone": "Europe/Paris"}
    assert "get_time" in str(error) and "not in tools" in str(error)
    assert isinstance(error, oairun.OairunError) and error.status == _ffi.CANCELLED
    assert len(responses_bodies(server)) == 1
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


def test_arguments_that_do_not_fit_stop_with_tool_call_error(client):
    def get_weather(town):  # the model sends city
        return "?"

    with pytest.raises(oairun.ToolCallError, match="do not fit"):
        client.responses.run_tools(model="tool_loop", input="hi", tools={"get_weather": get_weather, "get_time": get_time})


def test_arguments_are_parsed_and_checked():
    from oairun._tools import _Loop

    loop = _Loop({"f": lambda **kw: kw, "g": lambda: "none"}, None)
    assert loop.run("c", "f", '{"a": [1, "é"], "b": null}') == {"a": [1, "é"], "b": None}
    assert loop.run("c", "g", "") == "none"
    assert loop.run("c", "g", " {} ") == "none"
    for bad in ("[1, 2]", '"text"', "{not json", "null"):
        with pytest.raises(oairun.ToolCallError) as caught:
            loop.run("call_9", "f", bad)
        assert caught.value.call_id == "call_9" and caught.value.arguments == bad


def test_outputs_of_every_kind_arrive_intact(client):
    returned = {
        "Paris": 'quotes " \' and \\ backslash\nnew line\ttab',
        "Tokyo": "non-ASCII: 日本語 é 🦀 \u2028",
    }
    values = {"Europe/Paris": [1, 2.5, None, True, {"k": "v"}]}
    seen = Recorder()
    response = client.responses.run_tools(
        model="tool_loop", input="hi", on_event=seen,
        tools={"get_weather": lambda city: returned[city], "get_time": lambda timezone: values[timezone]},
    )
    outputs = [returned["Paris"], json.dumps(values["Europe/Paris"]), returned["Tokyo"]]
    assert response.output_text == loop_text(zip([c.id for c in seen.calls], outputs))


@pytest.mark.parametrize(
    "value, sent",
    [(None, "null"), (42, "42"), (1.5, "1.5"), (False, "false"), ({"a": "é"}, '{"a": "é"}'), (["x"], '["x"]')],
)
def test_non_str_return_values_are_sent_as_json(client, value, sent):
    seen = Recorder()
    response = client.responses.run_tools(
        model="tool_loop", input="hi", on_event=seen,
        tools={"get_weather": lambda city: value, "get_time": lambda timezone: "t"},
    )
    ids = [c.id for c in seen.calls]
    assert response.output_text == loop_text([(ids[0], sent), (ids[1], "t"), (ids[2], sent)])


@pytest.mark.parametrize(
    "value, exc", [(object(), TypeError), (float("nan"), TypeError), ("nul\0here", ValueError), ("\ud800", ValueError)]
)
def test_outputs_that_cannot_be_sent_stop_the_loop(client, server, value, exc):
    with pytest.raises(exc, match="get_weather"):
        client.responses.run_tools(
            model="tool_loop", input="hi", tools={"get_weather": lambda city: value, "get_time": get_time}
        )
    assert len(responses_bodies(server)) == 1


async def an_async_tool(city):
    return city


def test_bad_arguments_are_refused_before_any_request(client, server):
    runs = client.beta.threads.runs
    outputs = [{"tool_call_id": "call_001", "output": "x"}]
    for call, exc in [
        (lambda: client.responses.run_tools(model="tool_loop", input="hi", tools=[get_weather]), TypeError),
        (lambda: client.responses.run_tools(model="tool_loop", input="hi", tools={"f": 1}), TypeError),
        (lambda: client.responses.run_tools(model="tool_loop", input="hi", tools={"f": an_async_tool}), TypeError),
        (lambda: client.responses.run_tools(model="tool_loop", input="hi", tools={"": get_weather}), TypeError),
        (lambda: client.responses.run_tools(model="tool_loop", input="hi", tools=TOOLS, max_turns=0), ValueError),
        (lambda: client.responses.run_tools(model="tool_loop", input="hi", tools=TOOLS, max_turns=True), TypeError),
        (lambda: client.responses.run_tools(model="tool_loop", input="hi", tools=TOOLS, on_event=1), TypeError),
        (lambda: client.responses.run_tools(model="tool_loop", input="hi", tools=TOOLS, stream=True), TypeError),
        (lambda: client.responses.run_tools(model="tool_loop", input=[], tools=TOOLS), ValueError),
        (lambda: runs.run_tools("..", thread_id="tool_loop", tool_outputs=outputs, tools=TOOLS), ValueError),
        (lambda: runs.run_tools("r", thread_id="tool_loop", tool_outputs=[], tools=TOOLS), ValueError),
        (lambda: runs.run_tools("r", thread_id="tool_loop", tool_outputs=outputs, tools=TOOLS, max_turns=2**32), ValueError),
    ]:
        with pytest.raises(exc):
            call()
    assert server.requests() == []
    with pytest.raises(TypeError, match="tool_definitions"):
        client.responses.run_tools(model="tool_loop", input="hi", tools=[{"type": "function", "name": "f"}])


def test_a_tool_may_make_its_own_calls(client):
    # The handler runs on the caller's thread, between requests: it may use the client.
    def get_weather(city):
        return client.responses.create(model="gpt-test", input=city).output_text

    response = client.responses.run_tools(model="tool_loop", input="hi", tools={"get_weather": get_weather, "get_time": get_time})
    assert "15°C" in response.output_text


# ---------------------------------------------------------------------------------------------
# Event.text_delta and Event.tool_calls: the library's rule, on copied events.


def c_views(start):
    """Streams through ``start(callback, user_data, err)`` and returns, per event, the Event
    copied from it and what the library itself says of it while it is lent:
    ``oairun_event_text_delta`` and ``oairun_event_tool_calls``."""
    views = []

    def deliver(ptr):
        length = ctypes.c_size_t(0)
        text_ptr = _ffi.lib.oairun_event_text_delta(ptr, byref(length))
        text = ctypes.string_at(text_ptr, length.value).decode("utf-8") if text_ptr else None
        calls, error = c_void_p(), c_void_p()
        status = _ffi.lib.oairun_event_tool_calls(ptr, byref(calls), byref(error))
        assert status == _ffi.OK, _ffi.take_error(status, error).message
        views.append((oairun.Event(*_ffi.event_fields(ptr)), text, [oairun.ToolCall(*f) for f in _ffi.take_tool_calls(calls)]))
        return False

    with _ffi.registered(deliver) as handle:
        error = c_void_p()
        status = start(_ffi.trampoline, handle.handle, byref(error))
        if error.value:
            _ffi.lib.oairun_error_free(error)
    assert status in (_ffi.OK, _ffi.STREAM_ERROR), status
    return views


@pytest.mark.parametrize("model", ["gpt-test", "function_call", "long_200", "no_event_lines", "tool_loop", "error_flat"])
def test_responses_events_agree_with_the_library(client, model):
    from oairun._responses import _Request

    with _Request("hi", model, None, None, None, {}) as request:
        views = c_views(
            lambda cb, ud, err: _ffi.lib.oairun_create_response_stream(client._ptr, request.ptr, cb, ud, err)
        )
    assert views
    for event, text, calls in views:
        assert (event.event, event.text_delta, event.tool_calls) == (event.event, text, calls)
    if model in ("function_call", "tool_loop"):
        assert views[-1][0].tool_calls and views[-1][0].event == "response.completed"
    if model in ("gpt-test", "long_200"):
        assert any(text for _, text, _ in views)


@pytest.mark.parametrize("thread", ["thread_abc123", "long_200", "tool_loop", "odd_framing"])
def test_assistants_events_agree_with_the_library(client, thread):
    from oairun._client import _Outputs

    with _Outputs([{"tool_call_id": "call_001", "output": FIRST}]) as outputs:
        views = c_views(
            lambda cb, ud, err: _ffi.lib.oairun_submit_tool_outputs_stream(
                client._ptr, thread.encode(), b"run_views", outputs.ptr, cb, ud, err
            )
        )
    for event, text, calls in views:
        assert (event.event, event.text_delta, event.tool_calls) == (event.event, text, calls)
    if thread == "tool_loop":
        [requires] = [e for e, _, _ in views if e.event == "thread.run.requires_action"]
        assert [(c.name, json.loads(c.arguments)) for c in requires.tool_calls] == [
            ("get_weather", {"city": "Paris"}), ("get_time", {"timezone": "Europe/Paris"})
        ]
    if thread != "tool_loop":
        assert any(text for _, text, _ in views)


def test_stream_events_carry_text_and_calls(client):
    from test_responses import TEXT, long_text

    events = list(client.responses.create(model="long_2000", input="hi", stream=True))
    assert "".join(e.text_delta for e in events if e.text_delta is not None) == long_text(2000)
    assert all(e.tool_calls == [] for e in events)
    events = list(client.responses.create(model="gpt-test", input="hi", stream=True))
    assert "".join(e.text_delta or "" for e in events) == TEXT
    [completed] = [e for e in client.responses.create(model="function_call", input="hi", stream=True) if e.tool_calls]
    call = completed.tool_calls[0]
    assert (call.name, call.id) == (completed.data.response.output[0].name, completed.data.response.output[0].call_id)
    assert call == oairun.ToolCall(call.id, call.name, call.arguments)
    events = list(client.submit_tool_outputs("run_1", thread_id="tool_loop", tool_outputs=[{"tool_call_id": "call_001", "output": "x"}], stream=True))
    assert [len(e.tool_calls) for e in events if e.tool_calls] == [2]
    assert all(e.text_delta is None for e in events)


@pytest.mark.parametrize(
    "name, raw, text",
    [
        ("response.output_text.delta", '{"type":"response.output_text.delta","delta":"a\\"b\\n\\u00e9"}', 'a"b\né'),
        ("response.output_text.delta", '{"delta":""}', ""),
        ("response.output_text.delta", '{"delta":5}', None),
        ("response.output_text.delta", "not json", None),
        ("thread.message.delta", '{"delta":{"content":[{"type":"text","text":{"value":"a"}},{"type":"image_file"},{"type":"text","text":{"value":"b"}}]}}', "ab"),
        ("thread.message.delta", '{"delta":{"content":[{"type":"text"}]}}', ""),
        ("thread.message.delta", '{"delta":{"content":[{"type":"image_file"}]}}', None),
        ("thread.message.delta", '{"delta":{}}', None),
        ("thread.message.delta", "[1]", None),
        ("response.output_text.done", '{"text":"whole"}', None),
        ("done", "[DONE]", None),
    ],
)
def test_text_delta_rules(name, raw, text):
    event = oairun.Event(name, raw)
    assert event.text_delta == text
    assert event.tool_calls == []


def test_tool_calls_of_data_that_is_not_the_apis_raise_protocol_error():
    with pytest.raises(oairun.ProtocolError):
        oairun.Event("thread.run.requires_action", "not json").tool_calls
    with pytest.raises(oairun.ProtocolError):
        oairun.Event("response.completed", '{"type":"response.completed"}').tool_calls
    assert oairun.Event("response.completed", '{"response":{"output":[]}}').tool_calls == []


# ---------------------------------------------------------------------------------------------
# The example.


@pytest.mark.parametrize("store", [True, False])
def test_tool_loop_example(server, store):
    import subprocess
    import sys

    from conftest import REPO

    server.reset()
    env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-test", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "python" / "tool_loop.py"), *([] if store else ["--no-store"])],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Q: What's the weather in Paris") and lines[0].endswith("(model tool_loop)")
    assert lines[1] == '[tool] get_weather({"city": "Paris"}) -> Paris: 15°C, clear'
    assert lines[2].startswith('[tool] get_time({"timezone": "Europe/Paris"}) -> {"timezone": "Europe/Paris", "local_time": "')
    assert lines[3] == '[tool] get_weather({"city": "Tokyo"}) -> Tokyo: 22°C, light rain'
    streamed, final = lines[4], lines[5]
    assert streamed.startswith("Outputs: call_") and "=Paris: 15°C, clear; call_" in streamed
    assert final == "final answer: " + streamed
    assert lines[6].startswith("(3 tool calls; final response resp_")
    requests = [json.loads(r["body"]) for r in server.requests()]
    assert len(requests) == 3
    assert [t["name"] for t in requests[0]["tools"]] == ["get_weather", "get_time"]
    assert requests[0]["tools"][0]["parameters"]["required"] == ["city"]
    assert ("previous_response_id" in requests[2]) is store


def test_tool_loop_example_reports_a_failure(server):
    import subprocess
    import sys

    from conftest import REPO

    env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-test", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "python" / "tool_loop.py"), "--model", "tool_loop_error"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1
    assert "the loop failed" in done.stderr and "StreamError" in done.stderr
