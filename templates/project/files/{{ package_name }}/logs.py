"""Logging set-up: one handler on the root logger, as text or as JSON lines.

Application loggers (`logging.getLogger(__name__)`) and uvicorn's loggers all
propagate to the root logger, so every line has the same format and carries the
id of the request it belongs to.
"""

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from .request_id import get_request_id

# Recognises our handler, so configuring twice replaces it instead of doubling lines.
HANDLER_NAME = "app"

_TEXT_FORMAT = "%(asctime)s %(levelname)-8s %(name)s [%(request_id)s] %(message)s"

# uvicorn's own handlers are removed so its lines go through ours.
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")

# Attributes every LogRecord has; anything else was passed with `extra=`.
_RECORD_ATTRIBUTES = frozenset(
    {
        *logging.LogRecord("", logging.INFO, "", 0, "", None, None).__dict__,
        "message",
        "asctime",
        "request_id",
        "taskName",
        # uvicorn attaches an ANSI-coloured copy of some messages.
        "color_message",
    }
)


# Set on an exception that the app logged with its traceback (see mark_logged).
_LOGGED_MARK = "_logged_with_traceback"


def mark_logged(exc: BaseException) -> None:
    """Note that `exc` was logged with its traceback, so the server's log line is dropped.

    Starlette re-raises an unhandled exception after the app's 500 handler has
    logged it, so that the server can react; uvicorn then logs it a second time.
    """
    vars(exc)[_LOGGED_MARK] = True


class AlreadyLoggedFilter(logging.Filter):
    """Drop a record about an exception the app has already logged (one line per 500)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep the record unless its exception carries the mark of `mark_logged`."""
        exc = record.exc_info[1] if record.exc_info else None
        return exc is None or not vars(exc).get(_LOGGED_MARK, False)


class RequestIdFilter(logging.Filter):
    """Add the current request id to each record as `record.request_id`."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Attach the request id, unless the record already has one; keep every record."""
        request_id = get_request_id()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


class JsonFormatter(logging.Formatter):
    """Format each record as one JSON object on one line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a JSON object with a UTC timestamp and any extras."""
        payload: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in record.__dict__.items():
            # Values passed with `extra=` are added, but cannot replace the fields above.
            if key not in _RECORD_ATTRIBUTES:
                payload.setdefault(key, value)
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        # default=str: an `extra` value that JSON cannot encode must not lose the line.
        return json.dumps(payload, default=str, ensure_ascii=False)


def configure_logging(
    level: str,
    log_format: Literal["text", "json"],
    *,
    stream: TextIO | None = None,
    access_log: bool = True,
) -> None:
    """Send all logging to one handler on the root logger.

    Safe to call more than once (the app factory and `serve` both call it): the
    previous handler is replaced, and handlers installed by others (pytest's, a
    debugger's) are left alone.

    What the server was told before the app started is honoured: for uvicorn's
    loggers the stricter of `level` and uvicorn's `--log-level` wins, and
    `--no-access-log` keeps the access log off whatever `access_log` says.

    Args:
        level: Name of the lowest level to log, e.g. "INFO".
        log_format: "text" for people or "json" for one object per line.
        stream: Where to write; standard error by default.
        access_log: Whether uvicorn logs a line per request. Off, the server
            skips the line entirely instead of building and dropping it.
    """
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.addFilter(RequestIdFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(_TEXT_FORMAT, defaults={"request_id": "-"}))

    root = logging.getLogger()
    for existing in root.handlers[:]:
        if existing.get_name() == HANDLER_NAME:
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    _route_uvicorn_loggers(root.level, access_log=access_log)


class _ServerLogging:
    """How the server configured its loggers before the app first configured logging."""

    def __init__(self) -> None:
        self.levels: dict[str, int] = {}
        self.access_log_off = False

    def remember(self) -> None:
        """Read the server's set-up, once per process (later calls see our own)."""
        if self.levels:
            return
        for name in _UVICORN_LOGGERS:
            self.levels[name] = logging.getLogger(name).level
        access = logging.getLogger("uvicorn.access")
        # uvicorn's --no-access-log: no handlers and no propagation.
        self.access_log_off = not access.handlers and not access.propagate


_server = _ServerLogging()


def _route_uvicorn_loggers(level: int, *, access_log: bool) -> None:
    """Send uvicorn's lines through the root handler, at the stricter of both levels."""
    _server.remember()
    for name in _UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        server_level = _server.levels[name]
        # NOTSET (the server set none): take the root logger's level, LOG_LEVEL.
        uvicorn_logger.setLevel(max(server_level, level) if server_level else logging.NOTSET)
        if name == "uvicorn.access" and (
            not access_log
            or _server.access_log_off
            or not uvicorn_logger.isEnabledFor(logging.INFO)
        ):
            # Without a handler anywhere up the tree, uvicorn does not even
            # build the line (it checks `hasHandlers()` per connection); a
            # level above INFO (`--log-level warning`) would drop every line.
            uvicorn_logger.propagate = False
        else:
            uvicorn_logger.propagate = True
        for existing_filter in uvicorn_logger.filters[:]:
            if isinstance(existing_filter, AlreadyLoggedFilter):
                uvicorn_logger.removeFilter(existing_filter)
        # uvicorn logs "Exception in ASGI application" on uvicorn.error.
        uvicorn_logger.addFilter(AlreadyLoggedFilter())
