"""``client.beta.threads.runs``: the official SDK's call path to the Assistants endpoint, so
that code written for the SDK switches to oairun by changing its import."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Union

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


class Threads:
    """``client.beta.threads``."""

    def __init__(self, client: "Client") -> None:
        self.runs = Runs(client)


class Beta:
    """``client.beta``."""

    def __init__(self, client: "Client") -> None:
        self.threads = Threads(client)
