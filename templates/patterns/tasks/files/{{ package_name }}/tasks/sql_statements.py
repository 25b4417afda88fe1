"""The statements of a job's path through SQLAlchemy, built once with bound parameters.

A job's path (submit, claim, renew, finish, release, and the taskiq engine's
note of a task sent) runs the same few statements for every task. Building
one and computing its cache key for each call took most of the CPU of a job
on PostgreSQL (2,000 jobs cost the process 8.5 s of CPU, SQLAlchemy's own
code 45 % of the samples); a statement built once keeps its cache key, so
each call only binds its parameters (4.5 s for the same jobs).

Parameters are named ``p_<name>``: SQLAlchemy reserves a column's own name
for the values of an INSERT or UPDATE.
"""

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    Integer,
    Table,
    bindparam,
    case,
    func,
    insert,
    literal,
    select,
    update,
)

from .models import QUEUED, RUNNING, TaskRow
from .settings import TasksSettings

table = cast(Table, TaskRow.__table__)
c = table.c

# The columns a submission writes, in the order of its INSERT ... SELECT.
CREATED_COLUMNS = (
    "id",
    "job",
    "params",
    "status",
    "progress",
    "version",
    "attempts",
    "idempotency_key",
    "cancel_requested",
    "dispatched",
    "message_id",
    "created_at",
    "updated_at",
)


def param(name: str, column: str) -> BindParameter[Any]:
    """Return the bound parameter ``p_<name>``, of the type of ``column``."""
    return bindparam(f"p_{name}", type_=c[column].type)


NOW = param("now", "updated_at")
TASK = param("task", "id")
OWNER = param("owner", "owner")
LEASE_UNTIL = param("lease_until", "lease_until")
PROGRESS = param("progress", "progress")


@dataclass(frozen=True)
class JobStatements:
    """The statements of a job's path; each method of `SqlTasks` names its parameters.

    Attributes:
        create: Insert a queued task while the backlog has room.
        claim_oldest: Claim up to ``p_limit`` of the oldest queued tasks.
        claim_one: Claim task ``p_task`` if queued, or running on an expired lease.
        renew_lease: Extend the lease of a task its owner holds.
        renew_progress: The same, raising its progress to ``p_progress``.
        finish: Record a failed or cancelled outcome.
        finish_succeeded: Record a success (progress 100).
        release: Hand a claimed task back to the queue (its run does not count).
        mark_dispatched: Note whether a queued task was sent, and in which entry.
    """

    create: Any
    claim_oldest: Any
    claim_one: Any
    renew_lease: Any
    renew_progress: Any
    finish: Any
    finish_succeeded: Any
    release: Any
    mark_dispatched: Any


def _owned() -> ColumnElement[bool]:
    return (c.id == TASK) & (c.owner == OWNER) & (c.status == RUNNING)


def _claim_values() -> dict[str, Any]:
    return {
        "status": RUNNING,
        "owner": OWNER,
        "lease_until": LEASE_UNTIL,
        "attempts": c.attempts + 1,
        # ``now`` may predate a row inserted while this claim waited for the lock.
        "started_at": func.coalesce(
            c.started_at, case((c.created_at > NOW, c.created_at), else_=NOW)
        ),
        "updated_at": NOW,
        "version": c.version + 1,
    }


def _create(settings: TasksSettings) -> Any:
    # Inserts only while fewer than max_queued tasks are queued: one statement.
    queued = select(func.count()).select_from(table).where(c.status == QUEUED)
    room = queued.scalar_subquery() < literal(settings.max_queued, BigInteger)
    row_values = select(*(param(name, name) for name in CREATED_COLUMNS))
    statement = insert(table).from_select(list(CREATED_COLUMNS), row_values.where(room))
    return statement.returning(*c)


def _claim_oldest(*, skip_locked: bool) -> Any:
    limit = bindparam("p_limit", type_=Integer)
    oldest = select(c.seq).where(c.status == QUEUED).order_by(c.seq).limit(limit)
    if skip_locked:
        oldest = oldest.with_for_update(skip_locked=True)
    # Materialised, so that it runs once: PostgreSQL may evaluate a locking
    # subquery again for each row it joins, and claim more than ``limit``.
    picked = oldest.cte("picked").prefix_with("MATERIALIZED")
    return (
        update(table)
        .where(c.seq.in_(select(picked.c.seq)), c.status == QUEUED)
        .values(_claim_values())
        .returning(*c)
    )


def job_statements(settings: TasksSettings, *, skip_locked: bool) -> JobStatements:
    """Build the statements for ``settings`` (claims skip locked rows with ``skip_locked``)."""
    claimable = (c.status == QUEUED) | ((c.status == RUNNING) & (c.lease_until < NOW))
    renew = update(table).where(_owned()).returning(c.cancel_requested)
    outcome = {
        "status": param("status", "status"),
        "result": param("result", "result"),
        "error": param("error", "error"),
        "owner": None,
        "lease_until": None,
        "finished_at": NOW,
        "updated_at": NOW,
        "version": c.version + 1,
    }
    return JobStatements(
        create=_create(settings),
        claim_oldest=_claim_oldest(skip_locked=skip_locked),
        claim_one=update(table)
        .where(c.id == TASK, claimable, c.attempts < settings.max_attempts)
        .values(_claim_values())
        .returning(*c),
        renew_lease=renew.values(lease_until=LEASE_UNTIL),
        renew_progress=renew.values(
            lease_until=LEASE_UNTIL,
            progress=case((c.progress < PROGRESS, PROGRESS), else_=c.progress),
            updated_at=NOW,
            version=c.version + 1,
        ),
        finish=update(table).where(_owned()).values(outcome),
        finish_succeeded=update(table).where(_owned()).values(outcome | {"progress": 100}),
        release=update(table)
        .where(_owned())
        .values(
            status=QUEUED,
            owner=None,
            lease_until=None,
            dispatched=False,
            message_id=None,
            attempts=c.attempts - 1,
            updated_at=NOW,
            version=c.version + 1,
        ),
        mark_dispatched=update(table)
        .where(c.id == TASK, c.status == QUEUED)
        .values(
            dispatched=param("dispatched", "dispatched"),
            message_id=param("message_id", "message_id"),
        ),
    )
