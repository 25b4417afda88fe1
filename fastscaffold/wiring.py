"""The tool-owned files that wire patterns into a project without editing the user's code.

``<package>/_fastscaffold.py`` (routers, lifespan hooks, management
commands) and ``PATTERNS.md`` are rendered from the record's applied
patterns alone; the user-owned ``main.py`` and ``__main__.py`` call the
module once and are never touched. (Requirements go into ``pyproject.toml``
through fastscaffold.dependencies, settings and README sections into managed
blocks through fastscaffold.blocks.)
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from fastscaffold.record import Record
from fastscaffold.render import render_string
from fastscaffold.templates import wiring_template

WIRING_MODULE = "_fastscaffold.py"
PATTERNS_DOC = "PATTERNS.md"
_LINE_LENGTH = 100


@dataclass(frozen=True)
class AppWiring:
    """What the applied patterns plug into the app, ready to render.

    Attributes:
        patterns: The applied patterns, requirements first.
        imports: Import lines of the modules the hooks live in.
        routers: Expressions of the routers to include.
        lifespans: Expressions of the lifespan hooks, entered in this order.
        commands: Expressions of the command-registering functions.
        models: Modules defining ORM models, relative to the package.
        test_plugins: Modules of pytest fixtures the patterns' tests share.
    """

    patterns: Sequence[str] = ()
    imports: Sequence[str] = ()
    routers: Sequence[str] = ()
    lifespans: Sequence[str] = ()
    commands: Sequence[str] = field(default=())
    models: Sequence[str] = ()
    test_plugins: Sequence[str] = ()

    def patterns_tuple(self) -> str:
        """Return the Python literal of the pattern names, laid out as ruff would format it."""
        return _tuple_literal("APPLIED_PATTERNS: tuple[str, ...] = ", self.patterns)

    def models_tuple(self) -> str:
        """Return the Python literal of the model modules, laid out like ruff's."""
        return _tuple_literal("MODEL_MODULES: tuple[str, ...] = ", self.models)

    def test_plugins_tuple(self) -> str:
        """Return the Python literal of the test plugin modules, laid out like ruff's."""
        return _tuple_literal("TEST_PLUGINS: tuple[str, ...] = ", self.test_plugins)


def _tuple_literal(prefix: str, values: Sequence[str]) -> str:
    if not values:
        return "()"
    items = [f'"{value}"' for value in values]
    one_line = f"({', '.join(items)},)" if len(items) == 1 else f"({', '.join(items)})"
    if len(prefix) + len(one_line) <= _LINE_LENGTH:
        return one_line
    return "(\n" + "".join(f"    {item},\n" for item in items) + ")"


def wiring_from_record(record: Record) -> AppWiring:
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
    models: list[str] = []
    plugins: list[str] = []
    for name in patterns:
        wiring = record.units[name].wiring
        for hooks, target in (
            (wiring.routers, routers),
            (wiring.lifespans, lifespans),
            (wiring.commands, commands),
        ):
            for hook in hooks:
                modules.add(hook.module)
                target.append(f"{_alias(hook.module)}.{hook.attr}")
        models += [m for m in wiring.models if m not in models]
        plugins += [p for p in wiring.test_plugins if p not in plugins]
    return AppWiring(
        patterns=patterns,
        imports=_import_lines(modules),
        routers=routers,
        lifespans=lifespans,
        commands=commands,
        models=models,
        test_plugins=plugins,
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


def render_wiring(wiring: AppWiring) -> bytes:
    """Render the tool-owned wiring module ``<package>/_fastscaffold.py``."""
    template = wiring_template()
    text = render_string(
        template.read_text(encoding="utf-8"),
        {
            "imports": list(wiring.imports),
            "patterns_tuple": wiring.patterns_tuple(),
            "routers": list(wiring.routers),
            "lifespans": list(wiring.lifespans),
            "commands": list(wiring.commands),
            "models_tuple": wiring.models_tuple(),
            "test_plugins_tuple": wiring.test_plugins_tuple(),
        },
        origin=str(template),
    )
    return text.encode("utf-8")


def render_patterns_doc(record: Record, rendered: Collection[str]) -> bytes | None:
    """Render PATTERNS.md, the tool-owned index of applied patterns (None when there are none).

    ``rendered`` holds the paths the project's templates produce, so a
    pattern's ``docs/<name>.md`` is linked when it exists.
    """
    names = record.patterns()
    if not names:
        return None
    lines = [
        "# Patterns",
        "",
        "Generated by fastscaffold from `.fastscaffold/record.json`: do not edit.",
        "`fastscaffold add`, `remove` and `update` rewrite this file.",
        "",
    ]
    for name in names:
        unit = record.units[name]
        heading = f"{name} (building block)" if unit.kind == "block" else name
        lines += [f"## {heading}", "", unit.summary, ""]
        options = unit.answers
        if options:
            listed = ", ".join(f"`{k}={v}`" for k, v in sorted(options.items()))
            lines += [f"Options: {listed}.", ""]
        settings = unit.wiring.settings
        if settings:
            lines += ["| setting | default | meaning |", "|---|---|---|"]
            lines += [
                f"| `{s.name}` | `{setting_default(record, name, s.default)}` | {s.help} |"
                for s in settings
            ]
            lines.append("")
        doc = f"docs/{name}.md"
        if doc in rendered:
            lines += [f"Details: [{doc}]({doc}).", ""]
    return ("\n".join(lines).rstrip("\n") + "\n").encode("utf-8")


def setting_default(record: Record, name: str, default: str) -> str:
    """Return a setting's default as the pattern's options make it.

    A manifest may write ``default = "{{ queue_size }}"``: a setting whose
    default is a generation-time option shows the value chosen.
    """
    if "{" not in default:
        return default
    data = {**record.project_answers(), **record.units[name].answers}
    return render_string(default, data, origin=f"the settings of {name}")


def settings_lines(record: Record, name: str) -> list[str]:
    """Return the body of a pattern's managed block in ``.env.example``: its settings."""
    lines = []
    for setting in record.units[name].wiring.settings:
        default = setting_default(record, name, setting.default)
        lines += [f"# {setting.help}", f"# {setting.name}={default}"]
    return lines
