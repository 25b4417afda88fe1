"""What the tasks pattern's process-level tests share: a job that records its runs, HTTP calls.

The fault and durability tests count executions instead of trusting the
database: the ``record`` job, added to a generated project, appends one line
when a run starts and one when it ends (``start KEY PID TIME``, ``done KEY
PID TIME``), and :class:`Records` reads them back.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fastscaffold.creation import NewOptions, new_project

RECORD_JOB = '''

class RecordParams(BaseModel):
    """Parameters of the record job (fastscaffold's process-level tests)."""

    path: str
    key: str
    steps: int = 5
    delay: float = 0.1


def _note(path: str, line: str) -> None:
    # One small O_APPEND write: lines of concurrent processes never mix.
    with open(path, "a") as records:  # noqa: PTH123
        records.write(line)


@job("record")
async def record(params: RecordParams, progress: Progress) -> int:
    """Note the run's start, take steps, note its end."""
    _note(params.path, f"start {params.key} {os.getpid()} {time.time()}\\n")
    for step in range(1, params.steps + 1):
        await asyncio.sleep(params.delay)
        await progress.report(100 * step / params.steps)
    _note(params.path, f"done {params.key} {os.getpid()} {time.time()}\\n")
    return params.steps
'''


def project_with_record_job(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """Generate ``name`` with the tasks pattern and add the ``record`` job to its jobs."""
    parent = tmp_path_factory.mktemp(name)
    destination = new_project(NewOptions(name=name, parent=parent, patterns=("tasks",))).destination
    jobs = destination / name.replace("-", "_") / "tasks" / "jobs.py"
    source = jobs.read_text(encoding="utf-8").replace(
        "import asyncio\n", "import asyncio\nimport os\nimport time\n", 1
    )
    jobs.write_text(source + RECORD_JOB, encoding="utf-8")
    return destination


def call(base: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One request on a new connection; return the status and the JSON body."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@dataclass
class Records:
    """The runs the record job noted: who started and who finished each key."""

    path: Path

    def lines(self) -> list[tuple[str, str, int, float]]:
        if not self.path.exists():
            return []
        found = []
        for line in self.path.read_text().splitlines():
            kind, key, pid, at = line.split()
            found.append((kind, key, int(pid), float(at)))
        return found

    def starts(self, key: str) -> list[int]:
        return [pid for kind, k, pid, _ in self.lines() if kind == "start" and k == key]

    def dones(self, key: str) -> list[int]:
        return [pid for kind, k, pid, _ in self.lines() if kind == "done" and k == key]

    def counts(self) -> dict[str, dict[str, int]]:
        """Count the starts and ends noted, per key."""
        counted: dict[str, dict[str, int]] = {}
        for kind, key, _pid, _at in self.lines():
            counted.setdefault(key, {"start": 0, "done": 0})[kind] += 1
        return counted

    def in_progress(self, pid: int) -> dict[str, float]:
        """Return the keys ``pid`` started and has not finished, with their start times."""
        running: dict[str, float] = {}
        for kind, key, who, at in self.lines():
            if who != pid:
                continue
            if kind == "start":
                running[key] = at
            else:
                running.pop(key, None)
        return running
