"""The ``tasks`` table: the job store, and the queue of the embedded engine."""

from typing import Any

from sqlalchemy import JSON, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..database import Base

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
FINISHED = (SUCCEEDED, FAILED, CANCELLED)


class TaskRow(Base):
    """One submitted job: what to run, its state, and who holds its lease.

    Times are seconds since the epoch (``time.time()``). ``version`` grows with
    every visible change and is the id of the task's server-sent events.
    ``owner`` is a token unique to one claim: every write of a running task
    checks it, so a worker whose lease was taken over cannot overwrite the
    new owner's work. ``dispatched`` says the task was handed to the broker
    (taskiq engine) and ``message_id`` names the Redis stream entry that
    carries it, so that the reaper can tell when Redis lost that entry.
    """

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_status_seq", "status", "seq"),
        Index("ix_tasks_status_lease", "status", "lease_until"),
        Index("ix_tasks_status_finished", "status", "finished_at"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    job: Mapped[str] = mapped_column(String(100))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    dispatched: Mapped[bool] = mapped_column(Boolean, default=False)
    message_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
