"""The record fastscaffold keeps inside every project it generates.

It lives in ``.fastscaffold/`` (committed with the project) and holds the
project's *state*, from which fastscaffold can render every file it owns:

* which templates produced the project, at which version, with which answers
  (one :class:`Unit` per template: the base project, each pattern and block),
  with what each pattern plugs in (its wiring) and what commands recorded on
  top of the templates (TOML overlays, e.g. an API version's lifecycle);
* for every file, the SHA-256 of its *base*: what fastscaffold's templates
  and state make of it, kept under ``.fastscaffold/base/``. A file whose
  hash differs holds the user's edits; ``update`` three-way merges newer
  templates into it against the base, without git or old templates;
* the requirements the user listed before a pattern needed them, so that
  removing the pattern leaves them alone.

The JSON is written with sorted keys and no timestamps, so it is
deterministic and diffs well. Records of fastscaffold 0.1 (schema 1) are
read through fastscaffold.legacy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
)

from fastscaffold.errors import ProjectStateError
from fastscaffold.manifest import Wiring

RECORD_DIR = ".fastscaffold"
RECORD_FILE = "record.json"
BASE_DIR = "base"
BASE_PREFIX = f"{RECORD_DIR}/{BASE_DIR}/"
SCHEMA_VERSION = 2
PROJECT_UNIT = "project"

_RESTORE_HINT = "Restore .fastscaffold/ from version control (git checkout -- .fastscaffold)."

_README = """\
# .fastscaffold/

fastscaffold's record of this project: commit this folder, do not edit it.

- `record.json`: the fastscaffold version, the templates and answers that
  generated the project (one unit per template or pattern), what commands
  such as `fastscaffold api-version` recorded, and the SHA-256 of every
  file's base.
- `base/`: each file as fastscaffold's templates make it. `fastscaffold add`,
  `remove` and `update` use it to tell your edits from fastscaffold's and to
  merge newer templates into files you changed, without git.
"""

Answer = StrictBool | StrictInt | StrictStr


def sha256_of(content: bytes) -> str:
    """Return the hex SHA-256 of ``content``."""
    return hashlib.sha256(content).hexdigest()


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Unit(_Model):
    """One template applied to the project: the base project, a pattern or a building block.

    Attributes:
        template: The template's name, e.g. ``project`` or ``websockets``.
        version: The template version that rendered it.
        answers: The answers it was rendered with (a pattern's: its options).
        kind: ``project``, ``pattern`` or ``block``.
        summary: The pattern's one-line summary.
        requires: The patterns and blocks it needs.
        wiring: What it plugs in (routers, lifespans, commands, dependencies,
            settings), as its manifest said when it was applied or updated.
        overlays: TOML a command recorded over a rendered file, by path: the
            values are set on top of what the templates render (``api-version``
            records each version's lifecycle in ``<package>/api/versions.toml``).
    """

    template: Annotated[str, Field(min_length=1)]
    version: Annotated[str, Field(min_length=1)]
    answers: dict[str, Answer] = {}
    kind: Literal["project", "pattern", "block"] = "project"
    summary: str = ""
    requires: list[str] = []
    wiring: Wiring = Wiring()
    overlays: dict[str, str] = {}


class FileEntry(_Model):
    """One file fastscaffold owns a base of.

    Attributes:
        sha256: Hex SHA-256 of the base copy.
        unit: The unit the file belongs to.
        origin: ``render`` when the templates produce it; ``copy`` when a
            command copied it from the project (a cut API version): no
            template renders it again, so its base only changes when the user
            asks for it.
    """

    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    unit: Annotated[str, Field(min_length=1)]
    origin: Literal["render", "copy"] = "render"


class Record(_Model):
    """The whole state of one project.

    Attributes:
        generator_version: The fastscaffold version that wrote the record last.
        units: The applied templates, by name.
        files: The files fastscaffold owns a base of, by relative POSIX path.
        user_requirements: Requirement names (canonical) the project listed
            itself before a pattern needed them, by TOML array
            (``project.dependencies``, ``project.optional-dependencies.dev``):
            fastscaffold neither duplicates nor removes them.
    """

    generator_version: str
    units: dict[str, Unit] = {}
    files: dict[str, FileEntry] = {}
    user_requirements: dict[str, list[str]] = {}
    _upgraded: bool = PrivateAttr(default=False)

    @property
    def upgraded(self) -> bool:
        """Return whether the record was read from an older schema (its bases may be stale)."""
        return self._upgraded

    def to_json(self) -> str:
        """Serialise deterministically (sorted keys, trailing newline)."""
        data = {
            "schema": SCHEMA_VERSION,
            "generator": {"name": "fastscaffold", "version": self.generator_version},
            "units": {
                name: unit.model_dump(mode="json", exclude_defaults=True)
                for name, unit in self.units.items()
            },
            "files": {
                path: entry.model_dump(mode="json", exclude_defaults=True)
                for path, entry in self.files.items()
            },
            "user_requirements": {k: sorted(v) for k, v in self.user_requirements.items() if v},
        }
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, *, source: Path) -> Record:
        """Parse a record written by :meth:`to_json` (or by fastscaffold 0.1).

        Raises:
            ProjectStateError: The file is not JSON, is a record from a newer
                fastscaffold, or has a field of the wrong type or shape (the
                message names the field).
        """
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ProjectStateError(f"{source} is not valid JSON ({exc}).", _RESTORE_HINT) from None
        if not isinstance(data, dict):
            raise ProjectStateError(f"{source} is not a fastscaffold record.", _RESTORE_HINT)
        schema = data.get("schema")
        upgraded = schema == 1
        if upgraded:
            from fastscaffold.legacy import upgrade_schema_1

            data = upgrade_schema_1(data, root=source.parent.parent)
        elif schema != SCHEMA_VERSION:
            raise ProjectStateError(
                f"{source} uses record schema {schema!r}; this fastscaffold understands "
                f"schema {SCHEMA_VERSION} (and 1).",
                "Upgrade fastscaffold: pip install -U fastscaffold",
            )
        generator = data.get("generator")
        try:
            record = cls.model_validate(
                {
                    "generator_version": generator.get("version")
                    if isinstance(generator, dict)
                    else None,
                    "units": data.get("units"),
                    "files": data.get("files"),
                    "user_requirements": data.get("user_requirements", {}),
                }
            )
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"]) or "(top level)"
            more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
            raise ProjectStateError(
                f"{source} is damaged: {where}: {error['msg']}{more}.", _RESTORE_HINT
            ) from None
        record._upgraded = upgraded
        return record

    def patterns(self) -> list[str]:
        """Return the applied patterns and blocks, requirements before what needs them.

        The order depends only on the set applied (alphabetical where
        ``requires`` does not decide), so the same patterns always produce the
        same files, whatever order they were added in.
        """
        pending = {n: u for n, u in self.units.items() if u.kind != "project"}
        ordered: list[str] = []
        while pending:
            ready = sorted(n for n, u in pending.items() if not set(u.requires) & set(pending))
            if not ready:  # a cycle cannot be added; keep going rather than loop forever
                ready = sorted(pending)
            ordered.append(ready[0])
            del pending[ready[0]]
        return ordered

    def files_of(self, units: Iterable[str]) -> list[str]:
        """Return the paths owned by any of ``units``."""
        wanted = set(units)
        return sorted(path for path, entry in self.files.items() if entry.unit in wanted)

    def project_answers(self) -> dict[str, Any]:
        """Return the base project's answers, which every pattern's templates can use.

        Raises:
            ProjectStateError: The record has no base project unit.
        """
        unit = self.units.get(PROJECT_UNIT)
        if unit is None:
            raise ProjectStateError(
                f"{RECORD_DIR}/{RECORD_FILE} has no {PROJECT_UNIT!r} unit.", _RESTORE_HINT
            )
        return dict(unit.answers)


def read_record(root: Path) -> Record:
    """Read the record of the project at ``root``.

    Raises:
        ProjectStateError: The record is missing, unreadable or damaged.
    """
    path = root / RECORD_DIR / RECORD_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProjectStateError(
            f"{path} is missing: fastscaffold cannot tell which files it generated.",
            _RESTORE_HINT,
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectStateError(f"Cannot read {path}: {exc}.", _RESTORE_HINT) from None
    return Record.from_json(text, source=path)


def base_path(path: str) -> str:
    """Return where the base copy of ``path`` is kept, relative to the project."""
    return str(PurePosixPath(RECORD_DIR, BASE_DIR, path))


def record_files(record: Record, bases: Mapping[str, bytes]) -> dict[str, bytes]:
    """Return the files of the record folder: README, record.json and the given base copies."""
    out = {
        f"{RECORD_DIR}/README.md": _README.encode(),
        f"{RECORD_DIR}/{RECORD_FILE}": record.to_json().encode(),
    }
    for path, content in bases.items():
        out[base_path(path)] = content
    return out
