"""Readers: a stream's events taken in batches from an ``oairun_reader`` (the library's pull
API), made into :class:`Event` objects. Both clients' iterators stand on this.

A reader opened with flags 0 reads the socket on the thread that calls
``oairun_reader_next_batch``, inside the call (ctypes releases the GIL meanwhile); one opened
with ``OAIRUN_READER_BACKGROUND`` is read ahead by oairun's threads, and its descriptor
(``oairun_reader_fd``) says when a call with a zero time limit has something to give.
"""

from __future__ import annotations

import ctypes
import threading
from ctypes import byref, c_char, c_int, c_size_t, c_void_p

# typing is imported by type checkers only: at run time it would cost every program about
# 5 ms of start-up (the annotations are strings, see __future__).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterable, Optional

from . import _ffi
from ._events import STOP, Event, make_events
from ._exceptions import from_error

# Events taken per call at most: a network read rarely holds more.
BATCH = 256
# The copy buffer's first size: room for a batch of typical events (it grows when a batch
# needs more).
ROOM = 1 << 16

# The event names by kind, filled as kinds are first seen (OAIRUN_KIND_UNKNOWN, 0, is never
# kept: such an event's name comes with its copy).
_names = {}

_lib = _ffi.lib
_next_batch = _lib.oairun_reader_next_batch
# The library's maker of a batch's events (``oairun_py_events``), or None: events_of then.
_make = make_events
_copy = _ffi.pylib.oairun_events_copy
_name = _ffi.pylib.oairun_event_name
_ABSENT = _ffi.ABSENT


def _name_of(event: int, kind: int) -> str:
    name = _name(event)
    text = name.decode("utf-8") if name is not None else "message"
    _names[kind] = text
    return text


class Copies:
    """Where ``oairun_events_copy`` puts a batch: the kinds, the spans and the buffer (grown
    when a batch needs more room)."""

    __slots__ = ("kinds", "spans", "buffer", "capacity", "needed")

    def __init__(self) -> None:
        self.kinds = (c_int * BATCH)()
        self.spans = (_ffi.EventSpan * BATCH)()
        self.capacity = ROOM
        self.buffer = (c_char * ROOM)()
        self.needed = c_size_t(0)

    def grow(self, size: int) -> None:
        capacity = self.capacity
        while capacity < size:
            capacity *= 2
        self.capacity = capacity
        self.buffer = (c_char * capacity)()


def events_of(array: "ctypes.Array[c_void_p]", count: int, copies: Copies) -> list:
    """What ``oairun_py_events`` gives, made here (where the library makes no events, as on
    an interpreter other than CPython): the ``count`` events lent in ``array`` (valid until
    the reader's next call) copied with one ``oairun_events_copy`` into ``copies``, as the
    list ``[STOP, event n, ..., event 1]``.

    The buffer holds each event's data followed by a NUL, then its id and its name (only for
    an unknown kind) when it has them, so when no event has an id or an unknown kind and no
    data holds a NUL, splitting the buffer at NUL gives exactly the data, one piece per event;
    otherwise each string is taken by its span. Everything the lent events are needed for
    (the names of kinds not seen yet) is read here."""
    status = _copy(array, count, copies.kinds, copies.spans, copies.buffer, copies.capacity, copies.needed, None)
    if status != _ffi.OK:
        if copies.needed.value > copies.capacity:  # a batch bigger than the buffer
            copies.grow(copies.needed.value)
        error = c_void_p()
        status = _copy(array, count, copies.kinds, copies.spans, copies.buffer, copies.capacity, copies.needed, byref(error))
        if status != _ffi.OK:
            raise from_error(_ffi.take_error(status, error))
    raw = copies.buffer[: copies.needed.value]
    kinds = copies.kinds[:count]
    data = raw.split(b"\0")
    if len(data) == count + 1:
        data.pop()  # (after the last NUL)
        names = list(map(_names.get, kinds))
        if None in names:  # a kind not seen yet
            names = [_name_of(array[i], kind) if name is None else name for i, (name, kind) in enumerate(zip(names, kinds))]
        events = list(map(Event, names, map(bytes.decode, data)))
    else:
        events = [_event_at(array[i], kind, raw, span) for i, (kind, span) in enumerate(zip(kinds, copies.spans))]
    events.append(STOP)
    events.reverse()
    return events


def _event_at(event: int, kind: int, raw: bytes, span: _ffi.EventSpan) -> Event:
    """An event copied with an id, an unknown kind or a NUL in its data: taken by its span."""
    data = raw[span.data : span.data + span.data_len].decode()
    event_id = None if span.id == _ABSENT else raw[span.id : span.id + span.id_len].decode()
    if span.name != _ABSENT:
        name = raw[span.name : span.name + span.name_len].decode()
    else:
        name = _names.get(kind) or _name_of(event, kind)
    return Event(name, data, event_id)


class Reader:
    """An ``oairun_reader`` owned by one iterator: freed when the stream ends, fails or is
    closed, or when this object is collected.

    One thread at a time takes batches (:meth:`take`); :meth:`close` may come from any thread:
    it cancels the stream (``oairun_reader_cancel``: a call in progress returns at once), then
    frees the reader, or, while a take is in progress, leaves that to the taking thread when
    its call returns. Freeing drops the connection.
    """

    __slots__ = ("_ptr", "_lock", "_busy", "_closed", "_array", "_count", "_copies", "_batch", "freed", "__weakref__")

    def __init__(self, ptr: int) -> None:
        self._ptr: Optional[int] = ptr
        self._lock = threading.Lock()
        self._busy = False
        self._closed = False
        self._array = (c_void_p * BATCH)()
        self._count = c_size_t(0)
        self._copies = Copies()
        # The last batch's events not given yet, after STOP (see take).
        self._batch: list = []
        # Set once the reader is freed (the connection dropped).
        self.freed = threading.Event()

    @property
    def done(self) -> bool:
        """True once the reader is freed or closed: nothing more will be taken."""
        return self._ptr is None or self._closed

    def fd(self) -> int:
        """The descriptor of a background reader (readable when a take with a zero time
        limit has something to give); it belongs to the reader."""
        fd = ctypes.c_int(-1)
        error = c_void_p()
        status = _lib.oairun_reader_fd(self._ptr, byref(fd), byref(error))
        if status != _ffi.OK:
            raise from_error(_ffi.take_error(status, error))
        return fd.value

    def take(self, timeout_ms: int) -> Optional[Iterable[Event]]:
        """The next events, waiting at most ``timeout_ms`` for the first: an iterator of at
        least one event, which :meth:`cancel` and :meth:`close` end, events not yet given
        included; ``[]`` when none came in time (``OAIRUN_AGAIN``: the stream goes on);
        ``None`` once the stream has ended well or the reader was closed. A failed stream
        raises its exception (after its last events were given), the reader freed first.

        The batch's events are made at once, by the library (``oairun_py_events``) or by
        :func:`events_of`, into the list ``[STOP, event n, ..., event 1]``, and the iterator
        pops them from its end (``iter(list.pop, STOP)``, in C): nothing of the binding holds
        an event once given, so an event, and its data once parsed, is freed as soon as the
        program lets go of it. Kept until the whole batch had been given, the parsed events
        of a batch were traversed again and again by Python's cyclic collector (about 7% of
        the instructions of a loop reading each Assistants delta's data, measured with
        callgrind)."""
        with self._lock:
            ptr = self._ptr
            if ptr is None:  # (close() frees at once when no take is running)
                return None
            self._busy = True
        events: Optional[Iterable[Event]] = None
        ended = True  # on any way out but events or AGAIN (an exception too), the reader goes
        error = c_void_p()
        try:
            status = _next_batch(ptr, timeout_ms, self._array, BATCH, self._count, byref(error))
            if status == _ffi.OK:
                count = self._count.value
                if count:
                    make = _make
                    if make is not None:
                        batch = make(self._array, count)
                    else:
                        batch = events_of(self._array, count, self._copies)
                    self._batch = batch
                    events = iter(batch.pop, STOP)
                    ended = False
            elif status == _ffi.AGAIN:
                events = []
                ended = False
            else:
                info = _ffi.take_error(status, error)
                if not (self._closed and status == _ffi.CANCELLED):
                    raise from_error(info)
        finally:
            with self._lock:
                self._busy = False
                release = ended or self._closed
                if release:
                    self._ptr = None
            if release:
                self._free(ptr)
        return None if self._closed else events

    def cancel(self) -> None:
        """Cancels the stream (``oairun_reader_cancel``), from any thread, without freeing the
        reader: a take in progress returns at once, and the next take frees it. A background
        reader drops its connection at once, and its descriptor becomes readable. The last
        batch's iterator gives no more events."""
        with self._lock:
            self._closed = True
            del self._batch[1:]  # (STOP stays: the iterator ends)
            if self._ptr is not None:
                _lib.oairun_reader_cancel(self._ptr)

    def close(self) -> None:
        """Ends the stream, from any thread; idempotent. See the class's documentation. The
        last batch's iterator gives no more events."""
        with self._lock:
            self._closed = True
            del self._batch[1:]
            ptr = self._ptr
            if ptr is None:
                return
            _lib.oairun_reader_cancel(ptr)
            if self._busy:
                return
            self._ptr = None
        self._free(ptr)

    def _free(self, ptr: int) -> None:
        _lib.oairun_reader_free(ptr)
        self.freed.set()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - at interpreter shutdown, nothing can be done
            pass


def _open(status: int, reader: c_void_p, error: c_void_p) -> Reader:
    if status != _ffi.OK:
        raise from_error(_ffi.take_error(status, error))
    return Reader(reader.value)


def open_submission(client: c_void_p, thread: bytes, run: bytes, outputs: c_void_p, flags: int) -> Reader:
    """A reader of ``oairun_submit_tool_outputs_stream_open``."""
    reader, error = c_void_p(), c_void_p()
    status = _lib.oairun_submit_tool_outputs_stream_open(
        client, thread, run, outputs, flags, byref(reader), byref(error)
    )
    return _open(status, reader, error)


def open_response(client: c_void_p, request: c_void_p, flags: int) -> Reader:
    """A reader of ``oairun_create_response_stream_open``."""
    reader, error = c_void_p(), c_void_p()
    status = _lib.oairun_create_response_stream_open(client, request, flags, byref(reader), byref(error))
    return _open(status, reader, error)
