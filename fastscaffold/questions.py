"""The base project's questions (``templates/project/copier.yml``), for asking them ourselves.

Copier keeps the questionnaire and its validators; fastscaffold asks the
questions on a terminal itself (through a callback the CLI supplies), so a
default is shown as a default that typing replaces, and Ctrl-C at a question
is an ordinary interruption. Copier then validates every answer again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastscaffold.errors import TemplateError


@dataclass(frozen=True)
class Question:
    """One question a person answers.

    Attributes:
        name: The answer's name (``description``).
        help: The question, as shown.
        default: The answer when none is typed.
        choices: The allowed answers (empty: any text).
        validator: Copier's Jinja validator: it renders to a message when the answer is wrong.
    """

    name: str
    help: str
    default: str
    choices: tuple[str, ...] = ()
    validator: str = ""

    def problem(self, value: str, answers: Mapping[str, Any]) -> str | None:
        """Return what is wrong with ``value`` (None when it is acceptable)."""
        if self.choices and value not in self.choices:
            return f"Choose one of {', '.join(self.choices)}."
        if not self.validator:
            return None
        from fastscaffold.render import render_string

        message = render_string(
            self.validator, {**answers, self.name: value}, origin=f"the {self.name} validator"
        )
        return message.strip() or None


def load_questions(template: Path) -> list[Question]:
    """Return the questions of ``template/copier.yml`` a person answers (not derived ones).

    Raises:
        TemplateError: The questionnaire cannot be read.
    """
    import yaml

    path = template / "copier.yml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"Cannot read {path}: {exc}") from exc
    questions = []
    for name, spec in data.items():
        if name.startswith("_") or not isinstance(spec, dict) or spec.get("when") is False:
            continue
        questions.append(
            Question(
                name=name,
                help=str(spec.get("help", name)),
                default=str(spec.get("default", "")),
                choices=tuple(str(c) for c in spec.get("choices", ())),
                validator=str(spec.get("validator", "")),
            )
        )
    return questions
