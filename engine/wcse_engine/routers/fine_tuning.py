"""/v1/fine_tuning/jobs: create, list, get, events, checkpoints and cancel. The jobs module validates and runs them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends

from ..engine import EngineDep
from ..jobs import FineTuningJob
from ..schemas import FineTuningJobCreate
from ..store import read_events

router = APIRouter(prefix="/v1/fine_tuning/jobs", tags=["fine_tuning"])

Item = TypeVar("Item")


def page(items: list[Item], item_id: Callable[[Item], str], limit: int, after: str | None) -> dict[str, Any]:
    """An OpenAI list page: the items after the one with id `after` (none if it is unknown), at most `limit`."""
    if after:
        ids = [item_id(item) for item in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    return {"object": "list", "data": items[:limit], "has_more": len(items) > limit}


def job_or_404(job_id: str, engine: EngineDep) -> FineTuningJob:
    return engine.jobs.require(job_id)


JobDep = Annotated[FineTuningJob, Depends(job_or_404)]


@router.post("")
def create_job(request: FineTuningJobCreate, engine: EngineDep) -> FineTuningJob:
    return engine.job_manager.submit(request)


@router.get("")
def list_jobs(engine: EngineDep, limit: int = 20, after: str | None = None) -> dict[str, Any]:
    return page(engine.jobs.list(), lambda job: job.id, limit, after)


@router.get("/{job_id}")
def get_job(job: JobDep) -> FineTuningJob:
    return job


@router.get("/{job_id}/events")
def get_job_events(job: JobDep, engine: EngineDep, limit: int = 20, after: str | None = None) -> dict[str, Any]:
    events = list(reversed(read_events(engine.jobs.job_dir(job.id))))  # newest first, as OpenAI lists them
    return page(events, lambda event: event["id"], limit, after)


@router.get("/{job_id}/checkpoints")
def get_job_checkpoints(job: JobDep, engine: EngineDep, limit: int = 10, after: str | None = None) -> dict[str, Any]:
    """Servable snapshots (hyperparameter n_checkpoints), newest first; each `fine_tuned_model_checkpoint` is a
    model id chat completions accept once the job has succeeded."""
    return page(engine.jobs.checkpoints(job), lambda checkpoint: checkpoint["id"], limit, after)


@router.post("/{job_id}/cancel")
def cancel_job(job: JobDep, engine: EngineDep) -> FineTuningJob:
    return engine.job_manager.cancel(job.id)
