"""The API docs pages, Swagger UI at /docs and ReDoc at /redoc, with assets the app serves.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so behind a firewall
they render nothing. Here their scripts, stylesheet and icon come from the
fastapi-offline package (MIT), which ships the released Swagger UI 5 and
ReDoc 2 bundles: upgrading that dependency upgrades them, and no copy lives in
this project. StaticFiles serves them under /docs/assets straight from the
installed files, streamed from disk with ETag and Last-Modified (browsers
revalidate instead of downloading again), so no request holds the 2.8 MB in
memory. The pages themselves are a few hundred bytes, built per request as
FastAPI builds its own, because they depend on the server's root path.

`DOCS_ASSETS=cdn` goes back to FastAPI's CDN URLs, and the assets are not
mounted. Other documents (the versioning pattern's per-version docs) render
their pages with `swagger_ui_page`, so they follow the same setting.
"""

from functools import partial

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from .settings import Settings

ASSETS_PATH = "/docs/assets"
"""Where the app serves the docs assets (when `DOCS_ASSETS=local`)."""

# The installed package folder the assets are read from.
_ASSETS_PACKAGE = ("fastapi_offline", "static")
SWAGGER_JS = "swagger-ui-bundle.js"
SWAGGER_CSS = "swagger-ui.css"
REDOC_JS = "redoc.standalone.js"
FAVICON = "favicon.png"


def install_docs(app: FastAPI, settings: Settings) -> None:
    """Serve /docs (with its OAuth2 redirect page) and /redoc for `app.openapi_url`.

    Nothing is served when the app has no OpenAPI document (`DOCS_ENABLED=false`).
    The routes and the assets stay out of the OpenAPI document.
    """
    openapi_url = app.openapi_url
    if openapi_url is None:
        return
    if settings.docs_assets == "local":
        # Fails here, at start-up, if the package's folder is missing.
        app.mount(ASSETS_PATH, StaticFiles(packages=[_ASSETS_PACKAGE]), name="docs-assets")
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url

    async def swagger(request: Request) -> HTMLResponse:
        return swagger_ui_page(
            request,
            openapi_url,
            f"{app.title} - Swagger UI",
            oauth2_redirect_url=oauth2_redirect_url,
        )

    async def redoc(request: Request) -> HTMLResponse:
        return redoc_page(request, openapi_url, f"{app.title} - ReDoc")

    app.add_route("/docs", swagger, include_in_schema=False)
    if oauth2_redirect_url:

        async def oauth2_redirect(request: Request) -> HTMLResponse:  # noqa: ARG001
            return get_swagger_ui_oauth2_redirect_html()

        app.add_route(oauth2_redirect_url, oauth2_redirect, include_in_schema=False)
    app.add_route("/redoc", redoc, include_in_schema=False)


def swagger_ui_page(
    request: Request, openapi_url: str, title: str, *, oauth2_redirect_url: str | None = None
) -> HTMLResponse:
    """Return the Swagger UI page for the document at `openapi_url` (a path of this app).

    Its assets are the app's own or the CDN's, as `DOCS_ASSETS` says; the app's
    `swagger_ui_parameters` and `swagger_ui_init_oauth` apply.
    """
    root = _root_path(request)
    page = partial(
        get_swagger_ui_html,
        openapi_url=root + openapi_url,
        title=title,
        oauth2_redirect_url=root + oauth2_redirect_url if oauth2_redirect_url else None,
        init_oauth=request.app.swagger_ui_init_oauth,
        swagger_ui_parameters=request.app.swagger_ui_parameters,
    )
    if not _local_assets(request):
        return page()
    assets = root + ASSETS_PATH
    return page(
        swagger_js_url=f"{assets}/{SWAGGER_JS}",
        swagger_css_url=f"{assets}/{SWAGGER_CSS}",
        swagger_favicon_url=f"{assets}/{FAVICON}",
    )


def redoc_page(request: Request, openapi_url: str, title: str) -> HTMLResponse:
    """Return the ReDoc page for the document at `openapi_url` (a path of this app)."""
    root = _root_path(request)
    if not _local_assets(request):
        return get_redoc_html(openapi_url=root + openapi_url, title=title)
    assets = root + ASSETS_PATH
    return get_redoc_html(
        openapi_url=root + openapi_url,
        title=title,
        redoc_js_url=f"{assets}/{REDOC_JS}",
        redoc_favicon_url=f"{assets}/{FAVICON}",
        # The fonts come from Google's CDN; ReDoc falls back to the system's.
        with_google_fonts=False,
    )


def _root_path(request: Request) -> str:
    # Behind a proxy that serves the app under a prefix (uvicorn --root-path).
    return str(request.scope.get("root_path", "")).rstrip("/")


def _local_assets(request: Request) -> bool:
    settings: Settings = request.app.state.settings
    return settings.docs_assets == "local"
