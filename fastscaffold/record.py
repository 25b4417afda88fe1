"""The record fastscaffold keeps inside every project it generates.

It lives in ``.fastscaffold/`` (committed with the project) and answers three
questions later commands need:

* which templates produced the project, at which version, with which answers
  (one entry per *unit*: the base project now, each applied pattern later);
* what fastscaffold last wrote to each file, as a SHA-256, so a file the user
  edited is recognised and never overwritten silently;
* the content it last wrote, under ``.fastscaffold/base/``, so that
  ``update`` can three-way merge (base = what fastscaffold wrote, ours = the
  file now, theirs = a newer template's output) without git and without the
  old template version.

The JSON is written with sorted keys and no timestamps, so it is
deterministic and diffs well.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from fastscaffold.errors import ProjectConfigError

RECORD_DIR = ".fastscaffold"
RECORD_FILE = "record.json"
BASE_DIR = "base"
SCHEMA_VERSION = 1

_README = """\
# .fastscaffold/

fastscaffold's record of this project: commit this folder, do not edit it.

- `record.json`: the fastscaffold version, the templates and answers that
  generated the project (one unit per template or pattern), and the SHA-256
  of every file as fastscaffold last wrote it.
- `base/`: that content itself. `fastscaffold add`, `remove` and `update` use
  it to tell your edits from fastscaffold's and to merge newer templates into
  files you changed, without git.
"""


def sha256_of(content: bytes) -> str:
    """Return the hex SHA-256 of ``content``."""
    return hashlib.sha256(content).hexdigest()


@dataclass
class Unit:
    """One template applied to the project (the base project or a pattern).

    A pattern's unit also keeps what it plugged in (its manifest's wiring, as
    data), so the wiring can be regenerated from the record alone, and which
    dependencies it really added (not those the project already had), so
    ``remove`` takes out exactly those.

    Attributes:
        template: The template's name, e.g. ``project`` or ``websockets``.
        version: The template version that rendered it (fastscaffold's version).
        answers: The answers it was rendered with.
        kind: ``project``, ``pattern`` or ``block``.
        summary: The pattern's one-line summary.
        requires: The patterns it needs.
        wiring: Its manifest's wiring (routers, lifespans, commands, settings, ...).
        added: The requirements it inserted into pyproject.toml, by table
            (``dependencies`` and ``dev_dependencies``).
    """

    template: str
    version: str
    answers: dict[str, Any]
    kind: str = "project"
    summary: str = ""
    requires: list[str] = field(default_factory=list)
    wiring: dict[str, Any] = field(default_factory=dict)
    added: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class FileEntry:
    """What fastscaffold last wrote to one file.

    Attributes:
        sha256: Hex SHA-256 of the content written.
        unit: The unit that owns the file.
    """

    sha256: str
    unit: str


@dataclass
class Record:
    """The whole record of one project."""

    generator_version: str
    units: dict[str, Unit] = field(default_factory=dict)
    files: dict[str, FileEntry] = field(default_factory=dict)

    def to_json(self) -> str:
        """Serialise deterministically (sorted keys, trailing newline)."""
        data = {
            "schema": SCHEMA_VERSION,
            "generator": {"name": "fastscaffold", "version": self.generator_version},
            "units": {name: asdict(unit) for name, unit in self.units.items()},
            "files": {path: {"sha256": e.sha256, "unit": e.unit} for path, e in self.files.items()},
        }
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, *, source: Path) -> Record:
        """Parse a record written by :meth:`to_json`.

        Raises:
            ProjectConfigError: The file is not a record this version understands.
        """
        try:
            data = json.loads(text)
            if data["schema"] != SCHEMA_VERSION:
                raise ProjectConfigError(
                    f"{source} uses record schema {data['schema']}; this fastscaffold "
                    f"understands schema {SCHEMA_VERSION}.",
                    "Upgrade fastscaffold: pip install -U fastscaffold",
                )
            return cls(
                generator_version=data["generator"]["version"],
                units={name: Unit(**u) for name, u in data["units"].items()},
                files={path: FileEntry(**e) for path, e in data["files"].items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ProjectConfigError(
                f"{source} is not a valid fastscaffold record ({exc}).",
                "Restore it from version control (git checkout -- .fastscaffold).",
            ) from exc

    def patterns(self) -> list[str]:
        """Return the applied patterns and blocks, requirements before what needs them.

        The order depends only on the set applied (alphabetical where
        ``requires`` does not decide), so the same patterns always produce the
        same wiring, whatever order they were added in.
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

    def files_of(self, unit: str) -> list[str]:
        """Return the paths owned by ``unit``."""
        return sorted(path for path, entry in self.files.items() if entry.unit == unit)

    def is_unedited(self, path: str, current: bytes | None) -> bool:
        """Return whether ``path`` still has the content fastscaffold recorded for it."""
        entry = self.files.get(path)
        return entry is not None and current is not None and entry.sha256 == sha256_of(current)

    def track(self, files: Mapping[str, bytes], *, unit: str) -> None:
        """Record ``files`` (relative POSIX path -> content) as written for ``unit``."""
        for path, content in files.items():
            self.files[path] = FileEntry(sha256=sha256_of(content), unit=unit)


def record_files(record: Record, written: Mapping[str, bytes]) -> dict[str, bytes]:
    """Return the files of the record folder itself for a project.

    Args:
        record: The record to serialise.
        written: Every generated file (relative POSIX path -> content) whose
            base copy must be kept.

    Returns:
        Relative POSIX paths (under ``.fastscaffold/``) mapped to their content.
    """
    out = {
        f"{RECORD_DIR}/README.md": _README.encode(),
        f"{RECORD_DIR}/{RECORD_FILE}": record.to_json().encode(),
    }
    for path, content in written.items():
        out[str(PurePosixPath(RECORD_DIR, BASE_DIR, path))] = content
    return out


def read_record(root: Path) -> Record:
    """Read the record of the project at ``root``.

    Raises:
        ProjectConfigError: The record is missing or unreadable.
    """
    path = root / RECORD_DIR / RECORD_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProjectConfigError(
            f"{path} is missing: fastscaffold cannot tell which files it generated.",
            "Restore it from version control (git checkout -- .fastscaffold).",
        ) from None
    return Record.from_json(text, source=path)
