"""The one error hierarchy of fastscaffold.

Library code raises these; only the CLI boundary (fastscaffold.cli) turns them
into a message, a hint and an exit code. Anything else that escapes is a bug
and keeps its traceback.

* FastScaffoldError
  + UserError                      the user can fix it; printed without a traceback
    - InvalidNameError             a project name that cannot become a package
    - DestinationError             the target folder exists, is not writable, ...
    - InvalidAnswerError           a template question got a value it refuses
    - ProjectNotFoundError         no generated project at or above a folder
    - ProjectConfigError           the project's pyproject.toml is missing a key
    - MissingDependenciesError     the project's interpreter lacks packages
    - PortInUseError               `run` cannot bind its port
    - EnvironmentSetupError        creating the project's virtualenv failed
    - PatternError                 an unknown, conflicting or still-required pattern
    - EditedFilesError             add/remove would overwrite files the user edited
    - UpdateConflictError          update --conflict fail met edits that overlap
    - ProjectStateError            .fastscaffold/ is damaged, missing or inconsistent
    - ProjectBehindError           a change needs the project updated to the templates first
    - PatternDefinitionError       a pattern a team wrote (FASTSCAFFOLD_PATTERNS_PATH) is broken
    - FileSystemError              a file cannot be read or written (permissions, full disk, ...)
    - SmokeUsageError              `smoke` was asked for something it cannot do
  + TemplateError                  a shipped template is broken (a bug in fastscaffold)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar


class FastScaffoldError(Exception):
    """Base class of every error fastscaffold raises on purpose."""

    exit_code: ClassVar[int] = 1


class UserError(FastScaffoldError):
    """Raised when the user can fix the problem; carries a message and a hint.

    Args:
        message: What went wrong, naming the offending value.
        hint: What to do about it, naming the flag or command that helps.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InvalidNameError(UserError):
    """Raised when a project name cannot be used as a distribution or package name."""

    exit_code: ClassVar[int] = 2

    def __init__(self, *, name: str, reason: str) -> None:
        super().__init__(
            f"Invalid project name {name!r}: {reason}.",
            "Use letters, digits, '-' and '_', starting with a letter, e.g. 'orders-api'.",
        )
        self.name = name


class DestinationError(UserError):
    """Raised when the destination folder of `new` cannot be used as asked."""


class InvalidAnswerError(UserError):
    """Raised when a template question refuses the value it was given."""

    exit_code: ClassVar[int] = 2


class ProjectNotFoundError(UserError):
    """Raised when no fastscaffold project is found at or above a folder."""

    def __init__(self, *, start: Path) -> None:
        if not start.exists():
            super().__init__(
                f"{start} does not exist.",
                "Check the path given to --project (or the folder you are in).",
            )
        else:
            super().__init__(
                f"No fastscaffold project found at {start} or any folder above it "
                "(looked for a pyproject.toml with a [tool.fastscaffold] table).",
                "Run the command inside a generated project, pass --project PATH, "
                "or create one with `fastscaffold new NAME`.",
            )
        self.start = start


class ProjectConfigError(UserError):
    """Raised when a project's pyproject.toml lacks what fastscaffold needs."""


class MissingDependenciesError(UserError):
    """Raised when the project's interpreter cannot import the project's dependencies."""

    def __init__(self, *, python: Path, missing: Sequence[str], install_command: str) -> None:
        listed = ", ".join(missing)
        super().__init__(
            f"The interpreter {python} lacks what the project needs: {listed}.",
            f"Install them with: {install_command}",
        )
        self.python = python
        self.missing = tuple(missing)
        self.install_command = install_command


class PortInUseError(UserError):
    """Raised when `run` cannot bind the host and port it was given."""

    def __init__(self, *, host: str, port: int, reason: str) -> None:
        super().__init__(
            f"Cannot listen on {host}:{port}: {reason}.",
            f"Stop whatever uses port {port}, or choose another with --port.",
        )
        self.host = host
        self.port = port


class EnvironmentSetupError(UserError):
    """Raised when creating or installing the project's virtual environment fails."""


class PatternError(UserError):
    """Raised when patterns cannot be added or removed as asked (unknown, conflicting, needed)."""


class EditedFilesError(UserError):
    """Raised when a change would overwrite files the user edited since fastscaffold wrote them."""

    def __init__(self, *, paths: Sequence[str], action: str) -> None:
        listed = "\n".join(f"  {path}" for path in paths)
        if action.startswith("Removing"):
            hint = (
                "See the changes with --dry-run. --force goes ahead: files you edited are "
                "deleted or regenerated, each after a backup under .fastscaffold/backup/."
            )
        else:
            hint = (
                "See the changes with --dry-run. --force goes ahead and still keeps your "
                "versions: where a file of yours is in the way, the new one is written beside it "
                "as FILE.new; a tool-owned file is regenerated and your copy saved under "
                ".fastscaffold/backup/."
            )
        super().__init__(
            f"{action} would change {len(paths)} file(s) you edited; "
            f"nothing was changed:\n{listed}",
            hint,
        )
        self.paths = tuple(paths)


class TemplateError(FastScaffoldError):
    """Raised when a shipped template is broken: a bug to report, not a user mistake."""


class UpdateConflictError(UserError):
    """Raised by ``update --conflict fail`` when edits overlap the templates' changes."""

    def __init__(self, *, paths: Sequence[str]) -> None:
        listed = "\n".join(f"  {p}" for p in paths)
        super().__init__(
            f"Your edits overlap the new templates in {len(paths)} file(s); "
            f"nothing was written:\n{listed}",
            "Run `fastscaffold update --dry-run` to see the merge, then update with "
            "--conflict inline (markers) or --conflict rej (FILE.rej) and resolve them.",
        )
        self.paths = tuple(paths)


class ProjectStateError(UserError):
    """Raised when fastscaffold's record of a project is damaged, incomplete or inconsistent.

    Nothing is written; the message names what is wrong and the hint how to
    recover (restore ``.fastscaffold/`` from version control, or
    ``fastscaffold check --repair``).
    """


class ProjectBehindError(UserError):
    """Raised when a change cannot be applied until the project is updated to the templates."""


class PatternDefinitionError(UserError):
    """Raised when a pattern from ``FASTSCAFFOLD_PATTERNS_PATH`` is broken: its author can fix it.

    The same problem in a pattern fastscaffold ships is a :class:`TemplateError`.
    """


class FileSystemError(UserError):
    """Raised when a file cannot be read or written; nothing was changed.

    Args:
        path: The file.
        action: What was being done (``write``, ``delete``, ``read``).
        reason: Why it failed, in words (the OS's message, or "it is read-only").
    """

    def __init__(self, *, path: Path, action: str, reason: str) -> None:
        import shlex

        quoted = shlex.quote(str(path))
        if "read-only" in reason or "ermission" in reason or "not permitted" in reason:
            hint = (
                f"Make it writable for your user (chmod u+w {quoted}; for an immutable file, "
                f"chattr -i {quoted}), or run the command as its owner; nothing was changed."
            )
        elif "space" in reason:
            hint = "Free some disk space and run the command again; nothing was changed."
        else:
            hint = "Fix the cause and run the command again; nothing was changed."
        super().__init__(f"Cannot {action} {path}: {reason}.", hint)
        self.path = path


class SmokeUsageError(UserError):
    """Raised when ``fastscaffold smoke`` is asked for something it cannot do.

    An unknown combination, ``update`` without ``--from``, no pattern selected,
    a ``--patterns-path`` or ``--from`` folder that does not exist.
    """

    exit_code: ClassVar[int] = 2
