"""A session: one command that changes a project, from loading it to writing it once.

In the spirit of copier's ``Worker``, every command that writes into an
existing project (``add``, ``remove``, ``api-version``, ``update``) opens a
:class:`Session`, which loads the project and its record once and checks
that the record is whole. It reads the project's files and their base copies
through fastscaffold.project_files, which also holds what ``update``'s
migrations changed before the merge. The command then edits the session's *state*
(applies or drops units, records overlays and copies; ``update`` refreshes
the units from the installed templates and runs migrations), and
:meth:`Session.finish` turns it into one plan and one record:

1. render the blueprint of the new state (fastscaffold.blueprint);
2. for each file the command touches, decide from its three sides: before
   (the merge base), ours (the file on disk), theirs (the new blueprint),
   by the rules of fastscaffold.policies, merging by kind
   (fastscaffold.formats);
3. make the new record, whose base copies are the new blueprint, and apply
   everything (files, record, base copies) as one atomic plan, unless dry.

Two policies decide which files a command touches and what a file the user
edited means:

* ``EDIT`` (add, remove, api-version) applies the change of state only: the
  base is the blueprint of the old state with the installed templates, so
  files the change does not touch are left alone even when the project is
  behind newer templates. An edited file the change must rewrite stops it
  (``--force`` keeps the user's version beside, or backs it up); user-owned
  structured files (pyproject.toml, managed blocks) are always merged.
* ``UPDATE`` merges the newer templates into everything; overlaps follow the
  conflict mode.
"""

from __future__ import annotations

from collections.abc import MutableSet
from pathlib import Path, PurePosixPath

from fastscaffold._version import __version__
from fastscaffold.artefacts import is_artefact
from fastscaffold.blueprint import Blueprint, Copy, Renderer
from fastscaffold.catalog import load_catalog
from fastscaffold.errors import (
    EditedFilesError,
    ProjectBehindError,
    ProjectStateError,
    UpdateConflictError,
)
from fastscaffold.formats import UnmergeableError, merge_file
from fastscaffold.merge import ConflictMode
from fastscaffold.plan import Plan, StagedFile, apply_plan, make_plan
from fastscaffold.policies import Draft, Outcome, Policy, Sides, edit_file, update_file
from fastscaffold.project import load_project
from fastscaffold.project_files import ProjectFiles
from fastscaffold.record import (
    Record,
    Unit,
    base_path,
    read_record,
    record_files,
)
from fastscaffold.session_result import SessionResult

_REPAIR_HINT = (
    "Run `fastscaffold check --repair` to rebuild what can be rebuilt exactly, "
    "or restore .fastscaffold/ from version control (git checkout -- .fastscaffold)."
)


class Session:
    """One command's view of one project; see the module docstring.

    Args:
        root: The project folder.
        verify: Check that every base copy is there and intact (only
            ``check --repair`` opens a session without).

    Raises:
        ProjectConfigError: pyproject.toml is invalid or incomplete.
        ProjectStateError: The record is missing, damaged or does not match
            the project (a renamed package, missing base copies).
    """

    def __init__(self, root: Path, *, verify: bool = True) -> None:
        self.root = root
        self.project = load_project(root)
        self.record = read_record(root)
        self.catalog = load_catalog()
        self.renderer = Renderer(self.catalog)
        self.state = self.record.model_copy(deep=True)
        self.files = ProjectFiles(
            root, {p: e for p, e in self.record.files.items() if not is_artefact(p)}
        )
        self.artefacts = sorted(p for p in self.record.files if is_artefact(p))
        self.manual: list[str] = []
        self._new_copies: dict[str, Copy] = {}
        self._check_package()
        if verify:
            problems = self.files.damaged_bases()
            if problems:
                listed = "\n".join(f"  {p}" for p in problems[:8])
                more = f"\n  ... and {len(problems) - 8} more" if len(problems) > 8 else ""
                raise ProjectStateError(
                    f"{len(problems)} base copies under .fastscaffold/base/ are missing or "
                    f"changed, so fastscaffold cannot tell your edits from its own; nothing "
                    f"was written:\n{listed}{more}",
                    _REPAIR_HINT,
                )

    # --- reading ------------------------------------------------------------------

    @property
    def package(self) -> str:
        """Return the project's package."""
        return self.project.package

    def _check_package(self) -> None:
        recorded = self.record.project_answers().get("package_name")
        if recorded != self.package:
            raise ProjectStateError(
                f"pyproject.toml names the package {self.package!r} ([tool.fastscaffold] "
                f"package), but fastscaffold's record says {recorded!r}.",
                "fastscaffold cannot follow a renamed package: rename it back (folder and "
                "[tool.fastscaffold] package), or restore .fastscaffold/ from version control.",
            )
        inside = [p for p in self.files.tracked if p.startswith(f"{self.package}/")]
        if inside and not (self.root / self.package).is_dir():
            raise ProjectStateError(
                f"The package folder {self.package}/ is missing, but fastscaffold tracks "
                f"{len(inside)} files in it.",
                f"If you renamed or moved it, move it back to {self.root / self.package}: "
                "fastscaffold cannot follow a renamed package.",
            )

    def copies(self, state: Record) -> dict[str, Copy]:
        """Return the copies of ``state``: recorded ones of its units, and new ones."""
        found = {
            path: Copy(content, entry.unit)
            for path, entry in self.files.tracked.items()
            if entry.origin == "copy"
            and entry.unit in state.units
            and (content := self.files.base(path)) is not None
        }
        if state is self.state:
            found.update(self._new_copies)
        return found

    # --- editing the state ----------------------------------------------------------

    def apply_unit(self, name: str, unit: Unit) -> None:
        """Apply (or re-apply) a unit in the new state."""
        self.state.units[name] = unit

    def drop_unit(self, name: str) -> None:
        """Take a unit out of the new state; its files go with it."""
        self.state.units.pop(name, None)
        self._new_copies = {p: c for p, c in self._new_copies.items() if c.unit != name}

    def set_overlay(self, unit: str, path: str, overlay: str) -> None:
        """Record TOML values to set over ``path`` in the new state (replacing the unit's last)."""
        current = self.state.units[unit]
        self.state.units[unit] = current.model_copy(
            update={"overlays": {**current.overlays, path: overlay}}
        )

    def add_copy(self, path: str, content: bytes, unit: str) -> None:
        """Add a file copied by a command (not rendered again) to the new state."""
        self._new_copies[path] = Copy(content, unit)

    # --- finishing ------------------------------------------------------------------

    def finish(
        self,
        *,
        policy: Policy,
        force: bool = False,
        conflict: ConflictMode = ConflictMode.INLINE,
        dry_run: bool = False,
        action: str = "This change",
    ) -> SessionResult:
        """Merge, make the new record, and apply everything as one plan (unless ``dry_run``).

        Raises:
            EditedFilesError: ``EDIT``: files the user edited are in the way
                (not with ``force``; with ``dry_run`` they are listed instead).
            UpdateConflictError: ``UPDATE`` with ``conflict`` FAIL met overlaps.
            ProjectBehindError: ``EDIT``: the change collides with template
                changes the project has not taken yet.
        """
        new = self.renderer.blueprint(self.state, self.copies(self.state))
        owned: dict[str, MutableSet[str]] = {
            k: set(v) for k, v in self.state.user_requirements.items()
        }
        draft = Draft(new=new, owned=owned, trust_record=self.record.upgraded)
        if policy is Policy.EDIT:
            old = self.renderer.blueprint(self.record, self.copies(self.record))
            self._edit(old, draft, force=force)
        else:
            self._update(draft, conflict=conflict)
        for path in self.artefacts:
            draft.entries[path] = None
            recorded = self.files.read(base_path(path))
            if policy is Policy.UPDATE and self.files.ours(path) == recorded:
                draft.files[path] = None
                draft.outcomes[path] = Outcome.DELETED
        if draft.conflicts and conflict is ConflictMode.FAIL:
            raise UpdateConflictError(paths=draft.conflicts)
        record = self._new_record(draft)
        plan = self._plan(draft, record)
        result = SessionResult(
            plan=plan,
            outcomes=dict(sorted(draft.outcomes.items())),
            edited=tuple(draft.edited),
            side_files=tuple(draft.side),
            kept=tuple(draft.kept),
            manual_steps=(*self.manual, *draft.manual),
            migrations=tuple(self.files.migrations),
            dry_run=dry_run,
        )
        if draft.edited and not force and not dry_run:
            raise EditedFilesError(paths=draft.edited, action=action)
        if not dry_run:
            apply_plan(plan)
        return result

    def _edit(self, old: Blueprint, draft: Draft, *, force: bool) -> None:
        """Apply the change from the old state's blueprint to the new one's (EDIT)."""
        new = draft.new
        removed = set(self.record.units) - set(self.state.units)
        for path in sorted(set(self.files.tracked) | set(old.files) | set(new.files)):
            entry = self.files.tracked.get(path)
            theirs = _content(new.files.get(path))
            if entry is not None and entry.unit in removed and path not in new.files:
                before = self.files.base(path)  # a removed unit's file, as recorded
            else:
                before = _content(old.files.get(path))
                if before == theirs:
                    continue  # the change does not touch it
            sides = Sides(path, before, self.files.ours(path), theirs)
            tool_owned = path in old.tool_owned or path in new.tool_owned
            rebased = self._rebase(path, before, theirs)
            edit_file(draft, sides, rebased=rebased, tool_owned=tool_owned, force=force)

    def _update(self, draft: Draft, *, conflict: ConflictMode) -> None:
        """Merge the new blueprint into every file (UPDATE)."""
        for path, content in self.files.changed.items():
            draft.files[path] = content  # what migrations did, unless the merge says more
        for path in self.files.moved:
            draft.outcomes[path] = Outcome.RENAMED
        for path in sorted(set(self.files.tracked) | set(draft.new.files)):
            theirs = _content(draft.new.files.get(path))
            update_file(
                draft,
                Sides(path, self.files.base(path), self.files.ours(path), theirs),
                conflict=conflict,
            )

    def _rebase(self, path: str, before: bytes | None, theirs: bytes | None) -> bytes | None:
        """Return the new base of a file an EDIT change touches.

        The recorded base moves by the same change as the file (from the old
        state's blueprint to the new one's), so a project behind newer
        templates stays exactly as far behind as it was.

        Raises:
            ProjectBehindError: The change collides with template changes the
                project has not taken yet.
        """
        recorded = self.files.base(path)
        if recorded == before or recorded is None or before is None or theirs is None:
            return theirs
        try:
            merged = merge_file(
                path, before, recorded, theirs, mode=ConflictMode.INLINE, user_requirements={}
            )
        except UnmergeableError:  # pragma: no cover - bases are fastscaffold's, always valid
            merged = None
        if merged is None or merged.conflicts:
            raise ProjectBehindError(
                f"{path} has template changes the project has not taken yet, and this change "
                "touches the same lines; nothing was written.",
                "Run `fastscaffold update` first (see `fastscaffold check`), then try again.",
            )
        return merged.content

    def _new_record(self, draft: Draft) -> Record:
        new = draft.new
        files = dict(self.files.tracked)
        for path, entry in draft.entries.items():
            if entry is None:
                files.pop(path, None)
            else:
                files[path] = entry
        # A unit refreshed by update may have changed owners: follow the blueprint.
        for path, entry in files.items():
            owner = new.owners.get(path)
            if owner is not None and owner != entry.unit:
                files[path] = entry.model_copy(update={"unit": owner})
        record = self.state.model_copy(deep=True)
        record.generator_version = __version__
        record.files = dict(sorted(files.items()))
        record.user_requirements = {k: sorted(v) for k, v in sorted(draft.owned.items()) if v}
        return record

    def _plan(self, draft: Draft, record: Record) -> Plan:
        staged = {
            path: StagedFile(content, _executable(draft.new, path, self.root))
            for path, content in draft.files.items()
            if content is not None
        }
        deletions = {p for p, c in draft.files.items() if c is None}
        staged.update((p, StagedFile(c)) for p, c in record_files(record, draft.bases).items())
        for path in set(self.record.files) - set(record.files):
            deletions.add(base_path(path))
        for path in set(self.files.rebased) - set(record.files):
            deletions.add(base_path(path))
        return make_plan(self.root, staged, deletions - set(staged))


def _executable(new: Blueprint, path: str, root: Path) -> bool:
    """Return whether a written file gets the executable bits: the template's, else the file's."""
    if path in new.files:
        return new.files[path].executable
    target = root / PurePosixPath(path)
    return target.is_file() and bool(target.stat().st_mode & 0o100)


def _content(staged: StagedFile | None) -> bytes | None:
    return None if staged is None else staged.content
