"""The tasks pattern: create the ``tasks`` table (the job store and the embedded queue).

Revision ID: tasks_0001
Revises:
Create Date: 2026-12-02

``if_not_exists``: a database whose tables fastscaffold 0.1 created (with
``create_all``) already has the table; migrating it only records the revision.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tasks_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("tasks",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the table and its indexes."""
    op.create_table(
        "tasks",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("job", sa.String(length=100), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.Float(), nullable=True),
        sa.Column("dispatched", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=True),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_tasks")),
        sa.UniqueConstraint("id", name=op.f("uq_tasks_id")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_tasks_idempotency_key")),
        if_not_exists=True,
    )
    for name, columns in (
        ("ix_tasks_status_seq", ["status", "seq"]),
        ("ix_tasks_status_lease", ["status", "lease_until"]),
        ("ix_tasks_status_finished", ["status", "finished_at"]),
    ):
        op.create_index(name, "tasks", columns, unique=False, if_not_exists=True)


def downgrade() -> None:
    """Drop the table (and every task in it)."""
    op.drop_table("tasks")
