"""`fastscaffold update` and `check`: newer templates merged into an edited project.

The project's own record supplies the merge base: ``.fastscaffold/base/``
holds what fastscaffold's templates made of each file last time. ``update``
refreshes every applied unit from the installed templates (version, wiring,
new options at their defaults), runs the patterns' migrations on the
project and its bases, and merges the new blueprint into every file
(fastscaffold.session, policy UPDATE). No git, tag, clean tree or network is
involved. ``check`` is the same computation without writing, plus a look
for conflict markers and ``.rej`` files left to resolve.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fastscaffold.artefacts import is_artefact
from fastscaffold.errors import PatternError
from fastscaffold.merge import ConflictMode, has_conflict_markers
from fastscaffold.plan import StagedFile, apply_plan, make_plan
from fastscaffold.policies import Policy
from fastscaffold.record import PROJECT_UNIT, base_path, sha256_of
from fastscaffold.render import render_string
from fastscaffold.session import Session
from fastscaffold.session_result import SessionResult

_ENV_FILES = (".env", ".env.example")

# What `update` returns: the session's result (plan, outcomes, migrations).
UpdateResult = SessionResult


def _refresh_units(session: Session) -> None:
    """Bring every applied unit to the installed templates' version, wiring and options.

    Raises:
        PatternError: An applied pattern is no longer installed.
    """
    from fastscaffold._version import __version__

    state = session.state
    project = state.units[PROJECT_UNIT]
    state.units[PROJECT_UNIT] = project.model_copy(update={"version": __version__})
    gone = [name for name in state.patterns() if name not in session.catalog]
    if gone:
        raise PatternError(
            f"The installed fastscaffold no longer ships {', '.join(gone)}.",
            f"Remove it first (fastscaffold remove {' '.join(gone)}), "
            "or install the fastscaffold version that made the project.",
        )
    for name in state.patterns():
        pattern = session.catalog[name]
        old = state.units[name]
        known = {k: v for k, v in old.answers.items() if k in pattern.manifest.options}
        options = pattern.manifest.resolve_options(known)
        unit = pattern.unit(options)
        session.apply_unit(name, unit.model_copy(update={"overlays": old.overlays}))


def _run_migrations(session: Session) -> None:
    """Run the patterns' migrations newer than each unit's recorded version, in order."""
    answers = session.record.project_answers()
    for name in session.record.patterns():
        pattern = session.catalog.get(name)
        if pattern is None:
            continue
        for migration in pattern.manifest.migrations_since(session.record.units[name].version):
            origin = f"{pattern.folder}/pattern.toml"
            if migration.rename_file is not None:
                old = render_string(migration.rename_file.old, answers, origin=origin)
                new = render_string(migration.rename_file.new, answers, origin=origin)
                session.files.rename_file(old, new, f"{name}: moved {old} to {new}")
            elif migration.rename_setting is not None:
                old, new = migration.rename_setting.old, migration.rename_setting.new
                session.files.rename_setting(
                    old,
                    new,
                    _ENV_FILES,
                    f"{name}: renamed {old} to {new} in {', '.join(_ENV_FILES)}",
                )


def update_project(
    root: Path, *, conflict: ConflictMode = ConflictMode.INLINE, dry_run: bool = False
) -> UpdateResult:
    """Bring the project at ``root`` up to the installed templates, keeping the user's edits.

    Files the user did not touch take the new version; edited files get a
    three-way merge (structured files a structural one); overlaps are
    handled as ``conflict`` says. Files the new templates no longer produce
    are deleted when unedited and kept (listed) when edited. The record is
    rewritten, so a second update changes nothing.

    Raises:
        UpdateConflictError: ``conflict`` is FAIL and edits overlap (nothing written).
        PatternError: An applied pattern is no longer shipped.
        ProjectStateError: The record is damaged (see ``check --repair``).
    """
    return _update(Session(root), conflict=conflict, dry_run=dry_run)


def _update(session: Session, *, conflict: ConflictMode, dry_run: bool) -> UpdateResult:
    _run_migrations(session)
    _refresh_units(session)
    return session.finish(policy=Policy.UPDATE, conflict=conflict, dry_run=dry_run)


@dataclass(frozen=True)
class CheckReport:
    """What ``check`` found.

    Attributes:
        behind: Files ``update`` would change, with what would happen to each.
        markers: Files that still hold conflict markers.
        rejects: Leftover ``.rej`` files.
        manual_steps: What ``update`` could not do by itself.
    """

    behind: Mapping[str, str]
    markers: tuple[str, ...]
    rejects: tuple[str, ...]
    manual_steps: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Return whether the project is up to date and has nothing left to resolve."""
        return not (self.behind or self.markers or self.rejects)


def check_project(root: Path) -> CheckReport:
    """Report whether the project is behind the installed templates or has unresolved merges.

    Build artefacts an older fastscaffold tracked are not reported (``update``
    cleans them). Only files fastscaffold tracks can hold markers or ``.rej``
    siblings from an update, so only those are read.
    """
    session = Session(root)
    tracked = list(session.files.tracked)
    result = _update(session, conflict=ConflictMode.INLINE, dry_run=True)
    behind = {
        path: outcome.value for path, outcome in result.outcomes.items() if not is_artefact(path)
    }
    for path in result.project_changes:
        if path not in behind and path not in result.side_files and not is_artefact(path):
            behind[path] = next(c.action.value for c in result.plan.writes if c.path == path)
    markers, rejects = unresolved(root, tracked)
    return CheckReport(
        behind=dict(sorted(behind.items())),
        markers=markers,
        rejects=rejects,
        manual_steps=result.manual_steps,
    )


def unresolved(root: Path, tracked: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return the tracked files that still hold conflict markers, and the leftover .rej files.

    Only files fastscaffold tracks can hold them after an update, so only
    those are read: a large data folder costs nothing.
    """
    markers, rejects = [], []
    for path in tracked:
        target = root / PurePosixPath(path)
        if target.is_file() and has_conflict_markers(
            target.read_text(encoding="utf-8", errors="replace")
        ):
            markers.append(path)
        if (root / PurePosixPath(f"{path}.rej")).is_file():
            rejects.append(f"{path}.rej")
    return tuple(sorted(markers)), tuple(sorted(rejects))


@dataclass(frozen=True)
class RepairReport:
    """What ``check --repair`` rebuilt, and what it could not.

    Attributes:
        rebuilt: Base copies rebuilt exactly, with where each came from.
        unrepairable: Tracked files whose base cannot be rebuilt exactly.
    """

    rebuilt: Mapping[str, str]
    unrepairable: tuple[str, ...]


def repair_bases(root: Path) -> RepairReport:
    """Rebuild missing or damaged base copies where that can be done exactly.

    A base copy is rebuilt from the project's file when that file still has
    the recorded hash (it is unedited), or from the installed templates when
    they render exactly the recorded hash (the version that made it). Others
    are listed, never guessed.
    """
    session = Session(root, verify=False)
    damaged = session.files.damaged_bases()
    if not damaged:
        return RepairReport(rebuilt={}, unrepairable=())
    blueprint = session.renderer.blueprint(session.record, session.copies(session.record))
    rebuilt: dict[str, str] = {}
    writes: dict[str, StagedFile] = {}
    unrepairable = []
    for path in damaged:
        expected = session.files.tracked[path].sha256
        ours = session.files.ours(path)
        rendered = blueprint.files.get(path)
        if ours is not None and sha256_of(ours) == expected:
            writes[base_path(path)], rebuilt[path] = StagedFile(ours), "your unedited file"
        elif rendered is not None and sha256_of(rendered.content) == expected:
            writes[base_path(path)], rebuilt[path] = StagedFile(rendered.content), "the templates"
        else:
            unrepairable.append(path)
    if writes:
        apply_plan(make_plan(root, writes))
    return RepairReport(rebuilt=rebuilt, unrepairable=tuple(unrepairable))
