"""Response headers that every response carries, errors included."""

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = {
    # Browsers must trust the Content-Type and never guess that a JSON error
    # echoing client input, or a downloaded file, is HTML or script.
    "X-Content-Type-Options": "nosniff",
}


class SecurityHeadersMiddleware:
    """Add `SECURITY_HEADERS` to every HTTP response that does not set them itself.

    Pure ASGI, so it does not buffer or wrap streaming responses.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection; only HTTP responses get the headers."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
