"""Management commands: `python -m golden_api --help`.

Patterns add their own commands through `_fastscaffold.register_commands`.
"""

import json
from typing import Annotated

import typer
import uvicorn
from fastapi.routing import iter_route_contexts
from pydantic import ValidationError
from starlette.routing import WebSocketRoute

from . import _fastscaffold
from .logs import configure_logging
from .settings import Settings, describe_settings, get_settings

# An import string rather than the app object: uvicorn needs one to start workers.
APP_IMPORT_PATH = "golden_api.main:app"

cli = typer.Typer(
    help="Manage the Golden Api service.",
    no_args_is_help=True,
    add_completion=False,
    # Tracebacks must not print local variables: they may hold secrets.
    pretty_exceptions_show_locals=False,
)


def load_settings() -> Settings:
    """Read the settings, or exit with one line per invalid variable.

    Input values are left out of the message: they may be secrets.
    """
    try:
        return get_settings()
    except ValidationError as exc:
        lines = [
            f"{'.'.join(map(str, error['loc'])).upper()}: {error['msg']}" for error in exc.errors()
        ]
        typer.echo("Invalid settings:\n  " + "\n  ".join(lines), err=True)
        raise typer.Exit(code=2) from None


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind [default: HOST].")] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port to listen on [default: PORT].")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes [default: WORKERS].")
    ] = None,
) -> None:
    """Run the service with uvicorn: the way to start it in production."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format, access_log=settings.access_log)
    uvicorn.run(
        APP_IMPORT_PATH,
        host=host if host is not None else settings.host,
        port=port if port is not None else settings.port,
        workers=workers if workers is not None else settings.workers,
        # Logging is already configured (and is again in each worker by the app).
        log_config=None,
        access_log=settings.access_log,
        # Don't advertise the server software.
        server_header=False,
    )


@cli.command("settings")
def show_settings() -> None:
    """Print the effective settings as JSON, with secret values masked."""
    typer.echo(json.dumps(describe_settings(load_settings()), indent=2))


@cli.command()
def routes() -> None:
    """List the app's routes with their methods."""
    settings = load_settings()
    # Imported late: importing main builds an app from the environment, which would
    # fail with a traceback before load_settings() could report invalid settings.
    from .main import create_app

    # iter_route_contexts sees through include_router, which app.routes does not.
    for context in iter_route_contexts(create_app(settings).routes):
        if context.methods:
            kind = ",".join(sorted(context.methods))
        elif isinstance(context.original_route, WebSocketRoute):
            kind = "WEBSOCKET"
        else:
            kind = "MOUNT"
        typer.echo(f"{kind:<12} {context.path}")


_fastscaffold.register_commands(cli)


def main() -> None:
    """Run the management CLI (the console script and `python -m` entry point)."""
    cli()


if __name__ == "__main__":
    main()
