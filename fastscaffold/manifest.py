"""Pattern manifests (``pattern.toml``): the validated description of one pattern folder.

A manifest says what a pattern is (name, summary), what it asks (typed
options with defaults and validation), how it relates to other patterns
(``requires``, ``conflicts``) and what it plugs into a project (routers,
lifespan hooks, management commands, dependencies, settings). Unknown keys
are rejected, so a typo fails when the manifest is loaded, not later.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fastscaffold.errors import InvalidAnswerError, TemplateError

MANIFEST_FILE = "pattern.toml"
USAGE_FILE = "USAGE.md"
FILES_DIR = "files"

_NAME = r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$"
_MODULE = r"^[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*$"
_IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"
_ENV_NAME = r"^[A-Z][A-Z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Option(_Strict):
    """One question a pattern asks, answered with ``--set name=value``.

    Attributes:
        type: ``str``, ``int``, ``bool`` or ``choice``.
        default: The value used when none is given.
        help: What the option controls.
        choices: The allowed values, for ``choice``.
        min: The smallest allowed value, for ``int``.
        max: The largest allowed value, for ``int``.
        regex: A pattern the whole value must match, for ``str``.
    """

    type: Literal["str", "int", "bool", "choice"]
    default: str | int | bool
    help: str
    choices: tuple[str, ...] = ()
    min: int | None = None
    max: int | None = None
    regex: str | None = None

    @model_validator(mode="after")
    def _check_consistency(self) -> Option:
        if (self.type == "choice") != bool(self.choices):
            raise ValueError("'choices' is required for type 'choice' and only allowed there")
        if self.type != "int" and (self.min is not None or self.max is not None):
            raise ValueError("'min' and 'max' are only allowed for type 'int'")
        if self.type != "str" and self.regex is not None:
            raise ValueError("'regex' is only allowed for type 'str'")
        self.convert(self.default, name="default")
        return self

    def convert(self, raw: str | int | bool, *, name: str) -> str | int | bool:
        """Return ``raw`` converted to this option's type, or raise ValueError saying why."""
        value: str | int | bool
        if self.type == "bool":
            if isinstance(raw, bool):
                value = raw
            elif str(raw).lower() in {"true", "yes", "1", "on"}:
                value = True
            elif str(raw).lower() in {"false", "no", "0", "off"}:
                value = False
            else:
                raise ValueError(f"{name} must be true or false, not {raw!r}")
        elif self.type == "int":
            if isinstance(raw, bool):
                raise ValueError(f"{name} must be a whole number, not {raw!r}")
            try:
                value = int(raw)
            except ValueError:
                raise ValueError(f"{name} must be a whole number, not {raw!r}") from None
            if self.min is not None and value < self.min:
                raise ValueError(f"{name} must be at least {self.min}, not {value}")
            if self.max is not None and value > self.max:
                raise ValueError(f"{name} must be at most {self.max}, not {value}")
        else:
            value = str(raw)
            if self.type == "choice" and value not in self.choices:
                raise ValueError(f"{name} must be one of {', '.join(self.choices)}; not {value!r}")
            if self.regex is not None and not re.fullmatch(self.regex, value):
                raise ValueError(f"{name} must match {self.regex}, not {value!r}")
        return value


class Hook(_Strict):
    """A callable a pattern plugs in: ``attr`` of ``module`` (relative to the package)."""

    module: Annotated[str, Field(pattern=_MODULE)]
    attr: Annotated[str, Field(pattern=_IDENTIFIER)]


class Setting(_Strict):
    """An environment variable a pattern reads, documented in .env.example and PATTERNS.md."""

    name: Annotated[str, Field(pattern=_ENV_NAME)]
    default: str
    help: str


class Process(_Strict):
    """A process a pattern runs besides the API, in the scale-out shape (compose.yaml).

    Attributes:
        name: The compose service's name, e.g. ``worker``.
        command: The management command it runs (``python -m <package> COMMAND``).
        help: What it does, for the compose file's comments.
    """

    name: Annotated[str, Field(pattern=_NAME)]
    command: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")]
    help: str


class Wiring(_Strict):
    """What a pattern plugs into the project.

    Attributes:
        routers: APIRouters included in the app, in order.
        lifespans: Async context managers taking the app, entered at start-up.
        commands: Functions taking the management Typer app, to add commands.
        models: Modules (relative to the package) that define ORM models: the
            wiring module imports them, so that migrations see every table.
        test_plugins: Modules (relative to the project root, e.g.
            ``tests.database_fixtures``) of pytest fixtures the pattern's
            tests share; the project's conftest loads them.
        services: Backing services the scale-out shape needs (``postgres``,
            ``redis``): compose.yaml and the CI workflow run them.
        processes: Processes it runs besides the API (compose.yaml services).
        dependencies: PEP 508 requirements added to ``[project] dependencies``.
        dev_dependencies: Requirements added to the ``dev`` dependency group and extra.
        settings: Environment variables the pattern reads.
    """

    routers: tuple[Hook, ...] = ()
    lifespans: tuple[Hook, ...] = ()
    commands: tuple[Hook, ...] = ()
    models: tuple[Annotated[str, Field(pattern=_MODULE)], ...] = ()
    test_plugins: tuple[Annotated[str, Field(pattern=_MODULE)], ...] = ()
    services: tuple[Literal["postgres", "redis"], ...] = ()
    processes: tuple[Process, ...] = ()
    dependencies: tuple[str, ...] = ()
    dev_dependencies: tuple[str, ...] = ()
    settings: tuple[Setting, ...] = ()

    @field_validator("dependencies", "dev_dependencies")
    @classmethod
    def _check_requirements(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        from packaging.requirements import InvalidRequirement, Requirement

        for value in values:
            try:
                Requirement(value)
            except InvalidRequirement as exc:
                raise ValueError(f"{value!r} is not a valid requirement: {exc}") from None
        return values


class Rename(_Strict):
    """A rename a migration performs: ``from`` becomes ``to``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    old: Annotated[str, Field(alias="from", min_length=1)]
    new: Annotated[str, Field(alias="to", min_length=1)]


class Migration(_Strict):
    """A change ``update`` applies to projects made with an older version of the pattern.

    Exactly one action: ``rename_file`` moves a generated file (paths may use
    ``{{ package_name }}``), so the user's edits follow it; ``rename_setting``
    renames an environment variable in ``.env`` and ``.env.example``. Both
    are idempotent: once done, running them again changes nothing.

    Attributes:
        version: The pattern version that introduced the change.
    """

    version: Annotated[str, Field(min_length=1)]
    rename_file: Rename | None = None
    rename_setting: Rename | None = None

    @model_validator(mode="after")
    def _one_action(self) -> Migration:
        if (self.rename_file is None) == (self.rename_setting is None):
            raise ValueError("a migration has exactly one of rename_file and rename_setting")
        return self


class Manifest(_Strict):
    """The contents of a ``pattern.toml``.

    Attributes:
        name: The pattern's name, as typed on the command line; the folder's name.
        summary: One line for ``fastscaffold list``.
        kind: ``pattern`` for what users add; ``block`` for a shared building
            block (a database engine, a Redis client) that patterns require.
        requires: Patterns (or blocks) that must be applied first; added automatically.
        conflicts: Patterns that cannot be applied together with this one.
        options: The questions it asks, by name.
        wiring: What it plugs into the project.
        version: The pattern's template version, recorded in projects; bump it
            when its output changes in a way a migration must follow.
        migrations: Changes ``update`` applies to projects from older versions.
    """

    name: Annotated[str, Field(pattern=_NAME)]
    summary: Annotated[str, Field(min_length=1, max_length=120)]
    kind: Literal["pattern", "block"] = "pattern"
    requires: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    options: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")], Option] = {}
    wiring: Wiring = Wiring()
    version: Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)*$")] = "1"
    migrations: tuple[Migration, ...] = ()

    def migrations_since(self, version: str) -> list[Migration]:
        """Return the migrations newer than ``version``, up to this version, in order."""
        from packaging.version import Version

        old, current = Version(version), Version(self.version)
        due = [m for m in self.migrations if old < Version(m.version) <= current]
        return sorted(due, key=lambda m: Version(m.version))

    def resolve_options(self, given: Mapping[str, str | int | bool]) -> dict[str, Any]:
        """Return every option's value: ``given`` (raw strings) converted, defaults elsewhere.

        Raises:
            InvalidAnswerError: An unknown option, or a value its option refuses.
        """
        unknown = sorted(set(given) - set(self.options))
        if unknown:
            known = ", ".join(sorted(self.options)) or "none"
            raise InvalidAnswerError(
                f"Pattern {self.name!r} has no option {unknown[0]!r} (its options: {known}).",
                f"See `fastscaffold show {self.name}`.",
            )
        values: dict[str, Any] = {}
        for name, option in self.options.items():
            try:
                values[name] = option.convert(given.get(name, option.default), name=name)
            except ValueError as exc:
                raise InvalidAnswerError(
                    f"Invalid value for {self.name}.{name}: {exc}.",
                    f"{option.help} (default: {option.default!r})",
                ) from None
        return values


def load_manifest(folder: Path) -> Manifest:
    """Load and validate ``folder/pattern.toml``.

    Raises:
        TemplateError: The manifest is missing, not TOML, invalid, or names
            another folder; the message lists every problem.
    """
    path = folder / MANIFEST_FILE
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
        manifest = Manifest.model_validate(data)
    except FileNotFoundError:
        raise TemplateError(f"{path} is missing.") from None
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"{path} is not valid TOML: {exc}.") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or '(top level)'}: {error['msg']}"
            for error in exc.errors()
        )
        raise TemplateError(f"{path} is invalid: {problems}.") from None
    if manifest.name != folder.name:
        raise TemplateError(f"{path} names {manifest.name!r}, but its folder is {folder.name!r}.")
    if not (folder / FILES_DIR).is_dir():
        raise TemplateError(f"{folder} has no {FILES_DIR}/ folder of templates.")
    if not (folder / USAGE_FILE).is_file():
        raise TemplateError(f"{folder} has no {USAGE_FILE}.")
    return manifest
