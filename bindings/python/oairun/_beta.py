"""``client.beta.threads.runs``: the official SDK's call path to the Assistants endpoint, so
that code written for the SDK switches to oairun by changing its import."""

from __future__ import annotations

# typing is imported by type checkers only: at run time it would cost every program about
# 5 ms of start-up (the annotations are strings, see __future__).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Mapping, Optional, Union

from . import _ffi
from ._client import _encode_id, _Outputs
from ._objects import Object, loads

if TYPE_CHECKING:
    from ._client import Client, Stream, ToolOutputs
    from ._events import Event


class Runs:
    """``client.beta.threads.runs``."""

    def __init__(self, client: "Client") -> None:
        self._client = client

    def submit_tool_outputs(
        self,
        run_id: str,
        *,
        thread_id: str,
        tool_outputs: "ToolOutputs",
        stream: bool = False,
        on_event: Optional[Callable[["Event"], Any]] = None,
    ) -> Union[Dict[str, Any], "Stream", None]:
        """The same call as :meth:`Client.submit_tool_outputs` (same arguments, results and
        exceptions), under the SDK's name."""
        return self._client.submit_tool_outputs(
            run_id, thread_id=thread_id, tool_outputs=tool_outputs, stream=stream, on_event=on_event
        )

    def run_tools(
        self,
        run_id: str,
        *,
        thread_id: str,
        tool_outputs: "ToolOutputs",
        tools: Mapping[str, Callable[..., Any]],
        max_turns: int = 10,
        on_event: Optional[Callable[["Event"], Any]] = None,
    ) -> Object:
        """Runs a run's tool calls to the end (``oairun_run_tool_loop``): submits
        ``tool_outputs`` (the outputs of the calls the run is waiting for, as for
        :meth:`submit_tool_outputs`) streamed; each time the run stops at
        ``thread.run.requires_action``, runs the calls, in the model's order, and submits all
        their outputs in one streamed request to the same thread and run; returns the Run that
        ends ``completed``, as a dict readable by attribute. The answer's text is in the
        thread's messages, and streams by as ``event.text_delta`` through ``on_event``.

        ``tools``, ``on_event`` and ``max_turns`` are as for :meth:`Responses.run_tools` (the
        tools themselves are defined on the assistant). Raises as that does, and
        :class:`StreamError` when the run ends ``failed``, ``cancelled``, ``expired`` or
        ``incomplete``; ``TypeError``/``ValueError`` for bad ids or outputs before any request,
        as :meth:`submit_tool_outputs` does.
        """
        from ._tools import check_max_turns, check_on_event, check_tools, run_loop

        thread = _encode_id("thread_id", thread_id)
        run = _encode_id("run_id", run_id)
        checked = check_tools(tools)
        max_turns = check_max_turns(max_turns)
        check_on_event(on_event)
        with _Outputs(tool_outputs) as outputs:

            def start(client: Any, handler: Any, event_cb: Any, user_data: int, final: Any, err: Any) -> int:
                return _ffi.lib.oairun_run_tool_loop(
                    client, thread, run, outputs.ptr, handler, event_cb, user_data, max_turns, final, err
                )

            text = run_loop(self._client, start, checked, on_event)
        return loads(text)


class Threads:
    """``client.beta.threads``."""

    def __init__(self, client: "Client") -> None:
        self.runs = Runs(client)


class Beta:
    """``client.beta``."""

    def __init__(self, client: "Client") -> None:
        self.threads = Threads(client)
