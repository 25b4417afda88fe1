"""Rendering templates into a staging folder (copier for projects, Jinja for wiring)."""

from __future__ import annotations

import shutil
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastscaffold.errors import InvalidAnswerError, TemplateError


def render_copier_template(
    template: Path, destination: Path, data: Mapping[str, Any], *, interactive: bool
) -> dict[str, Any]:
    """Render a copier template into ``destination`` and return its answers.

    Args:
        template: The copier template folder.
        destination: An empty staging folder to render into.
        data: Answers given up front; copier asks for none of these.
        interactive: Whether copier may ask the remaining questions on the
            terminal; when False every other question takes its default.

    Returns:
        Every question's final answer (given, typed in, or default).

    Raises:
        InvalidAnswerError: An answer failed the template's validation.
        TemplateError: The template itself could not be rendered.
    """
    import copier  # Heavy: imported only by the commands that render.
    import jinja2

    try:
        with warnings.catch_warnings():
            # Copier warns about things that do not concern our users (e.g. a
            # template without a version tag); our own record carries versions.
            warnings.simplefilter("ignore")
            worker = copier.run_copy(
                str(template),
                destination,
                data=dict(data),
                defaults=not interactive,
                quiet=True,
                overwrite=True,
                cleanup_on_error=False,
                unsafe=False,
                skip_tasks=True,
            )
    except ValueError as exc:
        # Copier reports answers that fail a validator or a choice list this way.
        raise InvalidAnswerError(
            str(exc), "Check the value given on the command line or at the prompt."
        ) from None
    except (copier.errors.CopierError, jinja2.TemplateError) as exc:
        raise TemplateError(f"Rendering {template.name} failed: {exc}") from exc
    combined = worker.answers.combined
    return {name: combined[name] for name in worker.template.questions_data}


# The copier settings every pattern is rendered with: the same as the base
# project's (StrictUndefined, .jinja suffix, files/ as the template body).
_PATTERN_COPIER_YML = """\
_subdirectory: files
_templates_suffix: .jinja
_envops:
  undefined: jinja2.StrictUndefined
  keep_trailing_newline: true
  trim_blocks: true
  lstrip_blocks: true
"""


def render_pattern(files_dir: Path, destination: Path, data: Mapping[str, Any]) -> None:
    """Render a pattern's ``files/`` folder with copier into ``destination``.

    The pattern's options are validated by its manifest (fastscaffold.manifest)
    before this is called, so copier gets complete answers and asks nothing;
    the copier template is assembled in a temporary folder from the shared
    settings above and the pattern's files.

    Raises:
        TemplateError: The templates could not be rendered (e.g. an undefined name).
    """
    with tempfile.TemporaryDirectory(prefix="fastscaffold-pattern-") as tmp:
        template = Path(tmp)
        (template / "copier.yml").write_text(_PATTERN_COPIER_YML, encoding="utf-8")
        shutil.copytree(files_dir, template / "files")
        try:
            render_copier_template(template, destination, data, interactive=False)
        except InvalidAnswerError as exc:  # pragma: no cover - answers are pre-validated
            raise TemplateError(f"Rendering {files_dir.parent.name} failed: {exc}") from exc
