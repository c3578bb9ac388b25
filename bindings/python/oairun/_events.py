"""Stream events."""

from __future__ import annotations

import json
from typing import Any, Optional

from . import _ffi
from ._exceptions import ProtocolError
from ._objects import wrap


class Event:
    """One server-sent event: ``.event`` (its name), ``.data`` (parsed), ``.raw``, ``.id``.

    ``.data`` is parsed from JSON on first access; for ``done`` it is the raw string
    ``"[DONE]"``. Data that is not JSON raises :class:`ProtocolError` on access, so one bad
    payload never stops iteration (``.raw`` always works). The API reference's own example
    stream has three such payloads (``thread.run.queued``, ``.in_progress``, ``.completed``
    carry one ``}`` too many).
    """

    __slots__ = ("event", "raw", "id", "_data", "_parsed")

    def __init__(self, event: str, raw: str, id: Optional[str] = None) -> None:  # noqa: A002
        self.event = event
        self.raw = raw
        self.id = id
        self._data: Any = None
        self._parsed = False

    @property
    def data(self) -> Any:
        """The data parsed as JSON (``"[DONE]"`` for ``done``); objects read by attribute too
        (``event.data.delta``, see :class:`Object`)."""
        if not self._parsed:
            if self.event == "done" and self.raw == "[DONE]":
                self._data = self.raw
            else:
                try:
                    self._data = wrap(json.loads(self.raw))
                except ValueError as exc:
                    raise ProtocolError(
                        f"the data of event {self.event!r} is not JSON: {exc}",
                        status=_ffi.PROTOCOL,
                    ) from exc
            self._parsed = True
        return self._data

    def __getattr__(self, name: str) -> Any:
        """The fields of the data, as attributes of the event itself: the official SDK's
        Responses events are the data (``event.type``, ``event.delta``, ``event.response``),
        so code written for them runs unchanged. Only called for names the event lacks."""
        if name.startswith("_"):  # dunder probes (copy, pickle), and our own slots before set
            raise AttributeError(name)
        data = self.data
        if isinstance(data, dict) and name in data:
            return data[name]
        raise AttributeError(f"event {self.event!r} has no attribute or data field {name!r}")

    def __repr__(self) -> str:
        return f"Event(event={self.event!r}, raw={self.raw[:60]!r}{'...' if len(self.raw) > 60 else ''})"
