"""Where the shipped templates are, in a source checkout and in an installed wheel."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastscaffold.errors import TemplateError

_PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def templates_root() -> Path:
    """Return the folder that holds every template fastscaffold ships.

    The repository keeps ``templates/`` at its top level; the wheel
    force-includes it as ``fastscaffold/templates``. An editable install
    imports the package from the checkout, where only the top-level folder
    exists, so both places are tried, the packaged one first.

    Raises:
        TemplateError: Neither place holds the templates (a broken install).
    """
    for candidate in (_PACKAGE_DIR / "templates", _PACKAGE_DIR.parent / "templates"):
        if (candidate / "project" / "copier.yml").is_file():
            return candidate
    raise TemplateError(
        f"fastscaffold's templates are missing next to {_PACKAGE_DIR}; reinstall fastscaffold."
    )


def project_template() -> Path:
    """Return the copier template of the base project."""
    return templates_root() / "project"


def project_files() -> Path:
    """Return the folder of the base project's file templates (copier's ``_subdirectory``)."""
    return project_template() / "files"


def wiring_template() -> Path:
    """Return the Jinja template of the tool-owned wiring module."""
    return templates_root() / "wiring" / "_fastscaffold.py.jinja"
