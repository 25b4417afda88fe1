"""Your jobs: async functions registered with ``@job``. This module is yours to edit.

A job receives its params (a pydantic model: the request's ``params`` are
validated against it strictly, as the JSON schema the OpenAPI document shows
says, and a mismatch is a 422 naming the fields) and a progress reporter.
Whatever it returns (JSON-serialisable) becomes the task's result; an
exception marks the task failed, with the exception's message.

Jobs run on the event loop: never block it. Run blocking calls in a thread
and CPU-bound work in a process pool::

    import anyio.to_thread
    import anyio.to_process

    text = await anyio.to_thread.run_sync(read_big_file, path)
    digest = await anyio.to_process.run_sync(hash_everything, text)

A job may run more than once (its process may die and the job is then
re-queued after its lease expires), so make its effects idempotent: key them
by ``params`` or check before writing.
"""

import asyncio

from pydantic import BaseModel, Field

from .registry import Progress, job


class DemoParams(BaseModel):
    """Parameters of the demo job."""

    steps: int = Field(default=10, ge=1, le=10_000, description="Steps to take")
    delay: float = Field(default=0.5, ge=0, le=60, description="Seconds per step")


@job("demo")
async def demo(params: DemoParams, progress: Progress) -> dict[str, int]:
    """Take ``steps`` steps of ``delay`` seconds, reporting progress after each."""
    for step in range(1, params.steps + 1):
        await asyncio.sleep(params.delay)
        await progress.report(100 * step / params.steps)
    return {"steps": params.steps}
