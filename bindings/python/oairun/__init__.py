"""oairun: submit tool outputs to an OpenAI Assistants run, through liboairun.

A drop-in for the official SDK's ``client.beta.threads.runs.submit_tool_outputs``::

    from oairun import Client
    client = Client()  # OPENAI_API_KEY, OPENAI_BASE_URL from the environment
    run = client.submit_tool_outputs("run_123", thread_id="thread_123",
                                     tool_outputs=[{"tool_call_id": "call_1", "output": "42"}])
    for event in client.submit_tool_outputs("run_123", thread_id="thread_123",
                                            tool_outputs=[...], stream=True):
        print(event.event, event.raw)

and of the Responses API's ``client.responses.create``, with the SDK's call paths for both, so
that code written for the SDK switches by changing its import::

    response = client.responses.create(model="gpt-5.4", input="Weather in Paris?", tools=[...])
    call = response.output[0]                       # results read by attribute, as in the SDK
    for event in client.responses.create(
            model="gpt-5.4", previous_response_id=response.id, stream=True,
            input=[{"type": "function_call_output", "call_id": call.call_id, "output": "15C"}]):
        if event.event == "response.output_text.delta":
            print(event.data.delta, end="")
    client.beta.threads.runs.submit_tool_outputs("run_123", thread_id="thread_123", tool_outputs=[...])

The whole tool-call loop, for both APIs: the model asks, the tools run, their outputs go back,
until the model answers::

    def get_weather(city: str) -> str:
        "The current weather in a city."
        return "15C, clear"

    response = client.responses.run_tools(model="gpt-5.4", input="Weather in Paris?",
                                          tools={"get_weather": get_weather},
                                          on_event=lambda e: print(e.text_delta or "", end=""))
    print(response.output_text)

For asyncio, :class:`AsyncClient` has the official ``AsyncOpenAI``'s shape, every call a
coroutine; streams never block the event loop, and cancelling a task drops its connection::

    client = AsyncClient()
    async for event in await client.responses.create(model="gpt-5.4", input="Hi", stream=True):
        print(event.text_delta or "", end="")
"""

from __future__ import annotations

# typing is imported by type checkers only: at run time it would cost every program about
# 5 ms of start-up (the annotations are strings, see __future__).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from ._client import Client, Stream
from ._events import Event, ToolCall
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CancelledError,
    ConflictError,
    InternalError,
    InternalServerError,
    InvalidArgumentError,
    MaxTurnsError,
    NotFoundError,
    OairunError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    StreamError,
    ToolCallError,
    UnprocessableEntityError,
)
from ._ffi import LibraryNotFoundError, version
from ._logging import disable_logging, enable_logging
from ._objects import Object, ObjectList, Response

if TYPE_CHECKING:
    from ._async import AsyncClient, AsyncStream

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # AsyncClient and AsyncStream, imported on first use: asyncio is a large import, which a
    # program that does not use it should not pay for.
    if name in ("AsyncClient", "AsyncStream"):
        from . import _async

        return getattr(_async, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncClient",
    "AsyncStream",
    "AuthenticationError",
    "BadRequestError",
    "CancelledError",
    "Client",
    "ConflictError",
    "disable_logging",
    "enable_logging",
    "Event",
    "InternalError",
    "InternalServerError",
    "InvalidArgumentError",
    "LibraryNotFoundError",
    "MaxTurnsError",
    "NotFoundError",
    "Object",
    "ObjectList",
    "OairunError",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitError",
    "Response",
    "Stream",
    "StreamError",
    "ToolCall",
    "ToolCallError",
    "UnprocessableEntityError",
    "version",
]
