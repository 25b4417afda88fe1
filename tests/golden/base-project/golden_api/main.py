"""The application factory and the ASGI app that servers import."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from . import __version__, _fastscaffold, health
from .docs import install_docs
from .errors import document_problems, install_exception_handlers
from .headers import ResponseHeadersMiddleware
from .heap import freeze_startup_heap
from .limits import BodyLimitMiddleware
from .logs import configure_logging
from .pages import install_pages
from .request_id import REQUEST_ID_HEADER
from .settings import Settings, get_settings

# Shown at the top of the OpenAPI docs (Markdown is allowed).
DESCRIPTION = """Golden service"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run start-up work before the first request and clean-up after the last one.

    Resources of the applied patterns are started by `_fastscaffold.lifespan`;
    add the service's own (clients, pools) around the `yield`. Once all is
    started, the start-up heap is frozen out of the garbage collector's way
    (`heap.py`: shorter pauses under load).
    """
    async with _fastscaffold.lifespan(app):
        freeze_startup_heap()
        yield


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application.

    Args:
        settings: Settings to use; read from the environment when omitted. Tests
            pass their own.

    Returns:
        The configured app, with its settings in `app.state.settings`.
    """
    settings = settings if settings is not None else get_settings()
    configure_logging(settings.log_level, settings.log_format, access_log=settings.access_log)

    app = FastAPI(
        title="Golden Api",
        description=DESCRIPTION,
        version=__version__,
        lifespan=lifespan,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
        # /docs and /redoc come from install_docs: their assets are served locally.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings

    install_exception_handlers(app)
    app.openapi = documented_openapi(app)  # type: ignore[method-assign]

    # Middleware added last runs first: request ids wrap everything, CORS included.
    # The body limit raises where a body is read; the 413 is an ordinary problem.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_allow_origins),
            allow_methods=["*"],
            allow_headers=["*"],
            # Lets browser code read the id to quote it in bug reports, and
            # follow a `201 Created` (a task, an upload) to where it lives.
            expose_headers=[REQUEST_ID_HEADER, "Location"],
        )
    app.add_middleware(ResponseHeadersMiddleware)

    app.include_router(health.router)
    _fastscaffold.include_routers(app)
    # After the patterns' routers: the landing page lists the pages among them.
    install_pages(app, settings)
    # Last: routes are tried in order, and the docs' asset mount (a path
    # pattern checked for every request that reaches it) would otherwise cost
    # each API request a few microseconds.
    install_docs(app, settings)
    return app


def documented_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """Return an `app.openapi` that documents errors as the app serves them.

    FastAPI's document says 422 is `{"detail": [...]}` in `application/json`;
    `document_problems` makes every error problem details. The result is kept
    until routes change (tests add some), as FastAPI keeps its own.
    """
    generated: dict[str, Any] | None = None
    documented: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        nonlocal generated, documented
        schema = FastAPI.openapi(app)
        if schema is not generated:
            generated, documented = schema, document_problems(schema)
        return documented

    return openapi


app = create_app()
