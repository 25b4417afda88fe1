"""Bare Starlette: the limit reference for one JSON route under uvicorn.

What is left when neither FastAPI's validation and serialisation nor any
middleware runs: the server's own cost per request.
"""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def health(_request: Request) -> JSONResponse:
    """Answer 200 with the same body as the other apps."""
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/health", health)])
