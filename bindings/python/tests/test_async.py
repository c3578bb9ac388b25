"""``oairun.AsyncClient`` against the loopback test server: the same results, events and
exceptions as the synchronous ``Client`` for both APIs, the tool-call loops with async and
plain tools, cancellation (the connection dropped at once, seen from the server), an event
loop that is never blocked, and a thousand concurrent streams in one loop.

Plain test functions running ``asyncio.run(...)``: no pytest plugin needed."""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import threading
import time
from typing import Any, Callable, List

import pytest

import oairun
from oairun import _ffi
from conftest import OUTPUTS, reference_events
from test_responses import TEXT, fixture_events, long_text
from test_tool_loop import FIRST, TOOLS, Boom, Recorder, bodies, check_script, expected_output, loop_text


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def async_client(server, **options) -> oairun.AsyncClient:
    return oairun.AsyncClient(**{"api_key": "sk-test-py", "base_url": server.base_url, "timeout": 30, **options})


def triples(events) -> List[tuple]:
    return [(e.event, e.raw, e.id) for e in events]


async def collect(stream) -> List[oairun.Event]:
    """The events of an AsyncStream; if it raises, the exception carries them as ``.events``."""
    events: List[oairun.Event] = []
    try:
        async for event in stream:
            events.append(event)
    except oairun.OairunError as exc:
        exc.events = events
        raise
    return events


def sync_events(stream) -> List[oairun.Event]:
    events: List[oairun.Event] = []
    try:
        for event in stream:
            events.append(event)
    except oairun.OairunError as exc:
        exc.events = events
        raise
    return events


def caught(call: Callable[[], Any]) -> oairun.OairunError:
    try:
        call()
    except oairun.OairunError as exc:
        return exc
    raise AssertionError("no exception")


def assert_same_error(mine: BaseException, theirs: BaseException) -> None:
    """The same exception: class and every field but the request id (the server makes a new
    one per request), which both have or both lack."""
    assert type(mine) is type(theirs), (mine, theirs)
    fields = ("status", "http_status", "type", "code", "param")
    assert [getattr(mine, f) for f in fields] == [getattr(theirs, f) for f in fields]
    same_request = r"req_[0-9a-f]+"
    assert re.sub(same_request, "req_ID", mine.message) == re.sub(same_request, "req_ID", theirs.message)
    assert (mine.request_id is None) == (theirs.request_id is None)


def test_the_package_exports_the_async_client():
    assert "AsyncClient" in oairun.__all__ and "AsyncStream" in oairun.__all__
    from oairun import AsyncClient, AsyncStream  # noqa: F401 - the import is the test

    assert oairun.AsyncClient is AsyncClient


# ---------------------------------------------------------------------------------------------
# The same results and events as the synchronous client.


@pytest.mark.parametrize("model", ["gpt-test", "function_call", "incomplete", "long_200", "no_event_lines"])
def test_responses_create_and_stream_as_the_sync_client(server, client, model):
    async def main():
        async with async_client(server) as c:
            response = await c.responses.create(model=model, input="What's the weather in Paris?")
            stream = await c.responses.create(model=model, input="What's the weather in Paris?", stream=True)
            assert isinstance(stream, oairun.AsyncStream)
            return response, await collect(stream)

    response, events = run(main())
    assert isinstance(response, oairun.Response)
    assert response == client.responses.create(model=model, input="What's the weather in Paris?")
    assert triples(events) == triples(client.responses.create(model=model, input="What's the weather in Paris?", stream=True))
    fixture = {"gpt-test": "text.sse", "function_call": "function_call.sse", "incomplete": "incomplete.sse"}.get(model)
    if fixture:
        assert [(e.event, e.raw) for e in events] == fixture_events(fixture)
    bodies_sent = [json.loads(r["body"]) for r in server.requests()]
    assert [b["stream"] for b in bodies_sent] == [False, True, False, True]
    assert bodies_sent[0] == bodies_sent[2] and bodies_sent[1] == bodies_sent[3]


@pytest.mark.parametrize("thread", ["thread_123", "odd_framing", "long_200"])
def test_assistants_submit_and_stream_as_the_sync_client(server, client, thread):
    async def main():
        async with async_client(server) as c:
            # (only thread_123 answers a Run when not streamed)
            run_object = await c.beta.threads.runs.submit_tool_outputs("run_123", thread_id="thread_123", tool_outputs=OUTPUTS)
            stream = await c.submit_tool_outputs("run_123", thread_id=thread, tool_outputs=OUTPUTS, stream=True)
            return run_object, await collect(stream)

    run_object, events = run(main())
    assert isinstance(run_object, oairun.Object)
    assert run_object == client.submit_tool_outputs("run_123", thread_id="thread_123", tool_outputs=OUTPUTS)
    theirs = client.beta.threads.runs.submit_tool_outputs("run_123", thread_id=thread, tool_outputs=OUTPUTS, stream=True)
    assert triples(events) == triples(theirs)
    assert events[-1].event == "done"
    if thread == "thread_123":
        assert [(e.event, e.raw) for e in events] == reference_events()
    if thread == "odd_framing":
        assert events[0].id == "evt_1"
    if thread == "long_200":
        assert "".join(e.text_delta or "" for e in events) == long_text(200)


def test_on_event_may_be_a_function_or_a_coroutine_function(server, client):
    seen, awaited = [], []

    async def on_event_async(event):
        await asyncio.sleep(0)
        awaited.append(event.event)

    async def main():
        async with async_client(server) as c:
            assert await c.submit_tool_outputs("run_123", thread_id="thread_123", tool_outputs=OUTPUTS, on_event=seen.append) is None
            assert await c.beta.threads.runs.submit_tool_outputs(
                "run_123", thread_id="thread_123", tool_outputs=OUTPUTS, on_event=on_event_async
            ) is None
            with pytest.raises(oairun.CancelledError, match="asked to stop"):
                await c.submit_tool_outputs("run_123", thread_id="long_1000", tool_outputs=OUTPUTS, on_event=lambda e: False)

    run(main())
    expected = [name for name, _ in reference_events()]
    assert [e.event for e in seen] == expected and awaited == expected


# ---------------------------------------------------------------------------------------------
# The same exceptions.

# (scenario, streamed): the scenarios that fail in that form (testserver/src/scenarios.md).
RESPONSES_FAILURES = [(m, s) for m in ("status_400", "status_401", "status_404", "status_500", "failed") for s in (False, True)] + [
    ("error_flat", True), ("error_nested", True), ("cut", True)
]
ASSISTANTS_FAILURES = [(t, s) for t in ("status_400", "status_404", "status_500", "status_502_plain") for s in (False, True)] + [
    ("truncated", True), ("reset", True), ("error_event", True), ("wrong_content_type", True), ("not_json", False)
]


@pytest.mark.parametrize("model, stream", RESPONSES_FAILURES)
def test_responses_failures_raise_what_the_sync_client_raises(server, model, stream):
    with oairun.Client(api_key="sk-test-py", base_url=server.base_url, max_retries=0) as sync:
        if model == "failed" and not stream:
            theirs = None  # a failed Response is a result, not an exception
            expected = sync.responses.create(model=model, input="hi")
        else:
            theirs = caught(lambda: sync_events(sync.responses.create(model=model, input="hi", stream=True))
                            if stream else sync.responses.create(model=model, input="hi"))

    async def main():
        async with async_client(server, max_retries=0) as c:
            if stream:
                return await collect(await c.responses.create(model=model, input="hi", stream=True))
            return await c.responses.create(model=model, input="hi")

    if theirs is None:
        assert run(main()) == expected
        return
    with pytest.raises(oairun.OairunError) as info:
        run(main())
    assert_same_error(info.value, theirs)
    if stream:
        assert triples(info.value.events) == triples(theirs.events)


@pytest.mark.parametrize("thread, stream", ASSISTANTS_FAILURES)
def test_assistants_failures_raise_what_the_sync_client_raises(server, thread, stream):
    with oairun.Client(api_key="sk-test-py", base_url=server.base_url, max_retries=0) as sync:
        theirs = caught(lambda: sync_events(sync.submit_tool_outputs("r", thread_id=thread, tool_outputs=OUTPUTS, stream=True))
                        if stream else sync.submit_tool_outputs("r", thread_id=thread, tool_outputs=OUTPUTS))

    async def main():
        async with async_client(server, max_retries=0) as c:
            if stream:
                return await collect(await c.submit_tool_outputs("r", thread_id=thread, tool_outputs=OUTPUTS, stream=True))
            return await c.submit_tool_outputs("r", thread_id=thread, tool_outputs=OUTPUTS)

    with pytest.raises(oairun.OairunError) as info:
        run(main())
    assert_same_error(info.value, theirs)
    if stream:
        assert triples(info.value.events) == triples(theirs.events)


def test_connection_refused_and_bad_arguments(server):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def main():
        async with oairun.AsyncClient(api_key="k", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0) as c:
            with pytest.raises(oairun.APIConnectionError):
                await c.responses.create(model="gpt-test", input="hi")
            with pytest.raises(oairun.APIConnectionError):
                await collect(await c.submit_tool_outputs("r", thread_id="t", tool_outputs=OUTPUTS, stream=True))
        async with async_client(server) as c:
            for call, exc in [
                (lambda: c.responses.create(model="gpt-test", input=[]), ValueError),
                (lambda: c.responses.create(model="gpt-test", input="hi", stream="yes"), TypeError),
                (lambda: c.responses.create(model="gpt-test", input="hi", extra_body={"instructions": 3}), ValueError),
                (lambda: c.submit_tool_outputs("..", thread_id="t", tool_outputs=OUTPUTS), ValueError),
                (lambda: c.submit_tool_outputs("r", thread_id="t", tool_outputs=[], stream=True), ValueError),
                (lambda: c.submit_tool_outputs("r", thread_id="t", tool_outputs=OUTPUTS, on_event=5), TypeError),
                (lambda: c.responses.run_tools(model="tool_loop", input="hi", tools=[len]), TypeError),
                (lambda: c.beta.threads.runs.run_tools("r", thread_id="t", tool_outputs=[], tools=TOOLS), ValueError),
            ]:
                with pytest.raises(exc):
                    await call()

    server.reset()
    run(main())
    assert server.requests() == []


# ---------------------------------------------------------------------------------------------
# The tool-call loops.


def test_responses_loop_awaits_async_tools_and_calls_plain_ones_on_the_loop(server, client):
    threads = {}

    async def get_weather(city: str) -> str:
        """The current weather in a city.

        More text that is not in the description."""
        await asyncio.sleep(0.01)
        threads.setdefault("get_weather", set()).add(threading.get_ident())
        return TOOLS["get_weather"](city)

    def get_time(timezone: str, precise: bool = False):
        threads.setdefault("get_time", set()).add(threading.get_ident())
        return TOOLS["get_time"](timezone, precise)

    seen = Recorder()

    async def on_event(event):  # a coroutine function: awaited
        await asyncio.sleep(0)
        return seen(event)

    async def main():
        async with async_client(server) as c:
            return threading.get_ident(), await c.responses.run_tools(
                model="tool_loop", input="Weather?", instructions="Use the tools.", tools={"get_weather": get_weather, "get_time": get_time},
                on_event=on_event, temperature=0.5,
            )

    loop_thread, response = run(main())
    assert isinstance(response, oairun.Response) and response.status == "completed"
    check_script(seen.calls)
    expected = loop_text([(c.id, expected_output(c)) for c in seen.calls])
    assert response.output_text == expected and seen.text == expected
    assert threads == {"get_weather": {loop_thread}, "get_time": {loop_thread}}
    async_bodies = bodies(server, "/v1/responses")
    # The same requests as the library's loop makes (the scripted model's ids aside).
    server.reset()
    seen_sync = Recorder()
    client.responses.run_tools(model="tool_loop", input="Weather?", instructions="Use the tools.", tools=TOOLS,
                               on_event=seen_sync, temperature=0.5)
    sync_bodies = bodies(server, "/v1/responses")
    assert len(async_bodies) == len(sync_bodies) == 3
    ids = {c.id: s.id for c, s in zip(seen.calls, seen_sync.calls)}
    ids.update(zip([e.data.response.id for e in seen.events if e.event == "response.completed"],
                   [e.data.response.id for e in seen_sync.events if e.event == "response.completed"]))
    renamed = json.loads(json.dumps(async_bodies), object_hook=lambda o: {k: ids.get(v, v) if isinstance(v, str) else v for k, v in o.items()})
    assert renamed == sync_bodies
    assert [e.event for e in seen.events] == [e.event for e in seen_sync.events]


def test_responses_loop_with_store_false_replays_the_conversation(server):
    seen = Recorder()
    definitions = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]

    async def main():
        async with async_client(server) as c:
            return await c.responses.run_tools(model="tool_loop", input="Weather?", tools=TOOLS, on_event=seen, store=False,
                                               tool_definitions=definitions)

    server.reset()
    response = run(main())
    check_script(seen.calls)
    assert response.output_text == loop_text([(c.id, expected_output(c)) for c in seen.calls])
    first, second, third = bodies(server, "/v1/responses")
    user = {"role": "user", "content": "Weather?"}
    items = [list(dict.__getitem__(e.data.response, "output")) for e in seen.events if e.event == "response.completed"]
    outputs = [{"type": "function_call_output", "call_id": c.id, "output": expected_output(c)} for c in seen.calls]
    assert first["input"] == [user]
    assert second["input"] == [user, *items[0], *outputs[:2]]
    assert third["input"] == [user, *items[0], *outputs[:2], *items[1], outputs[2]]
    for body in (first, second, third):
        assert "previous_response_id" not in body and body["store"] is False and body["tools"] == definitions


def test_assistants_loop_as_the_sync_client(server, client):
    seen = Recorder()

    async def get_weather(city):
        await asyncio.sleep(0)
        return TOOLS["get_weather"](city)

    async def main():
        async with async_client(server) as c:
            return await c.beta.threads.runs.run_tools(
                "run_loop", thread_id="tool_loop", tool_outputs=[{"tool_call_id": "call_001", "output": FIRST}],
                tools={"get_weather": get_weather, "get_time": TOOLS["get_time"]}, on_event=seen,
            )

    server.reset()
    run_object = run(main())
    assert isinstance(run_object, oairun.Object) and run_object.status == "completed" and run_object.id == "run_loop"
    check_script(seen.calls)
    assert seen.text == loop_text([("call_001", FIRST)] + [(c.id, expected_output(c)) for c in seen.calls])
    submitted = bodies(server, "/threads/tool_loop/runs/run_loop/submit_tool_outputs")
    assert [b["tool_outputs"] for b in submitted] == [
        [{"tool_call_id": "call_001", "output": FIRST}],
        [{"tool_call_id": c.id, "output": expected_output(c)} for c in seen.calls[:2]],
        [{"tool_call_id": seen.calls[2].id, "output": expected_output(seen.calls[2])}],
    ]
    assert all(b["stream"] is True for b in submitted)
    theirs = client.beta.threads.runs.run_tools(
        "run_loop_sync", thread_id="tool_loop", tool_outputs=[{"tool_call_id": "call_001", "output": FIRST}], tools=TOOLS
    )
    assert set(run_object) == set(theirs) and run_object.status == theirs.status


def loop_call(api: str, c, **kwargs):
    """One tool loop of ``api`` through ``c`` (sync or async client), the scripted model's
    ``scenario`` (default tool_loop)."""
    scenario = kwargs.pop("scenario", "tool_loop")
    if api == "responses":
        return c.responses.run_tools(model=scenario, input="hi", **kwargs)
    return c.beta.threads.runs.run_tools(
        f"run_{scenario}_{kwargs.pop('run', 'x')}", thread_id=scenario,
        tool_outputs=[{"tool_call_id": "call_001", "output": FIRST}], **kwargs,
    )


@pytest.mark.parametrize("api", ["responses", "assistants"])
@pytest.mark.parametrize(
    "case", ["max_turns", "failed", "error", "unknown_tool", "arguments", "cancel", "not_sendable"]
)
def test_loop_failures_raise_what_the_sync_loop_raises(server, api, case):
    kwargs: dict = {"tools": TOOLS}
    if case == "max_turns":
        kwargs.update(scenario="tool_loop_forever", max_turns=3)
    elif case == "failed":
        kwargs.update(scenario="tool_loop_failed")
    elif case == "error":
        kwargs.update(scenario="tool_loop_error")
    elif case == "unknown_tool":
        kwargs.update(tools={"get_weather": TOOLS["get_weather"]})
    elif case == "arguments":
        kwargs.update(tools={"get_weather": lambda town: "?", "get_time": TOOLS["get_time"]})
    elif case == "cancel":
        kwargs.update(on_event=lambda event: False if event.event.endswith("in_progress") else None)
    elif case == "not_sendable":
        kwargs.update(tools={"get_weather": lambda city: "nul\0here", "get_time": TOOLS["get_time"]})
    with oairun.Client(api_key="sk-test-py", base_url=server.base_url, max_retries=0) as sync:
        try:
            loop_call(api, sync, run="sync", **dict(kwargs))
        except Exception as exc:  # noqa: BLE001 - compared below
            theirs = exc
        else:
            raise AssertionError("the sync loop did not fail")
    server.reset()

    async def main():
        async with async_client(server, max_retries=0) as c:
            return await loop_call(api, c, run="async", **dict(kwargs))

    with pytest.raises(Exception) as info:
        run(main())
    mine = info.value
    assert type(mine) is type(theirs)
    if isinstance(theirs, oairun.ToolCallError):  # the same but for the call's id
        assert (mine.name, mine.status, mine.arguments) == (theirs.name, theirs.status, theirs.arguments)
        assert re.sub(r"call_[0-9a-f]+", "call_ID", mine.message) == re.sub(r"call_[0-9a-f]+", "call_ID", theirs.message)
    elif isinstance(theirs, oairun.OairunError):
        assert_same_error(mine, theirs)
    else:
        assert str(mine) == str(theirs)
    target = "/v1/responses" if api == "responses" else "/submit_tool_outputs"
    assert len(bodies(server, target)) == {"max_turns": 3, "failed": 2, "error": 2}.get(case, 1)


def test_a_tools_exception_reaches_the_caller_unchanged(server):
    raised = []

    async def get_time(timezone):
        raised.append(Boom(timezone))
        raise raised[0]

    async def main():
        async with async_client(server) as c:
            await c.responses.run_tools(model="tool_loop", input="hi", tools={"get_weather": TOOLS["get_weather"], "get_time": get_time})

    server.reset()
    with pytest.raises(Boom) as info:
        run(main())
    assert info.value is raised[0]
    assert len(bodies(server, "/v1/responses")) == 1


# ---------------------------------------------------------------------------------------------
# Cancellation, and an event loop that never blocks.


def wait_until_not_answering(server, limit: float) -> float:
    """Seconds until the server answers nothing any more (it counts a stalled answer until its
    client drops the connection); fails after ``limit``."""
    start = time.monotonic()
    while server.answering() > 0:
        assert time.monotonic() - start < limit, "the server still answers: the connection was kept"
        time.sleep(0.005)
    return time.monotonic() - start


@pytest.mark.parametrize("form", ["responses stream", "assistants stream", "responses call", "assistants call"])
def test_cancelling_a_task_drops_its_connection_at_once(server, form):
    api, kind = form.split()
    got, streams = [], []  # (kept here, so that only the cancellation can end the stream)

    async def waiting(c):
        if kind == "call":
            if api == "responses":
                await c.responses.create(model="stall", input="hi")  # stall: no answer at all
            else:
                await c.submit_tool_outputs("r", thread_id="stall_headers", tool_outputs=OUTPUTS)
            return
        stream = (await c.responses.create(model="stall", input="hi", stream=True) if api == "responses"
                  else await c.submit_tool_outputs("r", thread_id="stall", tool_outputs=OUTPUTS, stream=True))
        streams.append(stream)
        async for event in stream:  # the stall scenarios send one or two events, then nothing
            got.append(event.event)

    async def main():
        async with async_client(server) as c:
            task = asyncio.create_task(waiting(c))
            deadline = time.monotonic() + 10
            while server.answering() == 0 or (kind == "stream" and not got):
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)
            assert not task.done()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            cancelled_at = time.monotonic()
            # Seen from the server while the stream object still exists.
            assert wait_until_not_answering(server, limit=5) < 1.0, "the connection outlived the cancelled task"
            assert all(stream._reader.freed.is_set() for stream in streams)
            return cancelled_at

    server.reset()
    assert server.answering() == 0
    run(main())
    if kind == "stream":
        assert got == (["response.created"] if api == "responses" else [name for name, _ in reference_events()[:2]])


def test_closing_a_stream_drops_its_connection_and_frees_it(server):
    async def main():
        async with async_client(server) as c:
            stream = await c.responses.create(model="stall", input="hi", stream=True)
            assert (await stream.__anext__()).event == "response.created"
            reader = stream._reader
            await stream.aclose()
            assert reader.freed.is_set()
            assert [e async for e in stream] == []
            # From another thread, while a task waits on it.
            stream = await c.submit_tool_outputs("r", thread_id="stall", tool_outputs=OUTPUTS, stream=True)
            seen = []

            async def consume():
                async for event in stream:
                    seen.append(event)

            task = asyncio.create_task(consume())
            while len(seen) < 2:
                await asyncio.sleep(0.01)
            closer = threading.Thread(target=stream.close)
            closer.start()
            await asyncio.wait_for(task, 5)  # ends without an exception
            closer.join()
            assert stream._reader.freed.is_set() and len(seen) == 2

    server.reset()
    run(main())
    assert wait_until_not_answering(server, limit=5) < 1.0


def test_the_event_loop_keeps_running_while_streams_wait(server):
    """Twenty streams, each a delta every 50 ms, and a stalled one, while a ticker asks for a
    tick every 5 ms: the loop must never be held (a blocking call into the library would hold
    it for the whole wait)."""
    ticks: List[float] = []

    async def ticker(stop):
        while not stop.is_set():
            ticks.append(time.monotonic())
            await asyncio.sleep(0.005)

    async def stream_text(c, i):
        stream = await c.submit_tool_outputs(f"r{i}", thread_id="slow_50_10", tool_outputs=OUTPUTS, stream=True)
        return "".join([e.text_delta or "" async for e in stream])

    async def main():
        async with async_client(server) as c:
            stop = asyncio.Event()
            tick_task = asyncio.create_task(ticker(stop))
            stalled = await c.responses.create(model="stall", input="hi", stream=True)
            stall_task = asyncio.create_task(collect(stalled))
            started = time.monotonic()
            texts = await asyncio.gather(*(stream_text(c, i) for i in range(20)))
            elapsed = time.monotonic() - started
            stall_task.cancel()
            stop.set()
            await tick_task
            return texts, elapsed

    texts, elapsed = run(main())
    assert texts == [long_text(10)] * 20
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert elapsed >= 0.45  # ten deltas 50 ms apart
    assert len(ticks) >= elapsed / 0.005 / 4, (len(ticks), elapsed)
    assert max(gaps) < 0.15, f"the loop was held for {max(gaps) * 1000:.0f} ms"


def raise_nofile(pid: int, wanted: int) -> tuple:
    """Raises a process's soft RLIMIT_NOFILE to ``wanted`` (at most its hard limit) if it is
    lower; returns the limits it had. Skips the test when the hard limit is too low."""
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.skip(f"RLIMIT_NOFILE's hard limit ({hard}) is below {wanted}")
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else wanted, hard))
    return soft, hard


def eventfds() -> int:
    """This process's open eventfds (each background reader has one)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:[eventfd]"
        except OSError:  # closed meanwhile
            pass
    return count


def test_a_thousand_concurrent_streams_in_one_loop(server):
    """A thousand streams (half Assistants, half Responses) opened in one loop, each taking its
    first event and then waiting until all thousand have: all are open at once (a reader, with
    its eventfd, each); then all are read to the end, every text checked."""
    # Each background reader holds a socket and an eventfd, and the server a socket per stream.
    limits = raise_nofile(0, 2 * 1000 + 256)
    if server.pid:
        raise_nofile(server.pid, 1000 + 256)
    before = eventfds()
    open_at_once = []

    async def one(c, i, opened, all_open):
        if i % 2:
            stream = await c.responses.create(model="long_20", input="hi", stream=True)
        else:
            stream = await c.submit_tool_outputs(f"r{i}", thread_id="slow_10_20", tool_outputs=OUTPUTS, stream=True)
        first = await stream.__anext__()
        opened.append(stream)
        if len(opened) == 1000:
            open_at_once.append((eventfds() - before, sum(not s._reader.done for s in opened)))
            all_open.set()
        await all_open.wait()
        return "".join(e.text_delta or "" for e in [first] + [e async for e in stream])

    async def main():
        opened: list = []
        all_open = asyncio.Event()
        async with async_client(server, max_retries=0) as c:
            return await asyncio.gather(*(one(c, i, opened, all_open) for i in range(1000)))

    server.reset()
    try:
        texts = run(main())
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, limits)
    assert texts == [long_text(20)] * 1000
    assert len(server.requests()) == 1000
    [(descriptors, readers)] = open_at_once
    assert readers == 1000 and descriptors >= 1000, open_at_once
    assert eventfds() <= before + 8  # all freed (their eventfds closed) once read


def test_sync_and_async_clients_share_the_sdk_shape():
    assert callable(oairun.AsyncClient.responses.fget) and callable(oairun.AsyncClient.beta.fget)
    for name in ("create", "run_tools"):
        assert asyncio.iscoroutinefunction(getattr(oairun._async.AsyncResponses, name))
    for name in ("submit_tool_outputs", "run_tools"):
        assert asyncio.iscoroutinefunction(getattr(oairun._async.AsyncRuns, name))
    assert asyncio.iscoroutinefunction(oairun.AsyncClient.submit_tool_outputs)


def test_a_dropped_stream_is_freed(server):
    async def main():
        async with async_client(server) as c:
            stream = await c.responses.create(model="stall", input="hi", stream=True)
            await stream.__anext__()
            reader = stream._reader
            del stream
            return reader

    server.reset()
    import gc

    reader = run(main())
    gc.collect()
    assert reader.freed.is_set()
    assert wait_until_not_answering(server, limit=5) < 1.0


def test_texts_are_the_servers(server):
    async def main():
        async with async_client(server) as c:
            events = await collect(await c.responses.create(model="gpt-test", input="hi", stream=True))
            return "".join(e.text_delta or "" for e in events), events[-1].data.response.output_text

    assert run(main()) == (TEXT, TEXT)
    assert _ffi.READER_BACKGROUND == 1
