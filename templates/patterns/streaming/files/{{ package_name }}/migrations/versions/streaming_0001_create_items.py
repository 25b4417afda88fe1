"""The streaming pattern: create the exported ``items`` table.

Revision ID: streaming_0001
Revises:
Create Date: 2026-12-02

``if_not_exists``: a database whose tables fastscaffold 0.1 created (with
``create_all``) already has the table; migrating it only records the revision.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "streaming_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("streaming",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the table."""
    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_items")),
        if_not_exists=True,
    )


def downgrade() -> None:
    """Drop the table."""
    op.drop_table("items")
