"""Limits that keep hostile input within what the app and its storage can hold.

- `MAX_SQL_INT`: the bound for every integer that reaches SQL.
- `BodyLimitMiddleware`: refuses request bodies above `MAX_BODY_BYTES` with 413;
  `body_limit` changes the limit of one endpoint.
"""

from collections.abc import Callable
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The largest integer SQLite's INTEGER and PostgreSQL's BIGINT hold; a larger
# one raises OverflowError in the driver. Bound path, query and body integers
# with it: `Query(ge=0, le=MAX_SQL_INT)`.
MAX_SQL_INT = 2**63 - 1

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])

# Limits set with @body_limit, by endpoint function; None means "no limit".
_endpoint_limits: WeakKeyDictionary[Callable[..., Any], int | None] = WeakKeyDictionary()


def body_limit(max_bytes: int | None) -> Callable[[Endpoint], Endpoint]:
    """Set the largest request body an endpoint accepts, instead of `MAX_BODY_BYTES`.

    Put it under the route decorator:

        @router.post("/files")
        @body_limit(None)  # The endpoint bounds the upload itself.
        async def upload(request: Request) -> Stored: ...

    Args:
        max_bytes: The limit in bytes, or None for no limit: only for an
            endpoint that reads and bounds its body itself.

    Returns:
        A decorator that returns the endpoint unchanged.
    """
    if max_bytes is not None and max_bytes < 0:
        msg = f"max_bytes must be None or at least 0, not {max_bytes}"
        raise ValueError(msg)

    def decorate(endpoint: Endpoint) -> Endpoint:
        _endpoint_limits[endpoint] = max_bytes
        return endpoint

    return decorate


class BodyLimitMiddleware:
    """Answer 413 to a request whose body is larger than its endpoint accepts.

    The limit is looked up when the endpoint starts reading the body, from the
    endpoint the router chose, so routing is not done twice. A declared
    `Content-Length` above the limit is refused before a byte is read; a chunked
    body (or one longer than declared) is counted as it arrives and refused as
    soon as it passes the limit, so it is never held in memory. Requests without
    a body, most of them, pass straight through.

    The 413 does not close the connection: uvicorn discards the rest of the body
    as it arrives. Closing with unread data makes the kernel reset the
    connection, and a client still sending would lose the 413.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection; only HTTP requests with a body are checked."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared, chunked = _framing(scope)
        # HTTP/1.1 framing: without Content-Length or Transfer-Encoding there is no body.
        if not declared and not chunked:
            await self.app(scope, receive, send)
            return

        limit: int | None = None
        looked_up = False
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal limit, looked_up, received
            if not looked_up:
                # The router has put the endpoint in the scope by now.
                limit, looked_up = self._limit_for(scope), True
                if limit is not None and declared is not None and declared > limit:
                    raise _too_large(limit)
            message = await receive()
            if limit is not None and message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _too_large(limit)
            return message

        await self.app(scope, receive_within_limit, send)

    def _limit_for(self, scope: Scope) -> int | None:
        """Return the body limit of the endpoint the request was routed to."""
        endpoint = scope.get("endpoint")
        if endpoint is not None and endpoint in _endpoint_limits:
            return _endpoint_limits[endpoint]
        return self.max_bytes


def _framing(scope: Scope) -> tuple[int | None, bool]:
    """Return the request's declared Content-Length and whether it is chunked."""
    declared: int | None = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:  # The server rejects these; count the bytes anyway.
                chunked = True
        elif name == b"transfer-encoding":
            chunked = True
    return declared, chunked


def _too_large(limit: int) -> HTTPException:
    # Raised where the endpoint reads the body; the app's handler makes it a problem.
    return HTTPException(
        413, detail=f"The request body is larger than the {limit} bytes this endpoint accepts."
    )
