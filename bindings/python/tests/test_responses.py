"""The Responses endpoint (``client.responses.create``), the SDK's call paths
(``client.beta.threads.runs``) and attribute access on results, against the loopback test
server's ``/v1/responses`` scenarios (testserver/src/scenarios.md)."""

from __future__ import annotations

import copy
import ctypes
import json
import pickle
import re
import subprocess
import sys
import time
from typing import List, Tuple

import pytest

import oairun
from oairun import _ffi
from conftest import FIXTURES, OUTPUTS, REPO

RESPONSES = FIXTURES / "responses"
TEXT = "It's 15°C and clear in Paris."
TERMINAL = ("response.completed", "response.incomplete", "response.failed", "error")

# The words the server's long streams cycle through (LONG_WORDS in testserver/src/scenario.rs):
# the text of `long_<N>` is the first N of them, cycled (`responses_long_text(N)`).
LONG_WORDS = [
    "The", " quick", ' "brown"', " fox", " jumps", " over", " the", " lazy", " dog", " \u2014",
    " caf\u00e9", " na\u00efve", " \u65e5\u672c", " back\\slash", " tab\there", " \U0001f980", ".", "\n",
]


def long_text(n: int) -> str:
    return "".join(LONG_WORDS[i % len(LONG_WORDS)] for i in range(n))


def fixture_events(name: str) -> List[Tuple[str, str]]:
    """The (type, data) pairs of a fixture stream, in order."""
    events, event = [], None
    for line in (RESPONSES / name).read_text(encoding="utf-8").splitlines():
        if line.startswith("event: "):
            event = line[len("event: "):]
        elif line.startswith("data: "):
            events.append((event, line[len("data: "):]))
    return events


def fixture_json(name: str) -> dict:
    return json.loads((RESPONSES / name).read_text(encoding="utf-8"))


def collect(stream) -> List[oairun.Event]:
    """The events of a stream; if it raises, the exception carries them as ``.events``."""
    events: List[oairun.Event] = []
    try:
        for event in stream:
            events.append(event)
    except oairun.OairunError as exc:
        exc.events = events
        raise
    return events


def pairs(events) -> List[Tuple[str, str]]:
    return [(e.event, e.raw) for e in events]


# ---------------------------------------------------------------------------------------------
# Scenarios, streamed and not.


@pytest.mark.parametrize(
    "model, fixture",
    [
        ("gpt-test", "text.sse"),
        ("done_style", "text.sse"),  # the trailing [DONE] is never delivered
        ("no_event_lines", "text.sse"),  # named by their JSON type
        ("function_call", "function_call.sse"),
        ("incomplete", "incomplete.sse"),  # response.incomplete is a normal end
    ],
)
def test_streams_that_end_well_are_the_fixtures_events_in_order(server, client, model, fixture):
    events = collect(client.responses.create(model=model, input="What's the weather in Paris?", stream=True))
    assert pairs(events) == fixture_events(fixture)
    assert all(event.data.type == event.event for event in events)
    assert [e.data.sequence_number for e in events] == list(range(len(events)))
    assert events[-1].event in ("response.completed", "response.incomplete")
    assert all(e.event != "done" and e.raw != "[DONE]" for e in events)
    [request] = server.requests()
    assert json.loads(request["body"])["stream"] is True


def test_no_event_lines_gives_the_types_as_names(client):
    events = collect(client.responses.create(model="no_event_lines", input="hi", stream=True))
    assert [e.event for e in events] == [name for name, _ in fixture_events("text.sse")]
    assert events[0].event == "response.created"


@pytest.mark.parametrize("model", ["gpt-test", "done_style", "no_event_lines"])
def test_text_streams_spell_the_text(client, model):
    events = collect(client.responses.create(model=model, input="hi", stream=True))
    assert "".join(e.data.delta for e in events if e.event == "response.output_text.delta") == TEXT
    assert events[-1].data.response.output_text == TEXT


def test_hold_open_returns_promptly_after_completed(server, client):
    started = time.monotonic()
    events = collect(client.responses.create(model="hold_open", input="hi", stream=True))
    elapsed = time.monotonic() - started
    assert pairs(events) == fixture_events("text.sse")
    # The server holds the connection 30 s after response.completed.
    assert elapsed < 5, f"the stream took {elapsed:.1f} s to end after response.completed"
    deadline = time.monotonic() + 5
    while server.answering() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.answering() == 0, "the connection held open was not dropped"


def test_cut_before_the_end_raises_protocol_error(client):
    with pytest.raises(oairun.ProtocolError) as info:
        collect(client.responses.create(model="cut", input="hi", stream=True))
    expected = [pair for pair in fixture_events("text.sse") if pair[0] != "response.completed"]
    assert pairs(info.value.events) == expected
    assert info.value.status == _ffi.PROTOCOL
    assert "response.completed" in info.value.message


@pytest.mark.parametrize(
    "model, type_, code, message",
    [
        ("error_flat", None, "server_error", "The server had an error while processing your request."),
        ("error_nested", "too_many_requests", "too_many_requests", "Too Many Requests"),
    ],
)
def test_error_events_flat_and_nested_give_their_fields(client, model, type_, code, message):
    with pytest.raises(oairun.StreamError) as info:
        collect(client.responses.create(model=model, input="hi", stream=True))
    e = info.value
    assert pairs(e.events) == fixture_events(f"{model}.sse")
    assert e.events[-1].event == "error"
    assert e.status == _ffi.STREAM_ERROR
    assert e.code == code
    assert e.message.endswith(message)
    if type_ is not None:
        assert e.type == type_
    assert e.http_status == 200


def test_failed_stream_raises_with_the_responses_error(client):
    with pytest.raises(oairun.StreamError) as info:
        collect(client.responses.create(model="failed", input="hi", stream=True))
    e = info.value
    assert pairs(e.events) == fixture_events("failed.sse")
    assert e.events[-1].event == "response.failed"
    assert e.events[-1].data.response.status == "failed"
    assert e.code == "server_error"
    assert e.message.endswith("The model failed to generate a response.")


@pytest.mark.parametrize(
    "model, fixture",
    [
        ("gpt-test", "text.json"),
        ("function_call", "function_call.json"),
        ("failed", "failed.json"),  # a failed Response is still a result, not an exception
        ("incomplete", "incomplete.json"),
        ("done_style", "text.json"),
        ("no_event_lines", "text.json"),
        ("cut", "text.json"),
        ("hold_open", "text.json"),
    ],
)
def test_sync_result_is_the_fixtures_response(server, client, model, fixture):
    response = client.responses.create(model=model, input="hi")
    assert isinstance(response, oairun.Response) and isinstance(response, dict)
    assert response == fixture_json(fixture)
    [request] = server.requests()
    assert json.loads(request["body"])["stream"] is False


def test_sync_output_text_and_statuses(client):
    assert client.responses.create(model="gpt-test", input="hi").output_text == TEXT
    call = client.responses.create(model="function_call", input="hi")
    assert call.output_text == ""
    assert call.output[0].call_id == "call_fixed_get_weather"
    assert json.loads(call.output[0].arguments) == {"location": "Paris, France"}
    failed = client.responses.create(model="failed", input="hi")
    assert failed.status == "failed" and failed.error.code == "server_error"
    incomplete = client.responses.create(model="incomplete", input="hi")
    assert incomplete.status == "incomplete"
    assert incomplete.incomplete_details.reason == "max_output_tokens"
    assert incomplete.output_text == "It's 15°C"


def test_long_2000_spells_the_servers_text(client):
    events = collect(client.responses.create(model="long_2000", input="hi", stream=True))
    deltas = [e for e in events if e.event == "response.output_text.delta"]
    assert len(deltas) == 2000 and len(events) == 2008
    assert "".join(e.data.delta for e in deltas) == long_text(2000)
    assert [e.data.sequence_number for e in events] == list(range(2008))
    # Over 1000 deltas, the .done events and the final Response carry a placeholder.
    placeholder = "[the 2000 deltas' text, not repeated here]"
    assert next(e for e in events if e.event == "response.output_text.done").data.text == placeholder
    assert events[-1].event == "response.completed"
    assert events[-1].data.response.output_text == placeholder
    assert client.responses.create(model="long_2000", input="hi").output_text == long_text(2000)


def test_long_500_done_events_carry_the_whole_text(client):
    events = collect(client.responses.create(model="long_500", input="hi", stream=True))
    assert events[-1].data.response.output_text == long_text(500)


def test_stall_ends_at_the_read_timeout(server):
    with oairun.Client(api_key="k", base_url=server.base_url, timeout=0.5, max_retries=0) as c:
        with pytest.raises(oairun.APITimeoutError) as info:
            collect(c.responses.create(model="stall", input="hi", stream=True))
        assert [e.event for e in info.value.events] == ["response.created"]
        started = time.monotonic()
        with pytest.raises(oairun.APITimeoutError):
            c.responses.create(model="stall", input="hi")
        assert time.monotonic() - started < 5


def test_stall_closed_early_drops_the_connection(server, client):
    stream = client.responses.create(model="stall", input="hi", stream=True)
    assert next(stream).event == "response.created"
    started = time.monotonic()
    stream.close()
    assert stream.join(5)
    assert time.monotonic() - started < 5
    assert list(stream) == []


def test_break_cancels_a_long_stream(client):
    stream = client.responses.create(model="long_100000", input="hi", stream=True)
    for i, _ in enumerate(stream):
        if i == 10:
            break
    assert stream.join(10)


@pytest.mark.parametrize(
    "status, cls, param",
    [
        (400, oairun.BadRequestError, "input"),
        (401, oairun.AuthenticationError, None),
        (404, oairun.NotFoundError, None),
        (422, oairun.UnprocessableEntityError, None),
        (500, oairun.InternalServerError, None),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_http_errors(server, status, cls, param, stream):
    with oairun.Client(api_key="k", base_url=server.base_url, max_retries=0) as c:
        with pytest.raises(cls) as info:
            result = c.responses.create(model=f"status_{status}", input="hi", stream=stream)
            if stream:
                list(result)
    e = info.value
    assert type(e) is cls and isinstance(e, oairun.APIStatusError)
    assert e.status == _ffi.HTTP_STATUS and e.http_status == status == e.status_code
    assert e.request_id.startswith("req_")
    assert e.param == param
    assert f"test error {status}" in e.message


@pytest.mark.parametrize("stream", [False, True])
def test_missing_model_is_a_400_with_its_fields(client, stream):
    with pytest.raises(oairun.BadRequestError) as info:
        result = client.responses.create(input="hi", stream=stream)
        if stream:
            list(result)
    e = info.value
    assert e.http_status == 400
    assert e.code == "missing_required_parameter"
    assert e.param == "model"
    assert e.type == "invalid_request_error"
    assert "Missing required parameter: 'model'." in e.message


@pytest.mark.parametrize("stream", [False, True])
def test_previous_response_not_found(client, stream):
    with pytest.raises(oairun.BadRequestError) as info:
        result = client.responses.create(
            model="gpt-test",
            previous_response_id="resp_not_found",
            input=[{"type": "function_call_output", "call_id": "call_1", "output": "42"}],
            stream=stream,
        )
        if stream:
            list(result)
    e = info.value
    assert e.http_status == 400
    assert e.code == "previous_response_not_found"
    assert e.param == "previous_response_id"
    assert "Previous response with id 'resp_not_found' not found." in e.message


# ---------------------------------------------------------------------------------------------
# The request as the server received it.


def test_request_body_as_received(server, client):
    tricky = 'quote " backslash \\ newline \n tab \t café 😀 nul \0 end'
    tools = [
        {
            "type": "function",
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
        }
    ]
    items = [
        {"role": "user", "content": "What's the weather?"},
        {"type": "function_call_output", "call_id": "call_fixed_get_weather", "output": tricky},
    ]
    client.responses.create(
        model="gpt-test",
        previous_response_id="resp_fixed_function_call",
        instructions="Be brief.",
        tools=tools,
        input=items,
        temperature=0.5,
        store=False,
        metadata={"note": tricky},
        extra_body={"max_output_tokens": 100},
    )
    [request] = server.requests()
    assert request["method"] == "POST"
    assert request["target"] == "/v1/responses"
    headers = {name.lower(): value for name, value in request["headers"]}
    assert headers["authorization"] == "Bearer sk-test-py"
    assert headers["content-type"].startswith("application/json")
    assert "openai-beta" not in headers  # only Assistants requests carry it
    body = json.loads(request["body"], object_pairs_hook=lambda kv: kv)
    assert [name for name, _ in body] == [
        "model", "previous_response_id", "instructions", "tools", "input",
        "temperature", "store", "metadata", "max_output_tokens", "stream",
    ]
    assert json.loads(request["body"]) == {
        "model": "gpt-test",
        "previous_response_id": "resp_fixed_function_call",
        "instructions": "Be brief.",
        "tools": tools,
        "input": items,
        "temperature": 0.5,
        "store": False,
        "metadata": {"note": tricky},
        "max_output_tokens": 100,
        "stream": False,
    }


def test_a_str_input_is_one_user_message(server, client):
    list(client.responses.create(model="gpt-test", input="Hello ✓", stream=True))
    [request] = server.requests()
    assert json.loads(request["body"]) == {
        "model": "gpt-test",
        "input": [{"role": "user", "content": "Hello ✓"}],
        "stream": True,
    }


def test_output_items_of_a_response_go_back_as_input(server, client):
    """Replay (as with "store": false): the function_call item of a result, sent back as is."""
    call = client.responses.create(model="function_call", input="hi")
    server.reset()
    client.responses.create(
        model="gpt-test",
        input=[*call.output, {"type": "function_call_output", "call_id": call.output[0].call_id, "output": "15°C"}],
    )
    [request] = server.requests()
    assert json.loads(request["body"])["input"] == [
        fixture_json("function_call.json")["output"][0],
        {"type": "function_call_output", "call_id": "call_fixed_get_weather", "output": "15°C"},
    ]


def test_a_tool_loop_through_previous_response_id(client):
    """The scripted model: two calls, then one, then the text listing every output received."""
    response = client.responses.create(model="tool_loop", input="Weather and time in Paris?")
    received = []
    for _ in range(2):
        calls = [item for item in response.output if item.type == "function_call"]
        assert calls
        outputs = [
            {"type": "function_call_output", "call_id": c.call_id, "output": f"{c.name} says {i}"}
            for i, c in enumerate(calls)
        ]
        received += [(o["call_id"], o["output"]) for o in outputs]
        events = collect(
            client.responses.create(
                model="tool_loop", previous_response_id=response.id, input=outputs, stream=True
            )
        )
        assert events[-1].event == "response.completed"
        response = events[-1].data.response
    assert response.output_text == "Outputs: " + "; ".join(f"{c}={o}" for c, o in received) + "."


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        ({"input": 3}, TypeError),
        ({"input": None}, TypeError),
        ({"input": []}, ValueError),
        ({"input": ["not a dict"]}, TypeError),
        ({"input": [{"bad": object()}]}, TypeError),
        ({"input": "x", "model": ""}, ValueError),
        ({"input": "x", "model": 5}, TypeError),
        ({"input": "x", "model": "a\0b"}, ValueError),
        ({"input": "x", "previous_response_id": ""}, ValueError),
        ({"input": "x", "instructions": 1}, TypeError),
        ({"input": "x", "tools": {"type": "function"}}, TypeError),
        ({"input": "x", "tools": ["x"]}, TypeError),
        ({"input": "x", "stream": 1}, TypeError),
        ({"input": "x", "stream": "yes"}, TypeError),
        ({"input": "x", "metadata": object()}, TypeError),
        ({"input": "x", "temperature": float("nan")}, ValueError),
        ({"input": "x", "metadata": {"bad": "\ud800"}}, ValueError),
        ({"input": "x", "extra_body": {"stream": True}}, ValueError),
        ({"input": "x", "extra_body": {"input": []}}, ValueError),
        ({"input": "x", "extra_body": ["no"]}, TypeError),
        ({"input": "x", "extra_headers": {"a": "b"}}, TypeError),
        ({"input": "x", "timeout": 3}, TypeError),
        ({"input": "x", "extra_body": {"": 1}}, ValueError),
        # Refused by the library itself (a field it knows must be a string), still before any request.
        ({"input": "x", "extra_body": {"instructions": 3}}, ValueError),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_bad_arguments_raise_before_any_request(server, client, kwargs, exc, stream):
    kwargs = dict(kwargs)
    kwargs.setdefault("stream", stream)
    with pytest.raises(exc):
        result = client.responses.create(**{"model": "gpt-test", **kwargs})
        if kwargs["stream"] is True:
            list(result)
    assert server.requests() == []


def test_missing_input_is_a_type_error(client):
    with pytest.raises(TypeError):
        client.responses.create(model="gpt-test")  # type: ignore[call-arg]


def test_a_closed_client_refuses(server):
    c = oairun.Client(api_key="k", base_url=server.base_url)
    c.close()
    with pytest.raises(ValueError, match="closed"):
        c.responses.create(model="gpt-test", input="hi")
    with pytest.raises(ValueError, match="closed"):
        c.responses.create(model="gpt-test", input="hi", stream=True)


def test_the_client_may_close_while_a_response_streams(server):
    c = oairun.Client(api_key="k", base_url=server.base_url)
    stream = c.responses.create(model="long_5000", input="hi", stream=True)
    c.close()
    assert len(list(stream)) == 5008


# ---------------------------------------------------------------------------------------------
# The SDK's call path to the Assistants endpoint.


def test_beta_threads_runs_is_the_same_call(server, client):
    args = dict(thread_id="thread_123", tool_outputs=OUTPUTS)
    assert client.beta.threads.runs.submit_tool_outputs("run_123", **args) == client.submit_tool_outputs(
        "run_123", **args
    )
    ours = [(e.event, e.raw) for e in client.beta.threads.runs.submit_tool_outputs("run_123", stream=True, **args)]
    theirs = [(e.event, e.raw) for e in client.submit_tool_outputs("run_123", stream=True, **args)]
    assert ours == theirs and ours[-1][0] == "done"
    seen = []
    assert client.beta.threads.runs.submit_tool_outputs("run_123", on_event=seen.append, **args) is None
    assert [e.event for e in seen] == [name for name, _ in theirs]
    requests = server.requests()
    assert len(requests) == 5
    assert {r["target"] for r in requests} == {"/v1/threads/thread_123/runs/run_123/submit_tool_outputs"}
    assert len({r["body"] for r in requests if b'"stream":true' in r["body"].encode()}) == 1
    with pytest.raises(oairun.NotFoundError):
        client.beta.threads.runs.submit_tool_outputs("run_123", thread_id="status_404", tool_outputs=OUTPUTS)
    with pytest.raises(ValueError):
        client.beta.threads.runs.submit_tool_outputs("run_123", thread_id="thread_123", tool_outputs=[])


# ---------------------------------------------------------------------------------------------
# Results read by attribute, as SDK code reads them.


def test_run_reads_by_attribute(client):
    run = client.submit_tool_outputs("run_123", thread_id="thread_123", tool_outputs=OUTPUTS)
    assert isinstance(run, oairun.Object) and isinstance(run, dict)
    assert run.status == run["status"]
    assert run.id == "run_123"
    assert run.tools == run["tools"]
    assert json.loads(json.dumps(run)) == run == json.loads((FIXTURES / "run.json").read_text(encoding="utf-8"))


def test_assistants_events_read_by_attribute(client):
    events = list(client.submit_tool_outputs("run_123", thread_id="long_20", tool_outputs=OUTPUTS, stream=True))
    text = "".join(
        e.data.delta.content[0].text.value for e in events if e.event == "thread.message.delta"
    )
    assert text == "".join(
        e.data["delta"]["content"][0]["text"]["value"] for e in events if e.event == "thread.message.delta"
    )
    assert events[-1].data == "[DONE]"


def test_response_reads_by_attribute_and_stays_a_dict(client):
    response = client.responses.create(model="function_call", input="hi")
    item = response.output[0]
    assert item.call_id == response["output"][0]["call_id"] == "call_fixed_get_weather"
    assert response.output[0] is item  # wrapped once, in place
    assert response["output"][0] is item and response.get("output")[0] is item
    assert [i.type for i in response.output] == ["function_call"]
    assert response.usage.input_tokens_details.cached_tokens == 0
    assert response.error is None and response.metadata == {}
    assert isinstance(response.output, list) and isinstance(response.output, oairun.ObjectList)
    assert isinstance(response.output[:1][0], oairun.Object)
    assert json.loads(json.dumps(response)) == fixture_json("function_call.json")
    assert response == fixture_json("function_call.json")
    # Changes made through the wrappers are kept.
    response.output[0]["status"] = "seen"
    assert response["output"][0]["status"] == "seen"
    # A missing key: AttributeError by attribute, KeyError by key, as a dict and the SDK do.
    with pytest.raises(AttributeError, match="nope"):
        response.nope
    with pytest.raises(KeyError):
        response["nope"]
    assert getattr(response, "nope", "default") == "default"
    assert not hasattr(response, "model_dump")
    with pytest.raises(AttributeError):
        response.status = "x"
    # dict methods win over keys of the same name, which read by key.
    assert callable(oairun.Object({"items": [1]}).items)
    assert oairun.Object({"items": [1]})["items"] == [1]
    assert "call_id" in dir(item)
    # copy and pickle see a dict, never a key named like their hooks.
    assert copy.deepcopy(response) == response
    assert pickle.loads(pickle.dumps(response)) == response


def test_output_text_is_the_message_items_output_text_parts():
    response = oairun.Response(
        {
            "object": "response",
            "output": [
                {"type": "reasoning", "summary": [{"type": "summary_text", "text": "no"}]},
                {"type": "message", "content": [{"type": "output_text", "text": "a"}, {"type": "refusal", "refusal": "no"}]},
                {"type": "function_call", "call_id": "c", "arguments": "{}"},
                {"type": "message", "content": [{"type": "output_text", "text": "b"}, {"type": "output_text", "text": "c"}]},
            ],
        }
    )
    assert response.output_text == "abc"
    assert oairun.Response({"object": "response", "output": []}).output_text == ""
    assert oairun.Response({"object": "response"}).output_text == ""


def test_response_events_read_by_attribute(client):
    events = collect(client.responses.create(model="gpt-test", input="hi", stream=True))
    deltas = [e.data.delta for e in events if e.event == "response.output_text.delta"]
    assert "".join(deltas) == TEXT
    completed = events[-1].data
    assert isinstance(completed.response, oairun.Response)
    assert completed.response.output_text == TEXT
    assert completed.response.output[0].content[0].text == TEXT
    assert events[2].data.item.type == "message"
    assert json.loads(json.dumps(completed)) == json.loads(events[-1].raw)


def test_sdk_style_loop_runs_unchanged(client):
    """The SDK's Responses events are the data: ``event.type``, ``event.delta``,
    ``event.response``; an oairun Event reads its data's fields the same way."""
    text, final = "", None
    for event in client.responses.create(model="gpt-test", input="hi", stream=True):
        if event.type == "response.output_text.delta":
            text += event.delta
        elif event.type == "response.completed":
            final = event.response
    assert text == TEXT and final.output_text == TEXT and final.status == "completed"
    event = oairun.Event("response.output_text.delta", '{"type":"response.output_text.delta","delta":"x"}', "7")
    assert event.id == "7" and event.event == event.type  # the event's own attributes come first
    assert not hasattr(event, "nope") and not hasattr(event, "_nope")
    with pytest.raises(oairun.ProtocolError):
        oairun.Event("x", "not json").delta
    assert not hasattr(oairun.Event("done", "[DONE]"), "delta")
    assert copy.copy(event).delta == "x"


# ---------------------------------------------------------------------------------------------
# The C functions are declared.


def test_every_responses_function_of_the_header_is_declared():
    header = (REPO / "include" / "oairun.h").read_text(encoding="utf-8")
    names = set(re.findall(r"\b(oairun_(?:response_request_\w+|create_response\w*))\(", header))
    assert len(names) >= 13, names
    for name in names:
        function = getattr(_ffi.lib, name)
        assert function.argtypes is not None, f"{name} has no argtypes"
        expected = {"_new": ctypes.c_void_p, "_free": None}.get(name[name.rfind("_"):], ctypes.c_int)
        assert function.restype is expected, name


# ---------------------------------------------------------------------------------------------
# The official SDK against the same server.


@pytest.mark.parametrize("model", ["gpt-test", "function_call"])
def test_same_events_as_the_official_sdk(server, model):
    """``openai.OpenAI().responses.create(stream=True)`` and oairun's, against the same server.

    Compared: the event types in order (the SDK's ``event.type``, oairun's ``event.event``);
    each event's data (the SDK's ``event.to_dict(mode="json", exclude_unset=True)``: the fields
    the server sent, extra fields included, against oairun's parsed ``event.data``); values
    read by attribute the way SDK code reads them (``type``, ``delta``, ``item.call_id``,
    ``response.output_text``, the SDK's computed property); and the non-streamed Response.
    Not compared: the SDK's pydantic classes (oairun returns dicts), and what neither exposes
    (headers, timing).
    """
    openai = pytest.importorskip("openai", reason="the official SDK is not installed (pip install openai)")
    sdk = openai.OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0)
    theirs = list(sdk.responses.create(model=model, input="What's the weather in Paris?", stream=True))
    with oairun.Client(api_key="sk-test", base_url=server.base_url, max_retries=0) as ours:
        mine = collect(ours.responses.create(model=model, input="What's the weather in Paris?", stream=True))
        mine_sync = ours.responses.create(model=model, input="What's the weather in Paris?")
    assert [e.type for e in theirs] == [e.event for e in mine]
    for sdk_event, event in zip(theirs, mine):
        assert sdk_event.to_dict(mode="json", exclude_unset=True) == event.data
        assert sdk_event.type == event.type == event.event
        if event.event == "response.output_text.delta":
            assert sdk_event.delta == event.data.delta == event.delta
        if event.event == "response.output_item.done":
            assert getattr(sdk_event.item, "call_id", None) == event.data.item.get("call_id")
        if event.event == "response.completed":
            assert sdk_event.response.output_text == event.data.response.output_text
            assert sdk_event.response.id == event.data.response.id
    theirs_sync = sdk.responses.create(model=model, input="What's the weather in Paris?")
    assert theirs_sync.to_dict(mode="json", exclude_unset=True) == mine_sync
    assert theirs_sync.output_text == mine_sync.output_text


# ---------------------------------------------------------------------------------------------
# The example.


def test_responses_example(server):
    server.reset()
    env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-test", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "python" / "responses.py")],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("function call call_fixed_get_weather: get_weather(")
    assert lines[1:] == [TEXT, "response status: completed"]
    requests = server.requests()
    assert [json.loads(r["body"])["model"] for r in requests] == ["function_call", "gpt-test"]
    second = json.loads(requests[1]["body"])
    assert second["previous_response_id"] == "resp_fixed_function_call"
    assert second["input"][0]["type"] == "function_call_output"
    assert second["input"][0]["call_id"] == "call_fixed_get_weather"
    assert second["stream"] is True


def test_responses_example_reports_a_failure(server):
    server.reset()
    env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-test", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "python" / "responses.py"), "status_404"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1
    assert "request failed" in done.stderr and "test error 404" in done.stderr
