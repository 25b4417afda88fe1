"""fastscaffold's dev extra has every distribution a generated project can depend on.

The end-to-end tests run generated projects with fastscaffold's own
interpreter, so a dependency missing here would fail only there, late.
"""

import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from fastscaffold.catalog import load_catalog
from tests.helpers import REPO_ROOT


def _names(requirements: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def test_dev_extra_covers_the_base_project_and_every_pattern() -> None:
    ours = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    dev = _names(ours["project"]["optional-dependencies"]["dev"])
    rendered = (REPO_ROOT / "tests" / "golden" / "base-project" / "pyproject.toml").read_text()
    base = tomllib.loads(rendered)["project"]
    needed = _names(base["dependencies"]) | _names(base["optional-dependencies"]["dev"])
    for pattern in load_catalog().values():
        wiring = pattern.manifest.wiring
        needed |= _names([*wiring.dependencies, *wiring.dev_dependencies])
    assert needed - dev == set()
