"""Project and package names: validation and the derivations between them."""

from __future__ import annotations

import keyword
import re
import sys
from dataclasses import dataclass

from fastscaffold.errors import InvalidNameError

# A PEP 508 distribution name that also starts with a letter, so that the
# derived package name is a valid identifier.
_NAME_RE = re.compile(r"^[A-Za-z](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
# Generated code must fit ruff's 100 columns wherever the package name appears
# (imports, logger names); 40 characters leaves room, and tests pin it.
_MAX_LENGTH = 40

# Top-level modules a generated project imports or that its tooling relies on:
# a package with one of these names would shadow it.
_SHADOWED = frozenset(
    {
        "anyio",
        "app",  # ambiguous with the FastAPI app object fastapi-cli looks for
        "asyncpg",
        "click",
        "conftest",
        "copier",
        "fastapi",
        "fastscaffold",
        "h11",
        "httpx",
        "httpx2",
        "jinja2",
        "multipart",
        "mypy",
        "pydantic",
        "pydantic_core",
        "pydantic_settings",
        "pytest",
        "python_multipart",
        "redis",
        "rich",
        "ruff",
        "setuptools",
        "sqlalchemy",
        "starlette",
        "taskiq",
        "test",
        "tests",
        "typer",
        "typing_extensions",
        "uvicorn",
        "uvloop",
        "websockets",
    }
)


@dataclass(frozen=True)
class ProjectNames:
    """The names derived from one project name.

    Attributes:
        project: The distribution name as given, e.g. ``orders-api``.
        package: The Python package, e.g. ``orders_api``.
        title: A human title, e.g. ``Orders Api``.
        image: A Docker image name, e.g. ``orders-api`` (lower case, one kind
            of separator: Docker refuses ``Orders.API``).
    """

    project: str
    package: str
    title: str
    image: str


def derive_package_name(name: str) -> str:
    """Return the Python package name for a distribution name (``my-api`` -> ``my_api``)."""
    return re.sub(r"[-.]+", "_", name).lower()


def derive_image_name(name: str) -> str:
    """Return a Docker image name for a distribution name (``Orders.API`` -> ``orders-api``)."""
    return re.sub(r"[-._]+", "-", name).lower()


def derive_title(name: str) -> str:
    """Return a human title for a distribution name (``my-api`` -> ``My Api``)."""
    return " ".join(part.capitalize() for part in re.split(r"[-._]+", name) if part)


def validate_project_name(name: str) -> ProjectNames:
    """Check that ``name`` can name a project and return the names derived from it.

    Raises:
        InvalidNameError: The name is empty, a path, not a valid distribution
            name, a Python keyword, or would shadow a module the project needs.
    """
    if not name.strip():
        raise InvalidNameError(name=name, reason="it is empty")
    if "/" in name or "\\" in name or name in {".", ".."} or ".." in name:
        raise InvalidNameError(
            name=name,
            reason="it looks like a path; give a plain name and choose the folder with --dir",
        )
    if len(name) > _MAX_LENGTH:
        raise InvalidNameError(name=name, reason=f"it is longer than {_MAX_LENGTH} characters")
    if not name.isascii():
        odd = ", ".join(repr(c) for c in dict.fromkeys(c for c in name if not c.isascii()))
        raise InvalidNameError(
            name=name,
            reason=f"it contains characters outside ASCII ({odd}); distribution and package "
            "names are ASCII",
        )
    if not name[0].isalpha():
        raise InvalidNameError(name=name, reason="it must start with a letter")
    if not _NAME_RE.match(name):
        raise InvalidNameError(
            name=name,
            reason="only ASCII letters, digits, '-', '_' and '.' are allowed, "
            "and it must end with a letter or digit",
        )
    package = derive_package_name(name)
    if keyword.iskeyword(package) or keyword.issoftkeyword(package):
        raise InvalidNameError(name=name, reason=f"{package!r} is a Python keyword")
    if package in sys.stdlib_module_names:
        raise InvalidNameError(
            name=name, reason=f"the package {package!r} would shadow the standard library"
        )
    if package in _SHADOWED:
        raise InvalidNameError(
            name=name, reason=f"the package {package!r} would shadow a dependency of the app"
        )
    return ProjectNames(
        project=name, package=package, title=derive_title(name), image=derive_image_name(name)
    )


def derived_answers(project_name: str) -> dict[str, str]:
    """Return the answers derived from a project name (what templates get besides the asked ones).

    Templates of newer releases may use derived names an older project's
    record lacks (``image_name``); they are computed here, never asked.
    """
    return {
        "package_name": derive_package_name(project_name),
        "project_title": derive_title(project_name),
        "image_name": derive_image_name(project_name),
    }
