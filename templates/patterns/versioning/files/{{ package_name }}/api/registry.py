"""Every version's routes, lifecycle and documentation, as one router for the app.

Versions are listed in versions.toml; each is the package of the same name
next to this module, exposing ``router``. Cutting a version is copying the
latest package and adding its entry (`fastscaffold api-version new`); nothing
here changes.
"""

import importlib
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute

from ..docs import swagger_ui_page
from ..errors import document_problems, problem_responses
from .lifecycle import (
    VersionPolicy,
    current_versions,
    enforce_lifecycle,
    lifecycle_header_names,
    load_versions,
)

# Every route of every version can answer 410 once the version is retired, so
# the status is part of each version's contract from the start.
_GONE = problem_responses(410)
_GONE[410]["description"] = (
    "This version is retired (or past its sunset date); the problem's detail names "
    "the version to use instead, if one is served."
)
_GONE[410]["headers"] = {
    "Link": {
        "description": 'The version to use instead, as `<url>; rel="successor-version"` '
        "(RFC 5829), and the migration guide, when there are.",
        "schema": {"type": "string"},
    }
}


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
        responses=_GONE,
    )
    router.include_router(edge.router)
    return router


def openapi_document(
    version: str, version_routes: APIRouter, title: str, policy: VersionPolicy | None = None
) -> dict[str, Any]:
    """Return the OpenAPI document of one version: its paths only, errors as served.

    Errors are documented as the app's own document has them (problem details,
    422 and 500 everywhere). With ``policy``, the version's lifecycle is
    documented too: a deprecated version's operations are marked deprecated and
    the headers it sends are listed. The frozen contract leaves ``policy`` out:
    deprecating a version does not change what it promises.
    """
    document = document_problems(
        get_openapi(title=f"{title} ({version})", version=version, routes=version_routes.routes)
    )
    if policy is not None:
        _document_lifecycle(document, policy)
    return document


_LIFECYCLE_HEADERS = {
    "Deprecation": "When the version was deprecated: `@` and seconds since the epoch (RFC 9745).",
    "Sunset": "From when the version answers 410 Gone: an HTTP-date (RFC 8594).",
    "Link": 'The migration guide: `rel="deprecation"`, and `rel="sunset"` with a sunset date.',
}


def _document_lifecycle(document: dict[str, Any], policy: VersionPolicy) -> None:
    """Mark a deprecated or retired version's operations, and list the headers it sends."""
    sent = lifecycle_header_names(policy)
    if policy.status == "active" and not sent:
        return
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            operation["deprecated"] = True
            for status, response in operation.get("responses", {}).items():
                # Successful responses carry them, and so does the 410 once it is retired.
                if status.startswith("2") or status == "410":
                    headers = response.setdefault("headers", {})
                    for name in sent:
                        # The 410's Link, already listed, names the successor as well.
                        header = headers.setdefault(
                            name,
                            {"description": _LIFECYCLE_HEADERS[name], "schema": {"type": "string"}},
                        )
                        header["required"] = True


def _require_docs(request: Request) -> None:
    # Per-version docs follow the app's: off (404) when DOCS_ENABLED is false.
    if request.app.openapi_url is None:
        raise HTTPException(status_code=404, detail="Not Found")


def _docs_routes(version: str, version_routes: APIRouter) -> APIRouter:
    docs = APIRouter(prefix=f"/api/{version}", include_in_schema=False)
    # Built once per app title and lifecycle: the routes of a version do not
    # change at run time.
    cache: dict[tuple[str, VersionPolicy], dict[str, Any]] = {}

    @docs.get("/openapi.json", name=f"{version}_openapi")
    async def openapi(request: Request) -> JSONResponse:
        _require_docs(request)
        key = (request.app.title, current_versions(request).versions[version])
        if key not in cache:
            cache[key] = openapi_document(version, version_routes, *key)
        return JSONResponse(cache[key])

    @docs.get("/docs", name=f"{version}_docs")
    async def swagger(request: Request) -> HTMLResponse:
        _require_docs(request)
        # Assets as the app's own /docs has them: served locally unless DOCS_ASSETS=cdn.
        return swagger_ui_page(
            request, f"/api/{version}/openapi.json", f"{request.app.title} ({version})"
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
