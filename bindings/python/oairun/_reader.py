"""Readers: a stream's events taken in batches from an ``oairun_reader`` (the library's pull
API), copied into :class:`Event` objects. Both clients' iterators stand on this.

A reader opened with flags 0 reads the socket on the thread that calls
``oairun_reader_next_batch``, inside the call (ctypes releases the GIL meanwhile); one opened
with ``OAIRUN_READER_BACKGROUND`` is read ahead by oairun's threads, and its descriptor
(``oairun_reader_fd``) says when a call with a zero time limit has something to give.
"""

from __future__ import annotations

import ctypes
import threading
from ctypes import byref, c_size_t, c_void_p
from typing import List, Optional

from . import _ffi
from ._events import Event
from ._exceptions import from_error

# Events taken per call at most: a network read rarely holds more.
BATCH = 256

# The event names by kind, filled as kinds are first seen (OAIRUN_KIND_UNKNOWN, 0, is never
# kept: its name is asked each time).
_names = {}

_lib = _ffi.lib
_next_batch = _lib.oairun_reader_next_batch
_kind = _ffi.pylib.oairun_event_kind
_name = _ffi.pylib.oairun_event_name
_data = _ffi.pylib.oairun_event_data
_id = _ffi.pylib.oairun_event_id
_data_address = _lib.oairun_event_data  # returns the address, for data holding a NUL


def _name_of(event: int, kind: int) -> str:
    name = _name(event)
    text = name.decode("utf-8") if name is not None else "message"
    if kind:
        _names[kind] = text
    return text


def _whole_data(event: int) -> bytes:
    length = c_size_t(0)
    address = _data_address(event, byref(length))
    return ctypes.string_at(address, length.value) if address else b""


def events_of(array: "ctypes.Array[c_void_p]", count: int, lengths: "ctypes.Array[c_size_t]") -> List[Event]:
    """Copies the ``count`` events lent in ``array`` (valid until the reader's next call):
    three calls each, the kind (its name from a table), the data and the id. ``lengths`` (room
    for ``count`` lengths) is scratch space for the data's lengths.

    Each step runs over the whole batch through ``map``, so that no Python code runs per event
    but Event's constructor."""
    events = array[:count]
    names = list(map(_names.get, map(_kind, events)))
    if None in names:  # a kind not seen yet, or OAIRUN_KIND_UNKNOWN (0): asked by name
        names = [name if name is not None else _name_of(event, _kind(event)) for name, event in zip(names, events)]
    data = list(map(_data, events, range(ctypes.addressof(lengths), 2**63, ctypes.sizeof(c_size_t))))
    if list(map(len, data)) != lengths[:count]:  # NUL characters in some data: copied by length
        data = [whole if len(whole) == length else _whole_data(event) for whole, length, event in zip(data, lengths, events)]
    ids = list(map(_id, events))
    if ids.count(None) != count:
        ids = [None if event_id is None else event_id.decode() for event_id in ids]
    return list(map(Event, names, map(bytes.decode, data), ids))


class Reader:
    """An ``oairun_reader`` owned by one iterator: freed when the stream ends, fails or is
    closed, or when this object is collected.

    One thread at a time takes batches (:meth:`take`); :meth:`close` may come from any thread:
    it cancels the stream (``oairun_reader_cancel``: a call in progress returns at once), then
    frees the reader, or, while a take is in progress, leaves that to the taking thread when
    its call returns. Freeing drops the connection.
    """

    __slots__ = ("_ptr", "_lock", "_busy", "_closed", "_array", "_count", "_lengths", "freed", "__weakref__")

    def __init__(self, ptr: int) -> None:
        self._ptr: Optional[int] = ptr
        self._lock = threading.Lock()
        self._busy = False
        self._closed = False
        self._array = (c_void_p * BATCH)()
        self._count = c_size_t(0)
        self._lengths = (c_size_t * BATCH)()
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

    def take(self, timeout_ms: int) -> Optional[List[Event]]:
        """The next events, waiting at most ``timeout_ms`` for the first: a non-empty list;
        ``[]`` when none came in time (``OAIRUN_AGAIN``: the stream goes on); ``None`` once the
        stream has ended well or the reader was closed. A failed stream raises its exception
        (after its last events were given), the reader freed first."""
        with self._lock:
            ptr = self._ptr
            if ptr is None:  # (close() frees at once when no take is running)
                return None
            self._busy = True
        events: Optional[List[Event]] = None
        ended = True  # on any way out but events or AGAIN (an exception too), the reader goes
        error = c_void_p()
        try:
            status = _next_batch(ptr, timeout_ms, self._array, BATCH, self._count, byref(error))
            if status == _ffi.OK:
                count = self._count.value
                if count:
                    events = events_of(self._array, count, self._lengths)
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
        reader drops its connection at once, and its descriptor becomes readable."""
        with self._lock:
            self._closed = True
            if self._ptr is not None:
                _lib.oairun_reader_cancel(self._ptr)

    def close(self) -> None:
        """Ends the stream, from any thread; idempotent. See the class's documentation."""
        with self._lock:
            self._closed = True
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
