"""The library's log lines, sent to the :mod:`logging` logger ``"oairun"``.

liboairun logs through one process-wide C callback (``oairun_set_log_callback``), filtered in
C by level, and called on oairun's network threads. Each line that reaches Python costs those
threads a wait for the GIL, so the callback is installed only at the level the logger would
keep, and not at all while nothing would show the lines.

When the level is read: every :class:`Client` reads the logger's level when it is created, as
a Python library's logging usually "just works" once logging is configured at start-up
(``logging.basicConfig(...)`` or a handler, and ``logging.getLogger("oairun").setLevel(...)``),
with no call to oairun. A change made later, while clients exist, takes effect at the next
client created, or at once with :func:`enable_logging`.
"""

from __future__ import annotations

import atexit
import sys
import threading

# typing is imported by type checkers only: at run time it would cost every program about
# 5 ms of start-up (the annotations are strings, see __future__).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

from . import _ffi

if TYPE_CHECKING:
    import logging

# logging's levels, by number: the module is imported only once it is in use (see sync()).
_DEBUG, _INFO, _WARNING, _ERROR = 10, 20, 30, 40

# oairun_log_level -> logging level
_PYTHON_LEVELS = {
    _ffi.LOG_ERROR: _ERROR,
    _ffi.LOG_WARN: _WARNING,
    _ffi.LOG_INFO: _INFO,
    _ffi.LOG_DEBUG: _DEBUG,
}


def __getattr__(name: str) -> Any:
    # ``logger``, made on first use: importing logging is a large part of importing oairun.
    if name == "logger":
        global logger
        import logging

        logger = logging.getLogger("oairun")
        return logger
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

_lock = threading.Lock()
_installed = _ffi.LOG_OFF  # the level the C callback is installed at
_atexit_registered = False


def _c_level(python_level: int) -> int:
    """The library's level that sends every line a logger at ``python_level`` keeps."""
    if python_level <= _DEBUG:
        return _ffi.LOG_DEBUG
    if python_level <= _INFO:
        return _ffi.LOG_INFO
    if python_level <= _WARNING:
        return _ffi.LOG_WARN
    if python_level <= _ERROR:
        return _ffi.LOG_ERROR
    return _ffi.LOG_OFF


# Module level and never replaced: C may call it until it is turned off, from any thread.
@_ffi.LOG_CALLBACK
def _log_callback(level: int, message: Optional[bytes], user_data: Optional[int]) -> None:
    # A few lines per request: ctypes' own thread state per call is cheap enough here, and
    # oairun's network threads keep no Python state between lines.
    try:
        python_level = _PYTHON_LEVELS.get(level, _DEBUG)
        logger = _logger()
        if logger.isEnabledFor(python_level):
            logger.log(python_level, "%s", message.decode("utf-8", "replace") if message else "")
    except BaseException:  # noqa: B902 - nothing may unwind into C; logging reports its own
        pass


def _install(level: int) -> None:
    global _installed, _atexit_registered
    with _lock:
        if level == _installed:
            return
        callback = _log_callback if level != _ffi.LOG_OFF else _ffi.NO_LOG_CALLBACK
        if _ffi.lib.oairun_set_log_callback(level, callback, None) != _ffi.OK:
            return  # called from inside the log callback: leave it as it is
        _installed = level
        if level != _ffi.LOG_OFF and not _atexit_registered:
            # No oairun thread may call into an interpreter that is shutting down.
            atexit.register(_install, _ffi.LOG_OFF)
            _atexit_registered = True


def _logger() -> "logging.Logger":
    return sys.modules[__name__].logger  # type: ignore[no-any-return]


def sync() -> None:
    """Installs the callback at the logger's level, or removes it while no handler would show
    a line (then only logging's last resort would, on stderr: a library must not print).
    While the program has not imported :mod:`logging`, nothing can be configured: off."""
    if "logging" not in sys.modules:
        _install(_ffi.LOG_OFF)
        return
    logger = _logger()
    if logger.disabled or not logger.hasHandlers():
        _install(_ffi.LOG_OFF)
    else:
        _install(_c_level(logger.getEffectiveLevel()))


def enable_logging(level: Optional[int] = None) -> None:
    """Sends liboairun's log lines to the logger ``"oairun"`` from now on, for every client.

    ``level`` (e.g. ``logging.DEBUG``), when given, is set on the logger first; otherwise its
    current effective level is used. The lines: ERROR, a request that failed after its last
    attempt; WARNING, a retry and why; INFO, each request and its answer's status, time and
    request id; DEBUG, how each stream ended. No line holds the API key, a header value or a
    URL's query.

    Creating a :class:`Client` reads the logger's level too, so this call is needed only when
    the level changes while clients exist, or to send lines while no handler is configured
    (a client then sends none). For the lines to be shown, the logger needs a handler::

        import logging
        logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s %(message)s")
        logging.getLogger("oairun").setLevel(logging.INFO)

    Lines are logged on oairun's network threads, each taking the GIL for a moment.
    """
    logger = _logger()
    if level is not None:
        logger.setLevel(level)
    _install(_c_level(logger.getEffectiveLevel()))


def disable_logging() -> None:
    """Stops sending liboairun's log lines to Python (until a client is created with the
    logger configured, or :func:`enable_logging` is called)."""
    _install(_ffi.LOG_OFF)
