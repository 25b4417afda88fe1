"""Cross-site request forgery: which browser requests may change the stored files.

A page of any site can make a visitor's browser send `POST /files` as a plain
HTML form (`multipart/form-data` is a "simple" request: no CORS preflight),
with the visitor's cookies. The answer is hidden from that page, but the file
would be stored in the visitor's name. `PUT` and `DELETE` from another site
need a preflight first, which only the origins in CORS_ALLOW_ORIGINS pass.

So each request that changes files is judged by what the browser says about
where it comes from:

- `Sec-Fetch-Site: same-origin` or `none` (typed by the user): accepted;
- otherwise an `Origin` that CORS_ALLOW_ORIGINS lists (`*` does not count)
  or, from a browser that sends no `Sec-Fetch-Site`, the server's own origin:
  accepted;
- any other `Sec-Fetch-Site` or `Origin` (`null` included): refused with 403;
- neither header: not a browser (curl, a server, a mobile app): accepted.

UPLOAD_CHECK_ORIGIN=false turns this off (for example when the service sits
behind something that checks it already).
"""

from urllib.parse import urlsplit

from fastapi import HTTPException, Request

from .deps import UploadSettingsDep

_DEFAULT_PORTS = {"http": 80, "https": 443}
_VOUCHED_FOR = frozenset({"same-origin", "none"})


def origin_key(origin: str) -> tuple[str, str, int] | None:
    """Return the scheme, host and port of an origin (None when it is not one)."""
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port if port is not None else _DEFAULT_PORTS[scheme]


def is_trusted_origin(request: Request, origin: str, *, same_origin_counts: bool) -> bool:
    """Tell whether a request's `Origin` is one CORS_ALLOW_ORIGINS lists, or this server's."""
    key = origin_key(origin)
    if key is None:
        return False
    trusted = {origin_key(o) for o in request.app.state.settings.cors_allow_origins}
    if key in trusted:
        return True
    own = origin_key(f"{request.url.scheme}://{request.url.netloc}")
    return same_origin_counts and key == own


async def refuse_cross_site(request: Request, settings: UploadSettingsDep) -> None:
    """Refuse, with 403, a change that a page of another site made a browser send.

    A FastAPI dependency of the endpoints that store and delete files; it runs
    before any of the body is read.
    """
    if not settings.upload_check_origin:
        return
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    if site in _VOUCHED_FOR or (site is None and origin is None):
        return
    if origin is not None and is_trusted_origin(request, origin, same_origin_counts=site is None):
        return
    raise HTTPException(
        status_code=403,
        detail="Cross-site requests may not change files: send it from this site, or "
        "list the page's origin in CORS_ALLOW_ORIGINS.",
        headers={"Connection": "close"},
    )
