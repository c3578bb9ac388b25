"""oairun: submit tool outputs to an OpenAI Assistants run, through liboairun.

A drop-in for the official SDK's ``client.beta.threads.runs.submit_tool_outputs``::

    from oairun import Client
    client = Client()  # OPENAI_API_KEY, OPENAI_BASE_URL from the environment
    run = client.submit_tool_outputs("run_123", thread_id="thread_123",
                                     tool_outputs=[{"tool_call_id": "call_1", "output": "42"}])
    for event in client.submit_tool_outputs("run_123", thread_id="thread_123",
                                            tool_outputs=[...], stream=True):
        print(event.event, event.raw)
"""

from ._client import Client, Stream
from ._events import Event
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
    NotFoundError,
    OairunError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    StreamError,
    UnprocessableEntityError,
)
from ._ffi import LibraryNotFoundError, version

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
    "Event",
    "InternalError",
    "InternalServerError",
    "InvalidArgumentError",
    "LibraryNotFoundError",
    "NotFoundError",
    "OairunError",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitError",
    "Stream",
    "StreamError",
    "UnprocessableEntityError",
    "version",
]
