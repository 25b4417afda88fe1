"""What a session did, or would do when dry: the plan and what it means for each file.

Commands (``add``, ``remove``, ``api-version``, ``update``) return it to the
CLI, which shows it; fastscaffold.session makes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastscaffold.plan import Plan
from fastscaffold.policies import Outcome
from fastscaffold.record import RECORD_DIR


@dataclass(frozen=True)
class SessionResult:
    """What a session did (or, dry, would do).

    Attributes:
        plan: Every file written, changed or deleted, the record included.
        outcomes: What happened to each project file that changed or needs attention.
        edited: Files the user edited that the change had to rewrite.
        side_files: Files written beside edited ones with ``force`` (``FILE.new``,
            backups under ``.fastscaffold/backup/``).
        kept: Edited files of removed patterns that stay (they are the user's now).
        manual_steps: What the user must do by hand.
        migrations: The migrations run, described.
        dry_run: True when nothing was written.
    """

    plan: Plan
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    edited: tuple[str, ...] = ()
    side_files: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    manual_steps: tuple[str, ...] = ()
    migrations: tuple[str, ...] = ()
    dry_run: bool = False

    @property
    def conflicts(self) -> list[str]:
        """Return the files left with conflicts."""
        return [p for p, o in self.outcomes.items() if o is Outcome.CONFLICT]

    @property
    def project_changes(self) -> list[str]:
        """Return the project files the plan writes or deletes (the record left out)."""
        return [c.path for c in self.plan.writes if not c.path.startswith(f"{RECORD_DIR}/")]
