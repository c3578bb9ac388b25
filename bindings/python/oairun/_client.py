"""The client: the official SDK's shape over liboairun."""

from __future__ import annotations

import ctypes
import json
import math
import queue
import threading
from ctypes import byref, c_void_p
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Mapping, Optional, Union

from . import _ffi, _logging
from ._events import Event
from ._exceptions import InternalError, InvalidArgumentError, from_error
from ._objects import wrap

if TYPE_CHECKING:
    from ._beta import Beta
    from ._responses import Responses

ToolOutputs = List[Mapping[str, str]]

# Events waiting between the network thread and a slow consumer: enough to keep the stream
# moving, small enough that a consumer who stops reading applies back-pressure.
_QUEUE_EVENTS = 1024
# How often a blocked producer looks whether the consumer has gone away.
_POLL_SECONDS = 0.05


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
    replaced).
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
        """Frees the client. Idempotent. Calls still in progress (a stream being iterated,
        another thread's call) finish normally, and the client is freed when the last one
        ends; new calls raise ``ValueError``."""
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
        if on_event is not None:
            if not callable(on_event):
                raise TypeError("on_event must be callable")

            def deliver(event_ptr: int) -> bool:
                return on_event(Event(*_ffi.event_fields(event_ptr))) is False

            with _Outputs(tool_outputs) as outputs:
                client = self._acquire()
                try:
                    _stream_blocking(client, thread, run, outputs.ptr, deliver)
                finally:
                    self._release()
            return None
        if stream:
            return Stream(self, thread, run, tool_outputs)
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
        return wrap(json.loads(text))


def _stream_blocking(
    client: c_void_p, thread: bytes, run: bytes, outputs: c_void_p, deliver: Callable[[int], bool]
) -> None:
    """Runs the C stream call on this thread; ``deliver(event_ptr)`` returns True to stop."""
    with _ffi.registered(deliver) as handle:
        error = c_void_p()
        status = _ffi.lib.oairun_submit_tool_outputs_stream(
            client, thread, run, outputs, _ffi.trampoline, handle.handle, byref(error)
        )
        if handle.record.exception is not None:
            if error.value:
                _ffi.lib.oairun_error_free(error)
            raise handle.record.exception
        _check(status, error)


class _Shared:
    """What a stream's threads and its consumer share (never the Stream itself, so that
    dropping the Stream lets it be collected, which cancels the stream)."""

    def __init__(self) -> None:
        self.queue: "queue.Queue[Any]" = queue.Queue(maxsize=_QUEUE_EVENTS)
        self.cancelled = threading.Event()
        # The oairun_stream handle while the stream runs; guarded so that cancel() never
        # uses a freed handle. Re-entrant: a garbage collection on the stream's own thread,
        # inside the guarded block, may run a Stream's __del__, which cancels.
        self.handle: Optional[int] = None
        self.handle_lock = threading.RLock()

    def put(self, item: Any) -> bool:
        """Queues an item unless the consumer has gone; returns False if it has."""
        while not self.cancelled.is_set():
            try:
                self.queue.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def cancel(self) -> None:
        """Ends the stream from any thread: the callback stops queueing, and the library drops
        the connection."""
        self.cancelled.set()
        with self.handle_lock:
            if self.handle is not None:
                # ctypes releases the GIL for the call, so a callback it waits for can finish.
                _ffi.lib.oairun_stream_cancel(self.handle)


def _run_started(start: Callable[..., int], deliver: Callable[[int], bool], shared: _Shared) -> None:
    """Starts a stream through the non-blocking API (``start(cb, user_data, out, err)``) and
    waits for its outcome on this thread; ``deliver(event_ptr)`` runs on an oairun callback
    thread and returns True to stop."""
    with _ffi.registered(deliver) as handle:
        error = c_void_p()
        stream = c_void_p()
        _check(start(_ffi.trampoline, handle.handle, byref(stream), byref(error)), error)
        with shared.handle_lock:
            shared.handle = stream.value
        if shared.cancelled.is_set():  # closed before the handle was known
            _ffi.lib.oairun_stream_cancel(stream)
        try:
            status = _ffi.lib.oairun_stream_wait(stream, byref(error))
        finally:
            with shared.handle_lock:
                shared.handle = None
                _ffi.lib.oairun_stream_free(stream)
        if handle.record.exception is not None:
            if error.value:
                _ffi.lib.oairun_error_free(error)
            raise handle.record.exception
        _check(status, error)


def _stream_started(
    client: c_void_p,
    thread: bytes,
    run: bytes,
    outputs: c_void_p,
    deliver: Callable[[int], bool],
    shared: _Shared,
) -> None:
    """The Assistants stream through :func:`_run_started`."""
    _run_started(
        lambda cb, user_data, out, err: _ffi.lib.oairun_submit_tool_outputs_stream_start(
            client, thread, run, outputs, cb, user_data, out, err
        ),
        deliver,
        shared,
    )


_END = object()


class Stream:
    """The events of a streamed submission, in wire order, as they arrive.

    Iterate it once (``for event in stream``); after the last event, a failed stream raises
    its exception (:class:`StreamError` after an ``error`` event, :class:`ProtocolError` for a
    stream that ended before ``done``, ...). Leaving early cancels it: leaving a ``for`` loop
    over it (``break``, an exception; even when the stream is also held in a variable),
    ``close()`` (from any thread), the end of a ``with`` block, or the object being collected.
    The background thread's callback then returns "stop" at the next event, the library drops
    the connection and returns ``OAIRUN_CANCELLED``, and the thread ends.

    The stream runs through oairun's non-blocking API (``oairun_submit_tool_outputs_stream_start``):
    ``close()`` calls ``oairun_stream_cancel``, which drops the connection at once, even while
    the server is silent. A background daemon thread (``oairun-stream``) starts the stream and
    waits for its outcome; the events are delivered on an oairun callback thread into a
    bounded queue, so a consumer that stops reading slows the server down instead of growing
    memory (while the queue is full, that oairun callback thread waits with it, holding up
    the callbacks of other non-blocking submissions it serves).
    """

    def __init__(self, owner: Client, thread: bytes, run: bytes, tool_outputs: Any) -> None:
        self._shared = shared = _Shared()
        outputs = _Outputs(tool_outputs)
        outputs.__enter__()  # bad outputs raise here, before the thread starts
        try:
            client = owner._acquire()  # released by the thread when the stream has ended
        except BaseException:
            outputs.__exit__(None, None, None)
            raise

        # The thread refers to the client and the shared state, never to the Stream, so that
        # dropping the Stream lets it be collected, which cancels the stream.
        def run_stream() -> None:
            try:
                def deliver(event_ptr: int) -> bool:
                    return not shared.put(Event(*_ffi.event_fields(event_ptr)))

                _stream_started(client, thread, run, outputs.ptr, deliver, shared)
                shared.put(_END)
            except BaseException as exc:  # noqa: B902 - handed to the consumer
                shared.put(exc)
            finally:
                outputs.__exit__(None, None, None)
                owner._release()

        self._thread = threading.Thread(target=run_stream, name="oairun-stream", daemon=True)
        self._thread.start()
        self._done = False

    def __iter__(self) -> Iterator[Event]:
        # A generator referred to only by the loop: leaving the loop early (break, an
        # exception) closes it, and so cancels the stream even when the Stream itself is kept.
        finished = False
        try:
            while True:
                try:
                    event = self.__next__()
                except StopIteration:
                    finished = True
                    return
                yield event
        finally:
            if not finished:
                self.close()

    def __next__(self) -> Event:
        """The next event; raises StopIteration at the end, or the stream's exception."""
        while not self._done:
            try:
                item = self._shared.queue.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                # Bounded waits, so that a close() from another thread ends the iteration.
                if self._shared.cancelled.is_set():
                    self._done = True
                elif not self._thread.is_alive() and self._shared.queue.empty():
                    # The thread always queues its outcome; this is only a safety net.
                    self._done = True
                    raise InternalError("the stream's background thread ended without a result")
                continue
            if isinstance(item, Event):
                return item
            self._done = True
            if item is _END:
                break
            raise item
        raise StopIteration

    def close(self) -> None:
        """Cancels the stream if it is still running (the connection is dropped at once), and
        ends the iteration. Idempotent; may be called from any thread. Does not wait for the
        background thread (see :meth:`join`)."""
        self._done = True
        self._shared.cancel()

    def join(self, timeout: Optional[float] = None) -> bool:
        """Waits up to ``timeout`` seconds (None: no limit) for the background thread to end;
        returns True if it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        self._shared.cancel()

