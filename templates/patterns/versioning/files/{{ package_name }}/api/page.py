"""The versions page (/pages/versions): each API version, its docs and its lifecycle headers.

The page reads the versions in force from `versions.json` (below), then asks
each version for a response and shows the lifecycle headers it really
carries, so what it shows is what clients get.
"""

from pathlib import Path
from typing import Any

from fastapi import Request

from ..pages import Page, page_router
from .lifecycle import current_day, current_versions

PAGE = Page(
    slug="versions",
    title="API versions",
    summary="every /api/vN with its docs, lifecycle and the Deprecation/Sunset headers it sends",
    folder=Path(__file__).parent,
)

router = page_router(PAGE)


@router.get("/versions.json")
async def versions(request: Request) -> dict[str, Any]:
    """Return the versions, oldest first, with where their docs are and a route to probe."""
    configured = current_versions(request)
    today = current_day(request)
    return {
        "latest": configured.latest,
        "versions": [
            {
                "name": name,
                "status": "retired" if policy.is_retired(today) else policy.status,
                "deprecated_at": policy.deprecated_at,
                "sunset_at": policy.sunset_at,
                "link": policy.link,
                "docs": f"api/{name}/docs",
                # Every version has GET /users; its response carries the headers.
                "probe": f"api/{name}/users?limit=1",
            }
            for name, policy in ((name, configured.versions[name]) for name in configured.ordered())
        ],
    }
