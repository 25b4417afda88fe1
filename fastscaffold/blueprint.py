"""The blueprint: every file fastscaffold's templates and a project's state make.

A project's state is its record (the units applied, with their answers,
wiring and overlays) plus the files commands copied into it. The blueprint
of a state is a pure function of that state and the installed templates:

* each unit's templates, rendered with its answers (the base project first,
  then patterns and blocks in the record's canonical order);
* the tool-owned wiring module and ``PATTERNS.md``;
* ``pyproject.toml`` with each pattern's requirements appended
  (fastscaffold.dependencies), ``.env.example`` and ``README.md`` with each
  pattern's managed block appended (fastscaffold.blocks);
* each unit's overlays set over the TOML files they name;
* the copies, as recorded.

It is what ``new`` writes, and what every later command merges towards: the
record's base copies are the blueprint of the state they recorded. Because
nothing in it depends on the order of the commands that built the state,
``new --with a,b`` and ``new`` + ``add b a`` give the same files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from fastscaffold.blocks import render_with_blocks
from fastscaffold.catalog import Pattern
from fastscaffold.dependencies import WIRING_ARRAYS, layer_requirements
from fastscaffold.errors import TemplateError
from fastscaffold.formats import MANAGED_FILES
from fastscaffold.naming import derived_answers
from fastscaffold.plan import StagedFile
from fastscaffold.record import PROJECT_UNIT, Record, Unit
from fastscaffold.render import render_tree
from fastscaffold.templates import project_files
from fastscaffold.wiring import (
    PATTERNS_DOC,
    WIRING_MODULE,
    render_patterns_doc,
    render_wiring,
    settings_lines,
    wiring_from_record,
)

PYPROJECT = "pyproject.toml"
ENV_EXAMPLE = ".env.example"
README = "README.md"


@dataclass(frozen=True)
class Copy:
    """A file a command copied into the project (a cut API version): not rendered again."""

    content: bytes
    unit: str


@dataclass(frozen=True)
class Blueprint:
    """The files of one state.

    Attributes:
        files: Every file, by relative POSIX path.
        owners: The unit each file belongs to.
        tool_owned: Files fastscaffold regenerates and users should not edit.
        copies: Files that are copies, not renders.
        unavailable: Applied patterns whose templates are not installed:
            their own files are missing from the blueprint.
    """

    files: dict[str, StagedFile]
    owners: dict[str, str]
    tool_owned: frozenset[str]
    copies: frozenset[str]
    unavailable: tuple[str, ...] = ()


class Renderer:
    """Renders blueprints; each unit is rendered once per command, whatever the states asked."""

    def __init__(self, catalog: Mapping[str, Pattern]) -> None:
        self.catalog = catalog
        self._cache: dict[str, dict[str, StagedFile]] = {}

    def _unit_files(self, name: str, unit: Unit, data: dict[str, Any]) -> dict[str, StagedFile]:
        key = json.dumps([name, unit.version, data], sort_keys=True, default=str)
        if key not in self._cache:
            if name == PROJECT_UNIT:
                self._cache[key] = render_tree(project_files(), data)
            else:
                self._cache[key] = self.catalog[name].render(data)
        return self._cache[key]

    def blueprint(self, state: Record, copies: Mapping[str, Copy] | None = None) -> Blueprint:
        """Return the blueprint of ``state`` with the installed templates.

        Raises:
            TemplateError: A shipped template is broken, or two units make one file.
            PatternDefinitionError: A team's pattern is broken.
        """
        recorded = state.project_answers()
        answers = {**derived_answers(str(recorded.get("project_name", ""))), **recorded}
        package = str(answers["package_name"])
        patterns = state.patterns()
        # The project's deployment files (compose.yaml, the CI workflow) follow the
        # shape the applied patterns scale out on.
        shape = deployment_shape(state, patterns)
        files: dict[str, StagedFile] = dict(
            self._unit_files(PROJECT_UNIT, state.units[PROJECT_UNIT], {**answers, **shape})
        )
        owners = dict.fromkeys(files, PROJECT_UNIT)
        unavailable = tuple(name for name in patterns if name not in self.catalog)
        env_blocks: list[tuple[str, list[str]]] = []
        readme_blocks: list[tuple[str, list[str]]] = []
        for name in patterns:
            unit = state.units[name]
            data = {**answers, **unit.answers}
            if name in self.catalog:
                for path, staged in self._unit_files(name, unit, data).items():
                    if path in owners:
                        raise TemplateError(
                            f"Pattern {name!r} generates {path}, which {owners[path]!r} "
                            "generates too."
                        )
                    files[path], owners[path] = staged, name
                section = self.catalog[name].readme_section(data)
                if section is not None:
                    readme_blocks.append((name, section))
            if unit.wiring.settings:
                env_blocks.append((name, settings_lines(state, name)))
        wiring = f"{package}/{WIRING_MODULE}"
        files[wiring], owners[wiring] = (
            StagedFile(render_wiring(wiring_from_record(state))),
            PROJECT_UNIT,
        )
        tool_owned = {wiring}
        doc = render_patterns_doc(state, files)
        if doc is not None:
            files[PATTERNS_DOC], owners[PATTERNS_DOC] = StagedFile(doc), PROJECT_UNIT
            tool_owned.add(PATTERNS_DOC)
        _layer_pyproject(files, state, patterns)
        for path, blocks in ((ENV_EXAMPLE, env_blocks), (README, readme_blocks)):
            if path in files and blocks:
                text = files[path].content.decode("utf-8")
                rendered = render_with_blocks(text, blocks, MANAGED_FILES[path])
                files[path] = StagedFile(rendered.encode("utf-8"), files[path].executable)
        for name in [PROJECT_UNIT, *patterns]:
            for path, overlay in sorted(state.units[name].overlays.items()):
                if path in files:
                    files[path] = StagedFile(_overlaid(files[path].content, overlay, path))
        for path, copy in sorted((copies or {}).items()):
            files[path], owners[path] = StagedFile(copy.content), copy.unit
        return Blueprint(
            files=dict(sorted(files.items())),
            owners=owners,
            tool_owned=frozenset(tool_owned),
            copies=frozenset(copies or ()),
            unavailable=unavailable,
        )


def deployment_shape(state: Record, patterns: list[str]) -> dict[str, Any]:
    """Return what the base project's deployment files are rendered with.

    ``services``: the backing services the applied patterns scale out on
    (sorted); ``processes``: the processes they run besides the API, as
    ``{"name", "command", "help"}``, in the canonical pattern order;
    ``fastscaffold_version``: the templates the project is at, which the CI
    workflow's ``fastscaffold check`` step installs (``update`` moves it on).
    """
    services: set[str] = set()
    processes: list[dict[str, str]] = []
    for name in patterns:
        wiring = state.units[name].wiring
        services.update(wiring.services)
        processes += [process.model_dump() for process in wiring.processes]
    return {
        "services": sorted(services),
        "processes": processes,
        "fastscaffold_version": state.units[PROJECT_UNIT].version,
    }


def _layer_pyproject(files: dict[str, StagedFile], state: Record, patterns: list[str]) -> None:
    """Append every pattern's requirements to the template's pyproject.toml."""
    if PYPROJECT not in files:
        return
    wanted: dict[str, list[str]] = {
        array: [] for arrays in WIRING_ARRAYS.values() for array in arrays
    }
    for name in patterns:
        wiring = state.units[name].wiring
        for array in WIRING_ARRAYS["dependencies"]:
            wanted[array] += wiring.dependencies
        for array in WIRING_ARRAYS["dev_dependencies"]:
            wanted[array] += wiring.dev_dependencies
    if not any(wanted.values()):
        return
    import tomlkit

    document = tomlkit.parse(files[PYPROJECT].content.decode("utf-8"))
    layer_requirements(document, wanted)
    files[PYPROJECT] = StagedFile(tomlkit.dumps(document).encode("utf-8"))


def _overlaid(content: bytes, overlay: str, path: str) -> bytes:
    """Return the TOML ``content`` with the ``overlay`` document's values set over it."""
    import tomlkit

    try:
        document = tomlkit.parse(content.decode("utf-8"))
        values = tomlkit.parse(overlay)
    except (UnicodeDecodeError, tomlkit.exceptions.TOMLKitError) as exc:
        raise TemplateError(f"Cannot overlay {PurePosixPath(path)}: {exc}") from exc
    _set_over(document, values)
    return tomlkit.dumps(document).encode("utf-8")


def _set_over(target: Any, values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), Mapping):
            _set_over(target[key], value)
        else:
            target[key] = value
