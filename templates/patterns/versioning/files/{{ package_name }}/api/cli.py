"""`python -m <package> api-contract`: write or check the frozen OpenAPI contracts."""

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from .lifecycle import load_versions

CONTRACTS_DIR = Path("tests") / "contracts"


def contract_text(version: str) -> str:
    """Return version ``version``'s OpenAPI document as the committed contract text."""
    from .registry import VERSION_ROUTERS, openapi_document

    document: dict[str, Any] = openapi_document(version, VERSION_ROUTERS[version], title="")
    # The contract is the paths and schemas, not the project's title.
    document["info"] = {"version": version}
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def register(cli: typer.Typer) -> None:
    """Add the `api-contract` command."""

    @cli.command("api-contract")
    def api_contract(
        versions: Annotated[
            list[str] | None, typer.Argument(help="Versions to write (default: all released).")
        ] = None,
        check: Annotated[
            bool, typer.Option("--check", help="Only compare; exit 1 if a contract differs.")
        ] = False,
    ) -> None:
        """Write tests/contracts/<version>.json from the code (refresh a contract on purpose)."""
        known = load_versions()
        chosen = versions or [n for n in known.ordered() if known.versions[n].released]
        unknown = [v for v in chosen if v not in known.versions]
        if unknown:
            typer.echo(f"Unknown version(s): {', '.join(unknown)}", err=True)
            raise typer.Exit(code=2)
        differing = []
        for version in chosen:
            path = CONTRACTS_DIR / f"{version}.json"
            text = contract_text(version)
            current = path.read_text(encoding="utf-8") if path.exists() else None
            if current == text:
                continue
            differing.append(version)
            if not check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
                typer.echo(f"wrote {path}")
        if check and differing:
            typer.echo(f"Contracts differ from the code: {', '.join(differing)}", err=True)
            raise typer.Exit(code=1)
