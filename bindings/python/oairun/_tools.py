"""The tool-call loops: Python callables as the handler of ``oairun_response_tool_loop`` and
``oairun_run_tool_loop``, and function-tool definitions built from their signatures."""

from __future__ import annotations

import ctypes
import inspect
import json
from collections.abc import Mapping
from ctypes import byref, c_void_p

# typing is imported by type checkers only: at run time it would cost every program about
# 5 ms of start-up (the annotations are strings, see __future__).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional

from . import _ffi
from ._events import Event
from ._exceptions import InvalidArgumentError, ToolCallError, from_error

if TYPE_CHECKING:
    from ._client import Client

if TYPE_CHECKING:
    Tools = Mapping[str, Callable[..., Any]]


def check_tools(tools: Any, allow_async: bool = False) -> Dict[str, Callable[..., Any]]:
    """``tools`` as a dict, after checking it maps non-empty names to callables (async
    functions only for ``allow_async``: the AsyncClient's loops await them)."""
    if not isinstance(tools, Mapping):
        hint = " (tool definitions go in tool_definitions=)" if isinstance(tools, (list, tuple)) else ""
        raise TypeError(
            f"tools must be a dict mapping a function name to a callable, not {type(tools).__name__}{hint}"
        )
    checked = {}
    for name, function in tools.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"tools' keys must be non-empty function names (str), not {name!r}")
        if not callable(function):
            raise TypeError(f"tools[{name!r}] must be callable, not {type(function).__name__}")
        if not allow_async and inspect.iscoroutinefunction(function):
            # It would return a coroutine that nothing awaits: the loop runs tools synchronously.
            raise TypeError(
                f"tools[{name!r}] is an async function: give a plain function (or use AsyncClient)"
            )
        checked[name] = function
    return checked


def check_max_turns(max_turns: Any) -> int:
    if isinstance(max_turns, bool) or not isinstance(max_turns, int):
        raise TypeError(f"max_turns must be an int, not {type(max_turns).__name__}")
    if not 1 <= max_turns < 2**32:
        raise ValueError("max_turns must be an int from 1 to 2**32-1")
    return max_turns


def check_on_event(on_event: Any) -> None:
    if on_event is not None and not callable(on_event):
        raise TypeError("on_event must be callable or None")


def _signature(function: Callable[..., Any]) -> Optional[inspect.Signature]:
    try:
        return inspect.signature(function)
    except (TypeError, ValueError):  # some builtins have none
        return None


def output_text(name: str, value: Any) -> bytes:
    """A tool's return value as the output sent: a str as is, anything else as its JSON."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"tool {name!r} returned a {type(value).__name__}, which is neither a str nor "
                f"JSON-serialisable: {exc}"
            ) from None
    if "\0" in text:
        raise ValueError(f"the output of tool {name!r} contains a NUL character, which cannot be sent")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"the output of tool {name!r} is not encodable as UTF-8: {exc}") from None


class _Loop:
    """What the trampolines call during one loop: the tools and ``on_event``."""

    def __init__(self, tools: Dict[str, Callable[..., Any]], on_event: Optional[Callable[[Event], Any]]):
        self.tools = tools
        self.on_event = on_event
        self.signatures: Dict[str, Optional[inspect.Signature]] = {}

    def event(self, event_ptr: int) -> bool:
        assert self.on_event is not None
        return self.on_event(Event(*_ffi.event_fields(event_ptr))) is False

    def tool(self, call_ptr: int, result_ptr: int) -> bool:
        call_id, name, arguments = _ffi.tool_call_fields(call_ptr)
        output = output_text(name, self.run(call_id, name, arguments))
        status = _ffi.lib.oairun_tool_result_set_output(result_ptr, output)
        if status != _ffi.OK:
            raise InvalidArgumentError(f"the output of call {call_id} was refused", status=status)
        return False

    def run(self, call_id: str, name: str, arguments: str) -> Any:
        """Runs one call: the tool named ``name`` with the parsed arguments as keywords."""
        fields = {"call_id": call_id, "name": name, "arguments": arguments}
        function = self.tools.get(name)
        if function is None:
            known = ", ".join(sorted(self.tools)) or "none"
            raise ToolCallError(
                f"the model called {name!r} (call {call_id}), which is not in tools (tools: {known})",
                **fields,
            )
        if not arguments.strip():
            kwargs: Any = {}  # a function without parameters, from a model that sends nothing
        else:
            try:
                kwargs = json.loads(arguments)
            except ValueError as exc:
                raise ToolCallError(
                    f"the arguments of call {call_id} to {name!r} are not JSON ({exc}): {arguments[:200]!r}",
                    **fields,
                ) from None
            if not isinstance(kwargs, dict):
                raise ToolCallError(
                    f"the arguments of call {call_id} to {name!r} are not a JSON object: {arguments[:200]!r}",
                    **fields,
                )
        if name not in self.signatures:
            self.signatures[name] = _signature(function)
        signature = self.signatures[name]
        if signature is not None:
            # Checked before the call, so that a TypeError raised inside the tool is the tool's.
            try:
                signature.bind(**kwargs)
            except TypeError as exc:
                raise ToolCallError(
                    f"the arguments of call {call_id} do not fit {name}{signature}: {exc} "
                    f"(arguments {arguments[:200]!r})",
                    **fields,
                ) from None
        return function(**kwargs)


def run_loop(client: "Client", start: Callable[..., int], tools: Any, on_event: Any) -> str:
    """Runs a C loop, ``start(client_ptr, handler, on_event, user_data, final_json, err)``, on
    this thread, and returns the final object's JSON text. A tool's or ``on_event``'s exception
    is re-raised here once the C call has returned."""
    loop = _Loop(check_tools(tools), on_event)
    with _ffi.registered(loop.event if on_event is not None else None, loop.tool) as handle:
        final = c_void_p()
        error = c_void_p()
        event_callback = _ffi.trampoline if on_event is not None else _ffi.NO_EVENT_CALLBACK
        client_ptr = client._acquire()
        try:
            status = start(
                client_ptr, _ffi.tool_trampoline, event_callback, handle.handle, byref(final), byref(error)
            )
        finally:
            client._release()
        exception = handle.record.exception
    if exception is not None:
        if error.value:
            _ffi.lib.oairun_error_free(error)
        if final.value:
            _ffi.lib.oairun_string_free(final)
        try:
            raise exception
        finally:
            exception = None  # no reference cycle through this frame
    if status != _ffi.OK:
        raise from_error(_ffi.take_error(status, error))
    try:
        return ctypes.string_at(final.value).decode("utf-8")
    finally:
        _ffi.lib.oairun_string_free(final)


# JSON Schema types of the annotations a tool's parameters may carry.
_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array", dict: "object"}


def _schema(annotation: Any) -> Dict[str, Any]:
    import typing

    if annotation in _JSON_TYPES:
        return {"type": _JSON_TYPES[annotation]}
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin is typing.Union and len(args) == 1:  # Optional[X]
        return _schema(args[0])
    if origin is typing.Literal and args and all(isinstance(a, str) for a in args):
        return {"type": "string", "enum": list(args)}
    if origin in (list, tuple, set, frozenset):
        schema: Dict[str, Any] = {"type": "array"}
        if origin is list and len(args) == 1 and _schema(args[0]):
            schema["items"] = _schema(args[0])
        return schema
    if origin is dict:
        return {"type": "object"}
    return {}  # anything: the model is told nothing of its type


def tool_definition(name: str, function: Callable[..., Any]) -> Dict[str, Any]:
    """A Responses function tool for ``function``, from its signature: each parameter a
    property (its type from a ``str``, ``int``, ``float``, ``bool``, ``list``, ``dict``,
    ``Optional[...]`` or ``Literal["a", ...]`` annotation), those without a default required;
    the docstring's first paragraph as the description."""
    import typing  # (here, not at import: see TYPE_CHECKING above)

    properties: Dict[str, Any] = {}
    required: List[str] = []
    extra = False
    signature = _signature(function)
    try:
        hints = typing.get_type_hints(function)
    except Exception:  # noqa: BLE001 - unresolvable annotations: fall back to none
        hints = {}
    if signature is None:
        extra = True
    else:
        for parameter in signature.parameters.values():
            if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                extra = True
            elif parameter.kind is not inspect.Parameter.VAR_POSITIONAL:
                properties[parameter.name] = _schema(hints.get(parameter.name))
                if parameter.default is inspect.Parameter.empty:
                    required.append(parameter.name)
    parameters: Dict[str, Any] = {"type": "object", "properties": properties, "required": required}
    if not extra:
        parameters["additionalProperties"] = False
    definition: Dict[str, Any] = {"type": "function", "name": name}
    doc = inspect.getdoc(function)
    if doc and not isinstance(function, type) and doc != inspect.getdoc(type(function)):
        definition["description"] = doc.split("\n\n", 1)[0].replace("\n", " ").strip()
    definition["parameters"] = parameters
    return definition
