"""The client: the official SDK's shape over liboairun."""

from __future__ import annotations

import ctypes
import itertools
import json
import math
import threading
from collections.abc import Mapping
from ctypes import byref, c_void_p

# typing is imported by type checkers only: at run time it would cost every program about
# 5 ms of start-up (the annotations are strings, see __future__).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Iterator, List, Optional, Union

from . import _ffi, _logging
from ._events import Event
from ._exceptions import CancelledError, InvalidArgumentError, from_error
from ._objects import loads
from ._reader import Reader, open_submission

if TYPE_CHECKING:
    from ._beta import Beta
    from ._responses import Responses

if TYPE_CHECKING:
    ToolOutputs = List[Mapping[str, str]]

# A wait for a stream's next events is cut into calls of the reader of at most this long, so
# that Python handles a signal (Ctrl-C) between two of them, even while the server is silent.
# The client's read timeout still counts from the last byte, across calls.
WAIT_MS = 250


def _check(status: int, error: c_void_p) -> None:
    if status != _ffi.OK:
        raise from_error(_ffi.take_error(status, error))


def _encode(name: str, value: str, allow_empty: bool = False) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if not value and not allow_empty:
        raise ValueError(f"{name} must not be empty")
    if "\0" in value:
        raise ValueError(f"{name} must not contain NUL characters")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{name} is not encodable as UTF-8: {exc}") from None


def _encode_id(name: str, value: str) -> bytes:
    encoded = _encode(name, value)
    if encoded in (b".", b".."):
        # URL parsers resolve these as path steps, so the library refuses them; say so here,
        # at the call, rather than from a stream's first iteration.
        raise ValueError(f"{name} must not be '.' or '..'")
    return encoded


def _tool_outputs_json(tool_outputs: Any) -> bytes:
    if not isinstance(tool_outputs, (list, tuple)):
        raise TypeError("tool_outputs must be a list of {'tool_call_id': ..., 'output': ...} dicts")
    if not tool_outputs:
        raise ValueError("tool_outputs must hold at least one output")
    items = []
    for i, item in enumerate(tool_outputs):
        if not isinstance(item, Mapping):
            raise TypeError(f"tool_outputs[{i}] must be a dict, not {type(item).__name__}")
        unknown = set(item) - {"tool_call_id", "output"}
        if unknown:
            raise ValueError(f"tool_outputs[{i}] has unknown keys: {sorted(map(str, unknown))}")
        for key in ("tool_call_id", "output"):
            if not isinstance(item.get(key), str):
                raise TypeError(f"tool_outputs[{i}][{key!r}] must be a str")
        if not item["tool_call_id"]:
            raise ValueError(f"tool_outputs[{i}]['tool_call_id'] must not be empty")
        items.append({"tool_call_id": item["tool_call_id"], "output": item["output"]})
    try:
        # JSON escapes any character (NUL included), so every output arrives intact.
        return json.dumps(items, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"a tool output is not encodable as UTF-8: {exc}") from None


class _Outputs:
    """An oairun_tool_outputs list, freed when the ``with`` block ends."""

    def __init__(self, tool_outputs: Any) -> None:
        self._json = _tool_outputs_json(tool_outputs)
        self.ptr = c_void_p()

    def __enter__(self) -> "_Outputs":
        error = c_void_p()
        _check(_ffi.lib.oairun_tool_outputs_from_json(self._json, byref(self.ptr), byref(error)), error)
        return self

    def __exit__(self, *exc_info: object) -> None:
        _ffi.lib.oairun_tool_outputs_free(self.ptr)


def _ms(name: str, seconds: Optional[float]) -> Optional[int]:
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{name} must be a number of seconds")
    if not seconds > 0 or math.isinf(seconds):
        raise ValueError(f"{name} must be a positive, finite number of seconds")
    return max(1, math.ceil(seconds * 1000))


class Client:
    """A client for one server and key; safe to share between threads.

    Arguments left ``None`` come from the environment, as in the official SDK
    (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, ``OPENAI_ORG_ID``, ``OPENAI_PROJECT_ID``), then
    the defaults (``https://api.openai.com/v1``). ``timeout`` (seconds) limits connecting, a
    whole synchronous call, and each silence in a stream, as a plain number does in the SDK.
    ``connect_timeout`` and ``read_timeout`` (seconds), when given, replace ``timeout`` for
    connecting and for each silence in a stream; the library's defaults are 600 s overall,
    5 s to connect and 600 s of silence.
    ``max_retries`` (default 2, 0 disables) retries connection failures, timeouts, 408, 409,
    429 and 5xx as the SDK does.
    ``default_headers`` are sent with every request (a standard header of the same name is
    replaced); ``Content-Length`` and ``Transfer-Encoding`` raise ``InvalidArgumentError``,
    since oairun frames each request's body itself.
    ``allow_insecure_http=True`` allows a plain ``http://`` base URL whose host is not
    loopback (refused by default, since the key would cross the network in clear text;
    ``http://`` to 127.0.0.0/8, ``[::1]`` or ``localhost`` is always allowed).
    ``max_response_bytes`` (default 32 MiB) caps a synchronous answer and
    ``max_event_bytes`` (default 8 MiB) one stream event; beyond them the call fails with
    :class:`ProtocolError`, so a hostile server cannot exhaust memory.

    The library's log lines go to the :mod:`logging` logger ``"oairun"`` (see
    :func:`oairun.enable_logging`): creating a client reads that logger's level.
    ``root_certificates_pem`` (PEM text of one or more certificates) trusts more certificate
    authorities on top of the default roots: the bundled ones, or those of ``SSL_CERT_FILE``
    (else ``SSL_CERT_DIR``), which replace them as in the SDK (httpx). ``proxy``
    (``http://[user:password@]host:port``) carries every request and wins over
    ``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY`` and ``NO_PROXY``, which apply otherwise, as
    in the SDK. A certificate the server presents that is not trusted raises
    ``APIConnectionError`` at once (no retry), naming the problem.

    Network waits release the GIL (ctypes releases it around every call into the library).
    Closing a client while calls are in progress (a stream being iterated, another thread's
    call) is safe: the library's client is freed when the last of them ends.
    """

    def __init__(
        self,
        api_key: Optional[str] = None,
        base_url: Optional[str] = None,
        organization: Optional[str] = None,
        project: Optional[str] = None,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
        default_headers: Optional[Mapping[str, str]] = None,
        *,
        connect_timeout: Optional[float] = None,
        read_timeout: Optional[float] = None,
        allow_insecure_http: bool = False,
        max_response_bytes: Optional[int] = None,
        max_event_bytes: Optional[int] = None,
        root_certificates_pem: Optional[str] = None,
        proxy: Optional[str] = None,
    ) -> None:
        self._ptr = c_void_p()
        # The C contract: no call may be in progress when the client is freed. Calls are
        # counted, and close() leaves the freeing to the last one running.
        self._lock = threading.Lock()
        self._calls = 0
        self._closed = False
        timeout_ms = _ms("timeout", timeout)
        connect_ms = _ms("connect_timeout", connect_timeout)
        read_ms = _ms("read_timeout", read_timeout)
        connect_ms = timeout_ms if connect_ms is None else connect_ms
        read_ms = timeout_ms if read_ms is None else read_ms
        if max_retries is not None:
            if isinstance(max_retries, bool) or not isinstance(max_retries, int):
                raise TypeError(f"max_retries must be an int, not {type(max_retries).__name__}")
            if not 0 <= max_retries < 2**32:
                raise ValueError("max_retries must be an int from 0 to 2**32-1")
        if not isinstance(allow_insecure_http, bool):
            raise TypeError(f"allow_insecure_http must be a bool, not {type(allow_insecure_http).__name__}")
        for name, value in (("max_response_bytes", max_response_bytes), ("max_event_bytes", max_event_bytes)):
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise TypeError(f"{name} must be an int, not {type(value).__name__}")
                if not 0 < value < 2**63:
                    raise ValueError(f"{name} must be a positive number of bytes")
        _logging.sync()
        options = _ffi.lib.oairun_client_options_new()
        if not options:
            raise MemoryError("oairun_client_options_new failed")
        lib = _ffi.lib
        try:
            for setter, name, value in (
                (lib.oairun_client_options_set_api_key, "api_key", api_key),
                (lib.oairun_client_options_set_base_url, "base_url", base_url),
                (lib.oairun_client_options_set_organization, "organization", organization),
                (lib.oairun_client_options_set_project, "project", project),
            ):
                if value is not None:
                    self._set(setter(options, _encode(name, value)), name)
            if timeout_ms is not None:
                self._set(lib.oairun_client_options_set_timeout_ms(options, timeout_ms), "timeout")
            if read_ms is not None:
                self._set(lib.oairun_client_options_set_read_timeout_ms(options, read_ms), "read_timeout")
            if connect_ms is not None:
                self._set(
                    lib.oairun_client_options_set_connect_timeout_ms(options, connect_ms), "connect_timeout"
                )
            if max_retries is not None:
                self._set(lib.oairun_client_options_set_max_retries(options, max_retries), "max_retries")
            if allow_insecure_http:
                self._set(lib.oairun_client_options_allow_insecure_http(options, 1), "allow_insecure_http")
            if max_response_bytes is not None:
                self._set(
                    lib.oairun_client_options_set_max_response_bytes(options, max_response_bytes),
                    "max_response_bytes",
                )
            if max_event_bytes is not None:
                self._set(
                    lib.oairun_client_options_set_max_event_bytes(options, max_event_bytes), "max_event_bytes"
                )
            for name, value in (default_headers or {}).items():
                status = lib.oairun_client_options_add_header(
                    options,
                    _encode("header name", name),
                    _encode(f"the value of header {name!r}", value, allow_empty=True),
                )
                self._set(status, f"header {name!r}")
            if root_certificates_pem is not None:
                error = c_void_p()
                pem = _encode("root_certificates_pem", root_certificates_pem)
                _check(lib.oairun_client_options_add_root_certificate_pem(options, pem, byref(error)), error)
            if proxy is not None:
                error = c_void_p()
                proxy_url = _encode("proxy", proxy)
                _check(lib.oairun_client_options_set_proxy(options, proxy_url, byref(error)), error)
            error = c_void_p()
            _check(lib.oairun_client_new(options, byref(self._ptr), byref(error)), error)
        finally:
            lib.oairun_client_options_free(options)

    @staticmethod
    def _set(status: int, what: str) -> None:
        if status != _ffi.OK:
            raise InvalidArgumentError(f"invalid {what}", status=status)

    def close(self) -> None:
        """Frees the client. Idempotent. Calls still in progress on other threads finish
        normally, and the client is freed when the last one ends; streams already made go on
        to their end (each keeps what it needs); new calls raise ``ValueError``."""
        with self._lock:
            self._closed = True
            if self._calls:
                return
            ptr, self._ptr = self._ptr, c_void_p()
        if ptr:
            _ffi.lib.oairun_client_free(ptr)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - at interpreter shutdown, nothing can be done
            pass

    def _acquire(self) -> c_void_p:
        """The library's client, counted as in use until the matching :meth:`_release`."""
        with self._lock:
            if self._closed or not self._ptr:
                raise ValueError("the client is closed")
            self._calls += 1
            return self._ptr

    def _release(self) -> None:
        with self._lock:
            self._calls -= 1
            if not (self._closed and self._calls == 0):
                return
            ptr, self._ptr = self._ptr, c_void_p()
        if ptr:
            _ffi.lib.oairun_client_free(ptr)

    @property
    def responses(self) -> "Responses":
        """The Responses endpoint, as the SDK's ``client.responses`` (see :meth:`Responses.create`)."""
        from ._responses import Responses

        return Responses(self)

    @property
    def beta(self) -> "Beta":
        """The SDK's call path to the Assistants endpoint:
        ``client.beta.threads.runs.submit_tool_outputs(...)`` is :meth:`submit_tool_outputs`."""
        from ._beta import Beta

        return Beta(self)

    def submit_tool_outputs(
        self,
        run_id: str,
        *,
        thread_id: str,
        tool_outputs: ToolOutputs,
        stream: bool = False,
        on_event: Optional[Callable[[Event], Any]] = None,
    ) -> Union[Dict[str, Any], "Stream", None]:
        """Submits tool outputs to a run.

        ``tool_outputs`` is a list of ``{"tool_call_id": ..., "output": ...}`` dicts.
        Returns the Run as a dict; with ``stream=True``, a :class:`Stream` of :class:`Event`
        objects (iterate it; leaving it early cancels the stream); with ``on_event=``, calls
        ``on_event(event)`` on this thread for every event as it arrives and returns None
        (returning ``False`` from it stops the stream with :class:`CancelledError`; an
        exception it raises stops the stream and is re-raised here).

        Raises ``TypeError``/``ValueError`` for bad arguments before any request, and the
        :class:`OairunError` subclasses for failures.
        """
        thread = _encode_id("thread_id", thread_id)
        run = _encode_id("run_id", run_id)
        if not isinstance(stream, bool):
            raise TypeError(f"stream must be a bool, not {type(stream).__name__}")
        if on_event is not None and not callable(on_event):
            raise TypeError("on_event must be callable")
        if on_event is not None or stream:
            with _Outputs(tool_outputs) as outputs:
                client = self._acquire()
                try:
                    # The outputs and ids are copied: the reader needs neither them nor the
                    # client afterwards (the client may even be freed while it streams).
                    reader = open_submission(client, thread, run, outputs.ptr, 0)
                finally:
                    self._release()
            if on_event is not None:
                deliver(reader, on_event)
                return None
            return Stream(reader)
        with _Outputs(tool_outputs) as outputs:
            run_json = c_void_p()
            error = c_void_p()
            client = self._acquire()
            try:
                status = _ffi.lib.oairun_submit_tool_outputs(
                    client, thread, run, outputs.ptr, byref(run_json), byref(error)
                )
            finally:
                self._release()
            _check(status, error)
        try:
            text = ctypes.string_at(run_json.value).decode("utf-8")
        finally:
            _ffi.lib.oairun_string_free(run_json)
        return loads(text)


def deliver(reader: Reader, on_event: Callable[[Event], Any]) -> None:
    """Calls ``on_event(event)`` on this thread for every event of ``reader``'s stream, then
    returns, or raises the stream's exception; ``False`` from ``on_event`` stops the stream
    with :class:`CancelledError`, and an exception it raises stops it and propagates."""
    take = reader.take
    try:
        while True:
            events = take(WAIT_MS)
            if events is None:
                return
            for event in events:
                if on_event(event) is False:
                    raise CancelledError("the event callback asked to stop the stream", status=_ffi.CANCELLED)
    finally:
        reader.close()


class Stream:
    """The events of a streamed call, in wire order, as they arrive.

    Iterate it once (``for event in stream``); after the last event, a failed stream raises
    its exception (:class:`StreamError` after an ``error`` event, :class:`ProtocolError` for a
    stream that ended before ``done``, ...). Leaving early cancels it and drops the
    connection: leaving a ``for`` loop over it (``break``, an exception, Ctrl-C; even when the
    stream is also held in a variable), ``close()`` (from any thread), the end of a ``with``
    block, or the object being collected.

    The stream runs through oairun's pull API (an ``oairun_reader`` opened with flags 0): the
    request is sent when the iteration starts, and the socket is read on the iterating thread,
    inside ``oairun_reader_next_batch``, which hands over every event that has arrived at once
    (up to 256); no other thread is involved, and the GIL is released while it waits. Each
    wait is cut into calls of at most 250 ms, so that a signal is handled in time even while
    the server is silent. ``close()`` from another thread cancels the call in progress
    (``oairun_reader_cancel``), which returns at once.
    """

    def __init__(self, reader: Reader) -> None:
        self._reader = reader
        self._it: Iterator[Event] = iter(())

    def _refill(self) -> bool:
        """Takes the next events; False at the end (the stream ended well, or was closed).
        Raises the stream's exception."""
        take = self._reader.take
        while True:
            events = take(WAIT_MS)
            if events:
                self._it = iter(events)
                return True
            if events is None:
                return False
            # Nothing within WAIT_MS (OAIRUN_AGAIN): Python handles pending signals here.

    def __iter__(self) -> Iterator[Event]:
        # Each event is given by C code alone (chain, then the batch's iterator), with no
        # Python frame resumed per event. The generator of batches is referred to only by the
        # chain, and the chain only by the loop: leaving the loop early (break, an exception)
        # closes the generator, and so cancels the stream even when the Stream itself is kept.
        return itertools.chain.from_iterable(self._batches())

    def _batches(self) -> Iterator[Iterator[Event]]:
        finished = False
        try:
            yield self._it
            while self._refill():
                yield self._it
            finished = True
        finally:
            if not finished:
                self.close()

    def __next__(self) -> Event:
        """The next event; raises StopIteration at the end, or the stream's exception."""
        for event in self._it:
            return event
        while self._refill():
            for event in self._it:
                return event
        raise StopIteration

    def close(self) -> None:
        """Cancels the stream if it is still running (the connection is dropped at once), and
        ends the iteration, events already taken included. Idempotent; may be called from any
        thread."""
        # Also ends the current batch's iterator (Reader.take): an iteration in another
        # thread then finds the reader closed.
        self._reader.close()

    def join(self, timeout: Optional[float] = None) -> bool:
        """Waits up to ``timeout`` seconds (None: no limit) for the stream to be over, its
        connection released: after its end, a failure, or ``close()`` (when another thread is
        iterating, at its call in progress, which ``close()`` cuts short). Returns True if it
        is."""
        return self._reader.freed.wait(timeout)

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self._reader.close()
        except Exception:  # noqa: BLE001 - at interpreter shutdown, nothing can be done
            pass
