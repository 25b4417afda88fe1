"""Every version's routes, lifecycle and documentation, as one router for the app.

Versions are listed in versions.toml; each is the package of the same name
next to this module, exposing ``router``. Cutting a version is copying the
latest package and adding its entry (`fastscaffold api-version new`); nothing
here changes.
"""

import importlib
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute

from .lifecycle import enforce_lifecycle, load_versions


def _unique_id(version: str) -> Any:
    def generate(route: APIRoute) -> str:
        # Unique across versions: v1_list_users, v2_list_users, ...
        return f"{version}_{route.name}"

    return generate


def version_router(version: str) -> APIRouter:
    """Return version ``version``'s routes under /api/<version>, lifecycle enforced."""
    edge = importlib.import_module(f"{__package__}.{version}")
    router = APIRouter(
        prefix=f"/api/{version}",
        dependencies=[Depends(enforce_lifecycle(version))],
        generate_unique_id_function=_unique_id(version),
    )
    router.include_router(edge.router)
    return router


def openapi_document(version: str, version_routes: APIRouter, title: str) -> dict[str, Any]:
    """Return the OpenAPI document of one version: its paths only."""
    return get_openapi(
        title=f"{title} ({version})",
        version=version,
        routes=version_routes.routes,
    )


def _require_docs(request: Request) -> None:
    # Per-version docs follow the app's: off (404) when DOCS_ENABLED is false.
    if request.app.openapi_url is None:
        raise HTTPException(status_code=404, detail="Not Found")


def _docs_routes(version: str, version_routes: APIRouter) -> APIRouter:
    docs = APIRouter(prefix=f"/api/{version}", include_in_schema=False)
    # Built once per app title: the routes of a version do not change at run time.
    cache: dict[str, dict[str, Any]] = {}

    @docs.get("/openapi.json", name=f"{version}_openapi")
    async def openapi(request: Request) -> JSONResponse:
        _require_docs(request)
        title = request.app.title
        if title not in cache:
            cache[title] = openapi_document(version, version_routes, title)
        return JSONResponse(cache[title])

    @docs.get("/docs", name=f"{version}_docs")
    async def swagger(request: Request) -> HTMLResponse:
        _require_docs(request)
        return get_swagger_ui_html(
            openapi_url=f"/api/{version}/openapi.json",
            title=f"{request.app.title} ({version})",
        )

    return docs


def build_router() -> tuple[APIRouter, dict[str, APIRouter]]:
    """Return the app's router and each version's own router, by name."""
    router = APIRouter()
    by_version: dict[str, APIRouter] = {}
    for version in load_versions().ordered():
        routes = version_router(version)
        by_version[version] = routes
        router.include_router(routes)
        router.include_router(_docs_routes(version, routes))
    return router, by_version


router, VERSION_ROUTERS = build_router()
