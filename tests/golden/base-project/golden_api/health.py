"""Liveness endpoint for load balancers, orchestrators and the Docker HEALTHCHECK."""

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """Body of a successful health check."""

    status: Literal["ok"] = "ok"


@router.get("/health", summary="Check that the service is up")
async def health() -> Health:
    """Answer 200 while the process can serve requests.

    It deliberately checks nothing else: a database outage should not make the
    orchestrator restart every instance.
    """
    return Health()


# Some probes send HEAD. The server sends the headers of the GET answer without
# its body. Left out of the OpenAPI document, where it would repeat the GET
# operation's id.
router.add_api_route("/health", health, methods=["HEAD"], include_in_schema=False)
