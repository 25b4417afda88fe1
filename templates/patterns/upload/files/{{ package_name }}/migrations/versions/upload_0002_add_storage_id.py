"""The upload pattern: note which storage holds each file's bytes.

Revision ID: upload_0002
Revises: upload_0001
Create Date: 2026-12-02

Servers sharing a database but not a storage folder could list a file and
then fail to serve it; with the storage id on each row they can tell.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "upload_0002"
down_revision: str | Sequence[str] | None = "upload_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column (empty for files stored before: they are served as before)."""
    with op.batch_alter_table("uploaded_files") as batch:
        batch.add_column(sa.Column("storage_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Drop the column."""
    with op.batch_alter_table("uploaded_files") as batch:
        batch.drop_column("storage_id")
