"""The naive reference for the tasks benchmark: BackgroundTasks and a dict in one process.

Written for the benchmark from the reference's intent (docs: seed patterns):
status lives in a module-level dict, the job runs after the response in the
web process, nothing expires and nothing survives a restart.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import BackgroundTasks, FastAPI, HTTPException
from pydantic import BaseModel

app = FastAPI()
tasks: dict[str, dict[str, Any]] = {}


class TaskRequest(BaseModel):
    """A request to run the demo job."""

    job: str = "demo"
    params: dict[str, Any] = {}


async def run_demo(task_id: str, steps: int, delay: float) -> None:
    """Step through the job, updating the dict."""
    tasks[task_id]["status"] = "running"
    for step in range(1, steps + 1):
        await asyncio.sleep(delay)
        tasks[task_id]["progress"] = 100 * step // steps
    tasks[task_id]["status"] = "succeeded"


@app.get("/health")
async def health() -> dict[str, str]:
    """Liveness."""
    return {"status": "ok"}


@app.post("/tasks", status_code=202)
async def create_task(body: TaskRequest, background: BackgroundTasks) -> dict[str, Any]:
    """Start the job after the response."""
    task_id = uuid.uuid4().hex
    tasks[task_id] = {"id": task_id, "status": "queued", "progress": 0}
    steps = int(body.params.get("steps", 10))
    delay = float(body.params.get("delay", 0.5))
    background.add_task(run_demo, task_id, steps, delay)
    return tasks[task_id]


@app.get("/tasks/{task_id}")
async def get_task(task_id: str) -> dict[str, Any]:
    """Read the dict."""
    if task_id not in tasks:
        raise HTTPException(404)
    return tasks[task_id]
