"""The C ABI of liboairun, declared for ctypes, and nothing else.

Every function used is declared with ``argtypes`` and ``restype`` so that a wrong type fails at
the call rather than in memory (the default ``c_int`` return would truncate pointers). Python
callables reach C through one module-level trampoline: ``user_data`` is an integer handle into
a table, so no callback object can be collected while C may still call it.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import sys
import threading
from ctypes import (
    CFUNCTYPE,
    POINTER,
    byref,
    c_char_p,
    c_int,
    c_size_t,
    c_uint16,
    c_uint32,
    c_uint64,
    c_void_p,
)

# typing is imported by type checkers only: at run time it would cost every program about
# 5 ms of start-up (the annotations are strings, see __future__).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Dict, List, Optional, Tuple

if TYPE_CHECKING:
    from pathlib import Path

LIBRARY_NAME = "liboairun.so"

# oairun_status
OK = 0
INVALID_ARGUMENT = 1
CONNECT = 2
TIMEOUT = 3
HTTP_STATUS = 4
STREAM_ERROR = 5
PROTOCOL = 6
CANCELLED = 7
INTERNAL = 8
MAX_TURNS = 9
# Not a failure: a reader had no event within the time limit (never raised as an exception).
AGAIN = 10

# oairun_create_response_stream_open / oairun_submit_tool_outputs_stream_open flags.
READER_BACKGROUND = 1

# oairun_log_level
LOG_OFF = 0
LOG_ERROR = 1
LOG_WARN = 2
LOG_INFO = 3
LOG_DEBUG = 4


class LibraryNotFoundError(OSError):
    """liboairun.so was found in none of the places searched."""


def candidate_paths(package_dir: Path) -> List[Tuple[str, Optional[Path]]]:
    """The places searched for the library, in order, as (description, path or None)."""
    from pathlib import Path

    places: List[Tuple[str, Optional[Path]]] = []
    env = os.environ.get("OAIRUN_LIBRARY")
    places.append(("$OAIRUN_LIBRARY", Path(env) if env else None))
    places.append(("beside the package", package_dir / LIBRARY_NAME))
    built = []
    for parent in [package_dir, *package_dir.parents]:
        for profile in ("release", "debug"):
            path = parent / "target" / profile / LIBRARY_NAME
            if path.is_file():
                built.append(path)
        if built:
            break
    # The most recently built of release and debug.
    built.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    places.append(("the repository's cargo target folder", built[0] if built else None))
    return places


def find_library(package_dir: Path) -> Path:
    """The library to load: ``$OAIRUN_LIBRARY``, else beside the package, else cargo's target."""
    places = candidate_paths(package_dir)
    env_description, env_path = places[0]
    if env_path is not None:
        if not env_path.is_file():
            raise LibraryNotFoundError(f"OAIRUN_LIBRARY is set to {env_path}, which is not a file")
        return env_path
    for _, path in places[1:]:
        if path is not None and path.is_file():
            return path
    raise LibraryNotFoundError(
        "liboairun.so not found: set OAIRUN_LIBRARY to its path, or place it beside the "
        f"oairun package ({package_dir / LIBRARY_NAME}), or build it in the repository "
        "(cargo build, giving target/debug or target/release/liboairun.so)"
    )


def _library_path() -> str:
    """What :func:`find_library` finds, without importing ``pathlib`` (about 7 ms, with the
    modules it imports) in the usual cases: ``$OAIRUN_LIBRARY`` naming a file, or the library
    beside the installed package."""
    env = os.environ.get("OAIRUN_LIBRARY")
    if env and os.path.isfile(env):
        return env
    beside = os.path.join(os.path.dirname(os.path.realpath(__file__)), LIBRARY_NAME)
    if not env and os.path.isfile(beside):
        return beside
    from pathlib import Path

    return str(find_library(Path(__file__).resolve().parent))


_path = _library_path()
lib = ctypes.CDLL(_path)
# The same library (dlopen gives the same handle) through calls that keep the GIL: only for
# the event accessors, which read memory the reader lent and neither wait, lock nor log. For
# them, releasing and taking back the GIL would be a large part of the call's cost, paid per
# event. Everything else goes through ``lib``, which releases the GIL for every call.
pylib = ctypes.PyDLL(_path)

# Event callback: int (*)(const oairun_event *, void *user_data)
EVENT_CALLBACK = CFUNCTYPE(c_int, c_void_p, c_void_p)
# Completion callback: void (*)(oairun_status, const char *json, const oairun_error *, void *user_data)
COMPLETION_CALLBACK = CFUNCTYPE(None, c_int, c_void_p, c_void_p, c_void_p)
# Tool handler: int (*)(const oairun_tool_call *, oairun_tool_result *, void *user_data)
TOOL_HANDLER = CFUNCTYPE(c_int, c_void_p, c_void_p, c_void_p)
# Log callback: void (*)(oairun_log_level, const char *message, void *user_data)
LOG_CALLBACK = CFUNCTYPE(None, c_int, c_char_p, c_void_p)


def _declare(name: str, restype, *argtypes, library: ctypes.CDLL = lib) -> None:
    function = getattr(library, name)
    function.restype = restype
    function.argtypes = list(argtypes)


_declare("oairun_version", c_char_p)
_declare("oairun_status_str", c_char_p, c_int)
_declare("oairun_string_free", None, c_void_p)
_declare("oairun_client_options_new", c_void_p)
_declare("oairun_client_options_free", None, c_void_p)
for _setter in ("api_key", "base_url", "organization", "project"):
    _declare(f"oairun_client_options_set_{_setter}", c_int, c_void_p, c_char_p)
_declare("oairun_client_options_add_header", c_int, c_void_p, c_char_p, c_char_p)
_declare("oairun_client_options_set_timeout_ms", c_int, c_void_p, c_uint64)
_declare("oairun_client_options_set_connect_timeout_ms", c_int, c_void_p, c_uint64)
_declare("oairun_client_options_set_read_timeout_ms", c_int, c_void_p, c_uint64)
_declare("oairun_client_options_set_max_retries", c_int, c_void_p, c_uint32)
_declare("oairun_client_options_allow_insecure_http", c_int, c_void_p, c_int)
_declare("oairun_client_options_set_max_response_bytes", c_int, c_void_p, c_uint64)
_declare("oairun_client_options_set_max_event_bytes", c_int, c_void_p, c_uint64)
_declare("oairun_client_options_add_root_certificate_pem", c_int, c_void_p, c_char_p, POINTER(c_void_p))
_declare("oairun_client_options_set_proxy", c_int, c_void_p, c_char_p, POINTER(c_void_p))
_declare("oairun_client_new", c_int, c_void_p, POINTER(c_void_p), POINTER(c_void_p))
_declare("oairun_client_free", None, c_void_p)
_declare("oairun_tool_outputs_from_json", c_int, c_char_p, POINTER(c_void_p), POINTER(c_void_p))
_declare("oairun_tool_outputs_free", None, c_void_p)
_declare(
    "oairun_submit_tool_outputs",
    c_int,
    c_void_p,
    c_char_p,
    c_char_p,
    c_void_p,
    POINTER(c_void_p),
    POINTER(c_void_p),
)
_declare(
    "oairun_submit_tool_outputs_stream",
    c_int,
    c_void_p,
    c_char_p,
    c_char_p,
    c_void_p,
    EVENT_CALLBACK,
    c_void_p,
    POINTER(c_void_p),
)
_declare(
    "oairun_submit_tool_outputs_stream_start",
    c_int,
    c_void_p,
    c_char_p,
    c_char_p,
    c_void_p,
    EVENT_CALLBACK,
    c_void_p,
    POINTER(c_void_p),
    POINTER(c_void_p),
)
# The Responses endpoint: a request built field by field, then one of four calls.
_declare("oairun_response_request_new", c_void_p)
_declare("oairun_response_request_free", None, c_void_p)
for _setter in ("model", "previous_response_id", "instructions"):
    _declare(f"oairun_response_request_set_{_setter}", c_int, c_void_p, c_char_p)
_declare("oairun_response_request_set_tools_json", c_int, c_void_p, c_char_p, POINTER(c_void_p))
_declare("oairun_response_request_add_function_call_output", c_int, c_void_p, c_char_p, c_char_p)
_declare("oairun_response_request_add_input_json", c_int, c_void_p, c_char_p, POINTER(c_void_p))
_declare(
    "oairun_response_request_set_field_json", c_int, c_void_p, c_char_p, c_char_p, POINTER(c_void_p)
)
_declare("oairun_create_response", c_int, c_void_p, c_void_p, POINTER(c_void_p), POINTER(c_void_p))
_declare(
    "oairun_create_response_stream",
    c_int,
    c_void_p,
    c_void_p,
    EVENT_CALLBACK,
    c_void_p,
    POINTER(c_void_p),
)
_declare(
    "oairun_create_response_start",
    c_int,
    c_void_p,
    c_void_p,
    COMPLETION_CALLBACK,
    c_void_p,
    POINTER(c_void_p),
    POINTER(c_void_p),
)
_declare(
    "oairun_create_response_stream_start",
    c_int,
    c_void_p,
    c_void_p,
    EVENT_CALLBACK,
    c_void_p,
    POINTER(c_void_p),
    POINTER(c_void_p),
)
_declare(
    "oairun_submit_tool_outputs_start",
    c_int,
    c_void_p,
    c_char_p,
    c_char_p,
    c_void_p,
    COMPLETION_CALLBACK,
    c_void_p,
    POINTER(c_void_p),
    POINTER(c_void_p),
)
# Readers: the pull API (a stream's events taken in batches, with a time limit).
_declare(
    "oairun_create_response_stream_open", c_int, c_void_p, c_void_p, c_uint32, POINTER(c_void_p), POINTER(c_void_p)
)
_declare(
    "oairun_submit_tool_outputs_stream_open",
    c_int,
    c_void_p,
    c_char_p,
    c_char_p,
    c_void_p,
    c_uint32,
    POINTER(c_void_p),
    POINTER(c_void_p),
)
_declare("oairun_reader_next", c_int, c_void_p, c_int, POINTER(c_void_p), POINTER(c_void_p))
_declare(
    "oairun_reader_next_batch", c_int, c_void_p, c_int, POINTER(c_void_p), c_size_t, POINTER(c_size_t), POINTER(c_void_p)
)
_declare("oairun_reader_fd", c_int, c_void_p, POINTER(c_int), POINTER(c_void_p))
_declare("oairun_reader_cancel", None, c_void_p)
_declare("oairun_reader_free", None, c_void_p)
_declare("oairun_stream_cancel", None, c_void_p)
_declare("oairun_stream_wait", c_int, c_void_p, POINTER(c_void_p))
_declare("oairun_stream_free", None, c_void_p)
_declare("oairun_event_name", c_char_p, c_void_p)
_declare("oairun_event_data", c_void_p, c_void_p, POINTER(c_size_t))
_declare("oairun_event_id", c_char_p, c_void_p)
_declare("oairun_event_kind", c_int, c_void_p)


class EventSpan(ctypes.Structure):
    """``oairun_event_span``: where one copied event's strings lie in the buffer (offsets and
    lengths in bytes; an absent string at offset ``ABSENT``)."""

    _fields_ = [(_field, c_size_t) for _field in ("data", "data_len", "id", "id_len", "name", "name_len")]


# The offset of a string a copied event does not have (SIZE_MAX).
ABSENT = c_size_t(-1).value
# A batch of events is copied with one call on ``pylib`` (it never blocks, so it keeps the GIL
# and saves its release and retake); the name of a kind not seen yet is asked the same way.
_declare(
    "oairun_events_copy",
    c_int,
    POINTER(c_void_p),
    c_size_t,
    POINTER(c_int),
    POINTER(EventSpan),
    POINTER(ctypes.c_char),
    c_size_t,
    POINTER(c_size_t),
    POINTER(c_void_p),
    library=pylib,
)
_declare("oairun_event_name", c_char_p, c_void_p, library=pylib)


_PY_OBJECTS = ("none", "true_", "false_", "object_class", "unparsed")
# The slots of the event class, in the order of the table's probe fields.
EVENT_SLOTS = ("event", "raw", "id", "_data")


class PyApi(ctypes.Structure):
    """``oairun_py_api``: the CPython functions and objects lent to ``oairun_py_parser``."""

    _fields_ = (
        [("size", c_size_t)]
        + [
            (_field, c_void_p)
            for _field in (
                "dict_set_item", "list_new", "list_append", "unicode_decode_utf8",
                "unicode_as_utf8_and_size", "long_from_long_long", "float_from_double", "incref",
                "decref", "cfunction_new", "type_get_slot", "tuple_new", "err_clear",
                "long_from_void_ptr", "long_as_void_ptr", *_PY_OBJECTS, "list_set_item",
                "cfunction_get_self", "event_class",
            )
        ]
        + [("event_size", c_size_t)]
        + [(_field, c_void_p) for _field in ("event_probe", *(f"probe_{s.lstrip('_')}" for s in EVENT_SLOTS), "stop")]
        + [(_field, c_void_p) for _field in ("object_type", "type_is_subtype", "tuple_set_item", "call", "data_fallback")]
    )


# The CPython function behind each of PyApi's function fields, in their order.
_PY_FUNCTIONS = (
    "PyDict_SetItem", "PyList_New", "PyList_Append", "PyUnicode_DecodeUTF8",
    "PyUnicode_AsUTF8AndSize", "PyLong_FromLongLong", "PyFloat_FromDouble", "Py_IncRef",
    "Py_DecRef", "PyCFunction_NewEx", "PyType_GetSlot", "PyTuple_New", "PyErr_Clear",
    "PyLong_FromVoidPtr", "PyLong_AsVoidPtr",
)
# Both return a new reference, or NULL with or without a Python error set: declared with
# c_void_p (an exception when one is set, else None or the address), not py_object, which on
# NULL without an error crashes ctypes (3.11 decrefs the NULL). See owned().
_declare("oairun_py_parser", c_void_p, POINTER(PyApi), library=pylib)
_declare("oairun_py_events", c_void_p, ctypes.py_object, POINTER(c_void_p), c_size_t, library=pylib)
_declare("oairun_py_data", c_void_p, ctypes.py_object, library=pylib)
_decref_py = ctypes.pythonapi.Py_DecRef
_decref_py.restype, _decref_py.argtypes = None, [c_void_p]


def owned(address: Optional[int]) -> object:
    """The object a call returned a new reference to, at ``address``, taking that reference
    over; ``ValueError`` for NULL (``None``): the call refused."""
    if not address:
        raise ValueError("refused by the library")
    value = ctypes.cast(address, ctypes.py_object).value  # (a reference of its own)
    _decref_py(address)
    return value


def json_parser(
    object_class: type,
    unparsed: object,
    event_class: Optional[type] = None,
    stop: object = None,
    data_fallback: Optional[Callable[[object, object], object]] = None,
) -> Optional[Callable[[str], object]]:
    """The library's parser of event data (``oairun_py_parser``, src/ffi/python.rs): a builtin
    function of one ``str`` giving what ``json.loads(text, object_hook=object_class)`` gives,
    or ``unparsed`` for a text it leaves to ``json``. ``None`` where it cannot be had: not
    CPython (the functions are CPython's own, lent through ``ctypes.pythonapi``), or a
    function missing.

    With ``event_class`` (a class with the slots ``EVENT_SLOTS`` and no ``__dict__``) and
    ``stop``, :func:`events_maker` also makes that class's events with it; with
    ``data_fallback`` too, :func:`data_getter` gives the getter of their ``data``."""
    if sys.implementation.name != "cpython":
        return None
    try:
        functions = [ctypes.cast(getattr(ctypes.pythonapi, name), c_void_p) for name in _PY_FUNCTIONS]
        objects = [c_void_p(id(o)) for o in (None, True, False, object_class, unparsed)]
        # (The fields not given here start NULL: a table without an event class.)
        table = PyApi(ctypes.sizeof(PyApi), *functions, *objects)
        if event_class is not None:
            # An event whose slots hold four objects of their own: where the library finds
            # each in its memory is where that slot lies.
            probe = event_class.__new__(event_class)
            marks = [object() for _ in EVENT_SLOTS]
            for slot, mark in zip(EVENT_SLOTS, marks):
                setattr(probe, slot, mark)
                setattr(table, f"probe_{slot.lstrip('_')}", id(mark))
            for field, name in (("list_set_item", "PyList_SetItem"), ("cfunction_get_self", "PyCFunction_GetSelf"),
                                ("object_type", "PyObject_Type"), ("type_is_subtype", "PyType_IsSubtype"),
                                ("tuple_set_item", "PyTuple_SetItem"), ("call", "PyObject_Call")):
                setattr(table, field, ctypes.cast(getattr(ctypes.pythonapi, name), c_void_p).value)
            table.event_class, table.event_size = id(event_class), event_class.__basicsize__
            table.event_probe, table.stop = id(probe), id(stop)
            if data_fallback is not None:
                table.data_fallback = id(data_fallback)
        parser = owned(pylib.oairun_py_parser(byref(table)))  # (ValueError: refused)
    except Exception:  # noqa: BLE001 - a missing function, a refusal: json parses everything
        return None
    return parser if callable(parser) else None


def events_maker(parser: Optional[Callable[[str], object]]) -> Optional[Callable[..., list]]:
    """``oairun_py_events`` bound to ``parser`` (made by :func:`json_parser` with an event
    class): a function of a reader's lent events (an array and a count) giving the list
    ``[stop, event n, ..., event 1]``. ``None`` when that parser makes no events."""
    if parser is None:
        return None
    make = pylib.oairun_py_events

    def events(array: "ctypes.Array[c_void_p]", count: int) -> list:
        return owned(make(parser, array, count))

    try:
        events(None, 0)  # ([stop]; ValueError: no event class)
    except Exception:  # noqa: BLE001 - refused: the binding copies the events instead
        return None
    return events


def data_getter(parser: Optional[Callable[[str], object]]) -> Optional[Callable[[object], object]]:
    """The getter of the event class's ``data`` that ``oairun_py_data`` makes for ``parser``
    (made by :func:`json_parser` with an event class and a fallback): a builtin function of
    one event. ``None`` when that parser has none."""
    if parser is None:
        return None
    try:
        return owned(pylib.oairun_py_data(parser))  # (ValueError: refused)
    except Exception:  # noqa: BLE001 - refused: the binding's own property stays
        return None


_declare("oairun_error_status", c_int, c_void_p)
_declare("oairun_error_message", c_char_p, c_void_p)
_declare("oairun_error_http_status", c_uint16, c_void_p)
for _getter in ("request_id", "api_type", "api_code", "api_param"):
    _declare(f"oairun_error_{_getter}", c_char_p, c_void_p)
_declare("oairun_error_free", None, c_void_p)
# Tool calls, read from a Run, a Response or an event.
_declare("oairun_tool_calls_from_json", c_int, c_char_p, POINTER(c_void_p), POINTER(c_void_p))
_declare("oairun_event_tool_calls", c_int, c_void_p, POINTER(c_void_p), POINTER(c_void_p))
_declare("oairun_tool_calls_count", c_size_t, c_void_p)
_declare("oairun_tool_calls_get", c_void_p, c_void_p, c_size_t)
_declare("oairun_tool_calls_free", None, c_void_p)
for _getter in ("id", "name", "arguments"):
    _declare(f"oairun_tool_call_{_getter}", c_char_p, c_void_p)
_declare("oairun_event_text_delta", c_void_p, c_void_p, POINTER(c_size_t))
# The tool-call loops.
_declare("oairun_tool_result_set_output", c_int, c_void_p, c_char_p)
_declare(
    "oairun_run_tool_loop",
    c_int,
    c_void_p,
    c_char_p,
    c_char_p,
    c_void_p,
    TOOL_HANDLER,
    EVENT_CALLBACK,
    c_void_p,
    c_uint32,
    POINTER(c_void_p),
    POINTER(c_void_p),
)
_declare(
    "oairun_response_tool_loop",
    c_int,
    c_void_p,
    c_void_p,
    TOOL_HANDLER,
    EVENT_CALLBACK,
    c_void_p,
    c_uint32,
    POINTER(c_void_p),
    POINTER(c_void_p),
)
_declare("oairun_set_log_callback", c_int, c_int, LOG_CALLBACK, c_void_p)


def version() -> str:
    """The version of the loaded library."""
    return lib.oairun_version().decode()


def event_fields(event: int) -> Tuple[str, str, Optional[str]]:
    """Copies a lent event's name, data and id (valid only during the callback)."""
    length = c_size_t(0)
    data_ptr = lib.oairun_event_data(event, byref(length))
    data = ctypes.string_at(data_ptr, length.value).decode("utf-8") if data_ptr else ""
    name = lib.oairun_event_name(event)
    event_id = lib.oairun_event_id(event)
    return (
        name.decode("utf-8") if name is not None else "message",
        data,
        event_id.decode("utf-8") if event_id is not None else None,
    )


class ErrorInfo:
    """What an oairun_error said, copied out before it is freed."""

    __slots__ = ("status", "message", "http_status", "request_id", "type", "code", "param")

    def __init__(self, error: int) -> None:
        def text(value: Optional[bytes]) -> Optional[str]:
            return value.decode("utf-8", "replace") if value is not None else None

        self.status: int = lib.oairun_error_status(error)
        self.message: str = text(lib.oairun_error_message(error)) or ""
        http = lib.oairun_error_http_status(error)
        self.http_status: Optional[int] = http or None
        self.request_id = text(lib.oairun_error_request_id(error))
        self.type = text(lib.oairun_error_api_type(error))
        self.code = text(lib.oairun_error_api_code(error))
        self.param = text(lib.oairun_error_api_param(error))


def take_error(status: int, error: c_void_p) -> ErrorInfo:
    """Copies and frees the error of a failed call (an error without one is still reported)."""
    if not error.value:
        info = ErrorInfo.__new__(ErrorInfo)
        info.status, info.message = status, lib.oairun_status_str(status).decode()
        info.http_status = info.request_id = info.type = info.code = info.param = None
        return info
    try:
        return ErrorInfo(error.value)
    finally:
        lib.oairun_error_free(error)


# The trampoline's table: handle -> callable(event pointer) returning True to stop.
_handles: Dict[int, "CallbackRecord"] = {}
_handles_lock = threading.Lock()
_next_handle = itertools.count(1)


class CallbackRecord:
    """The Python callables C may call with one ``user_data``, and the first exception one of
    them raised, if any: ``function(event_ptr)`` (returns True to stop) for the event
    trampoline, ``tool(call_ptr, result_ptr)`` (returns True to stop) for the tool trampoline."""

    __slots__ = ("function", "tool", "exception")

    def __init__(
        self,
        function: Optional[Callable[[int], bool]],
        tool: Optional[Callable[[int, int], bool]] = None,
    ) -> None:
        self.function = function
        self.tool = tool
        self.exception: Optional[BaseException] = None


# Threads Python did not start (oairun's callback threads) get a Python thread state from
# ctypes for each callback, which it creates and destroys around the call: most of the cost of
# a callback. One extra PyGILState_Ensure, never released, keeps the thread's state for good;
# ctypes' own Ensure/Release pair then only takes and gives back the GIL.
_kept = threading.local()
_gil_state_ensure = ctypes.pythonapi.PyGILState_Ensure
_gil_state_ensure.restype = c_int
_gil_state_ensure.argtypes = []


def _keep_thread_state() -> None:
    if not getattr(_kept, "done", False):
        _gil_state_ensure()  # the GIL is held: this only raises the thread state's count
        _kept.done = True


@EVENT_CALLBACK
def _trampoline(event: int, user_data: Optional[int]) -> int:
    _keep_thread_state()
    record = _handles.get(user_data or 0)
    if record is None:
        return 1
    try:
        return 1 if record.function(event) else 0  # type: ignore[misc] - set when passed
    except BaseException as exc:  # noqa: B902 - re-raised by the caller once C returns
        record.exception = exc
        return 1


@TOOL_HANDLER
def _tool_trampoline(call: int, result: int, user_data: Optional[int]) -> int:
    # Called on the thread that called the loop (a Python thread), between requests.
    record = _handles.get(user_data or 0)
    if record is None or record.tool is None or record.exception is not None:
        return 1
    try:
        return 1 if record.tool(call, result) else 0
    except BaseException as exc:  # noqa: B902 - re-raised by the caller once C returns
        record.exception = exc
        return 1


class registered:
    """Registers a callable in the trampoline's table for the duration of a ``with`` block."""

    def __init__(
        self,
        function: Optional[Callable[[int], bool]],
        tool: Optional[Callable[[int, int], bool]] = None,
    ) -> None:
        self.record = CallbackRecord(function, tool)
        self.handle = 0

    def __enter__(self) -> "registered":
        with _handles_lock:
            self.handle = next(_next_handle)
            _handles[self.handle] = self.record
        return self

    def __exit__(self, *exc_info: object) -> None:
        with _handles_lock:
            _handles.pop(self.handle, None)


@COMPLETION_CALLBACK
def _completion_trampoline(status: int, json_ptr: Optional[int], error: Optional[int], user_data: Optional[int]) -> None:
    # Called once per started call, on an oairun callback thread: the record is taken out of
    # the table here, and its function gets (status, the JSON text or None, ErrorInfo or None).
    _keep_thread_state()
    with _handles_lock:
        record = _handles.pop(user_data or 0, None)
    if record is None or record.function is None:
        return
    try:
        text = ctypes.string_at(json_ptr).decode("utf-8") if json_ptr else None
        info = ErrorInfo(error) if error else None
        record.function(status, text, info)  # type: ignore[call-arg]
    except BaseException as exc:  # noqa: B902 - nothing to raise into: kept for the caller
        record.exception = exc


def register_completion(function: Callable[[int, Optional[str], Optional[ErrorInfo]], None]) -> int:
    """Registers ``function`` for one completion callback, and returns the ``user_data`` to
    pass; the trampoline unregisters it when it runs (see :func:`unregister`)."""
    record = CallbackRecord(function)  # type: ignore[arg-type]
    with _handles_lock:
        handle = next(_next_handle)
        _handles[handle] = record
    return handle


def unregister(handle: int) -> None:
    """Forgets a handle whose call never started."""
    with _handles_lock:
        _handles.pop(handle, None)


trampoline = _trampoline
tool_trampoline = _tool_trampoline
completion_trampoline = _completion_trampoline
# NULL callbacks, for the arguments C allows to be NULL (ctypes refuses None for them).
NO_EVENT_CALLBACK = EVENT_CALLBACK()
NO_LOG_CALLBACK = LOG_CALLBACK()


def text(value: Optional[bytes]) -> Optional[str]:
    """A C string lent by the library, as a str (None for NULL)."""
    return value.decode("utf-8", "replace") if value is not None else None


def take_tool_calls(calls: c_void_p) -> List[Tuple[str, str, str]]:
    """Copies and frees an ``oairun_tool_calls`` list: (id, name, arguments) per call."""
    try:
        copied = []
        for i in range(lib.oairun_tool_calls_count(calls)):
            call = lib.oairun_tool_calls_get(calls, i)
            copied.append(tool_call_fields(call))
        return copied
    finally:
        lib.oairun_tool_calls_free(calls)


def tool_call_fields(call: int) -> Tuple[str, str, str]:
    """Copies a lent call's id, name and arguments."""
    return (
        text(lib.oairun_tool_call_id(call)) or "",
        text(lib.oairun_tool_call_name(call)) or "",
        text(lib.oairun_tool_call_arguments(call)) or "",
    )
