"""The job registry: the ``@job`` decorator, and what a running job receives."""

import inspect
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, get_type_hints

from pydantic import BaseModel, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError, to_json

# How deep a request's params may nest: deeper input is refused (422) before it
# reaches the JSON serialiser, whose recursion it would exhaust.
MAX_PARAMS_DEPTH = 32


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

    def validate_params(self, params: Mapping[str, Any]) -> BaseModel:
        """Return ``params`` (JSON values) validated against the job's model, strictly.

        Validation is what the model's JSON schema says, and no more lenient:
        a number must be a JSON number (not ``"5"``, not ``false``), a date an
        ISO string. As in JSON Schema, ``5.0`` is the integer ``5``.

        Raises:
            pydantic.ValidationError: The params do not fit the model, or nest
                deeper than ``MAX_PARAMS_DEPTH``.
        """
        document = to_json(_json_numbers(params))
        return self.params_model.model_validate_json(document, strict=True)


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


def _json_numbers(params: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``params`` whose integral floats are integers (``5.0`` → ``5``).

    Walks without recursion, and refuses nesting deeper than ``MAX_PARAMS_DEPTH``.
    """
    copy: dict[str, Any] = {}
    pending: list[tuple[Any, Any, int]] = [(params, copy, 1)]
    while pending:
        source, target, depth = pending.pop()
        if depth > MAX_PARAMS_DEPTH:
            raise _too_deep()
        items = source.items() if isinstance(source, Mapping) else enumerate(source)
        for key, value in items:
            if isinstance(value, Mapping):
                target[key] = {}
                pending.append((value, target[key], depth + 1))
            elif isinstance(value, list | tuple):
                target[key] = [None] * len(value)
                pending.append((value, target[key], depth + 1))
            elif isinstance(value, float) and value.is_integer():
                target[key] = int(value)
            else:
                target[key] = value
    return copy


def _too_deep() -> ValidationError:
    error = PydanticCustomError(
        "too_deep", "Params nest more than {max_depth} levels", {"max_depth": MAX_PARAMS_DEPTH}
    )
    # The input is not repeated: a structure that deep is what nothing should serialise.
    details: InitErrorDetails = {"type": error, "loc": (), "input": None}
    return ValidationError.from_exception_data("params", [details])


registry = JobRegistry()
job = registry.job
