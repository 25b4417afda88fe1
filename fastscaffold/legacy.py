"""Reading records written by fastscaffold 0.1 (record schema 1).

Schema 1 differs from schema 2 in three ways this module bridges:

* each pattern unit listed the requirements it had inserted (``added``);
  schema 2 records the opposite, the requirements the user listed first
  (``user_requirements``), which is what ``remove`` must leave alone;
* an API version cut with ``api-version new`` was tracked like a template
  file, and its lifecycle lived only in ``versions.toml``; schema 2 marks
  the cut files as copies and records the lifecycle as an overlay, so that
  ``update`` re-renders it instead of reverting it;
* build artefacts (``__pycache__/*.pyc``) could be tracked; the session drops
  them from any record (fastscaffold.session), so nothing is needed here.

The facts about 0.1's templates below are history, not configuration.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

# The requirement names the 0.1 base project listed itself, by schema-2 array name.
_TEMPLATE_REQUIREMENTS_0_1 = {
    "project.dependencies": {"fastapi", "starlette", "uvicorn", "pydantic", "pydantic-settings",
                             "typer"},
    "project.optional-dependencies.dev": {"pytest", "httpx2", "fastapi-cli", "ruff", "mypy"},
}  # fmt: skip
_TABLES_0_1 = {
    "dependencies": "project.dependencies",
    "dev_dependencies": "project.optional-dependencies.dev",
}
# 0.1's versioning pattern shipped these versions; others were cut by `api-version new`.
_SHIPPED_VERSIONS_0_1 = {"v1", "v2"}
_LIFECYCLE_KEYS = ("status", "released", "deprecated_at", "sunset_at", "link")


def _name(requirement: str) -> str:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    try:
        return canonicalize_name(Requirement(requirement).name)
    except InvalidRequirement:
        return requirement


def upgrade_schema_1(data: dict[str, Any], *, root: Path) -> dict[str, Any]:
    """Return a schema-1 record (parsed JSON) in schema 2's shape.

    ``root`` is the project, read for the lifecycle of a versioned API.
    Malformed parts are passed through unchanged, for the schema-2
    validation to name them.
    """
    units = data.get("units")
    files = data.get("files")
    if not isinstance(units, dict) or not isinstance(files, dict):
        return data
    inserted: dict[str, set[str]] = {}
    wanted: dict[str, set[str]] = {}
    for unit in units.values():
        if not isinstance(unit, dict):
            return data
        for table, array in _TABLES_0_1.items():
            wanted.setdefault(array, set()).update(
                _name(r) for r in unit.get("wiring", {}).get(table, []) if isinstance(r, str)
            )
            added = unit.get("added", {})
            if isinstance(added, dict):
                inserted.setdefault(array, set()).update(
                    _name(r) for r in added.get(table, []) if isinstance(r, str)
                )
        unit.pop("added", None)
    user_requirements = {
        array: sorted(names - inserted.get(array, set()) - _TEMPLATE_REQUIREMENTS_0_1[array])
        for array, names in wanted.items()
    }
    versioning = units.get("versioning")
    package = units.get("project", {}).get("answers", {}).get("package_name")
    if isinstance(versioning, dict) and isinstance(package, str):
        _adopt_api_versions(versioning, files, root=root, package=package)
    return {**data, "units": units, "user_requirements": user_requirements, "schema": 2}


def _adopt_api_versions(
    unit: dict[str, Any], files: dict[str, Any], *, root: Path, package: str
) -> None:
    """Mark cut versions as copies and record the lifecycle of ``versions.toml``."""
    cut = re.compile(
        rf"^(?:{re.escape(package)}/api/(v[0-9]+)/.+|tests/contracts/(v[0-9]+)\.json)$"
    )
    for path, entry in files.items():
        match = cut.match(path)
        if match and isinstance(entry, dict) and entry.get("unit") == "versioning":
            version = match.group(1) or match.group(2)
            if version not in _SHIPPED_VERSIONS_0_1:
                entry["origin"] = "copy"
    versions_path = str(PurePosixPath(package, "api", "versions.toml"))
    overlay = _lifecycle_overlay(root / versions_path)
    if overlay:
        unit.setdefault("overlays", {})[versions_path] = overlay


def _lifecycle_overlay(path: Path) -> str | None:
    """Return the lifecycle held in a versions.toml as overlay TOML (None if unreadable)."""
    import tomlkit

    try:
        document = tomlkit.parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomlkit.exceptions.TOMLKitError):
        return None
    overlay = tomlkit.document()
    if "latest" in document:
        overlay["latest"] = document["latest"]
    versions = document.get("versions")
    if isinstance(versions, dict):
        table = tomlkit.table(is_super_table=True)
        for name, entry in versions.items():
            if isinstance(entry, dict):
                kept = tomlkit.table()
                for key in _LIFECYCLE_KEYS:
                    if key in entry:
                        kept[key] = entry[key]
                table[name] = kept
        overlay["versions"] = table
    return tomlkit.dumps(overlay)
