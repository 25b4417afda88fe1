"""The `seed-items` management command."""

import asyncio
import time
from typing import Annotated

import typer

from ..database import DatabaseSettings, create_engine
from .seed import seed_items


async def _seed(rows: int, *, replace: bool) -> int:
    engine = create_engine(DatabaseSettings())
    try:
        return await seed_items(engine, rows, replace=replace)
    finally:
        await engine.dispose()


def register(cli: typer.Typer) -> None:
    """Add `seed-items` to the management CLI."""

    @cli.command("seed-items")
    def seed_items_command(
        rows: Annotated[
            int, typer.Option(min=1, max=1_000_000_000, help="How many demo items to insert.")
        ] = 1000,
        replace: Annotated[
            bool, typer.Option("--replace", help="Delete every existing item first.")
        ] = False,
    ) -> None:
        """Insert demo rows into the `items` table (at DATABASE_URL) for the exports."""
        started = time.monotonic()
        last_id = asyncio.run(_seed(rows, replace=replace))
        typer.echo(
            f"Inserted {rows:,} items (last id {last_id}) in {time.monotonic() - started:.1f} s."
        )
