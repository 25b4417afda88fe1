"""Browser pages for trying the API: a landing page at / and one page per applied pattern.

Each pattern that has a page ships it as two plain files next to its code,
`page.html` and `page.js` (no framework, no CDN, no build step), and a router
made by `page_router`, wired like its other routers. The landing page lists
the pages whose routers this app includes, so adding or removing a pattern
adds or removes its link.

The pages are for development: PAGES_ENABLED turns them on or off, and when
it is unset they are off in production. Switched off, every page answers 404
and / is not routed at all. They are never in the OpenAPI document, so the
API's contract (and the fuzzing that follows it) is the same either way.

Every page is served with a strict Content-Security-Policy: scripts and
styles only from this app's own files (no inline script), connections only
to this origin. That is why the scripts are separate files.
"""

from dataclasses import dataclass
from html import escape
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.routing import iter_route_contexts

from .settings import Settings

PAGES_PATH = "/pages"
"""Where the pages live; the landing page is at /."""

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
"""What the pages may load and connect to: their own origin's files only."""

_STYLESHEET = Path(__file__).with_name("pages.css")
_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-cache"}


@dataclass(frozen=True)
class Page:
    """A pattern's page: where it is served, what the landing page says about it."""

    slug: str
    """The page's URL is /pages/<slug>."""
    title: str
    summary: str
    folder: Path
    """The folder holding the page's `page.html` and `page.js`."""


# Pages by route name, filled by page_router; the landing page shows those
# whose routes the app includes.
_PAGES: dict[str, Page] = {}


def require_pages(request: Request) -> None:
    """Answer 404 when the pages are switched off (PAGES_ENABLED, or production)."""
    settings: Settings = request.app.state.settings
    if not settings.pages_served:
        raise HTTPException(status_code=404, detail="Not Found")


def page_router(page: Page) -> APIRouter:
    """Return the router serving ``page`` at /pages/<slug> and its script at .../page.js.

    A pattern may add routes of its own to it (data only its page needs);
    they are outside the OpenAPI document and switched off with the pages.
    """
    html = page.folder / "page.html"
    script = page.folder / "page.js"
    for path in (html, script):
        if not path.is_file():
            msg = f"the page {page.slug!r} has no {path}"
            raise FileNotFoundError(msg)
    router = APIRouter(
        prefix=f"{PAGES_PATH}/{page.slug}",
        include_in_schema=False,
        dependencies=[Depends(require_pages)],
    )
    name = f"page:{page.slug}"
    _PAGES[name] = page

    @router.get("", name=name)
    async def show() -> FileResponse:
        return FileResponse(html, media_type="text/html; charset=utf-8", headers=_HEADERS)

    @router.get("/page.js")
    async def show_script() -> FileResponse:
        return FileResponse(script, media_type="text/javascript; charset=utf-8", headers=_HEADERS)

    return router


def install_pages(app: FastAPI, settings: Settings) -> None:
    """Serve the landing page at / and the pages' stylesheet, unless the pages are off.

    Call it after the patterns' routers are included: the landing page lists
    the pages found among the app's routes.
    """
    if not settings.pages_served:
        return

    async def landing(request: Request) -> HTMLResponse:
        return HTMLResponse(landing_page(request.app), headers=_HEADERS)

    async def stylesheet(request: Request) -> FileResponse:  # noqa: ARG001
        return FileResponse(_STYLESHEET, media_type="text/css; charset=utf-8", headers=_HEADERS)

    app.add_route("/", landing, include_in_schema=False)
    app.add_route(f"{PAGES_PATH}/pages.css", stylesheet, include_in_schema=False)


def included_pages(app: FastAPI) -> list[Page]:
    """Return the pages whose routes ``app`` includes, in the order they were included."""
    return [
        _PAGES[context.name]
        for context in iter_route_contexts(app.routes)
        if context.name in _PAGES
    ]


def landing_page(app: FastAPI) -> str:
    """Return the landing page's HTML: the pattern pages, then the API docs.

    Links are relative, so the page works under a proxy's path prefix too.
    """
    items = [
        f'<li><a href="pages/{escape(page.slug)}">{escape(page.title)}</a>'
        f" — {escape(page.summary)}</li>"
        for page in included_pages(app)
    ]
    pages = (
        f"<ul>{''.join(items)}</ul>"
        if items
        else "<p>No pattern with a page is applied yet (<code>fastscaffold add</code>).</p>"
    )
    if app.openapi_url is not None:
        docs = (
            '<ul><li><a href="docs">Swagger UI</a> (/docs)</li>'
            '<li><a href="redoc">ReDoc</a> (/redoc)</li></ul>'
        )
    else:
        docs = "<p>The API docs are switched off (DOCS_ENABLED=false).</p>"
    title = escape(app.title)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{title}</title><link rel="stylesheet" href="pages/pages.css"></head>'
        f"<body><main><h1>{title}</h1><h2>Pages</h2>{pages}<h2>API docs</h2>{docs}"
        "</main></body></html>"
    )
