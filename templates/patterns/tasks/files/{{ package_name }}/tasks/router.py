"""The HTTP API: submit, read, list, cancel, and follow tasks as server-sent events.

Every input is checked before it reaches the database or a stream starts: the
cursor is an integer SQL can hold, a task id that cannot be one (ids are 32
hex digits) is a 404 without a query, and a ``Last-Event-ID`` that is not an
event id of the task is ignored, so the stream starts over instead of failing.
"""

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import bounded, problem_responses
from ..limits import MAX_SQL_INT
from ..timestamps import UtcDateTime
from .registry import registry
from .service import TaskService, UnknownJob, get_service
from .store import BacklogFull, IdempotencyConflict, TaskRecord

router = APIRouter(prefix="/tasks", tags=["tasks"])

Status = Literal["queued", "running", "succeeded", "failed", "cancelled"]

# The ids the store gives tasks (uuid4().hex): anything else names no task.
TASK_ID = re.compile(r"[0-9a-f]{32}")
# An Idempotency-Key is a structured-field string: printable ASCII, spaces included.
IDEMPOTENCY_KEY = r"^[\x20-\x7e]+$"
# The event ids of a stream are the task's versions: decimal integers below 10**19.
EVENT_ID = re.compile(r"[0-9]{1,19}")


def document_jobs(schema: dict[str, Any]) -> None:
    """Name the registered jobs, and the params each takes, in the schema of ``TaskCreate``.

    Validation stays the registry's (an unknown job, or params that do not fit
    its model, is a 422 naming them): this only makes the OpenAPI document say
    exactly which requests are valid. The params of a job whose model refers
    to other models are documented as any object.
    """
    jobs = sorted(registry, key=lambda job: job.name)
    if not jobs:
        return
    schema["properties"]["job"]["enum"] = [job.name for job in jobs]
    variants = []
    for job in jobs:
        params = job.params_model.model_json_schema()
        if "$defs" in params:
            params = {"type": "object"}
        variants.append({"properties": {"job": {"const": job.name}, "params": params}})
    schema["oneOf"] = variants


class TaskCreate(BaseModel):
    """A request to run a job."""

    model_config = ConfigDict(json_schema_extra=document_jobs)

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
    created_at: UtcDateTime
    started_at: UtcDateTime | None
    finished_at: UtcDateTime | None
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
    record = await service.store.get(task_id) if TASK_ID.fullmatch(task_id) else None
    if record is None:
        raise HTTPException(404, detail=f"No task {bounded(task_id)!r} (unknown, or expired).")
    return record


ExistingTask = Annotated[TaskRecord, Depends(existing_task)]


def last_seen_version(
    record: ExistingTask,
    last_event_id: Annotated[
        str | None,
        Header(description="The id of the last event received: only later ones are sent"),
    ] = None,
) -> int:
    """Return the version a reconnecting client has seen, 0 for none (a dependency).

    Runs before the stream starts. An id this task never sent (not a number,
    too large, or beyond its current version) is ignored: the client gets
    the task's current state again, which is what a fresh stream starts with.
    """
    if last_event_id is None or not EVENT_ID.fullmatch(last_event_id):
        return 0
    seen = int(last_event_id)
    return seen if seen <= record.version else 0


def _problem(status: int, description: str, **documented: Any) -> dict[int | str, dict[str, Any]]:
    responses = problem_responses(status)
    responses[status] |= {"description": description, **documented}
    return responses


RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer"},
    }
}
NOT_FOUND = _problem(404, "No such task (unknown, or expired)")


@router.post(
    "",
    status_code=202,
    summary="Queue a job",
    responses={
        202: {
            "headers": {
                "Location": {"description": "The task's URL", "schema": {"type": "string"}},
                **RETRY_AFTER,
            }
        },
        **_problem(400, "The body is not JSON"),
        **_problem(409, "The Idempotency-Key was used for another request"),
        422: {"description": "Unknown job (the error names the available ones) or bad params"},
        **_problem(
            503, "The backlog is full; retry after `Retry-After` seconds", headers=RETRY_AFTER
        ),
    },
)
async def submit_task(
    body: TaskCreate,
    request: Request,
    response: Response,
    service: ServiceDep,
    idempotency_key: Annotated[
        str | None, Header(min_length=1, max_length=255, pattern=IDEMPOTENCY_KEY)
    ] = None,
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
    cursor: Annotated[
        int | None, Query(ge=1, le=MAX_SQL_INT, description="`next_cursor` of the previous page")
    ] = None,
) -> TaskPage:
    """List tasks, newest first, optionally with one status; page with `cursor`."""
    records = await service.store.page(status=status, limit=limit, before=cursor)
    next_cursor = str(records[-1].seq) if len(records) == limit else None
    return TaskPage(items=[to_task(record) for record in records], next_cursor=next_cursor)


@router.get("/{task_id}", name="get_task", summary="Read a task", responses=NOT_FOUND)
async def get_task(record: ExistingTask) -> Task:
    """Return the task's status, progress, and result or error."""
    return to_task(record)


# A custom method, not DELETE: the task stays readable after it is cancelled
# (its status says so), and DELETE would promise it is gone.
@router.post(
    "/{task_id}/cancel",
    status_code=202,
    summary="Cancel a task",
    responses={**NOT_FOUND, **_problem(409, "The task has already succeeded or failed")},
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
    responses=NOT_FOUND,
)
async def task_events(
    record: ExistingTask,
    service: ServiceDep,
    seen: Annotated[int, Depends(last_seen_version)],
) -> AsyncIterator[ServerSentEvent]:
    """Stream the task as server-sent events, one per change, until it finishes.

    Each event's `data` is the task and its `id` grows with every change: a
    client that reconnects with `Last-Event-ID` gets only what it has not seen.
    An id the task never sent is ignored (the stream starts over).
    """
    current: TaskRecord | None = record
    while current is not None:
        if current.version > seen:
            seen = current.version
            yield ServerSentEvent(id=str(seen), data=to_task(current).model_dump(mode="json"))
        if current.finished:
            return
        await service.store.changed.wait(service.settings.poll_seconds)
        current = await service.store.get(current.id)
