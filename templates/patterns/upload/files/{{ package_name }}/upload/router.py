"""The upload endpoints: POST and GET /files, PUT /files/raw/{name}, GET and DELETE /files/{id}.

Uploads are received as they stream in (`receive.py`): the body is never
read whole, the size limit applies to the bytes actually received, and the
type is judged from the content. Refusals close the connection, so a client
still sending is stopped instead of being read to the end.
"""

import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from starlette.requests import ClientDisconnect

from ..database import SessionDep
from .deps import OwnerDep, StorageDep, UploadSettingsDep
from .models import UploadedFile
from .names import content_disposition
from .policy import UnacceptableFile
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
from .storage import Storage

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/files", tags=["files"])

MAX_PAGE_SIZE = 100

# Served files can never run as a page of this site: a download, of the stored
# type only, with no scripts, plugins or embedding even if a browser renders it.
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-cache",
    "Cross-Origin-Resource-Policy": "same-origin",
}

_MULTIPART_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": [FILE_FIELD],
                "properties": {FILE_FIELD: {"type": "string", "format": "binary"}},
            }
        }
    },
}
_RAW_BODY: dict[str, Any] = {
    "required": True,
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
}
_REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed body"},
    413: {"description": "Larger than UPLOAD_MAX_BYTES (answered as soon as the limit is crossed)"},
    415: {"description": "Type not accepted, not matching its name or declared type, or active"},
    422: {"description": "No file, or an empty one"},
}


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
    created_at: datetime


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


def _refuse(status: int, detail: str) -> HTTPException:
    # Closing the connection stops a client that is still sending: the server
    # answers now and does not read (or discard) the rest of the body.
    return HTTPException(status_code=status, detail=detail, headers={"Connection": "close"})


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
    responses=_REFUSALS,
    openapi_extra={"requestBody": _MULTIPART_BODY},
)
async def upload_file(
    request: Request,
    response: Response,
    session: SessionDep,
    storage: StorageDep,
    settings: UploadSettingsDep,
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
        receiver = MultipartReceiver(boundary, make_sink)
        received = await receiver.receive(request.stream(), max_body_bytes=max_body)
    except UnacceptableFile as exc:
        raise _refuse(exc.status, exc.detail) from None
    except ClientDisconnect:
        logger.info("Upload abandoned: the client disconnected")
        raise _refuse(400, "The client disconnected before the upload ended.") from None
    return await _save(request, received, session, storage, owner, response)


@router.put(
    "/raw/{filename}",
    status_code=201,
    response_model=FileOut,
    responses=_REFUSALS,
    openapi_extra={"requestBody": _RAW_BODY},
)
async def upload_raw(
    filename: str,
    request: Request,
    response: Response,
    session: SessionDep,
    storage: StorageDep,
    settings: UploadSettingsDep,
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
        received = await receive_raw(request.stream(), sink)
    except UnacceptableFile as exc:
        raise _refuse(exc.status, exc.detail) from None
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
        raise HTTPException(status_code=404, detail="No such file.")
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
    offset: Annotated[int, Query(ge=0)] = 0,
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
    responses={200: {"content": {"application/octet-stream": {}}}, 404: {}, 503: {}},
)
async def download_file(
    file_id: str, session: SessionDep, storage: StorageDep, owner: OwnerDep
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


@router.delete("/{file_id}", status_code=204, responses={404: {}, 503: {}})
async def delete_file(
    file_id: str, session: SessionDep, storage: StorageDep, owner: OwnerDep
) -> Response:
    """Delete a file: its metadata first, then its bytes."""
    found = await _find(session, file_id, owner, storage)
    key = found.storage_key
    await session.delete(found)
    await session.commit()
    # A crash here leaves bytes without a row (harmless), never a row without bytes.
    await storage.delete(key)
    return Response(status_code=204)
