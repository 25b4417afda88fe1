"""Who may open a socket: the Origin check and the authentication hook.

Both run before the handshake is accepted; a refused client gets HTTP 403.
Starlette's CORS middleware does not apply to WebSockets, and browsers let
any page open a socket to any server (sending its cookies), so the Origin
check is what stops cross-site WebSocket hijacking.
"""

from fastapi import WebSocket

from .origins import parse_origin, server_origin
from .settings import WebSocketSettings


def origin_allowed(websocket: WebSocket, settings: WebSocketSettings) -> bool:
    """Return whether the client's `Origin` may connect.

    Allowed: the server's own origin (same scheme, host and port: a `ws://`
    socket is same-origin with `http://` pages, `wss://` with `https://`), the
    origins listed in WS_ALLOWED_ORIGINS (any origin with `*`), and clients that
    send no Origin (not browsers) unless WS_REQUIRE_ORIGIN is true. An Origin
    that names no origin (`null`, garbage) is refused unless `*` is listed.

    The server's scheme and host are what the ASGI server reports: behind a
    proxy that terminates TLS, uvicorn must trust its `X-Forwarded-Proto`
    (`--forwarded-allow-ips`), or the page's origin must be listed.
    """
    header = websocket.headers.get("origin")
    if header is None:
        return not settings.ws_require_origin
    allowed = settings.ws_allowed_origins
    if "*" in allowed:
        return True
    origin = parse_origin(header)
    if origin is None:
        return False
    if str(origin) in allowed:
        return True
    own = server_origin(websocket.scope.get("scheme", "ws"), websocket.headers.get("host", ""))
    return own is not None and own == origin


async def authenticate(websocket: WebSocket) -> str | None:
    """Decide who is connecting, before the handshake is accepted: edit this hook.

    Return a user id to show it in the connection's sender id
    (`<user>#<random>`), or None for an anonymous client. To refuse the
    connection, raise `fastapi.WebSocketException(code=status.WS_1008_POLICY_VIOLATION)`.
    Browsers cannot set headers on WebSockets: read a cookie
    (`websocket.cookies`) or a short-lived token in the query string
    (`websocket.query_params["token"]`), e.g.::

        token = websocket.query_params.get("token")
        user = await verify(token)  # your code
        if user is None:
            raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION)
        return user.id

    Checking that the user may join `websocket.path_params["room_id"]` belongs
    here too.
    """
    del websocket  # Anonymous by default.
    return None
