"""The upload endpoints: POST and GET /files, PUT /files/raw/{name}, GET and DELETE /files/{id}.

Uploads are received as they stream in (`receive.py`): the body is never
read whole, the size limit applies to the bytes actually received, and the
type is judged from the content. Each upload holds one of UPLOAD_MAX_CONCURRENT
slots and must keep sending (`pacing.py`). Refusals close the connection, so a
client still sending is stopped instead of being read to the end.
"""

import logging
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from starlette.requests import ClientDisconnect

from ..database import SessionDep
from ..errors import bounded, problem_responses
from ..limits import MAX_SQL_INT, body_limit
from ..timestamps import UtcDateTime
from .csrf import refuse_cross_site
from .deps import OwnerDep, SlotsDep, StorageDep, UploadSettingsDep
from .models import UploadedFile
from .names import content_disposition
from .pacing import PacedBody
from .policy import KNOWN_TYPES, UnacceptableFile
from .receive import (
    FILE_FIELD,
    FORM_OVERHEAD_BYTES,
    FileSink,
    MultipartReceiver,
    ReceivedFile,
    SinkFactory,
    multipart_boundary,
    receive_raw,
)
from .settings import DEFAULT_ALLOWED_TYPES, UploadSettings, split_types
from .storage import Storage

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/files", tags=["files"])

MAX_PAGE_SIZE = 100

MAX_FILENAME_CHARS = 1024
"""Longest file name `PUT /files/raw/{filename}` takes (it is shortened when stored)."""

# Served files can never run as a page of this site: a download, of the stored
# type only, with no scripts, plugins or embedding even if a browser renders it.
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-cache",
    "Cross-Origin-Resource-Policy": "same-origin",
}

# An empty file is refused (422), so a file has at least one byte.
_FILE_SCHEMA = {"type": "string", "format": "binary", "minLength": 1}
_MULTIPART_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": [FILE_FIELD],
                "properties": {FILE_FIELD: _FILE_SCHEMA},
            }
        }
    },
}
# The smallest PDF the service accepts: the documented example of a raw upload
# (text, unlike the other types, so JSON can carry it), when PDFs are accepted.
_EXAMPLE_PDF = (
    "%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    "2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
    "trailer\n<< /Root 1 0 R >>\n%%EOF\n"
)
_RAW_EXAMPLE = (
    {"example": _EXAMPLE_PDF} if "application/pdf" in split_types(DEFAULT_ALLOWED_TYPES) else {}
)
_RAW_BODY: dict[str, Any] = {
    "required": True,
    "content": {"application/octet-stream": {"schema": _FILE_SCHEMA, **_RAW_EXAMPLE}},
}

_REFUSALS = {
    400: "Malformed body, or the client went away before its end",
    403: "Sent by a page of another site (see UPLOAD_CHECK_ORIGIN)",
    408: "No bytes for UPLOAD_IDLE_TIMEOUT_SECONDS, or slower than UPLOAD_MIN_BYTES_PER_SECOND",
    413: "Larger than UPLOAD_MAX_BYTES (answered as soon as the limit is crossed)",
    415: "Type not accepted, not matching its name or declared type, or active content",
    422: "No file, or an empty one",
    503: "UPLOAD_MAX_CONCURRENT uploads in progress already (see Retry-After)",
}


def _documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    responses = problem_responses(*statuses)
    for status, description in _REFUSALS.items():
        if status in responses:
            responses[status]["description"] = description
    return responses


_UPLOAD_RESPONSES = _documented(400, 403, 408, 413, 415, 422, 503)
_FOUND_RESPONSES = problem_responses(404, 503)
_FOUND_RESPONSES[503]["description"] = "Stored where this server cannot read it"

FileId = Annotated[str, Path(description="The file's id, as `POST /files` answered it.")]


class FileOut(BaseModel):
    """What the service knows about an uploaded file."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    filename: str
    """The display name: the client's, cleaned; the file is stored under another."""
    size: int
    content_type: str
    """The type judged from the content."""
    sha256: str
    created_at: UtcDateTime


class FilePage(BaseModel):
    """One page of the caller's files, newest first."""

    items: list[FileOut]
    total: int
    limit: int
    offset: int


def _content_length(request: Request) -> int | None:
    try:
        return int(request.headers["content-length"])
    except (KeyError, ValueError):
        return None


def _refuse(status: int, detail: Any, headers: Mapping[str, str] | None = None) -> HTTPException:
    # Closing the connection stops a client that is still sending: the server
    # answers now and does not read (or discard) the rest of the body.
    return HTTPException(
        status_code=status, detail=detail, headers={"Connection": "close", **(headers or {})}
    )


def _refusal(exc: UnacceptableFile, *loc: str) -> HTTPException:
    if exc.status == 422:
        # A 422 lists its errors, as validation problems do; `loc` says where.
        error = {"loc": ["body", *loc], "msg": exc.detail, "type": "value_error"}
        return _refuse(422, [error])
    return _refuse(exc.status, exc.detail, exc.headers)


def _paced(request: Request, settings: UploadSettings) -> PacedBody:
    return PacedBody(
        request.stream(),
        idle_seconds=settings.upload_idle_timeout_seconds,
        min_bytes_per_second=settings.upload_min_bytes_per_second,
        grace_seconds=settings.upload_min_rate_grace_seconds,
    )


async def _save(
    request: Request,
    received: ReceivedFile,
    session: SessionDep,
    storage: Storage,
    owner: str | None,
    response: Response,
) -> UploadedFile:
    row = UploadedFile(
        id=received.id,
        filename=received.filename,
        storage_key=received.key,
        size=received.size,
        content_type=received.file_type.mime,
        sha256=received.sha256,
        owner=owner,
        storage_id=storage.storage_id,
    )
    session.add(row)
    try:
        await session.commit()
    except BaseException:
        await storage.delete(received.key)  # no file without its row
        raise
    response.headers["Location"] = str(request.url_for("download_file", file_id=row.id))
    logger.info("Stored upload %s (%s, %d bytes)", row.id, row.content_type, row.size)
    return row


@router.post(
    "",
    status_code=201,
    response_model=FileOut,
    responses=_UPLOAD_RESPONSES,
    openapi_extra={"requestBody": _MULTIPART_BODY},
    dependencies=[Depends(refuse_cross_site)],
)
@body_limit(None)  # The upload is bounded as it arrives, by UPLOAD_MAX_BYTES.
async def upload_file(
    request: Request,
    response: Response,
    session: SessionDep,
    storage: StorageDep,
    settings: UploadSettingsDep,
    slots: SlotsDep,
    owner: OwnerDep,
) -> UploadedFile:
    """Upload one file as `multipart/form-data`, in the field `file`.

    The body is streamed to storage as it arrives. Answers 201 with the file's
    metadata and its URL in `Location`.
    """
    max_body = settings.upload_max_bytes + FORM_OVERHEAD_BYTES
    length = _content_length(request)
    if length is not None and length > max_body:
        raise _refuse(413, f"The file is larger than {settings.upload_max_bytes} bytes.")
    make_sink = SinkFactory(
        storage, allowed=settings.upload_allowed_types, max_bytes=settings.upload_max_bytes
    )
    try:
        boundary = multipart_boundary(request.headers.get("content-type"))
        with slots.hold():
            receiver = MultipartReceiver(boundary, make_sink)
            received = await receiver.receive(_paced(request, settings), max_body_bytes=max_body)
    except UnacceptableFile as exc:
        raise _refusal(exc, FILE_FIELD) from None
    except ClientDisconnect:
        logger.info("Upload abandoned: the client disconnected")
        raise _refuse(400, "The client disconnected before the upload ended.") from None
    return await _save(request, received, session, storage, owner, response)


@router.put(
    "/raw/{filename}",
    status_code=201,
    response_model=FileOut,
    responses=_UPLOAD_RESPONSES,
    openapi_extra={"requestBody": _RAW_BODY},
    dependencies=[Depends(refuse_cross_site)],
)
@body_limit(None)  # The upload is bounded as it arrives, by UPLOAD_MAX_BYTES.
async def upload_raw(
    filename: Annotated[str, Path(max_length=MAX_FILENAME_CHARS, examples=["report.pdf"])],
    request: Request,
    response: Response,
    session: SessionDep,
    storage: StorageDep,
    settings: UploadSettingsDep,
    slots: SlotsDep,
    owner: OwnerDep,
) -> UploadedFile:
    """Upload one file as the raw request body (for API clients: no multipart encoding).

    `filename` is the display name; send the file's type as `Content-Type`
    (or `application/octet-stream`). Answers like `POST /files`.
    """
    length = _content_length(request)
    if length is not None and length > settings.upload_max_bytes:
        raise _refuse(413, f"The file is larger than {settings.upload_max_bytes} bytes.")
    sink = FileSink(
        storage,
        allowed=settings.upload_allowed_types,
        max_bytes=settings.upload_max_bytes,
        filename=filename,
        declared_type=request.headers.get("content-type"),
    )
    try:
        with slots.hold():
            received = await receive_raw(_paced(request, settings), sink)
    except UnacceptableFile as exc:
        raise _refusal(exc) from None
    except ClientDisconnect:
        logger.info("Upload abandoned: the client disconnected")
        raise _refuse(400, "The client disconnected before the upload ended.") from None
    return await _save(request, received, session, storage, owner, response)


def _own(owner: str | None) -> Any:
    return UploadedFile.owner.is_(None) if owner is None else UploadedFile.owner == owner


async def _find(
    session: SessionDep, file_id: str, owner: str | None, storage: Storage
) -> UploadedFile:
    found = await session.scalar(
        select(UploadedFile).where(UploadedFile.id == file_id, _own(owner))
    )
    if found is None:
        raise HTTPException(status_code=404, detail=f"No file has the id {bounded(file_id)!r}.")
    if found.storage_id is not None and found.storage_id != storage.storage_id:
        # Another server stored the bytes on a disk this one cannot see: say so,
        # rather than answer 404 for a file that exists, or orphan it on DELETE.
        logger.error(
            "Upload %s is in storage %s, this server's is %s: UPLOAD_DIR must be shared",
            found.id,
            found.storage_id,
            storage.storage_id,
        )
        raise HTTPException(
            status_code=503,
            detail="The file is stored where this server cannot read it: every server "
            "needs the same UPLOAD_DIR (a shared volume) or object storage.",
        )
    return found


@router.get("", response_model=FilePage)
async def list_files(
    session: SessionDep,
    owner: OwnerDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_SQL_INT)] = 0,
) -> FilePage:
    """List the caller's files, newest first, `limit` at a time from `offset`."""
    total = await session.scalar(select(func.count()).select_from(UploadedFile).where(_own(owner)))
    rows = await session.scalars(
        select(UploadedFile)
        .where(_own(owner))
        .order_by(UploadedFile.created_at.desc(), UploadedFile.id)
        .limit(limit)
        .offset(offset)
    )
    items = [FileOut.model_validate(row) for row in rows]
    return FilePage(items=items, total=total or 0, limit=limit, offset=offset)


@router.get(
    "/{file_id}",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The file's bytes, with the type judged when it was stored",
            "content": {mime: {"schema": _FILE_SCHEMA} for mime in sorted(KNOWN_TYPES)},
        },
        **_FOUND_RESPONSES,
    },
)
async def download_file(
    file_id: FileId, session: SessionDep, storage: StorageDep, owner: OwnerDep
) -> StreamingResponse:
    """Download a file: streamed, as an attachment, with its stored type and `nosniff`."""
    found = await _find(session, file_id, owner, storage)
    if not await storage.exists(found.storage_key):
        logger.error("The bytes of upload %s are missing from storage", found.id)
        raise HTTPException(status_code=404, detail="The file's content is missing.")
    headers = {
        **DOWNLOAD_HEADERS,
        "Content-Disposition": content_disposition(found.filename),
        "Content-Length": str(found.size),
        "ETag": f'"{found.sha256}"',
    }
    return StreamingResponse(
        storage.read(found.storage_key), media_type=found.content_type, headers=headers
    )


@router.delete(
    "/{file_id}",
    status_code=204,
    responses={**_documented(403), **_FOUND_RESPONSES},
    dependencies=[Depends(refuse_cross_site)],
)
async def delete_file(
    file_id: FileId, session: SessionDep, storage: StorageDep, owner: OwnerDep
) -> Response:
    """Delete a file: its metadata first, then its bytes."""
    found = await _find(session, file_id, owner, storage)
    key = found.storage_key
    await session.delete(found)
    await session.commit()
    # A crash here leaves bytes without a row (harmless), never a row without bytes.
    await storage.delete(key)
    return Response(status_code=204)
