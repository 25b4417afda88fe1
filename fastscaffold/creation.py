"""`fastscaffold new`: generating a project, all or nothing."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from fastscaffold._version import __version__
from fastscaffold.errors import DestinationError, EnvironmentSetupError, InvalidAnswerError
from fastscaffold.naming import ProjectNames, validate_project_name
from fastscaffold.plan import Action, Plan, StagedFile, apply_plan, make_plan
from fastscaffold.questions import Question, load_questions
from fastscaffold.record import (
    PROJECT_UNIT,
    RECORD_DIR,
    FileEntry,
    Record,
    Unit,
    record_files,
    sha256_of,
)
from fastscaffold.render import ask_answers
from fastscaffold.templates import project_template
from fastscaffold.venv import Progress, VenvResult, create_venv

BACKUP_DIR = f"{RECORD_DIR}/backup"


@dataclass(frozen=True)
class NewOptions:
    """What ``fastscaffold new`` was asked to do.

    Attributes:
        name: The distribution name; the folder and package are derived from it.
        parent: The folder to create the project in.
        description: The project's one-line description (asked when None and interactive).
        author: The author's name for the package metadata (asked when None and interactive).
        python_version: The lowest Python version supported (asked when None and interactive).
        interactive: Whether the questions not answered above are asked (through ``ask``).
        dry_run: Compute and return the plan but write nothing.
        force: Generate into an existing non-empty folder (nothing is deleted;
            replaced files are backed up under ``.fastscaffold/backup/``).
        venv: Create ``.venv`` in the project and install it with its dev extra.
        patterns: Patterns to add to the new project (requirements are added too).
        settings: ``--set`` values for the options of ``patterns``.
    """

    name: str
    parent: Path
    description: str | None = None
    author: str | None = None
    python_version: str | None = None
    interactive: bool = False
    dry_run: bool = False
    force: bool = False
    venv: bool = False
    patterns: tuple[str, ...] = ()
    settings: tuple[str, ...] = ()


@dataclass(frozen=True)
class NewResult:
    """What ``new_project`` did (or, with ``dry_run``, would do).

    Attributes:
        destination: The project folder.
        names: The names derived from the project name.
        answers: The template answers the project was rendered with.
        plan: Every file and what happens to it.
        dry_run: True when nothing was written.
        backups: Paths (relative) whose previous content was saved under
            ``.fastscaffold/backup/`` because ``--force`` replaced them.
        venv: The virtualenv created, when asked for.
        patterns: The patterns added, requirements included.
    """

    destination: Path
    names: ProjectNames
    answers: dict[str, Any]
    plan: Plan
    dry_run: bool
    backups: tuple[str, ...] = ()
    venv: VenvResult | None = None
    patterns: tuple[str, ...] = ()


def _check_destination(parent: Path, destination: Path, *, force: bool, dry_run: bool) -> bool:
    """Refuse destinations that cannot be used; return whether it already has files."""
    if not parent.is_dir():
        raise DestinationError(
            f"The parent folder {parent} does not exist or is not a folder.",
            "Create it first, or pass another folder with --dir.",
        )
    if destination.exists() and not destination.is_dir():
        raise DestinationError(
            f"{destination} exists and is not a folder.", "Choose another name or --dir."
        )
    occupied = destination.is_dir() and any(destination.iterdir())
    if occupied and not force:
        raise DestinationError(
            f"{destination} already exists and is not empty; nothing was changed.",
            "Choose another name or --dir, or pass --force to generate into it "
            "(nothing is deleted; replaced files are backed up and listed first).",
        )
    writable_target = destination if destination.is_dir() else parent
    if not dry_run and not os.access(writable_target, os.W_OK | os.X_OK):
        raise DestinationError(
            f"Cannot write to {writable_target}: permission denied.",
            "Choose a folder you can write to with --dir.",
        )
    return occupied


@contextmanager
def _staging(parent: Path, name: str, *, dry_run: bool) -> Iterator[Path]:
    """Yield a fresh staging folder, removed afterwards whatever happens.

    It sits in the destination's parent so the final move is a rename on one
    file system (atomic); a dry run stages in the system temp folder instead
    and so writes nothing near the destination.
    """
    where = None if dry_run else parent
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.fastscaffold-", dir=where))
    except OSError as exc:
        raise DestinationError(
            f"Cannot write to {where or tempfile.gettempdir()}: {exc.strerror}.",
            "Choose a folder you can write to with --dir.",
        ) from None
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def project_data(names: ProjectNames, options: NewOptions) -> dict[str, Any]:
    """Return the answers ``new`` knows before asking anything."""
    data: dict[str, Any] = {
        "project_name": names.project,
        "package_name": names.package,
        "project_title": names.title,
        "image_name": names.image,
    }
    given = {
        "description": options.description,
        "author": options.author,
        "python_version": options.python_version,
    }
    data.update({name: value for name, value in given.items() if value is not None})
    return data


# Asks one question on a terminal and returns what was typed (the CLI supplies it).
Ask = Callable[[Question], str]


def ask_remaining(data: dict[str, Any], ask: Ask) -> dict[str, Any]:
    """Ask every question ``data`` does not answer, again until the answer is acceptable.

    A refused answer is asked again with the reason in front of the question.
    """
    answers = dict(data)
    for question in load_questions(project_template()):
        if question.name in answers:
            continue
        asked = question
        while True:
            value = ask(asked)
            problem = question.problem(value, answers)
            if problem is None:
                answers[question.name] = value
                break
            asked = replace(question, help=f"{problem} {question.help}")
    return answers


def initial_state(
    answers: dict[str, Any], patterns: tuple[str, ...], settings: tuple[str, ...] = ()
) -> tuple[Record, tuple[str, ...]]:
    """Return the state of a new project with ``patterns`` (and what they require) applied.

    Raises:
        PatternError: An unknown or conflicting pattern.
        InvalidAnswerError: An invalid ``--set`` value.
    """
    state = Record(generator_version=__version__)
    state.units[PROJECT_UNIT] = Unit(template=PROJECT_UNIT, version=__version__, answers=answers)
    if not patterns:
        if settings:
            raise InvalidAnswerError(
                "--set needs a pattern to apply to.", "Add one with --with PATTERN or --all."
            )
        return state, ()
    from fastscaffold.catalog import load_catalog, resolve_additions
    from fastscaffold.patterns import parse_settings

    targets = resolve_additions(load_catalog(), patterns, [])
    # Options are those of the patterns asked for (as with add), not of what they pull in.
    given = parse_settings(settings, [t for t in targets if t.name in patterns])
    for pattern in targets:
        options = pattern.manifest.resolve_options(given.get(pattern.name, {}))
        state.units[pattern.name] = pattern.unit(options)
    return state, tuple(t.name for t in targets)


def render_new_project(state: Record) -> dict[str, StagedFile]:
    """Return every file of a new project in ``state``: its blueprint and the record of it."""
    from fastscaffold.blueprint import Renderer
    from fastscaffold.catalog import load_catalog

    catalog = load_catalog() if state.patterns() else {}
    blueprint = Renderer(catalog).blueprint(state)
    state.files = {
        path: FileEntry(sha256=sha256_of(staged.content), unit=blueprint.owners[path])
        for path, staged in blueprint.files.items()
    }
    files = dict(blueprint.files)
    bases = {path: staged.content for path, staged in blueprint.files.items()}
    files.update((p, StagedFile(c)) for p, c in record_files(state, bases).items())
    return files


def _write_tree(folder: Path, files: dict[str, StagedFile]) -> None:
    for rel, staged in files.items():
        target = folder / PurePosixPath(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(staged.content)
        target.chmod(0o755 if staged.executable else 0o644)


def new_project(
    options: NewOptions,
    *,
    progress: Progress | None = None,
    on_plan: Callable[[Plan], None] | None = None,
    ask: Ask | None = None,
) -> NewResult:
    """Generate a new project; a failure or Ctrl-C leaves the destination as it was.

    The project is rendered into a staging folder, checked, and then moved
    into place with one rename (or, with ``force`` into an existing folder,
    written as one transaction that rolls back on failure).

    Args:
        options: What to generate, and where.
        progress: Called with a description before each long step.
        on_plan: Called with the plan after it is computed and before
            anything is written (e.g. to list the files ``force`` replaces).
        ask: Asks one question and returns the answer typed; with
            ``options.interactive``, every question not answered by the options.

    Raises:
        InvalidNameError: The name cannot be used.
        DestinationError: The destination or its parent cannot be used.
        InvalidAnswerError: An answer failed the template's validation.
        EnvironmentSetupError: ``venv`` was asked for and its set-up failed;
            the project is removed again if this call created it.
    """
    names = validate_project_name(options.name)
    parent = options.parent.expanduser().resolve()
    destination = parent / names.project
    occupied = _check_destination(parent, destination, force=options.force, dry_run=options.dry_run)
    with _staging(parent, names.project, dry_run=options.dry_run) as staging:
        rendered = staging / "project"
        data = project_data(names, options)
        if options.interactive and ask is not None:
            data = ask_remaining(data, ask)
        answers = ask_answers(project_template(), data)
        state, added = initial_state(answers, options.patterns, options.settings)
        files = render_new_project(state)
        plan = make_plan(destination, files)
        backups = tuple(c.path for c in plan.of(Action.UPDATE))
        if backups:
            # --force replaces these: keep what was there, and say so.
            for change in plan.of(Action.UPDATE):
                files[f"{BACKUP_DIR}/{change.path}"] = StagedFile(change.old or b"")
            plan = make_plan(destination, files)
        result = NewResult(
            destination=destination,
            names=names,
            answers=answers,
            plan=plan,
            dry_run=options.dry_run,
            backups=backups,
            patterns=added,
        )
        if options.dry_run:
            return result
        if on_plan is not None:
            on_plan(plan)
        if occupied:
            apply_plan(plan)
        else:
            _write_tree(rendered, files)
            if destination.is_dir():
                destination.rmdir()  # Empty (checked above); the rename needs it gone.
            rendered.rename(destination)
    if not options.venv:
        return result
    try:
        venv = create_venv(destination, progress=progress)
    except (EnvironmentSetupError, KeyboardInterrupt):
        _undo_creation(destination, created=not occupied)
        raise
    return replace(result, venv=venv)


def _undo_creation(destination: Path, *, created: bool) -> None:
    """Remove what a failed ``new --venv`` created: the project, or just its .venv."""
    shutil.rmtree(destination if created else destination / ".venv", ignore_errors=True)
