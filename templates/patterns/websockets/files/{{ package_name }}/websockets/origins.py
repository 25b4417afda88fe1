"""Web origins, as browsers send them in the `Origin` header: scheme, host and port.

Two origins are the same only if all three are: `https://app.example` is not
`http://app.example`, nor `https://app.example:8443`. Default ports are made
explicit (`https://app.example` is `https://app.example:443`), and a socket's
own scheme counts as its page's (`ws` as `http`, `wss` as `https`).
"""

from typing import NamedTuple
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}

# The scheme of the page that would open a socket of each scheme.
PAGE_SCHEMES = {"ws": "http", "wss": "https"}


class Origin(NamedTuple):
    """A web origin; ``port`` is None only for schemes without a default (extensions)."""

    scheme: str
    host: str
    port: int | None

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}" + ("" if self.port is None else f":{self.port}")


def parse_origin(text: str) -> Origin | None:
    """Return the origin ``text`` names (`scheme://host[:port]`), or None if it names none.

    None for `null` (sandboxed pages, files), anything with a path, query,
    user or fragment, and ports out of range.
    """
    try:
        parts = urlsplit(text.strip().lower())
        port = parts.port
    except ValueError:  # a port that is not a number, or above 65535; a bad IPv6 literal
        return None
    if not parts.scheme or not parts.hostname or parts.path not in ("", "/"):
        return None
    if parts.query or parts.fragment or parts.username is not None:
        return None
    if port is None:
        port = DEFAULT_PORTS.get(parts.scheme)
    return Origin(parts.scheme, parts.hostname, port)


def server_origin(scheme: str, host_header: str) -> Origin | None:
    """Return the origin of the pages a server reached as ``host_header`` serves.

    ``scheme`` is the socket's (`ws` or `wss`, as the ASGI server reports it).
    """
    page_scheme = PAGE_SCHEMES.get(scheme.lower(), scheme.lower())
    if not host_header or "/" in host_header or "@" in host_header:
        return None
    return parse_origin(f"{page_scheme}://{host_header}")
