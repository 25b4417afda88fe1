"""Adding patterns to, and removing them from, a project the user has already edited.

Both are a change of the project's state (the units applied) made through a
:class:`~fastscaffold.session.Session`: the session renders the blueprint of
the new state, merges it into the project file by file (pattern files,
the regenerated wiring module and PATTERNS.md, the requirement arrays of
pyproject.toml, the managed blocks of .env.example and README.md), checks
every file against the record, and applies one atomic plan. A file the user
edited is never overwritten silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from fastscaffold.catalog import Pattern, resolve_additions
from fastscaffold.errors import InvalidAnswerError, PatternError
from fastscaffold.plan import Plan
from fastscaffold.policies import Policy
from fastscaffold.session import Session
from fastscaffold.session_result import SessionResult
from fastscaffold.venv import LOCK_FILE, relock


@dataclass(frozen=True)
class PatternChange:
    """What ``add`` or ``remove`` did (or, with ``dry_run``, would do).

    Attributes:
        operation: ``add`` or ``remove``.
        root: The project.
        plan: Every file written, changed or deleted.
        added: Patterns applied by this change, requirements first.
        required: Those among ``added`` that were pulled in by ``requires``.
        removed: Patterns taken out by this change.
        unchanged: Patterns asked for that needed nothing (already applied, or not applied).
        edited: Files the user edited that this change had to touch.
        side_files: Files written next to edited ones with ``force``
            (``FILE.new``, or backups under ``.fastscaffold/backup/``).
        kept: Edited pattern files ``remove`` kept (they are the user's now).
        manual_steps: What the user must do by hand.
        dependencies_changed: Whether pyproject.toml changed (its requirements).
        relocked: Whether ``uv.lock`` was brought in step with the change.
        lock_problem: Why an existing ``uv.lock`` could not be updated (None if it was,
            or there is none).
        dry_run: True when nothing was written.
    """

    operation: str
    root: Path
    plan: Plan
    added: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    edited: tuple[str, ...] = ()
    side_files: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    manual_steps: tuple[str, ...] = ()
    dependencies_changed: bool = False
    relocked: bool = False
    lock_problem: str | None = None
    dry_run: bool = False

    @classmethod
    def of(
        cls, operation: str, root: Path, result: SessionResult, **names: tuple[str, ...]
    ) -> PatternChange:
        """Return the change a session made for ``operation``, uv.lock re-locked if it changed.

        A project with a ``uv.lock`` gets it re-locked whenever pyproject.toml
        changed, so ``uv sync --locked`` (the Docker build's) keeps working.
        """
        dependencies_changed = "pyproject.toml" in result.project_changes
        lock_problem = None
        relocked = False
        if dependencies_changed and not result.dry_run and (root / LOCK_FILE).is_file():
            lock_problem = relock(root)
            relocked = lock_problem is None
        return cls(
            operation=operation,
            root=root,
            plan=result.plan,
            edited=result.edited,
            side_files=result.side_files,
            kept=result.kept,
            manual_steps=result.manual_steps,
            dependencies_changed=dependencies_changed,
            relocked=relocked,
            lock_problem=lock_problem,
            dry_run=result.dry_run,
            **names,
        )


def parse_settings(
    settings: Sequence[str], targets: Sequence[Pattern]
) -> dict[str, dict[str, str]]:
    """Split ``--set`` values (``key=value`` or ``pattern.key=value``) by pattern.

    Raises:
        InvalidAnswerError: A value is malformed, names a pattern not being
            added, or an option no (or more than one) pattern has.
    """
    by_pattern: dict[str, dict[str, str]] = {p.name: {} for p in targets}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidAnswerError(
                f"--set {item!r} is not of the form key=value.",
                "Write e.g. --set queue_size=128 or --set websockets.queue_size=128.",
            )
        pattern, dot, option = key.rpartition(".")
        if dot:
            if pattern not in by_pattern:
                raise InvalidAnswerError(
                    f"--set {item!r} names {pattern!r}, which this command does not add.",
                    f"Patterns being added: {', '.join(by_pattern) or 'none'}.",
                )
            by_pattern[pattern][option] = value
            continue
        owners = [p.name for p in targets if option in p.manifest.options]
        if len(owners) != 1:
            problem = "no pattern being added has" if not owners else "several patterns have"
            raise InvalidAnswerError(
                f"--set {item!r}: {problem} an option {option!r}.",
                "Name the pattern: --set PATTERN.OPTION=VALUE.",
            )
        by_pattern[owners[0]][option] = value
    return by_pattern


def add_patterns(
    root: Path,
    names: Sequence[str],
    *,
    settings: Sequence[str] = (),
    answers: Mapping[str, Mapping[str, str | int | bool]] | None = None,
    force: bool = False,
    dry_run: bool = False,
) -> PatternChange:
    """Add patterns (and what they require) to the project at ``root``.

    Adding an applied pattern again changes nothing.

    Args:
        root: The project folder.
        names: The patterns asked for.
        settings: ``--set`` values for their options.
        answers: Option values by pattern, already typed; used instead of ``settings``.
        force: Go ahead when files the user edited are in the way, keeping
            the user's versions (FILE.new beside them, or backups).
        dry_run: Compute everything, write nothing.

    Raises:
        PatternError: Unknown or conflicting patterns.
        InvalidAnswerError: An invalid ``--set``.
        EditedFilesError: Files the user edited are in the way and not ``force``
            (not raised with ``dry_run``: the change lists them in ``edited``).
        ProjectStateError: The project's record is damaged.
    """
    session = Session(root)
    applied = [n for n, u in session.record.units.items() if u.kind != "project"]
    targets = resolve_additions(session.catalog, names, applied)
    unchanged = tuple(n for n in dict.fromkeys(names) if n in applied)
    if not targets:
        if settings:
            raise InvalidAnswerError(
                "--set has no effect: every pattern asked for is already applied.",
                "Options of an applied pattern are changed with remove and add.",
            )
        return PatternChange(
            operation="add", root=root, plan=Plan(root, ()), unchanged=unchanged, dry_run=dry_run
        )
    given: Mapping[str, Mapping[str, str | int | bool]] = (
        answers
        if answers is not None
        else parse_settings(settings, [t for t in targets if t.name in names])
    )
    for pattern in targets:
        options = pattern.manifest.resolve_options(given.get(pattern.name, {}))
        session.apply_unit(pattern.name, pattern.unit(options))
    added = tuple(t.name for t in targets)
    result = session.finish(
        policy=Policy.EDIT, force=force, dry_run=dry_run, action="Adding " + ", ".join(added)
    )
    return PatternChange.of(
        "add",
        root,
        result,
        added=added,
        required=tuple(n for n in added if n not in names),
        unchanged=unchanged,
    )


def removal_order(session: Session, names: Sequence[str]) -> tuple[list[str], tuple[str, ...]]:
    """Return the patterns ``remove`` takes out (with orphaned blocks) and those not applied.

    Raises:
        PatternError: A name is unknown, or a pattern is still required by another.
    """
    record = session.record
    applied = {n for n, u in record.units.items() if u.kind != "project"}
    unknown = [n for n in names if n not in applied and n not in session.catalog]
    if unknown:
        raise PatternError(
            f"Unknown pattern {unknown[0]!r}.",
            f"Applied patterns: {', '.join(sorted(applied)) or 'none'}.",
        )
    removing = [n for n in dict.fromkeys(names) if n in applied]
    unchanged = tuple(n for n in dict.fromkeys(names) if n not in applied)
    for name in removing:
        needed_by = sorted(
            other for other in applied - set(removing) if name in record.units[other].requires
        )
        if needed_by:
            raise PatternError(
                f"Pattern {name!r} is required by {', '.join(needed_by)}.",
                f"Remove {' and '.join(needed_by)} first, or together: "
                f"fastscaffold remove {' '.join([*needed_by, name])}",
            )
    # Building blocks no remaining pattern needs go too.
    while True:
        remaining = applied - set(removing)
        needed = {r for n in remaining for r in record.units[n].requires}
        orphans = sorted(
            n
            for n in remaining
            if record.units[n].kind == "block"
            and n not in needed
            and any(n in record.units[r].requires for r in removing)
        )
        if not orphans:
            return removing, unchanged
        removing += orphans


def remove_patterns(
    root: Path, names: Sequence[str], *, force: bool = False, dry_run: bool = False
) -> PatternChange:
    """Remove patterns from the project at ``root``, with building blocks nothing else needs.

    Files the user has not modified are deleted; edited ones are kept and
    listed (with ``force``, deleted too, after a backup).

    Raises:
        PatternError: A pattern is unknown or still required by another applied pattern.
        EditedFilesError: A tool-owned file the user edited must change and
            not ``force`` (not raised with ``dry_run``).
        ProjectStateError: The project's record is damaged.
    """
    session = Session(root)
    removing, unchanged = removal_order(session, names)
    if not removing:
        return PatternChange(
            operation="remove", root=root, plan=Plan(root, ()), unchanged=unchanged, dry_run=dry_run
        )
    for name in removing:
        session.drop_unit(name)
    result = session.finish(
        policy=Policy.EDIT, force=force, dry_run=dry_run, action="Removing " + ", ".join(removing)
    )
    return PatternChange.of("remove", root, result, removed=tuple(removing), unchanged=unchanged)
