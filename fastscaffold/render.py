"""Rendering templates into a staging folder (copier for projects, Jinja for wiring)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastscaffold.errors import InvalidAnswerError, TemplateError
from fastscaffold.templates import wiring_template


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
    except copier.errors.CopierError as exc:
        raise TemplateError(f"Rendering {template.name} failed: {exc}") from exc
    combined = worker.answers.combined
    return {name: combined[name] for name in worker.template.questions_data}


@dataclass(frozen=True)
class Wiring:
    """What the applied patterns plug into the app, as Python expressions.

    Each list holds ready-to-render code fragments; patterns contribute them
    through their manifests (fastscaffold's pattern engine). With no pattern
    applied every list is empty.
    """

    patterns: Sequence[str] = ()
    imports: Sequence[str] = ()
    routers: Sequence[str] = ()
    lifespans: Sequence[str] = ()
    commands: Sequence[str] = ()

    def patterns_tuple(self) -> str:
        """Return the Python literal of the applied pattern names."""
        if not self.patterns:
            return "()"
        inner = ", ".join(f'"{name}"' for name in self.patterns)
        return f"({inner},)" if len(self.patterns) == 1 else f"({inner})"


def render_wiring(wiring: Wiring) -> bytes:
    """Render the tool-owned wiring module ``<package>/_fastscaffold.py``."""
    import jinja2

    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    try:
        source = wiring_template().read_text(encoding="utf-8")
        text = env.from_string(source).render(
            imports=list(wiring.imports),
            patterns_tuple=wiring.patterns_tuple(),
            routers=list(wiring.routers),
            lifespans=list(wiring.lifespans),
            commands=list(wiring.commands),
        )
    except jinja2.TemplateError as exc:
        raise TemplateError(f"Rendering the wiring module failed: {exc}") from exc
    return text.encode("utf-8")
