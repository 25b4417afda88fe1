"""Generated projects pass the tools their users run, and their image starts unprivileged.

* hadolint on the Dockerfile and actionlint on every variant of the CI workflow;
* ``pre-commit run --all-files`` with no network (the hooks are local);
* uv first: ``new --venv`` writes ``uv.lock`` and ``uv run pytest`` passes,
  ``add``/``remove`` re-lock, and ``pip install -e '.[dev]'`` still works;
* the Docker image's steps, read from the Dockerfile and run without a Docker
  daemon: dependencies, wheel and data folder built as root in a root-owned
  tree, then the ``CMD`` (and the ``HEALTHCHECK``) run as the image's uid, as
  ``docker run`` would, until ``/health`` answers.

Projects are generated once per module and copied where a test changes one.
A tool these tests need and cannot find fails them: it never skips.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from fastscaffold.creation import NewOptions, new_project
from fastscaffold.patterns import add_patterns, remove_patterns
from tests.e2e.dockerfile_steps import Stage, exec_form, parse_stages
from tests.e2e.test_smoke_matrix import shipped_patterns
from tests.helpers import free_port, run_project_tests, wait_for_http

pytestmark = pytest.mark.e2e

# Where a network request goes when a test must work offline: nothing listens there.
OFFLINE_PROXY = "http://127.0.0.1:9"


def tool(name: str) -> str:
    """Return the path of the command ``name``, from PATH or next to this interpreter."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"{name} is needed and is not installed (pip install -e '.[dev]')")
    return found


def run(
    argv: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 480
) -> subprocess.CompletedProcess[str]:
    """Run ``argv``; return it finished, its output kept for the assertion message."""
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def passed(done: subprocess.CompletedProcess[str]) -> bool:
    """Return whether ``done`` succeeded; print its output (pytest shows it on failure)."""
    print(done.args, done.stdout[-6000:], done.stderr[-6000:], sep="\n")
    return done.returncode == 0


Generate = Callable[..., Path]


@pytest.fixture(scope="module")
def generate(tmp_path_factory: pytest.TempPathFactory) -> Generate:
    """Return ``generate(*patterns)``: a project with those patterns, made once per module."""
    made: dict[tuple[str, ...], Path] = {}

    def make(*patterns: str) -> Path:
        if patterns not in made:
            parent = tmp_path_factory.mktemp("hygiene")
            options = NewOptions(name="Hygiene-API", parent=parent, patterns=patterns)
            made[patterns] = new_project(options).destination
        return made[patterns]

    return make


def everything() -> tuple[str, ...]:
    return tuple(shipped_patterns())


def copy_of(project: Path, tmp_path: Path) -> Path:
    target = tmp_path / project.name
    shutil.copytree(project, target)
    return target


@pytest.fixture(scope="module")
def uv_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uv (and pip) download cache for the module, so each download happens once."""
    return tmp_path_factory.mktemp("download-cache")


def uv_env(cache: Path, **extra: str) -> dict[str, str]:
    """The environment uv and pip run in: the module's cache, no interpreter downloads.

    An index configured for pip through the environment (PIP_INDEX_URL) is
    uv's too, so both resolve from the same place.
    """
    env = {
        k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"}
    }
    env.update(UV_CACHE_DIR=str(cache / "uv"), PIP_CACHE_DIR=str(cache / "pip"))
    env["UV_PYTHON_DOWNLOADS"] = "never"
    if "PIP_INDEX_URL" in env and "UV_DEFAULT_INDEX" not in env:
        env["UV_DEFAULT_INDEX"] = env["PIP_INDEX_URL"]
    env.update(extra)
    return env


# -- linters ------------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["base", "all"])
def test_hadolint_passes_the_dockerfile(generate: Generate, scope: str) -> None:
    project = generate(*(everything() if scope == "all" else ()))
    # "style" is hadolint's lowest severity: every finding fails the test.
    done = run([tool("hadolint"), "--failure-threshold", "style", "Dockerfile"], project)
    assert passed(done)


def test_actionlint_passes_every_variant_of_the_workflow(generate: Generate) -> None:
    # The workflow differs by the services the patterns scale out on: the base,
    # each pattern alone and all of them cover every variant.
    variants: dict[str, Path] = {}
    for patterns in [(), *((name,) for name in everything()), everything()]:
        for workflow in sorted((generate(*patterns) / ".github" / "workflows").glob("*.y*ml")):
            variants.setdefault(workflow.read_text(encoding="utf-8"), workflow)
    assert len(variants) >= 2, "expected a scale-out variant besides the base workflow"
    for workflow in variants.values():
        done = run([tool("actionlint"), str(workflow)], workflow.parent)
        assert passed(done), workflow


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One mypy cache for the module: the libraries are analysed once (sources are hashed)."""
    return tmp_path_factory.mktemp("mypy-cache")


@pytest.mark.parametrize("scope", ["base", "all"])
def test_pre_commit_passes_offline_on_a_fresh_repository(
    generate: Generate, scope: str, tmp_path: Path, mypy_cache: Path
) -> None:
    project = copy_of(generate(*(everything() if scope == "all" else ())), tmp_path)
    git = tool("git")
    for argv in ([git, "init", "--quiet"], [git, "add", "--all"]):
        assert passed(run(argv, project))
    env = {
        **os.environ,
        # The project's tools (ruff, mypy) are this environment's.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "MYPY_CACHE_DIR": str(mypy_cache),
        # Anything that reaches for the network fails: the hooks must not need it.
        "HTTP_PROXY": OFFLINE_PROXY,
        "HTTPS_PROXY": OFFLINE_PROXY,
        "PIP_NO_INDEX": "1",
        "UV_OFFLINE": "1",
    }
    done = run([tool("pre-commit"), "run", "--all-files", "--show-diff-on-failure"], project, env)
    assert passed(done)
    for hook in ("ruff check", "ruff format", "mypy"):
        assert any(
            line.startswith(hook) and line.endswith("Passed") for line in done.stdout.splitlines()
        ), hook
    # Nothing was downloaded or changed: the tree is as generated.
    assert passed(run([git, "diff", "--exit-code"], project))


# -- uv and pip ----------------------------------------------------------------------


def test_new_venv_locks_with_uv_and_uv_run_pytest_passes(
    tmp_path: Path, uv_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in uv_env(uv_cache).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(tool("uv")).parent), os.environ["PATH"]]))
    result = new_project(NewOptions(name="uv-api", parent=tmp_path, venv=True))
    assert result.venv is not None
    assert result.venv.installer == "uv"
    project = result.destination
    assert result.venv.lock == project / "uv.lock"
    assert (project / "uv.lock").is_file()
    uv = tool("uv")
    env = uv_env(uv_cache)
    # As a user would from here: sync (the lock must already be current) and run the tests.
    assert passed(run([uv, "sync", "--locked", "--python", sys.executable], project, env))
    done = run([uv, "run", "--locked", "pytest", "-q", "-p", "no:cacheprovider"], project, env)
    assert passed(done)
    assert " passed" in done.stdout
    # The dev group brought the tools the README names.
    for command in (["ruff", "--version"], ["mypy", "--version"], ["pre-commit", "--version"]):
        assert passed(run([uv, "run", "--locked", *command], project, env))


def _locked_names(project: Path) -> set[str]:
    lock = tomllib.loads((project / "uv.lock").read_text(encoding="utf-8"))
    return {package["name"] for package in lock["package"]}


def test_add_and_remove_relock_a_project_with_a_lock(
    generate: Generate, tmp_path: Path, uv_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = copy_of(generate(), tmp_path)
    for key, value in uv_env(uv_cache).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(tool("uv")).parent), os.environ["PATH"]]))
    uv = tool("uv")
    assert passed(run([uv, "lock", "--python", sys.executable], project))
    assert "sqlalchemy" not in _locked_names(project)

    added = add_patterns(project, ["database"])
    assert added.dependencies_changed
    assert added.relocked, added.lock_problem
    assert {"sqlalchemy", "aiosqlite"} <= _locked_names(project)
    assert passed(run([uv, "lock", "--locked"], project))  # in step: nothing to change

    removed = remove_patterns(project, ["database"])
    assert removed.relocked, removed.lock_problem
    assert "sqlalchemy" not in _locked_names(project)


def test_a_project_without_a_lock_is_not_locked_by_add(generate: Generate, tmp_path: Path) -> None:
    project = copy_of(generate(), tmp_path)
    change = add_patterns(project, ["database"])
    assert change.dependencies_changed
    assert not change.relocked
    assert change.lock_problem is None
    assert not (project / "uv.lock").exists()


def test_pip_install_of_the_dev_extra_still_works(
    generate: Generate, tmp_path: Path, uv_cache: Path
) -> None:
    project = copy_of(generate(), tmp_path)
    env = uv_env(uv_cache)
    venv = project / ".venv"
    assert passed(run([sys.executable, "-m", "venv", str(venv)], project, env))
    python = str(venv / "bin" / "python")
    done = run([python, "-m", "pip", "install", "--quiet", "-e", ".[dev]"], project, env, 600)
    assert passed(done)
    for module in ("pytest", "ruff", "mypy", "pre_commit"):
        assert passed(run([python, "-m", module, "--version"], project, env))
    done = run_project_tests(
        python, project, "-q", "tests/test_health.py", "tests/test_settings.py"
    )
    assert passed(done)


# -- the Docker image, without Docker ---------------------------------------------------


def _others_may_run(path: Path) -> bool:
    """Return whether a user in no group of the owner may execute ``path`` (and reach it)."""
    path = path.resolve()
    if not path.is_file() or not path.stat().st_mode & stat.S_IXOTH:
        return False
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in path.parents)


def unprivileged_python() -> Path:
    """Return an interpreter the image's user may run, with this one's major.minor version.

    Ours may live where only root can read (pyenv under /root); the image's
    lives in /usr/local, readable by all: a system Python stands in for it.
    """
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [
        Path(sys.base_prefix) / "bin" / f"python{version}",
        Path(f"/usr/local/bin/python{version}"),
        Path(f"/usr/bin/python{version}"),
    ]
    for candidate in candidates:
        if _others_may_run(candidate):
            return candidate
    pytest.fail(f"no Python {version} that an unprivileged user may run among {candidates}")


IMAGE_PATHS = ("/opt/venv", "/wheels", "/usr/local/bin/python", "/app")


class ImageTree:
    """A root-owned folder standing in for the image's file system.

    The image's absolute paths used in the Dockerfile's scripts are mapped
    into it; ``python`` and ``uv`` on its PATH are the stand-in interpreter
    and this machine's uv.
    """

    def __init__(self, root: Path, python: Path) -> None:
        self.root = root
        self.bin = root / "usr" / "local" / "bin"
        self.bin.mkdir(parents=True)
        (self.bin / "python").symlink_to(python)
        (self.bin / "uv").symlink_to(tool("uv"))
        self.mapping = {path: str(root / path.lstrip("/")) for path in IMAGE_PATHS}
        # The build installs the wheel with a pip: the stand-in may not have one.
        self.mapping["/usr/local/bin/python"] = sys.executable

    def path(self, image_path: str) -> Path:
        return Path(self.mapped(image_path))

    def mapped(self, text: str) -> str:
        for image_path, here in self.mapping.items():
            text = text.replace(image_path, here)
        return text

    def env(self, stage: Stage, base: dict[str, str]) -> dict[str, str]:
        env = dict(base)
        env["PATH"] = os.pathsep.join(
            [str(self.bin), str(Path(sys.executable).parent), "/usr/bin", "/bin"]
        )
        for key, value in stage.env().items():
            env[key] = self.mapped(value.replace("$PATH", env["PATH"]))
        return env

    def run_scripts(self, stage: Stage, cwd: Path, env: dict[str, str], *, skip: str = "") -> None:
        for script in stage.runs():
            if skip and skip in script:
                continue
            done = run(["sh", "-ec", self.mapped(script)], cwd, env, 600)
            assert passed(done), script


@pytest.fixture
def image_tree() -> Iterator[Path]:
    # Below /tmp, not pytest's tmp_path: that one is private to root (0700),
    # and the image's user must reach /app and /opt/venv.
    root = Path(tempfile.mkdtemp(prefix="fastscaffold-image-", dir="/tmp"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


IMAGE_UID = 10001


def as_image_user(argv: list[str], uid: int) -> list[str]:
    return [tool("setpriv"), f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--", *argv]


def _wait_for_health(server: subprocess.Popen[bytes], port: int, log: Path) -> tuple[int, bytes]:
    """Return /health's answer; fail with the server's log if it exits or never answers."""
    for _ in range(90):
        try:
            return wait_for_http(f"http://127.0.0.1:{port}/health", timeout=1)
        except TimeoutError:
            if server.poll() is not None:
                pytest.fail(f"the server exited ({server.returncode}):\n{log.read_text()}")
    pytest.fail(f"/health did not answer within 90 s:\n{log.read_text()}")


@pytest.mark.parametrize("scope", ["base-pip", "all-uv-lock"])
def test_the_image_starts_as_its_unprivileged_user_in_a_root_owned_app_folder(
    generate: Generate, scope: str, image_tree: Path, uv_cache: Path
) -> None:
    source = copy_of(
        generate(*(everything() if scope.startswith("all") else ())), image_tree / "ctx"
    )
    package = tomllib.loads((source / "pyproject.toml").read_text())["tool"]["fastscaffold"][
        "package"
    ]
    base_env = uv_env(uv_cache)
    if scope.endswith("uv-lock"):
        assert passed(run([tool("uv"), "lock", "--python", sys.executable], source, base_env))
    stages = parse_stages((source / "Dockerfile").read_text(encoding="utf-8"))
    assert list(stages) == ["base", "dependencies", "build", "runtime"]
    tree = ImageTree(image_tree, unprivileged_python())
    base = tree.env(stages["base"], base_env)

    # dependencies: pyproject.toml and uv.lock* into /src, then its RUN (uv or pip).
    deps = stages["dependencies"]
    deps_src = image_tree / "deps-src"
    deps_src.mkdir()
    for name in ("pyproject.toml", "uv.lock"):
        if (source / name).exists():
            shutil.copy2(source / name, deps_src / name)
    tree.run_scripts(deps, deps_src, tree.env(deps, base))
    venv = tree.path("/opt/venv")
    assert (venv / "bin" / "python").exists()

    # build: the wheel, from the files the Dockerfile copies.
    build = stages["build"]
    build_src = image_tree / "build-src"
    build_src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(source / name, build_src / name)
    shutil.copytree(source / package, build_src / package)
    tree.run_scripts(build, build_src, tree.env(build, base))

    # runtime: the wheel into the environment, /app with its data folder; the
    # user is not created (setpriv runs as the bare uid, as Kubernetes may).
    runtime = stages["runtime"]
    assert runtime.one("WORKDIR") == "/app"
    assert exec_form(runtime.one("VOLUME")) == ["/app/data"]
    uid, _, gid = runtime.one("USER").partition(":")
    assert (int(uid), int(gid)) == (IMAGE_UID, IMAGE_UID)
    app = tree.path("/app")
    app.mkdir()
    runtime_env = tree.env(runtime, base)
    tree.run_scripts(runtime, app, runtime_env, skip="useradd")
    data = app / "data"
    assert data.stat().st_uid == IMAGE_UID
    assert app.stat().st_uid == 0
    assert not app.stat().st_mode & (stat.S_IWGRP | stat.S_IWOTH)

    # Start the CMD as the image's user, with only the image's environment.
    port = free_port()
    env = {
        key: value for key, value in runtime_env.items() if key in runtime.env() or key == "PATH"
    }
    env.update(PATH=f"{venv / 'bin'}:/usr/bin:/bin", HOME="/nonexistent", PORT=str(port))
    # In production the app refuses an unmigrated schema: first the one-shot
    # command compose.yaml's `migrate` service runs (the README's docker run too).
    compose = yaml.safe_load((source / "compose.yaml").read_text(encoding="utf-8"))
    if "migrate" in compose["services"]:
        migrate = [str(arg) for arg in compose["services"]["migrate"]["command"]]
        assert passed(run(as_image_user(migrate, IMAGE_UID), app, env, 120))
    command = exec_form(runtime.one("CMD"))
    log = image_tree / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            as_image_user(command, IMAGE_UID), cwd=app, env=env, stdout=output, stderr=output
        )
    try:
        status, body = _wait_for_health(server, port, log)
        assert status == 200, log.read_text()
        assert b'"ok"' in body
        # Docker's health check, run as Docker runs it: the same user and environment.
        healthcheck = runtime.one("HEALTHCHECK")
        probe = exec_form(healthcheck[healthcheck.index("CMD ") + 4 :])
        assert passed(run(as_image_user(probe, IMAGE_UID), app, env, 60))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
            code = None
    output_text = log.read_text(errors="replace")
    # A clean stop: uvicorn finishes, then re-raises SIGTERM (recent versions) or exits 0.
    assert code in {0, -signal.SIGTERM}, output_text
    assert "Finished server process" in output_text, output_text
    assert "Traceback" not in output_text, output_text
    if scope.startswith("all"):
        # The database pattern's SQLite file went where the volume is.
        assert any(path.stat().st_uid == IMAGE_UID for path in data.iterdir()), output_text
