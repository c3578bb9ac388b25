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
"""

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

__version__ = "0.1.0"

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
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
