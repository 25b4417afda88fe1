"""The naive reference of benchmarks/upload.py: read the whole upload, then judge it.

The upload endpoint as it is usually first written (the intent of the seed
pattern): `UploadFile`, `await file.read()` into memory, a size check on what
was read (413 only after reading everything), a type check of the bytes, and
the file saved as uuid + the client's extension. The seed uses python-magic,
which needs the system libmagic; `filetype` stands in for it here, which makes
no difference to speed or memory. Serve with
`UPLOAD_DIR=... NAIVE_MAX_BYTES=... uvicorn benchmarks.naive_upload_app:app`.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import anyio
import filetype  # type: ignore[import-untyped]
from fastapi import FastAPI, File, HTTPException, UploadFile

app = FastAPI()

UPLOAD_DIR = Path(os.environ.get("UPLOAD_DIR", "uploads"))
MAX_SIZE = int(os.environ.get("NAIVE_MAX_BYTES", str(5 * 1024 * 1024)))
ALLOWED_TYPES = ["image/jpeg", "image/png", "application/pdf"]

UPLOAD_DIR.mkdir(parents=True, exist_ok=True)


@app.get("/health")
async def health() -> dict[str, str]:
    """Answer when the server is up."""
    return {"status": "ok"}


@app.post("/files", status_code=201)
async def upload_file(file: UploadFile = File(...)) -> dict[str, object]:  # noqa: B008
    """Read the file, check its size and type, save it."""
    contents = await file.read()
    if len(contents) > MAX_SIZE:
        raise HTTPException(status_code=413, detail="File too large")
    mime_type = filetype.guess_mime(contents)
    if mime_type not in ALLOWED_TYPES:
        raise HTTPException(status_code=415, detail=f"Unsupported file type: {mime_type}")
    extension = os.path.splitext(file.filename or "")[1]  # noqa: PTH122 (the naive way)
    secure_filename = f"{uuid.uuid4()}{extension}"
    await anyio.Path(UPLOAD_DIR / secure_filename).write_bytes(contents)
    return {"filename": secure_filename, "size": len(contents), "type": mime_type}
