"""Bare FastAPI: the health route a user would write without fastscaffold.

Two layouts, both served with the same uvicorn flags as the generated app:
`app` has the route on the app itself (the smallest FastAPI app), and
`router_app` has it on an `APIRouter` included by the app, the layout
FastAPI's "Bigger Applications" guide teaches and the generated app uses.
Against `router_app` the difference is what the generated base app adds per
request (middleware, exception handlers, logging set-up); against `app` it
also includes the router layer FastAPI adds to every included route.
"""

from typing import Literal

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel


class Health(BaseModel):
    """The same body as the generated app's health check."""

    status: Literal["ok"] = "ok"


async def health() -> Health:
    """Answer 200."""
    return Health()


app = FastAPI()
app.add_api_route("/health", health, methods=["GET"])

router = APIRouter()
router.add_api_route("/health", health, methods=["GET"])
router_app = FastAPI()
router_app.include_router(router)
