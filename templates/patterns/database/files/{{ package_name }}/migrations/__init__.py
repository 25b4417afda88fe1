"""Alembic migrations of the project's database (see ``migrate.py``)."""
