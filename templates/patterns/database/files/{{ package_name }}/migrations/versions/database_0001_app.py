"""The root of the app branch: your own revisions come after this one.

Revision ID: database_0001
Revises:
Create Date: 2026-12-02
"""

from collections.abc import Sequence

revision: str = "database_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("app",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to create: the patterns' tables come with their own branches."""


def downgrade() -> None:
    """Nothing to drop."""
