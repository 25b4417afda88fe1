"""The upload pattern: create the ``uploaded_files`` table (the files' metadata).

Revision ID: upload_0001
Revises:
Create Date: 2026-12-02

``if_not_exists``: a database whose tables fastscaffold 0.1 created (with
``create_all``) already has the table; migrating it only records the revision.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "upload_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("upload",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the table and its index."""
    op.create_table(
        "uploaded_files",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("storage_key", sa.String(length=80), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_uploaded_files")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_uploaded_files_storage_key")),
        if_not_exists=True,
    )
    op.create_index(
        "ix_uploaded_files_owner_created",
        "uploaded_files",
        ["owner", "created_at"],
        unique=False,
        if_not_exists=True,
    )


def downgrade() -> None:
    """Drop the table (the stored bytes stay in UPLOAD_DIR)."""
    op.drop_table("uploaded_files")
