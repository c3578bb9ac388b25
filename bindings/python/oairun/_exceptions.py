"""Exceptions, named as the official ``openai`` SDK names them."""

from __future__ import annotations

# typing is imported by type checkers only: at run time it would cost every program about
# 5 ms of start-up (the annotations are strings, see __future__).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional, Type

from . import _ffi


class OairunError(Exception):
    """Base of every error oairun raises for a failed call.

    Attributes: ``status`` (the ``oairun_status`` number), ``http_status`` (int or None),
    ``request_id`` (the answer's ``x-request-id`` or None), and the API's error fields
    ``type``, ``code``, ``param``, ``message``.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = _ffi.INTERNAL,
        http_status: Optional[int] = None,
        request_id: Optional[str] = None,
        type: Optional[str] = None,  # noqa: A002 - the SDK's name
        code: Optional[str] = None,
        param: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.http_status = http_status
        self.request_id = request_id
        self.type = type
        self.code = code
        self.param = param


class InvalidArgumentError(OairunError, ValueError):
    """The library refused an argument (``OAIRUN_INVALID_ARGUMENT``); nothing was sent."""


class APIStatusError(OairunError):
    """The server answered with a non-2xx status (``OAIRUN_HTTP_STATUS``)."""

    @property
    def status_code(self) -> Optional[int]:
        """The HTTP status under the official SDK's name (the same as ``http_status``)."""
        return self.http_status


class BadRequestError(APIStatusError):
    """HTTP 400."""


class AuthenticationError(APIStatusError):
    """HTTP 401."""


class PermissionDeniedError(APIStatusError):
    """HTTP 403."""


class NotFoundError(APIStatusError):
    """HTTP 404."""


class ConflictError(APIStatusError):
    """HTTP 409."""


class UnprocessableEntityError(APIStatusError):
    """HTTP 422."""


class RateLimitError(APIStatusError):
    """HTTP 429."""


class InternalServerError(APIStatusError):
    """HTTP 500 and above."""


class APIConnectionError(OairunError):
    """The server could not be reached, or the connection failed (``OAIRUN_CONNECT``)."""


class APITimeoutError(APIConnectionError):
    """A time limit ran out (``OAIRUN_TIMEOUT``)."""


class StreamError(OairunError):
    """The stream carried an ``error`` event (``OAIRUN_STREAM_ERROR``)."""


class ProtocolError(OairunError):
    """The answer was not what the endpoint returns, or a stream ended before ``done``."""


class CancelledError(OairunError):
    """The stream was stopped by its consumer (``OAIRUN_CANCELLED``)."""


class InternalError(OairunError):
    """A bug in oairun (``OAIRUN_INTERNAL``)."""


class MaxTurnsError(OairunError):
    """A tool-call loop made ``max_turns`` requests and the model still asked for calls; no
    further request was made (``OAIRUN_MAX_TURNS``)."""


class ToolCallError(OairunError):
    """A tool-call loop stopped because the model asked for a call the program cannot run: a
    function not in ``tools``, or arguments that are not a JSON object or do not fit the
    function's parameters. No further request was made (the loop ended ``OAIRUN_CANCELLED``).

    Attributes, beside :class:`OairunError`'s: ``call_id``, ``name`` and ``arguments`` (the
    arguments' JSON text as the model wrote it).
    """

    def __init__(self, message: str, *, call_id: str = "", name: str = "", arguments: str = "") -> None:
        super().__init__(message, status=_ffi.CANCELLED)
        self.call_id = call_id
        self.name = name
        self.arguments = arguments


_BY_STATUS = {
    _ffi.INVALID_ARGUMENT: InvalidArgumentError,
    _ffi.HTTP_STATUS: APIStatusError,
    _ffi.CONNECT: APIConnectionError,
    _ffi.TIMEOUT: APITimeoutError,
    _ffi.STREAM_ERROR: StreamError,
    _ffi.PROTOCOL: ProtocolError,
    _ffi.CANCELLED: CancelledError,
    _ffi.INTERNAL: InternalError,
    _ffi.MAX_TURNS: MaxTurnsError,
}

_BY_HTTP_STATUS = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def from_error(info: _ffi.ErrorInfo) -> OairunError:
    """The exception for a failed call's error."""
    cls: Type[OairunError] = _BY_STATUS.get(info.status, InternalError)
    if cls is APIStatusError and info.http_status is not None:
        if info.http_status >= 500:
            cls = InternalServerError
        else:
            cls = _BY_HTTP_STATUS.get(info.http_status, APIStatusError)
    return cls(
        info.message,
        status=info.status,
        http_status=info.http_status,
        request_id=info.request_id,
        type=info.type,
        code=info.code,
        param=info.param,
    )
