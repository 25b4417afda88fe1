"""Adding patterns to, and removing them from, a project the user has already edited.

Both commands work the same way: render what is needed into staging, build
the complete set of files the project should have (pattern files, the
regenerated wiring module and PATTERNS.md, structured edits of
pyproject.toml and .env.example, and the updated record), check every file
against the record to tell the user's edits from fastscaffold's, and only
then apply one atomic plan. A file the user edited is never overwritten
silently.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastscaffold.blocks import ENV_STYLE, MARKDOWN_STYLE, ManagedFile
from fastscaffold.catalog import Pattern, load_catalog, resolve_additions
from fastscaffold.draft import Draft
from fastscaffold.errors import EditedFilesError, InvalidAnswerError, PatternError, TemplateError
from fastscaffold.plan import Plan, apply_plan, read_tree
from fastscaffold.project import PYPROJECT, load_project
from fastscaffold.record import Unit, read_record
from fastscaffold.render import render_pattern
from fastscaffold.wiring import (
    DEPENDENCY_TABLES,
    ENV_EXAMPLE,
    PATTERNS_DOC,
    README,
    WIRING_MODULE,
    add_dependencies,
    project_answers,
    release_dependencies,
    render_patterns_doc,
    render_wiring,
    wiring_from_record,
)

README_SECTION = "README.section.md"


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
        manual_steps: What the user must do by hand (a managed block was edited).
        dependencies_changed: Whether pyproject.toml's requirements changed.
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
    dry_run: bool = False


def _settings_lines(settings: Sequence[dict[str, str]]) -> list[str]:
    lines = []
    for setting in settings:
        lines += [f"# {setting['help']}", f"# {setting['name']}={setting['default']}"]
    return lines


def _readme_section(pattern: Pattern, data: dict[str, Any]) -> list[str] | None:
    """Render the pattern's README section (README.section.md), if it has one."""
    source = pattern.folder / README_SECTION
    if not source.is_file():
        return None
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    try:
        text = env.from_string(source.read_text(encoding="utf-8")).render(**data)
    except jinja2.TemplateError as exc:
        raise TemplateError(f"Rendering {source} failed: {exc}") from exc
    return text.strip("\n").splitlines()


def _parse_settings(
    settings: Sequence[str], targets: Sequence[Pattern]
) -> dict[str, dict[str, str]]:
    """Split ``--set`` values (``key=value`` or ``pattern.key=value``) by pattern."""
    by_pattern: dict[str, dict[str, str]] = {p.name: {} for p in targets}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidAnswerError(
                f"--set {item!r} is not of the form key=value.",
                "Write e.g. --set max_rooms=100 or --set websockets.max_rooms=100.",
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


def _render(pattern: Pattern, data: dict[str, Any]) -> dict[str, bytes]:
    with tempfile.TemporaryDirectory(prefix="fastscaffold-render-") as tmp:
        render_pattern(pattern.folder / "files", Path(tmp) / "out", data)
        return {path: f.content for path, f in read_tree(Path(tmp) / "out").items()}


def _rewire(draft: Draft, package: str) -> None:
    """Regenerate the tool-owned files from the draft record."""
    draft.put_tool_file(
        f"{package}/{WIRING_MODULE}", render_wiring(wiring_from_record(draft.record))
    )
    doc = render_patterns_doc(draft.record)
    if doc is None:
        draft.drop_file(PATTERNS_DOC, tool_owned=True)
    else:
        draft.put_tool_file(PATTERNS_DOC, doc)


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
        answers: Option values by pattern, already typed (``update`` passes
            the recorded ones); used instead of ``settings``.
        force: Go ahead when files the user edited are in the way, keeping
            the user's versions (FILE.new beside them, or backups).
        dry_run: Compute everything, write nothing.

    Raises:
        PatternError: Unknown or conflicting patterns.
        InvalidAnswerError: An invalid ``--set``.
        EditedFilesError: Files the user edited are in the way and not ``force``
            (not raised with ``dry_run``: the change lists them in ``edited``).
    """
    project = load_project(root)
    record = read_record(root)
    applied = [n for n, u in record.units.items() if u.kind != "project"]
    targets = resolve_additions(load_catalog(), names, applied)
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
        else _parse_settings(settings, [t for t in targets if t.name in names])
    )
    draft = Draft(root, record, force=force)
    base_answers = project_answers(record)
    pyproject = (root / PYPROJECT).read_text(encoding="utf-8")
    env = ManagedFile(root, ENV_EXAMPLE, ENV_STYLE)
    readme = ManagedFile(root, README, MARKDOWN_STYLE)
    deps_changed = False
    for pattern in targets:
        manifest = pattern.manifest
        options = manifest.resolve_options(given.get(pattern.name, {}))
        wiring = manifest.wiring.model_dump(mode="json")
        pyproject, added = add_dependencies(
            pyproject, {t: wiring[t] for t in DEPENDENCY_TABLES if wiring[t]}
        )
        deps_changed = deps_changed or bool(added)
        draft.record.units[pattern.name] = Unit(
            template=pattern.name,
            version=manifest.version,
            answers=options,
            kind=manifest.kind,
            summary=manifest.summary,
            requires=list(manifest.requires),
            wiring=wiring,
            added=added,
        )
        data = {**base_answers, **options}
        for path, content in _render(pattern, data).items():
            owner = draft.record.files.get(path)
            if owner is not None and owner.unit != pattern.name:
                raise TemplateError(
                    f"Pattern {pattern.name!r} generates {path}, which {owner.unit!r} owns."
                )
            draft.put_pattern_file(path, content, pattern.name)
        if wiring["settings"]:
            env.set(pattern.name, _settings_lines(wiring["settings"]))
        section = _readme_section(pattern, data)
        if section is not None:
            readme.set(pattern.name, section)
    return _finish(
        draft,
        PatternChange(
            operation="add",
            root=root,
            plan=Plan(root, ()),
            added=tuple(t.name for t in targets),
            required=tuple(t.name for t in targets if t.name not in names),
            unchanged=unchanged,
            dependencies_changed=deps_changed,
            dry_run=dry_run,
        ),
        action="Adding " + ", ".join(t.name for t in targets),
        package=project.package,
        pyproject=pyproject,
        managed=(env, readme),
    )


def remove_patterns(
    root: Path, names: Sequence[str], *, force: bool = False, dry_run: bool = False
) -> PatternChange:
    """Remove patterns from the project at ``root``, with building blocks nothing else needs.

    Files the user has not modified are deleted; edited ones are kept and
    listed (with ``force``, deleted too, after a backup).

    Raises:
        PatternError: A pattern is still required by another applied pattern.
        EditedFilesError: A tool-owned file the user edited must change and
            not ``force`` (not raised with ``dry_run``).
    """
    project = load_project(root)
    record = read_record(root)
    catalog_names = set(load_catalog())
    applied = {n for n, u in record.units.items() if u.kind != "project"}
    unknown = [n for n in names if n not in applied and n not in catalog_names]
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
            break
        removing += orphans
    if not removing:
        return PatternChange(
            operation="remove", root=root, plan=Plan(root, ()), unchanged=unchanged, dry_run=dry_run
        )
    draft = Draft(root, record, force=force)
    pyproject = (root / PYPROJECT).read_text(encoding="utf-8")
    env = ManagedFile(root, ENV_EXAMPLE, ENV_STYLE)
    readme = ManagedFile(root, README, MARKDOWN_STYLE)
    deps_changed = False
    for name in removing:
        unit = draft.record.units.pop(name)
        for path in record.files_of(name):
            draft.drop_file(path, tool_owned=False)
        pyproject, changed = release_dependencies(draft.record, unit, pyproject)
        deps_changed = deps_changed or changed
        env.remove(name)
        readme.remove(name)
    return _finish(
        draft,
        PatternChange(
            operation="remove",
            root=root,
            plan=Plan(root, ()),
            removed=tuple(removing),
            unchanged=unchanged,
            dependencies_changed=deps_changed,
            dry_run=dry_run,
        ),
        action="Removing " + ", ".join(removing),
        package=project.package,
        pyproject=pyproject,
        managed=(env, readme),
    )


def _finish(
    draft: Draft,
    change: PatternChange,
    *,
    action: str,
    package: str,
    pyproject: str,
    managed: Sequence[ManagedFile],
) -> PatternChange:
    """Complete the draft, refuse to clobber edits, and apply it unless this is a dry run.

    Completing means: the edited pyproject.toml and managed files, then the
    tool-owned files regenerated from the draft's record.
    """
    from dataclasses import replace

    draft.edit_structured(PYPROJECT, pyproject)
    for file in managed:
        if file.text is not None:
            draft.edit_structured(file.path, file.text)
        draft.manual += file.problems
    _rewire(draft, package)
    plan = draft.plan()
    result = replace(
        change,
        plan=plan,
        edited=tuple(draft.edited),
        side_files=tuple(draft.side),
        kept=tuple(draft.kept),
        manual_steps=tuple(draft.manual),
    )
    if draft.edited and not draft.force and not change.dry_run:
        raise EditedFilesError(paths=draft.edited, action=action)
    if not change.dry_run:
        apply_plan(plan)
    return result
