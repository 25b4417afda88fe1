"""Response headers that every response carries, errors included: request id, security."""

from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .request_id import REQUEST_ID_HEADER, request_id_from, set_request_id

SECURITY_HEADERS = {
    # Browsers must trust the Content-Type and never guess that a JSON error
    # echoing client input, or a downloaded file, is HTML or script.
    "X-Content-Type-Options": "nosniff",
}

_REQUEST_ID = REQUEST_ID_HEADER.lower().encode("latin-1")
_SECURITY = tuple(
    (name.lower().encode("latin-1"), value.encode("latin-1"))
    for name, value in SECURITY_HEADERS.items()
)
_SECURITY_NAMES = frozenset(name for name, _ in _SECURITY)


class ResponseHeadersMiddleware:
    """Give every HTTP request an id, and add it and `SECURITY_HEADERS` to the response.

    The id is the request's well-formed `X-Request-ID`, or a new one; it is
    set for logging before the app runs and always sent back. A security
    header the app set itself is kept. Pure ASGI, and one wrapper for both
    jobs: it runs on every response, so it works on the raw header list
    instead of building header objects, and never buffers a streaming body.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection; only HTTP requests and responses are touched."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        incoming = None
        for name, value in scope["headers"]:
            if name == _REQUEST_ID:
                incoming = value
                break
        request_id = request_id_from(incoming)
        set_request_id(request_id)
        own_header = (_REQUEST_ID, request_id.encode("ascii"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _with_headers(message.get("headers", ()), own_header)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _with_headers(
    headers: Sequence[tuple[bytes, bytes]], request_id: tuple[bytes, bytes]
) -> list[tuple[bytes, bytes]]:
    """Return a new header list: the request id replaced, missing security headers added.

    A new list, because the one in the message may be a response object's own.
    Runs on every response: one pass over the headers, and the common case
    (the app set no security header of its own) costs no lookups at all.
    """
    result = [request_id]
    present: set[bytes] | None = None  # security headers the app set itself
    for header in headers:
        name = header[0]
        # ASGI header names are lower-case; an app that breaks the rule is still caught.
        if not name.islower():
            name = name.lower()
        if name == _REQUEST_ID:
            continue
        result.append(header)
        if name in _SECURITY_NAMES:
            if present is None:
                present = set()
            present.add(name)
    if present is None:
        result.extend(_SECURITY)
    else:
        result.extend(header for header in _SECURITY if header[0] not in present)
    return result
