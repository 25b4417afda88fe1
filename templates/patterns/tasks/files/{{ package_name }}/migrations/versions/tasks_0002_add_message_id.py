"""The tasks pattern: note which Redis stream entry carries each queued task.

Revision ID: tasks_0002
Revises: tasks_0001
Create Date: 2026-12-02

With the id of its message, the reaper can tell a queued task whose message
Redis lost (a restart without persistence, a trimmed stream) and send it
again. The stream itself moved under ``REDIS_KEY_PREFIX`` and the package's
name: queued tasks are marked not dispatched, so that the reaper sends them
once to the new stream (a duplicate of a task already run is skipped).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tasks_0002"
down_revision: str | Sequence[str] | None = "tasks_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

tasks = sa.table("tasks", sa.column("status", sa.String), sa.column("dispatched", sa.Boolean))


def upgrade() -> None:
    """Add the column, and have the reaper send queued tasks to the new stream."""
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("message_id", sa.String(length=64), nullable=True))
    op.execute(tasks.update().where(tasks.c.status == "queued").values(dispatched=False))


def downgrade() -> None:
    """Drop the column (queued tasks are sent again, to the stream named as before)."""
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("message_id")
    op.execute(tasks.update().where(tasks.c.status == "queued").values(dispatched=False))
