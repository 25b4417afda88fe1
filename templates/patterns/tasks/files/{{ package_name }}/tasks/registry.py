"""The job registry: the ``@job`` decorator, and what a running job receives."""

import inspect
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, get_type_hints

from pydantic import BaseModel


class Progress(Protocol):
    """What a job reports its progress through.

    ``report`` stores the percentage (0 to 100; it never goes back) and
    renews the job's lease. It raises :class:`JobCancelled` once cancellation
    was requested, so a job that reports often stops promptly.
    """

    async def report(self, percent: float) -> None:
        """Record that ``percent`` of the work is done."""


class JobCancelled(Exception):
    """Raised inside a job whose cancellation was requested."""


F = TypeVar("F", bound=Callable[..., Coroutine[Any, Any, Any]])


@dataclass(frozen=True)
class Job:
    """A registered job: its name, its params model and its function."""

    name: str
    params_model: type[BaseModel]
    function: Callable[[Any, Progress], Coroutine[Any, Any, Any]]


class JobRegistry:
    """The jobs this service can run, by name."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}

    def job(self, name: str | None = None) -> Callable[[F], F]:
        """Register the decorated async function as a job (named after it by default).

        The function takes ``(params, progress)``: ``params`` annotated with a
        pydantic model that validates the request's ``params``, and a
        :class:`Progress`. Its return value (JSON-serialisable) is the result.
        """

        def register(function: F) -> F:
            self.add(name or function.__name__, function)
            return function

        return register

    def add(self, name: str, function: Callable[..., Coroutine[Any, Any, Any]]) -> Job:
        """Register ``function`` as the job ``name``.

        Raises:
            TypeError: The function is not async, or its first parameter is not
                annotated with a pydantic model.
            ValueError: Another job has that name.
        """
        if not inspect.iscoroutinefunction(function):
            raise TypeError(f"job {name!r} must be an async function")
        parameters = list(inspect.signature(function).parameters)
        hints = get_type_hints(function)
        model = hints.get(parameters[0]) if parameters else None
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise TypeError(f"job {name!r}: annotate its first parameter with a pydantic model")
        if name in self._jobs:
            raise ValueError(f"a job named {name!r} is already registered")
        job = Job(name=name, params_model=model, function=function)
        self._jobs[name] = job
        return job

    def remove(self, name: str) -> None:
        """Unregister the job ``name`` (tests use it to clean up)."""
        self._jobs.pop(name, None)

    def get(self, name: str) -> Job | None:
        """Return the job ``name``, or None."""
        return self._jobs.get(name)

    def names(self) -> list[str]:
        """Return the registered job names, sorted."""
        return sorted(self._jobs)

    def __iter__(self) -> Iterator[Job]:
        return iter(self._jobs.values())


registry = JobRegistry()
job = registry.job
