"""Rendering templates: copier asks the questions, one Jinja renderer writes every file.

The base project's questions (``templates/project/copier.yml``) are asked by
copier, which prompts, applies defaults and runs the validators. Every file
(the base project's and each pattern's) is then rendered by
:func:`render_tree`, in memory, with the settings copier would use
(``StrictUndefined``, the ``.jinja`` suffix, names rendered as templates), so
``new``, ``add``, ``update`` and ``check`` share one code path and none of
them pays for copier's machinery on every call. A test renders every shipped
template both ways and compares the trees.
"""

from __future__ import annotations

import shutil
import stat
import tempfile
import warnings
from collections.abc import Mapping
from functools import cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from fastscaffold.artefacts import EXCLUDE_GLOBS, is_artefact
from fastscaffold.errors import InvalidAnswerError, TemplateError
from fastscaffold.plan import StagedFile

if TYPE_CHECKING:
    import jinja2

TEMPLATE_SUFFIX = ".jinja"


@cache
def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def render_string(source: str, data: Mapping[str, Any], *, origin: str) -> str:
    """Render one Jinja template string.

    Raises:
        TemplateError: The template uses an undefined name or is not valid Jinja;
            the message names ``origin``.
    """
    import jinja2

    try:
        return _environment().from_string(source).render(**data)
    except jinja2.TemplateError as exc:
        raise TemplateError(f"Rendering {origin} failed: {exc}") from exc


def render_tree(folder: Path, data: Mapping[str, Any]) -> dict[str, StagedFile]:
    """Render every file below ``folder``, keyed by its rendered relative POSIX path.

    Path parts are templates (``{{ package_name }}/main.py``); files ending in
    ``.jinja`` are rendered and lose the suffix; other files are copied as
    they are. Parts that render empty skip the file, as copier does; build
    artefacts (``__pycache__``, ``*.pyc``, editor droppings) are never
    templates and are skipped.

    Raises:
        TemplateError: A template uses an undefined name or is invalid.
    """
    files: dict[str, StagedFile] = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        rel = path.relative_to(folder).as_posix()
        if is_artefact(rel):
            continue
        parts = [render_string(part, data, origin=f"{folder}/{rel}") for part in rel.split("/")]
        if not all(parts):
            continue
        executable = bool(path.stat().st_mode & stat.S_IXUSR)
        if parts[-1].endswith(TEMPLATE_SUFFIX):
            parts[-1] = parts[-1][: -len(TEMPLATE_SUFFIX)]
            text = render_string(path.read_text(encoding="utf-8"), data, origin=str(path))
            content = text.encode("utf-8")
        else:
            content = path.read_bytes()
        files[str(PurePosixPath(*parts))] = StagedFile(content, executable)
    return files


def ask_answers(template: Path, data: Mapping[str, Any]) -> dict[str, Any]:
    """Complete and check the answers to a copier template's questions (``copier.yml``).

    Questions ``data`` does not answer take their defaults (people are asked
    beforehand, see fastscaffold.questions); copier runs the template's
    validators and returns every answer. It renders no files: the
    questionnaire is copied beside an empty ``files/`` folder.

    Raises:
        InvalidAnswerError: An answer failed the template's validation.
        TemplateError: The questionnaire itself is broken.
    """
    import copier  # Heavy: imported only by the commands that ask.
    import jinja2

    with tempfile.TemporaryDirectory(prefix="fastscaffold-questions-") as tmp:
        questions = Path(tmp) / "template"
        (questions / "files").mkdir(parents=True)
        shutil.copy2(template / "copier.yml", questions / "copier.yml")
        try:
            with warnings.catch_warnings():
                # Copier warns about things that do not concern our users (e.g. a
                # template without a version tag); our own record carries versions.
                warnings.simplefilter("ignore")
                worker = copier.run_copy(
                    str(questions),
                    Path(tmp) / "out",
                    data=dict(data),
                    defaults=True,
                    quiet=True,
                    overwrite=True,
                    cleanup_on_error=False,
                    unsafe=False,
                    skip_tasks=True,
                    exclude=list(EXCLUDE_GLOBS),
                )
        except ValueError as exc:
            # Copier reports answers that fail a validator or a choice list this way.
            raise InvalidAnswerError(
                str(exc), "Check the value given on the command line or at the prompt."
            ) from None
        except (copier.errors.CopierError, jinja2.TemplateError) as exc:
            raise TemplateError(f"Asking the questions of {template.name} failed: {exc}") from exc
    combined = worker.answers.combined
    return {name: combined[name] for name in worker.template.questions_data}
