"""The HTTP API: submit, read, list, cancel, and follow tasks as server-sent events."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, Field, ValidationError

from .service import TaskService, UnknownJob, get_service
from .store import BacklogFull, IdempotencyConflict, TaskRecord

router = APIRouter(prefix="/tasks", tags=["tasks"])

Status = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class TaskCreate(BaseModel):
    """A request to run a job."""

    job: str = Field(min_length=1, max_length=100, examples=["demo"])
    params: dict[str, Any] = Field(default_factory=dict, examples=[{"steps": 5, "delay": 0.2}])


class Task(BaseModel):
    """A task: what runs, how far it got, and how it ended."""

    id: str
    job: str
    params: dict[str, Any]
    status: Status
    progress: int = Field(ge=0, le=100)
    attempts: int = Field(description="Runs started (more than one after a worker died)")
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result: Any = None
    error: str | None = None


class TaskPage(BaseModel):
    """One page of tasks, newest first."""

    items: list[Task]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page")


def _time(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


def to_task(record: TaskRecord) -> Task:
    """Return the API view of a stored task."""
    return Task(
        id=record.id,
        job=record.job,
        params=record.params,
        status=record.status,  # type: ignore[arg-type]
        progress=record.progress,
        attempts=record.attempts,
        cancel_requested=record.cancel_requested,
        created_at=datetime.fromtimestamp(record.created_at, tz=UTC),
        started_at=_time(record.started_at),
        finished_at=_time(record.finished_at),
        result=record.result,
        error=record.error,
    )


def service_dependency(request: Request) -> TaskService:
    """Return the app's task service (a FastAPI dependency)."""
    return get_service(request.app)


ServiceDep = Annotated[TaskService, Depends(service_dependency)]


async def existing_task(task_id: str, service: ServiceDep) -> TaskRecord:
    """Return the task named in the path, or answer 404."""
    record = await service.store.get(task_id)
    if record is None:
        raise HTTPException(404, detail=f"No task {task_id!r} (unknown, or expired).")
    return record


ExistingTask = Annotated[TaskRecord, Depends(existing_task)]


@router.post(
    "",
    status_code=202,
    summary="Queue a job",
    responses={
        409: {"description": "The Idempotency-Key was used for another request"},
        422: {"description": "Unknown job (the error names the available ones) or bad params"},
        503: {"description": "The backlog is full; retry after `Retry-After` seconds"},
    },
)
async def submit_task(
    body: TaskCreate,
    request: Request,
    response: Response,
    service: ServiceDep,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=255)] = None,
) -> Task:
    """Queue `job` with `params` and answer 202 at once; follow it at `Location`.

    With an `Idempotency-Key` header, repeating the request returns the task
    the first one created instead of queueing the job again.
    """
    try:
        record, _ = await service.submit(body.job, body.params, idempotency_key)
    except UnknownJob:
        available = service.jobs.names()
        raise RequestValidationError(
            [
                {
                    "type": "unknown_job",
                    "loc": ("body", "job"),
                    "msg": f"Unknown job {body.job!r}; available jobs: {', '.join(available)}",
                    "input": body.job,
                    "ctx": {"available_jobs": available},
                }
            ]
        ) from None
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        for error in errors:
            error["loc"] = ("body", "params", *error["loc"])
        raise RequestValidationError(errors) from None
    except IdempotencyConflict:
        raise HTTPException(
            409, detail="This Idempotency-Key was used for a different job or params."
        ) from None
    except BacklogFull:
        raise HTTPException(
            503,
            detail="Too many tasks are queued; try again later.",
            headers={"Retry-After": str(max(1, round(service.settings.lease_seconds)))},
        ) from None
    response.headers["Location"] = request.app.url_path_for("get_task", task_id=record.id)
    response.headers["Retry-After"] = "1"
    return to_task(record)


@router.get("", summary="List tasks")
async def list_tasks(
    service: ServiceDep,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,19}$")] = None,
) -> TaskPage:
    """List tasks, newest first, optionally with one status; page with `cursor`."""
    records = await service.store.page(
        status=status, limit=limit, before=None if cursor is None else int(cursor)
    )
    next_cursor = str(records[-1].seq) if len(records) == limit else None
    return TaskPage(items=[to_task(record) for record in records], next_cursor=next_cursor)


@router.get("/{task_id}", name="get_task", summary="Read a task", responses={404: {}})
async def get_task(record: ExistingTask) -> Task:
    """Return the task's status, progress, and result or error."""
    return to_task(record)


@router.delete(
    "/{task_id}",
    status_code=202,
    summary="Cancel a task",
    responses={404: {}, 409: {"description": "The task has already finished"}},
)
async def cancel_task(record: ExistingTask, service: ServiceDep) -> Task:
    """Cancel the task: at once when queued; at its next step when running (202 either way).

    A running job stops at its next progress report or await; its status
    becomes `cancelled`. Cancelling a cancelled task changes nothing.
    """
    if record.status in ("succeeded", "failed"):
        raise HTTPException(409, detail=f"The task has already {record.status}.")
    cancelled = await service.cancel(record.id)
    return to_task(cancelled or record)


@router.get(
    "/{task_id}/events",
    response_class=EventSourceResponse,
    summary="Follow a task",
    responses={404: {}},
)
async def task_events(
    record: ExistingTask,
    service: ServiceDep,
    last_event_id: Annotated[str | None, Header()] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Stream the task as server-sent events, one per change, until it finishes.

    Each event's `data` is the task and its `id` grows with every change: a
    client that reconnects with `Last-Event-ID` gets only what it has not seen.
    """
    seen = int(last_event_id) if last_event_id and last_event_id.isdigit() else 0
    current: TaskRecord | None = record
    while current is not None:
        if current.version > seen:
            seen = current.version
            yield ServerSentEvent(id=str(seen), data=to_task(current).model_dump(mode="json"))
        if current.finished:
            return
        await service.store.changed.wait(service.settings.poll_seconds)
        current = await service.store.get(current.id)
