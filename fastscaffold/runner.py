"""`fastscaffold run`: serving a generated project with uvicorn in its own interpreter."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastscaffold.errors import MissingDependenciesError, PortInUseError, UserError
from fastscaffold.project import Project

# Run inside the project's interpreter: report which distributions are
# installed, at which version, and whether the project's package imports.
# Kept to the standard library so it works in any environment.
_PROBE = """
import importlib.metadata as md, importlib.util, json, sys
names, package = json.loads(sys.argv[1]), sys.argv[2]
found = {}
for name in names:
    try:
        found[name] = md.version(name)
    except md.PackageNotFoundError:
        found[name] = None
print(json.dumps({"versions": found, "package": importlib.util.find_spec(package) is not None}))
"""


@dataclass(frozen=True)
class RunOptions:
    """How ``fastscaffold run`` serves the project.

    Attributes:
        host: The interface to bind.
        port: The TCP port to bind.
        reload: Restart on code changes (development); ignored with several workers.
        workers: Worker processes; more than one turns reload off.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    reload: bool = True
    workers: int = 1

    @property
    def effective_reload(self) -> bool:
        """Return whether reload is really on (uvicorn cannot reload several workers)."""
        return self.reload and self.workers <= 1


def project_python(project: Project) -> Path:
    """Return the interpreter to serve ``project`` with: its ``.venv`` one, else ours."""
    if project.venv_python.exists():
        return project.venv_python
    return Path(sys.executable)


def install_command(project: Project, python: Path) -> str:
    """Return the one command that installs the project into ``python``'s environment."""
    return f"cd {project.root} && {python} -m pip install -e '.[dev]'"


def check_dependencies(project: Project, python: Path) -> None:
    """Check that ``python`` has the project's dependencies and can import its package.

    Raises:
        MissingDependenciesError: Something is missing or too old; the error
            names each requirement and the command that installs them.
    """
    from packaging.requirements import InvalidRequirement, Requirement

    requirements: list[Requirement] = []
    for spec in project.dependencies:
        try:
            requirements.append(Requirement(spec))
        except InvalidRequirement:
            continue  # pip will report it precisely when installing.
    names = [r.name for r in requirements if r.marker is None or r.marker.evaluate()]
    try:
        completed = subprocess.run(
            [str(python), "-c", _PROBE, json.dumps(names), project.package],
            cwd=project.root,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UserError(
            f"Cannot start the project's interpreter {python}: {exc}.",
            "Recreate the virtualenv (rm -rf .venv, then install the project again).",
        ) from None
    if completed.returncode != 0:
        raise UserError(
            f"The project's interpreter {python} failed: {completed.stderr.strip()}",
            "Recreate the virtualenv (rm -rf .venv, then install the project again).",
        )
    probe = json.loads(completed.stdout)
    missing = []
    for requirement in requirements:
        installed = probe["versions"].get(requirement.name)
        if requirement.name not in probe["versions"]:
            continue  # Its marker excludes this interpreter.
        if installed is None:
            missing.append(str(requirement))
        elif requirement.specifier and not requirement.specifier.contains(
            installed, prereleases=True
        ):
            missing.append(f"{requirement} (found {installed})")
    if not probe["package"]:
        missing.append(f"the package {project.package!r} itself")
    if missing:
        raise MissingDependenciesError(
            python=python, missing=missing, install_command=install_command(project, python)
        )


def check_port(host: str, port: int) -> None:
    """Check that ``host:port`` can be bound now.

    Raises:
        PortInUseError: Another process holds the port, or the address is not local.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # uvicorn sets SO_REUSEADDR too, so a port in TIME_WAIT is not "in use".
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortInUseError(host=host, port=port, reason=exc.strerror or str(exc)) from None


def build_run_command(project: Project, python: Path, options: RunOptions) -> list[str]:
    """Return the argv that serves ``project`` with uvicorn."""
    argv = [
        str(python),
        "-m",
        "uvicorn",
        project.entrypoint,
        "--host",
        options.host,
        "--port",
        str(options.port),
    ]
    if options.effective_reload:
        # Watch the package only: not .venv, caches or the record folder.
        argv += ["--reload", "--reload-dir", str(project.root / project.package)]
    elif options.workers > 1:
        argv += ["--workers", str(options.workers)]
    return argv


# How long the server may take to stop after a signal, before its processes are killed.
GRACE_SECONDS = 10.0
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def start_server(argv: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    """Start the server in a process group of its own (the seam tests replace).

    Its own group, so that `run` can signal the server and every process it
    starts (the reloader's worker, ``--workers`` processes) at once, and so
    that none of them is left behind when `run` is stopped.
    """
    return subprocess.Popen(argv, cwd=cwd, start_new_session=True)


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone
        os.killpg(process.pid, signum)


def supervise(process: subprocess.Popen[bytes], *, grace: float = GRACE_SECONDS) -> int:
    """Wait for the server, forwarding SIGINT, SIGTERM and SIGHUP to its whole group.

    After the first signal the server gets ``grace`` seconds to stop, then
    its group is killed. Whatever happens, nothing of the group outlives
    this call. Returns the server's exit code (negative: killed by a signal).
    """
    deadline: list[float] = []

    def forward(signum: int, _frame: object) -> None:
        # uvicorn has no handler for SIGHUP (the terminal went away) and would die
        # on the spot: ask it to stop cleanly instead, as for SIGTERM.
        _signal_group(process, signal.SIGTERM if signum == signal.SIGHUP else signum)
        if not deadline:
            deadline.append(time.monotonic() + grace)

    previous = {}
    for signum in FORWARDED:
        with contextlib.suppress(ValueError):  # not the main thread: no handlers
            previous[signum] = signal.signal(signum, forward)
    try:
        while True:
            try:
                return process.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                if deadline and time.monotonic() > deadline[0]:
                    _signal_group(process, signal.SIGKILL)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        # Workers or a reloaded child may still run after the server's main process ended.
        _signal_group(process, signal.SIGKILL)


def run_project(
    project: Project, options: RunOptions, *, on_start: Callable[[Path], None] | None = None
) -> int:
    """Serve ``project`` until the server stops, and return the server's exit code.

    Dependencies and the port are checked before starting; ``on_start`` is
    called with the interpreter just before the server starts. Ctrl-C,
    SIGTERM and SIGHUP sent to `run` reach every process of the server, which
    shuts down cleanly (or is killed after a grace period): no server process
    outlives `run`.

    Raises:
        MissingDependenciesError: The project's interpreter lacks dependencies.
        PortInUseError: The port cannot be bound.
    """
    python = project_python(project)
    check_dependencies(project, python)
    check_port(options.host, options.port)
    if on_start is not None:
        on_start(python)
    process = start_server(build_run_command(project, python, options), project.root)
    return supervise(process)
