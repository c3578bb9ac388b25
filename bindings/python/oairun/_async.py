"""``AsyncClient``: the official ``AsyncOpenAI``'s shape over liboairun, for asyncio.

Nothing here waits for the network on the event loop's thread: every call into the library
made from the loop returns at once.

- Streams are readers opened with ``OAIRUN_READER_BACKGROUND``: oairun's own threads read the
  socket into the reader's queue, the reader's descriptor (an eventfd,
  ``oairun_reader_fd``) is watched with ``loop.add_reader`` while a task waits for events,
  and the events are taken with ``oairun_reader_next_batch`` and a zero time limit.
- Calls that are not streamed use the ``_start`` forms (``oairun_create_response_start``,
  ``oairun_submit_tool_outputs_start``): their completion callback, on an oairun callback
  thread, hands the result to the loop with ``call_soon_threadsafe``.
- Cancelling the awaiting task (or closing a stream) cancels the library's call
  (``oairun_reader_cancel`` / ``oairun_stream_cancel``) and frees it, which drops the
  connection at once.
- The tool-call loops (``run_tools``) run in Python over those streams, so that async tools
  and ``on_event`` callbacks are awaited on the loop; they follow the library's loops
  (``oairun_run_tool_loop``, ``oairun_response_tool_loop``) step for step, with the same
  requests, results and exceptions.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from ctypes import byref, c_void_p

# typing is imported by type checkers only: at run time it would cost every program about
# 5 ms of start-up (the annotations are strings, see __future__).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Union

from . import _ffi
from ._client import Client, _encode_id, _Outputs, _tool_outputs_json
from ._events import Event, ToolCall, tool_calls_from_json
from ._exceptions import CancelledError, InternalError, MaxTurnsError, ProtocolError, StreamError, from_error
from ._objects import Object, Response, loads
from ._reader import Reader, open_submission

if TYPE_CHECKING:
    from ._client import ToolOutputs
    from ._responses import Input, _Request

__all__ = ["AsyncClient", "AsyncStream"]


def _wake(loop: asyncio.AbstractEventLoop, fd: int, waiter: "asyncio.Future[None]") -> None:
    # The reader's descriptor is readable: stop watching it (it stays readable until the
    # reader is drained) and wake the task.
    loop.remove_reader(fd)
    if not waiter.done():
        waiter.set_result(None)


class AsyncStream:
    """The events of a streamed call, for ``async for``, as :class:`Stream` is for ``for``.

    ``async for event in stream`` gives :class:`Event` objects in wire order; after the last
    one, a failed stream raises its exception. The request is sent when the stream is made
    (``await client.responses.create(..., stream=True)``), and oairun's threads read ahead
    while the program does other things. Leaving early: ``await stream.aclose()`` (or
    ``close()``), the end of an ``async with`` block, cancelling the task that awaits the next
    event, or the object being collected; each cancels the stream and drops its connection at
    once. ``close()`` may also be called from another thread.

    Each time a task waits for events, the reader's descriptor is watched with
    ``loop.add_reader``, and the events are then taken, up to 256 at once, without waiting.
    """

    def __init__(self, reader: Reader) -> None:
        self._reader = reader
        self._it: Iterator[Event] = iter(())
        self._fd = reader.fd()
        # (loop, future) while a task waits for the descriptor.
        self._waiter: Optional[tuple] = None

    def __aiter__(self) -> "AsyncStream":
        return self

    async def __anext__(self) -> Event:
        for event in self._it:
            return event
        take = self._reader.take
        while True:
            events = take(0)  # never waits: oairun's threads read the socket
            if events:
                self._it = iter(events)
                # Lets the loop's other tasks run between two batches, however fast this
                # stream is.
                try:
                    await asyncio.sleep(0)
                except BaseException:  # the task was cancelled: so is the stream
                    self.close()
                    raise
                for event in self._it:
                    return event
                continue  # emptied by close() meanwhile
            if events is None:
                raise StopAsyncIteration
            await self._readable()

    async def _readable(self) -> None:
        """Waits until the reader's descriptor is readable. Cancelled, it ends the stream."""
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        fd = self._fd
        loop.add_reader(fd, _wake, loop, fd, waiter)
        self._waiter = (loop, waiter)
        try:
            await waiter
        except BaseException:
            self._waiter = None
            loop.remove_reader(fd)  # before the reader (and its descriptor) goes
            self._reader.close()
            raise
        finally:
            self._waiter = None
        loop.remove_reader(fd)  # (a no-op once _wake has done it)

    def close(self) -> None:
        """Cancels the stream if it is still running (its connection is dropped at once) and
        ends the iteration. Idempotent. From the loop's thread, the reader is freed here; from
        another thread, the stream is cancelled (``oairun_reader_cancel``) and the task waiting
        for it, woken by the descriptor, frees it."""
        waiter = self._waiter
        if waiter is not None:
            loop, future = waiter
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is not loop:
                self._reader.cancel()
                return
            self._waiter = None
            loop.remove_reader(self._fd)
            if not future.done():
                future.set_result(None)
        self._reader.close()
        self._it = iter(())

    async def aclose(self) -> None:
        """:meth:`close`, as an async generator's ``aclose()``."""
        self.close()

    async def __aenter__(self) -> "AsyncStream":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        # Unreachable, so no task waits on it (a waiting task holds it): freed here.
        try:
            self._reader.close()
        except Exception:  # noqa: BLE001 - at interpreter shutdown, nothing can be done
            pass


def _settle(future: "asyncio.Future[str]", status: int, text: Optional[str], info: Optional[_ffi.ErrorInfo]) -> None:
    if future.done():  # cancelled meanwhile
        return
    if status == _ffi.OK and text is not None:
        future.set_result(text)
    else:
        future.set_exception(from_error(info if info is not None else _ffi.take_error(status, c_void_p())))


async def _call(client: Client, start: Callable[..., int]) -> str:
    """Runs a ``_start`` call, ``start(client_ptr, callback, user_data, out, err)``, and
    returns its JSON text (or raises its exception) once its completion callback has handed
    it to this loop. Cancelled, it cancels the call (``oairun_stream_cancel``)."""
    loop = asyncio.get_running_loop()
    future: "asyncio.Future[str]" = loop.create_future()

    def done(status: int, text: Optional[str], info: Optional[_ffi.ErrorInfo]) -> None:
        # On an oairun callback thread.
        try:
            loop.call_soon_threadsafe(_settle, future, status, text, info)
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass

    handle = _ffi.register_completion(done)
    stream, error = c_void_p(), c_void_p()
    ptr = client._acquire()
    try:
        status = start(ptr, _ffi.completion_trampoline, handle, byref(stream), byref(error))
    finally:
        client._release()
    if status != _ffi.OK:
        _ffi.unregister(handle)
        raise from_error(_ffi.take_error(status, error))
    try:
        return await future
    except BaseException:
        # Cancelled (or the loop is going away): the callback still runs, once, with
        # OAIRUN_CANCELLED, and finds the future done.
        _ffi.lib.oairun_stream_cancel(stream)
        raise
    finally:
        # Once the callback has run this does not wait for the network: at most for the
        # callback's own return (ctypes releases the GIL meanwhile).
        _ffi.lib.oairun_stream_free(stream)


async def _result(value: Any) -> Any:
    """``value``, awaited if it is awaitable (an async callable's result)."""
    if inspect.isawaitable(value):
        return await value
    return value


async def _each(stream: AsyncStream, on_event: Optional[Callable[[Event], Any]], keep: Callable[[Event], None]) -> None:
    """Takes every event of ``stream``, giving each to ``on_event`` (awaited when it is a
    coroutine function; ``False`` stops the stream with :class:`CancelledError`) and then to
    ``keep``; the stream is closed however this ends."""
    try:
        async for event in stream:
            if on_event is not None and await _result(on_event(event)) is False:
                raise CancelledError("the event callback asked to stop the stream", status=_ffi.CANCELLED)
            keep(event)
    finally:
        stream.close()


def _check_on_event(on_event: Any) -> None:
    if on_event is not None and not callable(on_event):
        raise TypeError("on_event must be callable")


class AsyncClient:
    """A client for asyncio, shaped like the official ``AsyncOpenAI``: the same arguments and
    options as :class:`Client` (it makes one, and shares its lifetime rules), and the same
    calls, each a coroutine: ``await client.responses.create(...)``, ``async for event in
    await client.responses.create(..., stream=True)``, ``await
    client.responses.run_tools(...)``, and under ``client.beta.threads.runs``
    ``submit_tool_outputs`` and ``run_tools``.

    Results and exceptions are those of :class:`Client`. Nothing waits for the network on the
    event loop's thread (see the module's documentation); cancelling a task cancels its call
    and drops its connection at once. Use one AsyncClient from one event loop at a time.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._client = Client(*args, **kwargs)

    @property
    def responses(self) -> "AsyncResponses":
        """The Responses endpoint: ``await client.responses.create(...)``."""
        return AsyncResponses(self._client)

    @property
    def beta(self) -> "AsyncBeta":
        """The Assistants endpoint's call path: ``client.beta.threads.runs``."""
        return AsyncBeta(self._client)

    async def submit_tool_outputs(
        self,
        run_id: str,
        *,
        thread_id: str,
        tool_outputs: ToolOutputs,
        stream: bool = False,
        on_event: Optional[Callable[[Event], Any]] = None,
    ) -> Union[Dict[str, Any], AsyncStream, None]:
        """:meth:`Client.submit_tool_outputs`, awaited: the Run as a dict; with
        ``stream=True``, an :class:`AsyncStream`; with ``on_event=`` (a function or a coroutine
        function, awaited), every event given to it, and None."""
        return await AsyncRuns(self._client).submit_tool_outputs(
            run_id, thread_id=thread_id, tool_outputs=tool_outputs, stream=stream, on_event=on_event
        )

    async def close(self) -> None:
        """Frees the client (see :meth:`Client.close`: calls in progress finish first)."""
        self._client.close()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._client.close()


def _open_response(client: Client, request: "_Request") -> AsyncStream:
    from ._responses import open_reader

    return AsyncStream(open_reader(client, request, _ffi.READER_BACKGROUND))


def _open_submission(client: Client, thread: bytes, run: bytes, tool_outputs: Any) -> AsyncStream:
    with _Outputs(tool_outputs) as outputs:
        ptr = client._acquire()
        try:
            reader = open_submission(ptr, thread, run, outputs.ptr, _ffi.READER_BACKGROUND)
        finally:
            client._release()
    return AsyncStream(reader)


class AsyncResponses:
    """``client.responses`` of an :class:`AsyncClient`."""

    def __init__(self, client: Client) -> None:
        self._client = client

    async def create(
        self,
        *,
        input: "Input",  # noqa: A002 - the SDK's name
        model: Optional[str] = None,
        previous_response_id: Optional[str] = None,
        instructions: Optional[str] = None,
        tools: Optional[Sequence[Mapping[str, Any]]] = None,
        stream: bool = False,
        **fields: Any,
    ) -> Union[Response, AsyncStream]:
        """:meth:`Responses.create`, awaited: the same arguments, checks, results and
        exceptions; with ``stream=True``, an :class:`AsyncStream` (``async for``)."""
        from ._responses import _Request, _response

        if not isinstance(stream, bool):
            raise TypeError(f"stream must be a bool, not {type(stream).__name__}")
        request = _Request(input, model, previous_response_id, instructions, tools, fields)
        if stream:
            return _open_response(self._client, request)
        with request:

            def start(client: Any, cb: Any, user_data: int, out: Any, err: Any) -> int:
                return _ffi.lib.oairun_create_response_start(client, request.ptr, cb, user_data, out, err)

            text = await _call(self._client, start)  # the request is copied by the start call
        return _response(text)

    async def run_tools(
        self,
        *,
        tools: Mapping[str, Callable[..., Any]],
        max_turns: int = 10,
        on_event: Optional[Callable[[Event], Any]] = None,
        input: "Input",  # noqa: A002 - the SDK's name
        model: Optional[str] = None,
        previous_response_id: Optional[str] = None,
        instructions: Optional[str] = None,
        tool_definitions: Optional[Sequence[Mapping[str, Any]]] = None,
        **fields: Any,
    ) -> Response:
        """:meth:`Responses.run_tools`, awaited, with the same arguments, requests, result and
        exceptions; a tool may be an async function (its coroutine is awaited on the loop) or
        a plain one (called on the loop's thread), and so may ``on_event``."""
        from ._responses import _Request
        from ._tools import check_max_turns, check_tools, tool_definition

        checked = check_tools(tools, allow_async=True)
        max_turns = check_max_turns(max_turns)
        _check_on_event(on_event)
        if "stream" in fields:
            raise TypeError("run_tools() streams every turn itself: stream is not an argument")
        if tool_definitions is None:
            tool_definitions = [tool_definition(name, function) for name, function in checked.items()]
        first = _Request(input, model, previous_response_id, instructions, tool_definitions, fields)
        runner = _Tools(checked)
        replay = first.store_disabled
        request = first
        requests = 0
        while True:
            requests += 1
            ended: List[Event] = []

            def keep(event: Event) -> None:
                if event.event in ("response.completed", "response.incomplete"):
                    ended[:] = [event]

            await _each(_open_response(self._client, request), on_event, keep)
            if not ended:
                raise InternalError("the response stream ended well without a terminal event")
            last = ended[0]
            members = _members(last.raw, "the event's data")
            response = members.get("response")
            if not isinstance(response, dict):
                raise ProtocolError(f"the {last.event} event has no `response`", status=_ffi.PROTOCOL)
            if last.event == "response.incomplete":
                raise _incomplete(response)
            calls = _calls(json.dumps(response, ensure_ascii=False), "the response")
            if not calls:
                final = loads(last.raw)["response"]
                return final if isinstance(final, Response) else Response(final)
            response_id = response.get("id")
            if not isinstance(response_id, str) or not response_id:
                raise ProtocolError("the response has no string `id`", status=_ffi.PROTOCOL)
            output = response.get("output", [])
            if not isinstance(output, list):
                raise ProtocolError("the response's output: not an array", status=_ffi.PROTOCOL)
            _asked(calls, "the response")
            _check_turns(calls, requests, max_turns)
            outputs = [await runner.run(call) for call in calls]
            answers = [(call.id.encode("utf-8"), output_text) for call, output_text in zip(calls, outputs)]
            if replay:
                items = list(request._input)
                for item in output:
                    if not isinstance(item, dict):
                        raise ProtocolError("an output item: an input item must be a JSON object", status=_ffi.PROTOCOL)
                    items.append(json.dumps(item, ensure_ascii=False).encode("utf-8"))
                request = first.turn(None, items + answers)
            else:
                request = first.turn(response_id, answers)


class AsyncRuns:
    """``client.beta.threads.runs`` of an :class:`AsyncClient`."""

    def __init__(self, client: Client) -> None:
        self._client = client

    async def submit_tool_outputs(
        self,
        run_id: str,
        *,
        thread_id: str,
        tool_outputs: ToolOutputs,
        stream: bool = False,
        on_event: Optional[Callable[[Event], Any]] = None,
    ) -> Union[Dict[str, Any], AsyncStream, None]:
        """:meth:`Client.submit_tool_outputs`, awaited: the Run as a dict; with
        ``stream=True``, an :class:`AsyncStream`; with ``on_event=`` (a function or a coroutine
        function, awaited), every event given to it, and None. The same arguments, checks and
        exceptions."""
        thread = _encode_id("thread_id", thread_id)
        run = _encode_id("run_id", run_id)
        if not isinstance(stream, bool):
            raise TypeError(f"stream must be a bool, not {type(stream).__name__}")
        _check_on_event(on_event)
        if on_event is not None:
            await _each(_open_submission(self._client, thread, run, tool_outputs), on_event, lambda event: None)
            return None
        if stream:
            return _open_submission(self._client, thread, run, tool_outputs)
        with _Outputs(tool_outputs) as outputs:

            def start(client: Any, cb: Any, user_data: int, out: Any, err: Any) -> int:
                return _ffi.lib.oairun_submit_tool_outputs_start(client, thread, run, outputs.ptr, cb, user_data, out, err)

            text = await _call(self._client, start)  # the outputs are copied by the start call
        return loads(text)

    async def run_tools(
        self,
        run_id: str,
        *,
        thread_id: str,
        tool_outputs: ToolOutputs,
        tools: Mapping[str, Callable[..., Any]],
        max_turns: int = 10,
        on_event: Optional[Callable[[Event], Any]] = None,
    ) -> Object:
        """:meth:`Runs.run_tools`, awaited, with the same arguments, requests, result and
        exceptions; tools and ``on_event`` may be async functions, as for
        :meth:`AsyncResponses.run_tools`."""
        from ._tools import check_max_turns, check_tools

        thread = _encode_id("thread_id", thread_id)
        run = _encode_id("run_id", run_id)
        checked = check_tools(tools, allow_async=True)
        max_turns = check_max_turns(max_turns)
        _check_on_event(on_event)
        _tool_outputs_json(tool_outputs)  # checked before any request
        runner = _Tools(checked)
        outputs = tool_outputs
        requests = 0
        while True:
            requests += 1
            ended: List[Event] = []

            def keep(event: Event) -> None:
                if event.event in _RUN_TURN_ENDS:
                    ended[:] = [event]

            await _each(_open_submission(self._client, thread, run, outputs), on_event, keep)
            if not ended:
                raise ProtocolError(
                    "the run's stream reached `done` without a status that ends the turn "
                    "(requires_action, completed, failed, cancelled, expired or incomplete)",
                    status=_ffi.PROTOCOL,
                )
            last = ended[0]
            if last.event == "thread.run.completed":
                return loads(last.raw)
            if last.event != "thread.run.requires_action":
                raise _run_ended(last)
            calls = _calls(last.raw, "the run")
            _asked(calls, "the run")
            _check_turns(calls, requests, max_turns)
            answers = [await runner.run(call) for call in calls]
            outputs = [
                {"tool_call_id": call.id, "output": answer.decode("utf-8")} for call, answer in zip(calls, answers)
            ]


class AsyncThreads:
    """``client.beta.threads`` of an :class:`AsyncClient`."""

    def __init__(self, client: Client) -> None:
        self.runs = AsyncRuns(client)


class AsyncBeta:
    """``client.beta`` of an :class:`AsyncClient`."""

    def __init__(self, client: Client) -> None:
        self.threads = AsyncThreads(client)


# ---------------------------------------------------------------------------------------------
# The tool-call loops' steps, as the library takes them (src/tool_loop.rs).

# The run statuses that end a submission's turn.
_RUN_TURN_ENDS = frozenset(
    (
        "thread.run.requires_action",
        "thread.run.completed",
        "thread.run.failed",
        "thread.run.cancelled",
        "thread.run.expired",
        "thread.run.incomplete",
    )
)


class _Tools:
    """Runs the model's calls: each tool called on the loop's thread, its coroutine awaited."""

    def __init__(self, tools: Dict[str, Callable[..., Any]]) -> None:
        from ._tools import _Loop

        self._loop = _Loop(tools, None)

    async def run(self, call: ToolCall) -> bytes:
        """The output to send for ``call``, encoded (a str as is, anything else as its JSON)."""
        from ._tools import output_text

        value = await _result(self._loop.run(call.id, call.name, call.arguments))
        return output_text(call.name, value)


def _members(text: str, what: str) -> Dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ProtocolError(f"{what} is not a JSON object: {exc}", status=_ffi.PROTOCOL) from None
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} is not a JSON object", status=_ffi.PROTOCOL)
    return value


def _calls(text: str, what: str) -> List[ToolCall]:
    """The calls of a Run or a Response (``oairun_tool_calls_from_json``)."""
    try:
        return tool_calls_from_json(text)
    except ValueError as exc:
        raise ProtocolError(f"{what}: {getattr(exc, 'message', exc)}", status=_ffi.PROTOCOL) from None


def _asked(calls: List[ToolCall], what: str) -> None:
    if not calls:
        raise ProtocolError(f"{what} asks for tool outputs but lists no call", status=_ffi.PROTOCOL)
    for i, call in enumerate(calls):
        if not call.id:
            raise ProtocolError(f"{what}: call {i} has an empty id", status=_ffi.PROTOCOL)


def _check_turns(calls: List[ToolCall], requests: int, max_turns: int) -> None:
    if requests >= max_turns:
        raise MaxTurnsError(
            f"the model still asked for {len(calls)} tool call(s) after {requests} requests "
            f"(max_turns {max_turns}); no further request was made",
            status=_ffi.MAX_TURNS,
        )


def _text(value: Any) -> Optional[str]:
    """A JSON value as the library quotes it in an error: a string as is, null as nothing,
    anything else as its JSON text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _run_ended(event: Event) -> StreamError:
    """The error of a run that ended failed, cancelled, expired or incomplete."""
    status = event.event[len("thread.run."):] if event.event.startswith("thread.run.") else event.event
    try:
        run = json.loads(event.raw)
    except ValueError:
        run = None
    if not isinstance(run, dict):
        run = {}

    def field(outer: str, inner: str) -> Any:
        value = run.get(outer)
        return value.get(inner) if isinstance(value, dict) else None

    message = _text(field("last_error", "message"))
    code = _text(field("last_error", "code"))
    if code is None:
        code = _text(field("incomplete_details", "reason"))
    reason = message if message is not None else code if code is not None else "no reason given"
    return StreamError(f"the run ended {status}: {reason}", status=_ffi.STREAM_ERROR, code=code)


def _incomplete(response: Dict[str, Any]) -> StreamError:
    """The error of a response that ended incomplete."""
    details = response.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, dict) else None
    if not isinstance(reason, str):
        reason = None
    return StreamError(
        f"the response is incomplete: {reason if reason is not None else 'no reason given'}",
        status=_ffi.STREAM_ERROR,
        code=reason,
    )
