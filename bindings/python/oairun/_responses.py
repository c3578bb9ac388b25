"""``client.responses``: the Responses endpoint (``POST /responses``) over liboairun."""

from __future__ import annotations

import copy
import ctypes
import json
from collections.abc import Mapping
from ctypes import byref, c_void_p

# typing is imported by type checkers only: at run time it would cost every program about
# 5 ms of start-up (the annotations are strings, see __future__).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from . import _ffi
from ._client import Stream, _check, _encode
from ._events import Event
from ._reader import Reader, open_response
from ._objects import Response, loads

if TYPE_CHECKING:
    from ._client import Client

# Arguments of the official SDK's create() that are not body fields. oairun sets headers,
# query parameters and time limits on the Client; sending these names in the body would be
# wrong, so they are refused. (``extra_body`` is accepted: its fields are sent.)
_NOT_BODY_FIELDS = ("extra_headers", "extra_query", "timeout")
# The fields oairun sets itself.
_RESERVED_FIELDS = ("stream", "input")

if TYPE_CHECKING:
    Input = Union[str, Sequence[Mapping[str, Any]]]


def _json(name: str, value: Any) -> bytes:
    """``value`` as JSON text, UTF-8: ``TypeError``/``ValueError`` naming ``name`` if it is not
    JSON (an object that is not serialisable, NaN or infinity, a circular reference, a lone
    surrogate)."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except TypeError as exc:
        raise TypeError(f"{name} is not JSON-serialisable: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"{name} is not JSON: {exc}") from None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{name} is not encodable as UTF-8: {exc}") from None


def _input_items(value: Any) -> List[bytes]:
    if isinstance(value, str):
        return [_json("input", {"role": "user", "content": value})]
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"input must be a str or a list of input item dicts, not {type(value).__name__}")
    if not value:
        raise ValueError("input must hold at least one item")
    items = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise TypeError(f"input[{i}] must be a dict, not {type(item).__name__}")
        items.append(_json(f"input[{i}]", dict(item)))
    return items


def _tools(value: Any) -> Optional[bytes]:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"tools must be a list of tool dicts, not {type(value).__name__}")
    for i, tool in enumerate(value):
        if not isinstance(tool, Mapping):
            raise TypeError(f"tools[{i}] must be a dict, not {type(tool).__name__}")
    return _json("tools", [dict(tool) for tool in value])


def _fields(fields: Dict[str, Any]) -> List[tuple]:
    for name in _NOT_BODY_FIELDS:
        if name in fields:
            raise TypeError(f"{name} is not supported by oairun's create(): set it on the Client")
    extra_body = fields.pop("extra_body", None)
    if extra_body is not None:
        if not isinstance(extra_body, Mapping):
            raise TypeError(f"extra_body must be a dict, not {type(extra_body).__name__}")
        fields = {**fields, **extra_body}
    encoded = []
    for name, value in fields.items():
        if not isinstance(name, str):
            raise TypeError(f"a field name must be a str, not {type(name).__name__}")
        if name in _RESERVED_FIELDS:
            raise ValueError(f"{name!r} cannot be given as a field: use create()'s {name}= argument")
        encoded.append((_encode("a field name", name), _json(f"field {name!r}", value)))
    return encoded


class _Request:
    """An ``oairun_response_request`` built from create()'s arguments (checked when this object
    is made, before anything is sent), freed when the ``with`` block ends."""

    def __init__(
        self,
        input: Input,  # noqa: A002 - the SDK's name
        model: Optional[str],
        previous_response_id: Optional[str],
        instructions: Optional[str],
        tools: Optional[Sequence[Mapping[str, Any]]],
        fields: Dict[str, Any],
    ) -> None:
        self._model = None if model is None else _encode("model", model)
        self._previous = (
            None if previous_response_id is None else _encode("previous_response_id", previous_response_id)
        )
        self._instructions = (
            None if instructions is None else _encode("instructions", instructions, allow_empty=True)
        )
        self._tools = _tools(tools)
        self._input = _input_items(input)
        self._fields = _fields(fields)
        self.ptr = c_void_p()

    def __enter__(self) -> "_Request":
        lib = _ffi.lib
        self.ptr = c_void_p(lib.oairun_response_request_new())
        if not self.ptr:
            raise MemoryError("oairun_response_request_new failed")
        try:
            for setter, value in (
                (lib.oairun_response_request_set_model, self._model),
                (lib.oairun_response_request_set_previous_response_id, self._previous),
                (lib.oairun_response_request_set_instructions, self._instructions),
            ):
                if value is not None:
                    _check(setter(self.ptr, value), c_void_p())
            error = c_void_p()
            if self._tools is not None:
                _check(lib.oairun_response_request_set_tools_json(self.ptr, self._tools, byref(error)), error)
            for item in self._input:
                if isinstance(item, tuple):  # (call_id, output): a later turn of a tool loop
                    _check(lib.oairun_response_request_add_function_call_output(self.ptr, *item), c_void_p())
                else:
                    _check(lib.oairun_response_request_add_input_json(self.ptr, item, byref(error)), error)
            for name, value in self._fields:
                _check(lib.oairun_response_request_set_field_json(self.ptr, name, value, byref(error)), error)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        ptr, self.ptr = self.ptr, c_void_p()
        _ffi.lib.oairun_response_request_free(ptr)

    @property
    def store_disabled(self) -> bool:
        """``store`` is set to false (as the library's loop reads it)."""
        return (b"store", b"false") in self._fields

    def turn(self, previous_response_id: Optional[str], items: List[Any]) -> "_Request":
        """This request for a later turn of a tool loop: the same fields, ``previous_response_id``
        replaced when given, and ``items`` as its input: JSON texts (bytes) and
        ``(call_id, output)`` pairs (bytes), sent as ``function_call_output`` items."""
        later = copy.copy(self)
        if previous_response_id is not None:
            later._previous = _encode("previous_response_id", previous_response_id)
        later._input = list(items)
        later.ptr = c_void_p()
        return later


def _response(text: str) -> Any:
    """A Response's JSON text as a :class:`Response`."""
    parsed = loads(text)
    return Response(parsed) if isinstance(parsed, dict) and type(parsed) is not Response else parsed


def open_reader(client: "Client", request: _Request, flags: int) -> Reader:
    """Opens a reader of the streamed response ``request`` describes (built here, and freed
    once the reader has copied it)."""
    with request:
        ptr = client._acquire()
        try:
            return open_response(ptr, request.ptr, flags)
        finally:
            client._release()


class _ResponseStream(Stream):
    """A :class:`Stream` of a streamed response, read through ``oairun_create_response_stream_open``.

    Iteration, the end and cancellation are those of :class:`Stream`; the library ends the
    stream right after its terminal event (``response.completed``, ``response.incomplete``:
    the iteration ends; ``response.failed``, ``error``: :class:`StreamError` after it), never
    delivers a trailing ``[DONE]``, and raises :class:`ProtocolError` for a stream that ends
    before a terminal event.
    """


class Responses:
    """``client.responses``, as in the official SDK."""

    def __init__(self, client: "Client") -> None:
        self._client = client

    def create(
        self,
        *,
        input: Input,  # noqa: A002 - the SDK's name
        model: Optional[str] = None,
        previous_response_id: Optional[str] = None,
        instructions: Optional[str] = None,
        tools: Optional[Sequence[Mapping[str, Any]]] = None,
        stream: bool = False,
        **fields: Any,
    ) -> Union[Response, Stream]:
        """Creates a response: ``POST {base_url}/responses``.

        ``input`` is a str (sent as one user message, ``{"role": "user", "content": input}``)
        or a list of input item dicts, each sent as given: messages, ``function_call_output``
        items (``{"type": "function_call_output", "call_id": ..., "output": ...}``), output items
        of an earlier response... ``tools`` is a list of tool dicts (Responses function tools
        are flat: ``{"type": "function", "name": ..., "parameters": {...}}``). Any other keyword
        (``store``, ``temperature``, ``tool_choice``, ``max_output_tokens``, ``metadata``...,
        and the fields of ``extra_body``) is sent as a body field, its value as JSON.

        Returns the Response as a :class:`Response` (a dict readable by attribute, with the
        SDK's ``output_text``); a response whose ``status`` is ``failed`` or ``incomplete`` is
        returned too. With ``stream=True``, a :class:`Stream` of :class:`Event` objects
        (``event.event`` is the type, ``event.data`` the parsed event), ending after
        ``response.completed`` or ``response.incomplete``, or raising :class:`StreamError`
        after ``response.failed`` or an ``error`` event.

        Raises ``TypeError``/``ValueError`` for bad arguments before any request (``stream`` or
        ``input`` given as a field, a value that is not JSON-serialisable, ``extra_headers``,
        ``extra_query`` or ``timeout``, which oairun takes on the Client), and the
        :class:`OairunError` subclasses for failures (:class:`BadRequestError` with ``code``
        and ``param``, e.g. ``missing_required_parameter``/``model`` or
        ``previous_response_not_found``/``previous_response_id``).
        """
        if not isinstance(stream, bool):
            raise TypeError(f"stream must be a bool, not {type(stream).__name__}")
        request = _Request(input, model, previous_response_id, instructions, tools, fields)
        if stream:
            return _ResponseStream(open_reader(self._client, request, 0))
        response_json = c_void_p()
        error = c_void_p()
        with request:
            client = self._client._acquire()
            try:
                status = _ffi.lib.oairun_create_response(client, request.ptr, byref(response_json), byref(error))
            finally:
                self._client._release()
        _check(status, error)
        try:
            text = ctypes.string_at(response_json.value).decode("utf-8")
        finally:
            _ffi.lib.oairun_string_free(response_json)
        return _response(text)

    def run_tools(
        self,
        *,
        tools: Mapping[str, Callable[..., Any]],
        max_turns: int = 10,
        on_event: Optional[Callable[[Event], Any]] = None,
        input: Input,  # noqa: A002 - the SDK's name
        model: Optional[str] = None,
        previous_response_id: Optional[str] = None,
        instructions: Optional[str] = None,
        tool_definitions: Optional[Sequence[Mapping[str, Any]]] = None,
        **fields: Any,
    ) -> Response:
        """Runs the model's tool calls to the end (``oairun_response_tool_loop``): creates a
        response from ``create()``'s arguments, streamed; each time it completes with function
        calls, runs them, in the model's order, and sends all their outputs in one new
        streamed request; returns the first response that completes without a call, as a
        :class:`Response` (``.output_text`` is the answer).

        ``tools`` maps a function name to a callable. Each call runs on this thread, between
        requests, as ``tools[name](**arguments)`` (the call's arguments parsed from JSON; empty
        arguments are none); it returns the output, a str sent as is, or anything else sent as
        its JSON (``json.dumps``: a dict, a number, ``None`` as ``null``).

        The function tools the model is offered: ``tool_definitions`` (a list of tool dicts,
        sent as ``create()``'s ``tools``, e.g. with hand-written descriptions and JSON
        Schemas), or when it is None, one per entry of ``tools``, built from the callable's
        signature (parameters annotated ``str``, ``int``, ``float``, ``bool``, ``list``,
        ``dict``, ``Optional[...]`` or ``Literal[...]`` get their JSON type; those without a
        default are required) and its docstring's first paragraph.

        Every later request has the first one's fields with ``previous_response_id`` set to
        the response just completed; with ``store=False`` none is sent and each request
        carries the whole conversation (the first input, every output item, every output), as
        servers without stored responses need.

        ``on_event(event)``, when given, receives every :class:`Event` of every turn on this
        thread (``event.text_delta`` is the answer's text as it streams); returning ``False``
        stops the loop with :class:`CancelledError`.

        ``max_turns`` (1 or more) bounds the requests, the first included: a model still
        asking for calls after that many raises :class:`MaxTurnsError`, with no further
        request.

        Raises: the exception a tool or ``on_event`` raised, unchanged, once the loop has
        stopped (no further request is made); :class:`ToolCallError` when the model calls a
        function not in ``tools``, or with arguments that are not a JSON object or do not fit
        the callable's parameters; :class:`StreamError` when a response ends ``failed`` or
        ``incomplete`` or a stream carries an ``error`` event; ``TypeError``/``ValueError``
        for bad arguments before any request (as for :meth:`create`; ``stream`` is not an
        argument: every turn is streamed), and for a tool's output that cannot be sent (not
        JSON-serialisable, holding a NUL character); and the other :class:`OairunError`
        subclasses as for :meth:`create`.
        """
        # (imported here: the tool loop's module brings in inspect, which a stream does not need)
        from ._tools import check_max_turns, check_on_event, check_tools, run_loop, tool_definition

        checked = check_tools(tools)
        max_turns = check_max_turns(max_turns)
        check_on_event(on_event)
        if "stream" in fields:
            raise TypeError("run_tools() streams every turn itself: stream is not an argument")
        if tool_definitions is None:
            tool_definitions = [tool_definition(name, function) for name, function in checked.items()]
        request = _Request(input, model, previous_response_id, instructions, tool_definitions, fields)
        with request:

            def start(client: Any, handler: Any, event_cb: Any, user_data: int, final: Any, err: Any) -> int:
                return _ffi.lib.oairun_response_tool_loop(
                    client, request.ptr, handler, event_cb, user_data, max_turns, final, err
                )

            text = run_loop(self._client, start, checked, on_event)
        return _response(text)
