"""Wiring patterns into a project without editing the user's code.

Three mechanisms, from the most to the least preferred:

* **Regenerated, tool-owned files**: ``<package>/_fastscaffold.py`` (routers,
  lifespan hooks, management commands) and ``PATTERNS.md`` are rebuilt from
  the record's applied patterns; user-owned ``main.py`` and ``__main__.py``
  call the module once and are never touched.
* **Structured edits** of ``pyproject.toml`` through tomlkit, which keeps the
  user's formatting and comments.
* **Managed blocks** in ``.env.example`` and ``README.md``
  (fastscaffold.blocks): one block per pattern between exact marker lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastscaffold.errors import TemplateError
from fastscaffold.record import Record, Unit
from fastscaffold.templates import wiring_template

WIRING_MODULE = "_fastscaffold.py"
PATTERNS_DOC = "PATTERNS.md"
ENV_EXAMPLE = ".env.example"
README = "README.md"
DEV_EXTRA = "dev"
DEPENDENCY_TABLES = ("dependencies", "dev_dependencies")
_LINE_LENGTH = 100


@dataclass(frozen=True)
class Wiring:
    """What the applied patterns plug into the app, ready to render.

    Attributes:
        patterns: The applied patterns, requirements first.
        imports: Import lines of the modules the hooks live in.
        routers: Expressions of the routers to include.
        lifespans: Expressions of the lifespan hooks, entered in this order.
        commands: Expressions of the command-registering functions.
    """

    patterns: Sequence[str] = ()
    imports: Sequence[str] = ()
    routers: Sequence[str] = ()
    lifespans: Sequence[str] = ()
    commands: Sequence[str] = field(default=())

    def patterns_tuple(self) -> str:
        """Return the Python literal of the pattern names, laid out as ruff would format it."""
        if not self.patterns:
            return "()"
        items = [f'"{name}"' for name in self.patterns]
        one_line = f"({', '.join(items)},)" if len(items) == 1 else f"({', '.join(items)})"
        if len("APPLIED_PATTERNS: tuple[str, ...] = ") + len(one_line) <= _LINE_LENGTH:
            return one_line
        return "(\n" + "".join(f"    {item},\n" for item in items) + ")"


def wiring_from_record(record: Record) -> Wiring:
    """Collect the hooks of every applied pattern, in application order.

    Each hook's module is imported once, under an alias made from its dotted
    path (``tasks.worker`` -> ``tasks_worker``), so the generated code names
    ``tasks_worker.register`` and cannot clash.
    """
    patterns = record.patterns()
    modules: set[str] = set()
    routers: list[str] = []
    lifespans: list[str] = []
    commands: list[str] = []
    for name in patterns:
        wiring = record.units[name].wiring
        for key, target in (("routers", routers), ("lifespans", lifespans), ("commands", commands)):
            for hook in wiring.get(key, []):
                modules.add(hook["module"])
                target.append(f"{_alias(hook['module'])}.{hook['attr']}")
    return Wiring(
        patterns=patterns,
        imports=_import_lines(modules),
        routers=routers,
        lifespans=lifespans,
        commands=commands,
    )


def _alias(module: str) -> str:
    return module.replace(".", "_")


def _import_lines(modules: Iterable[str]) -> list[str]:
    """Return the import lines for ``modules``, laid out as ruff's isort wants them.

    Top-level modules share one ``from . import a, b`` line; nested ones get
    one aliased line each, sorted by their dotted path.
    """
    top = sorted(m for m in modules if "." not in m)
    nested = sorted(m for m in modules if "." in m)
    lines = []
    if top:
        line = f"from . import {', '.join(top)}"
        if len(line) > _LINE_LENGTH:
            line = "from . import (\n" + "".join(f"    {m},\n" for m in top) + ")"
        lines.append(line)
    for module in nested:
        parent, _, leaf = module.rpartition(".")
        lines.append(f"from .{parent} import {leaf} as {_alias(module)}")
    return lines


def render_wiring(wiring: Wiring) -> bytes:
    """Render the tool-owned wiring module ``<package>/_fastscaffold.py``."""
    import jinja2

    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    try:
        source = wiring_template().read_text(encoding="utf-8")
        text = env.from_string(source).render(
            imports=list(wiring.imports),
            patterns_tuple=wiring.patterns_tuple(),
            routers=list(wiring.routers),
            lifespans=list(wiring.lifespans),
            commands=list(wiring.commands),
        )
    except jinja2.TemplateError as exc:
        raise TemplateError(f"Rendering the wiring module failed: {exc}") from exc
    return text.encode("utf-8")


def render_patterns_doc(record: Record) -> bytes | None:
    """Render PATTERNS.md, the tool-owned index of applied patterns (None when there are none)."""
    names = record.patterns()
    if not names:
        return None
    lines = [
        "# Patterns",
        "",
        "Generated by fastscaffold from `.fastscaffold/record.json`: do not edit.",
        "`fastscaffold add` and `fastscaffold remove` rewrite this file.",
        "",
    ]
    for name in names:
        unit = record.units[name]
        heading = f"{name} (building block)" if unit.kind == "block" else name
        lines += [f"## {heading}", "", unit.summary, ""]
        options = {k: v for k, v in unit.answers.items() if k not in _PROJECT_ANSWERS}
        if options:
            listed = ", ".join(f"`{k}={v}`" for k, v in sorted(options.items()))
            lines += [f"Options: {listed}.", ""]
        settings = unit.wiring.get("settings", [])
        if settings:
            lines += ["| setting | default | meaning |", "|---|---|---|"]
            lines += [f"| `{s['name']}` | `{s['default']}` | {s['help']} |" for s in settings]
            lines.append("")
        doc = f"docs/{name}.md"
        if doc in record.files:
            lines += [f"Details: [{doc}]({doc}).", ""]
    return ("\n".join(lines).rstrip("\n") + "\n").encode("utf-8")


# Answers every unit inherits from the project; not options of a pattern.
_PROJECT_ANSWERS = frozenset(
    {"project_name", "package_name", "project_title", "description", "author", "python_version"}
)


def project_answers(record: Record) -> dict[str, Any]:
    """Return the base project's answers, which every pattern template can use."""
    return dict(record.units["project"].answers)


def is_project_answer(name: str) -> bool:
    """Return whether ``name`` is a base-project answer rather than a pattern option."""
    return name in _PROJECT_ANSWERS


# --- pyproject.toml dependencies ------------------------------------------------------


def _canonical(requirement: str) -> str:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    return canonicalize_name(Requirement(requirement).name)


def _dependency_arrays(document: Any) -> dict[str, Any]:
    """Return the tomlkit arrays of main and dev requirements, creating missing ones."""
    import tomlkit

    project = document["project"]
    if "dependencies" not in project:
        project["dependencies"] = tomlkit.array()
    if "optional-dependencies" not in project:
        project["optional-dependencies"] = tomlkit.table()
    extras = project["optional-dependencies"]
    if DEV_EXTRA not in extras:
        extras[DEV_EXTRA] = tomlkit.array()
    return {"dependencies": project["dependencies"], "dev_dependencies": extras[DEV_EXTRA]}


def add_dependencies(
    text: str, wanted: Mapping[str, Sequence[str]]
) -> tuple[str, dict[str, list[str]]]:
    """Add requirements to pyproject.toml, keeping its formatting.

    Args:
        text: The current pyproject.toml.
        wanted: Requirements by table (``dependencies``, ``dev_dependencies``).

    Returns:
        The new text, and the requirements really inserted by table: one whose
        distribution is already listed (with any version) is left as it is.
    """
    import tomlkit

    document = tomlkit.parse(text)
    arrays = _dependency_arrays(document)
    added: dict[str, list[str]] = {}
    for table, requirements in wanted.items():
        array = arrays[table]
        present = {_canonical(str(item)) for item in array}
        for requirement in requirements:
            if _canonical(requirement) not in present:
                array.append(requirement)
                present.add(_canonical(requirement))
                added.setdefault(table, []).append(requirement)
        if added.get(table):
            array.multiline(True)
    return tomlkit.dumps(document), added


def remove_dependencies(text: str, unwanted: Mapping[str, Sequence[str]]) -> str:
    """Remove exactly these requirement strings from pyproject.toml, keeping its formatting."""
    import tomlkit

    document = tomlkit.parse(text)
    arrays = _dependency_arrays(document)
    for table, requirements in unwanted.items():
        array = arrays[table]
        for requirement in requirements:
            for index, item in enumerate(list(array)):
                if str(item) == requirement:
                    del array[index]
                    break
    return tomlkit.dumps(document)


def release_dependencies(record: Record, unit: Unit, pyproject: str) -> tuple[str, bool]:
    """Drop the requirements ``unit`` added that no remaining pattern lists.

    A requirement another applied pattern also lists stays, and that pattern
    becomes the one that added it, so removing it later takes it out.
    """
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    unwanted: dict[str, list[str]] = {}
    for table in DEPENDENCY_TABLES:
        for requirement in unit.added.get(table, []):
            name = canonicalize_name(Requirement(requirement).name)
            heir = next(
                (
                    other
                    for other in record.units.values()
                    if any(
                        canonicalize_name(Requirement(r).name) == name
                        for r in other.wiring.get(table, [])
                    )
                ),
                None,
            )
            if heir is None:
                unwanted.setdefault(table, []).append(requirement)
            else:
                heir.added.setdefault(table, []).append(requirement)
    if not unwanted:
        return pyproject, False
    return remove_dependencies(pyproject, unwanted), True
