"""The versioning pattern: create the ``api_users`` table its example API serves.

Revision ID: versioning_0001
Revises:
Create Date: 2026-12-02

``if_not_exists``: a database whose tables fastscaffold 0.1 created (with
``create_all``) already has the table; migrating it only records the revision.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "versioning_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("versioning",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the table."""
    op.create_table(
        "api_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("given_name", sa.String(length=100), nullable=False),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_users")),
        sa.UniqueConstraint("email", name=op.f("uq_api_users_email")),
        if_not_exists=True,
    )


def downgrade() -> None:
    """Drop the table."""
    op.drop_table("api_users")
