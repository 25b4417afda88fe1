"""Request ids: accept or generate one per request, echo it, expose it to logging."""

import re
import uuid
from contextvars import ContextVar

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"

# Ids from clients or proxies are trusted only if they look like ids: this keeps
# log lines and response headers free of injected text.
_WELL_FORMED = re.compile(r"[A-Za-z0-9._:-]{1,128}")

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def get_request_id() -> str | None:
    """Return the id of the request being handled, or None outside a request."""
    return _request_id.get()


class RequestIdMiddleware:
    """Give every HTTP request an id and return it in the `X-Request-ID` header.

    A well-formed incoming `X-Request-ID` (for example from a load balancer) is
    kept, so one id follows the request across services; otherwise a new one is
    generated. Pure ASGI, so it does not buffer or wrap streaming responses.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection; only HTTP requests get an id."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        incoming = Headers(scope=scope).get(REQUEST_ID_HEADER)
        if incoming is not None and _WELL_FORMED.fullmatch(incoming):
            request_id = incoming
        else:
            request_id = uuid.uuid4().hex
        # Not reset afterwards on purpose: the server runs each request in its own
        # task (a copy of the context), and the 500 handler, which runs outside
        # this middleware, still needs the id to log it and send it back.
        _request_id.set(request_id)

        async def send_with_request_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        await self.app(scope, receive, send_with_request_id)
