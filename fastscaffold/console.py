"""The terminal: its consoles, errors, progress, questions and diffs; the library never prints.

What each command reports is in :mod:`fastscaffold.reports`. Rich is imported
lazily so that commands which print little start fast.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING

from fastscaffold.errors import FastScaffoldError, UserError

if TYPE_CHECKING:
    from rich.console import Console

    from fastscaffold.plan import Plan
    from fastscaffold.questions import Question


@cache
def out() -> Console:
    """Return the console for normal output (stdout)."""
    from rich.console import Console

    return Console(highlight=False)


@cache
def err() -> Console:
    """Return the console for errors and progress (stderr)."""
    from rich.console import Console

    # No wrapping: messages hold paths and commands people copy.
    return Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(error: FastScaffoldError) -> None:
    """Show an error: a red message and, for user errors, what to do next."""
    from rich.markup import escape

    err().print(f"[bold red]Error:[/] {escape(str(error))}")
    if isinstance(error, UserError) and error.hint:
        err().print(f"[yellow]Hint:[/] {escape(error.hint)}")
    elif not isinstance(error, UserError):
        err().print(
            "[yellow]Hint:[/] this is a bug in fastscaffold; "
            "please report it with the message above."
        )


@contextmanager
def progress_steps() -> Iterator[Callable[[str], None]]:
    """Yield a callback that shows each step of a long task with a spinner.

    The spinner appears on the first step only, so commands that report no
    step print nothing extra.
    """
    from rich.status import Status

    current: list[Status] = []

    def step(message: str) -> None:
        if current:
            err().print(f"[green]✓[/] {current[0].status}")
            current[0].update(message)
        else:
            current.append(err().status(message))
            current[0].start()

    try:
        yield step
    finally:
        if current:
            current[0].stop()


def ask_question(question: Question) -> str:
    """Ask one question on the terminal; Enter takes the default, typing replaces it.

    Ctrl-C raises KeyboardInterrupt (the CLI's boundary reports it); Ctrl-D too.
    """
    from rich.prompt import Prompt

    try:
        answer = Prompt.ask(
            question.help,
            console=err(),
            default=question.default,
            choices=list(question.choices) or None,
            show_default=bool(question.default),
        )
    except EOFError:
        raise KeyboardInterrupt from None
    return str(answer)


def print_diff(plan: Plan) -> None:
    """Write the unified diff of what ``plan`` writes to stdout (a dry run's output).

    Plain text, so it can be piped to `patch` or a pager; the record under
    .fastscaffold/ changes too, but is fastscaffold's business.
    """
    sys.stdout.write(
        "".join(c.diff() for c in plan.writes if not c.path.startswith(".fastscaffold/"))
    )
    sys.stdout.flush()
