"""Stream events."""

from __future__ import annotations

import json
from collections import namedtuple
from ctypes import byref, c_void_p

# typing is imported by type checkers only: at run time it would cost every program about
# 5 ms of start-up (the annotations are strings, see __future__).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List, NamedTuple, Optional

from . import _ffi
from ._exceptions import ProtocolError, from_error
from ._objects import Object, ObjectList, loads, promote, scan


if TYPE_CHECKING:

    class ToolCall(NamedTuple):
        id: str
        name: str
        arguments: str

else:

    class ToolCall(namedtuple("ToolCall", ["id", "name", "arguments"])):
        """One function call the model asked for: ``id`` (the id its output must name: the
        Assistants ``tool_calls[].id``, the Responses ``call_id``), ``name`` (the function's)
        and ``arguments`` (the arguments' JSON text, as the model wrote it). A named tuple
        (``collections.namedtuple``: ``typing.NamedTuple``'s would import typing)."""

        __slots__ = ()


def tool_calls_from_json(text: str) -> List[ToolCall]:
    """The calls of a Run or a Response given as JSON text, read by the library
    (``oairun_tool_calls_from_json``); ``ValueError`` (an :class:`InvalidArgumentError`) if
    the text is not such an object."""
    calls, error = c_void_p(), c_void_p()
    status = _ffi.lib.oairun_tool_calls_from_json(text.encode("utf-8"), byref(calls), byref(error))
    if status != _ffi.OK:
        raise from_error(_ffi.take_error(status, error))
    return [ToolCall(*fields) for fields in _ffi.take_tool_calls(calls)]


class _Unparsed:
    """The value of an event's ``_data`` until ``.data`` is first read (pickled by name, so that
    a copied or unpickled event still knows it has not parsed its data)."""

    __slots__ = ()

    def __reduce__(self) -> str:
        return "_UNPARSED"

    def __repr__(self) -> str:
        return "<unparsed>"


_UNPARSED = _Unparsed()


class Event:
    """One server-sent event: ``.event`` (its name), ``.data`` (parsed), ``.raw``, ``.id``.

    ``.text_delta`` and ``.tool_calls`` read what the event carries for a program that runs
    its own loop or prints the answer as it streams.

    ``.data`` is parsed from JSON on first access; for ``done`` it is the raw string
    ``"[DONE]"``. Data that is not JSON raises :class:`ProtocolError` on access, so one bad
    payload never stops iteration (``.raw`` always works). The API reference's own example
    stream has three such payloads (``thread.run.queued``, ``.in_progress``, ``.completed``
    carry one ``}`` too many).
    """

    __slots__ = ("event", "raw", "id", "_data")

    def __init__(self, event: str, raw: str, id: Optional[str] = None) -> None:  # noqa: A002
        self.event = event
        self.raw = raw
        self.id = id
        self._data: Any = _UNPARSED

    @property
    def data(self) -> Any:
        """The data parsed as JSON (``"[DONE]"`` for ``done``); objects read by attribute too
        (``event.data.delta``, see :class:`Object`)."""
        data = self._data
        if data is not _UNPARSED:
            return data
        # The library's parser; what it leaves goes to json (_data_of).
        return _data_of(self, _UNPARSED if _parse is None else _parse(self.raw))

    @property
    def text_delta(self) -> Optional[str]:
        """The text this event adds to the model's answer: the ``delta`` of a
        ``response.output_text.delta``, or the text parts of a ``thread.message.delta`` (the
        ``text.value`` of each ``delta.content[]`` item of type ``text``, joined). ``None`` for
        any other event, a message delta with no text part, or data that is not what the API
        sends. The same rule as the library's ``oairun_event_text_delta``, applied to the
        copied data when asked (so streaming pays nothing for it)."""
        name = self.event
        if name == "response.output_text.delta":
            data = self._json_or_none()
            delta = dict.get(data, "delta") if isinstance(data, dict) else None
            return delta if isinstance(delta, str) else None
        if name == "thread.message.delta":
            data = self._json_or_none()
            delta = dict.get(data, "delta") if isinstance(data, dict) else None
            content = dict.get(delta, "content") if isinstance(delta, dict) else None
            if not isinstance(content, list):
                return None
            text: Optional[str] = None
            for part in list.__iter__(content):
                if not isinstance(part, dict) or dict.get(part, "type") != "text":
                    continue
                body = dict.get(part, "text")
                value = dict.get(body, "value") if isinstance(body, dict) else None
                text = (text or "") + (value if isinstance(value, str) else "")
            return text
        return None

    @property
    def tool_calls(self) -> List[ToolCall]:
        """The function calls this event asks for: those of the Run in a
        ``thread.run.requires_action`` event, or of the Response in a ``response.completed``
        event, as :class:`ToolCall` (``.id``, ``.name``, ``.arguments``) in the model's order;
        ``[]`` for any other event. Read by the library's ``oairun_tool_calls_from_json``
        when asked; data that is not what the API sends raises :class:`ProtocolError`."""
        name = self.event
        if name == "thread.run.requires_action":
            source = self.raw
        elif name == "response.completed":
            data = self.data
            response = dict.get(data, "response") if isinstance(data, dict) else None
            if not isinstance(response, dict):
                raise ProtocolError(
                    "the response.completed event has no `response` object", status=_ffi.PROTOCOL
                )
            source = json.dumps(response, ensure_ascii=False)
        else:
            return []
        try:
            return tool_calls_from_json(source)
        except ValueError as exc:
            raise ProtocolError(f"the calls of event {name!r} are not readable: {exc}", status=_ffi.PROTOCOL) from None

    def _json_or_none(self) -> Any:
        try:
            return self.data
        except ProtocolError:
            return None

    def __getattr__(self, name: str) -> Any:
        """The fields of the data, as attributes of the event itself: the official SDK's
        Responses events are the data (``event.type``, ``event.delta``, ``event.response``),
        so code written for them runs unchanged. Only called for names the event lacks."""
        if name.startswith("_"):  # dunder probes (copy, pickle), and our own slots before set
            raise AttributeError(name)
        data = self.data
        if isinstance(data, Object) and name in data:
            return Object.__getattr__(data, name)  # as data.<name> reads it
        raise AttributeError(f"event {self.event!r} has no attribute or data field {name!r}")

    def __repr__(self) -> str:
        return f"Event(event={self.event!r}, raw={self.raw[:60]!r}{'...' if len(self.raw) > 60 else ''})"


class _Stop:
    """The first item of a batch's list of events (see _reader.Reader.take): popped last, it
    ends the batch's iterator."""

    __slots__ = ()


STOP = _Stop()


def _data_of(event: Event, data: Any) -> Any:
    """What ``event.data`` gives for the parser's result ``data`` (a value, or _UNPARSED for a
    text it left to json), kept in ``event._data``: json's scanner (called directly: loads(raw),
    inlined) for a text the parser left, a list made an ObjectList, a Response promoted. The
    library's getter of ``data`` (see below) finishes a plain object itself and calls this for
    the rest."""
    current = event._data
    if current is not _UNPARSED:
        return current
    raw = event.raw
    if data is _UNPARSED:
        try:
            data, end = scan(raw, 0)
        except (StopIteration, ValueError):
            end = -1
        if end != len(raw):
            if raw == "[DONE]" and event.event == "done":
                data = raw
            else:
                try:
                    data = loads(raw)
                except ValueError as exc:
                    raise ProtocolError(
                        f"the data of event {event.event!r} is not JSON: {exc}",
                        status=_ffi.PROTOCOL,
                    ) from exc
            event._data = data
            return data
    if type(data) is not Object:
        if type(data) is list:
            data = ObjectList(data)
    elif "response" in data:  # (the data of response.created, .completed...)
        data = promote(data)
    event._data = data
    return data

# The library's parser of event data (see _ffi.json_parser), or None where there is none: a
# text it leaves (not JSON, or JSON it does not take) comes back as _UNPARSED.
_parse = _ffi.json_parser(Object, _UNPARSED, Event, STOP, _data_of)
# The library's maker of a batch's events (see _ffi.events_maker), or None: the reader then
# copies them and makes each here.
make_events = _ffi.events_maker(_parse)
# The library's getter of Event.data (see _ffi.data_getter), or None: the property above
# stays. Called by CPython as a property's getter, it takes no Python frame per access, and
# reads and writes the event's slots itself.
_data_getter = _ffi.data_getter(_parse)
# The binding's own property (what runs where the library's getter cannot be had).
PY_DATA = Event.__dict__["data"]
if _data_getter is not None:
    Event.data = property(_data_getter, doc=PY_DATA.__doc__)  # type: ignore[assignment]
