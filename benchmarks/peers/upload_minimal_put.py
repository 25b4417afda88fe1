"""The limit reference of benchmarks/upload.py: a PUT body streamed to a file, fsynced.

Nothing else: no limits, no type checks, no hash, no database row. It is what
the machine allows one uvicorn worker to do with an upload, and the figure
the generated endpoint is held to (issue 16: at least 0.7x of it). The body
arrives in whatever pieces uvicorn hands over and each is written as it comes
(the writes land in the page cache; only the fsync at the end waits for the
disk), then the file is renamed into place, as any careful writer does. Serve
with `UPLOAD_DIR=... uvicorn benchmarks.peers.upload_minimal_put:app`.

`hashing_app` is the same handler plus the one piece of work no upload service
skips: a SHA-256 of the bytes, updated chunk by chunk on the event loop (here
the cheapest place for it; see docs/benchmarks/upload.md). It shows what the
hash alone costs against `app`: the ceiling of any upload that reports one.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

UPLOAD_DIR = Path(os.environ.get("UPLOAD_DIR", "uploads"))
UPLOAD_DIR.mkdir(parents=True, exist_ok=True)


async def health(_request: Request) -> JSONResponse:
    """Answer when the server is up."""
    return JSONResponse({"status": "ok"})


async def put_file(request: Request) -> JSONResponse:
    """Write the body to a new file as it arrives, fsync it, rename it into place."""
    name = uuid.uuid4().hex
    partial, final = UPLOAD_DIR / f".{name}.part", UPLOAD_DIR / name
    size = 0
    with partial.open("wb", buffering=0) as file:
        async for chunk in request.stream():
            file.write(chunk)
            size += len(chunk)
        os.fsync(file.fileno())
    partial.replace(final)
    return JSONResponse({"id": name, "size": size}, status_code=201)


async def put_hashed_file(request: Request) -> JSONResponse:
    """Do what `put_file` does, and hash the bytes as they arrive; answer with the digest."""
    name = uuid.uuid4().hex
    partial, final = UPLOAD_DIR / f".{name}.part", UPLOAD_DIR / name
    size = 0
    digest = hashlib.sha256()
    with partial.open("wb", buffering=0) as file:
        async for chunk in request.stream():
            digest.update(chunk)
            file.write(chunk)
            size += len(chunk)
        os.fsync(file.fileno())
    partial.replace(final)
    return JSONResponse({"id": name, "size": size, "sha256": digest.hexdigest()}, status_code=201)


def _app(put: Callable[[Request], Awaitable[JSONResponse]]) -> Starlette:
    return Starlette(
        routes=[
            Route("/health", health),
            Route("/files/raw/{filename}", put, methods=["PUT"]),
        ]
    )


app = _app(put_file)
hashing_app = _app(put_hashed_file)
