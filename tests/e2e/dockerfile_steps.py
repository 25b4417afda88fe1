"""Reading a generated Dockerfile's stages, to run their steps without a Docker daemon.

Only what fastscaffold's template uses is understood: ``FROM ... AS name``,
``ENV``, ``WORKDIR``, ``COPY``, ``RUN`` (with ``--mount`` flags), ``VOLUME``,
``USER``, ``EXPOSE``, ``HEALTHCHECK`` and an exec-form ``CMD``. A test that
runs the steps reads them from here, so a change to the Dockerfile is a change
to what the test runs.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field


@dataclass
class Stage:
    """One build stage: its instructions, in order, as (keyword, argument text)."""

    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        """Return the argument text of every ``keyword`` instruction."""
        return [text for word, text in self.instructions if word == keyword]

    def one(self, keyword: str) -> str:
        """Return the argument text of the last ``keyword`` instruction (Docker's rule)."""
        found = self.all(keyword)
        assert found, f"stage {self.name} has no {keyword}"
        return found[-1]

    def env(self) -> dict[str, str]:
        """Return the variables this stage's ``ENV`` lines set (``KEY=value`` form)."""
        values: dict[str, str] = {}
        for text in self.all("ENV"):
            for item in shlex.split(text):
                key, _, value = item.partition("=")
                values[key] = value
        return values

    def runs(self) -> list[str]:
        """Return each ``RUN``'s shell script, without its ``--mount`` flags."""
        return [re.sub(r"^(\s*--mount=\S+\s+)+", "", text) for text in self.all("RUN")]


def logical_lines(text: str) -> list[str]:
    """Return the instructions of a Dockerfile, continuation lines joined, comments dropped."""
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    if current:
        lines.append(current)
    return lines


def parse_stages(text: str) -> dict[str, Stage]:
    """Return the stages of the Dockerfile ``text``, by name."""
    stages: dict[str, Stage] = {}
    stage: Stage | None = None
    for line in logical_lines(text):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            base, _, name = rest.partition(" AS ")
            stage = Stage(name=name.strip(), base=base.strip())
            stages[stage.name] = stage
        elif stage is not None:
            stage.instructions.append((keyword, rest.strip()))
    return stages


def exec_form(text: str) -> list[str]:
    """Return a JSON (exec form) argument list, e.g. of ``CMD``; fail on the shell form."""
    value = json.loads(text)
    assert isinstance(value, list), f"not exec form: {text}"
    return [str(item) for item in value]
